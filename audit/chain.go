package audit

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"strconv"
	"strings"
	"time"
)

// GenesisHash is the PrevHash of the first event of every chain.
const GenesisHash = "0000000000000000000000000000000000000000000000000000000000000000"

// timeLayout is the canonical form of Event.Time.
const timeLayout = "2006-01-02T15:04:05.000000Z"

// chainOf returns the month of t, "YYYY-MM": the name of its first chain.
func chainOf(t time.Time) string { return t.UTC().Format("2006-01") }

// ChainShards is how many chains a month has on PostgreSQL: "YYYY-MM" and
// "YYYY-MM.1" to "YYYY-MM.15". A transaction appends to the first of them
// no other transaction holds (FOR UPDATE SKIP LOCKED), so concurrent
// changes do not queue on one head row while they commit; each chain is
// still a total order, verified on its own. SQLite, one writer at a time,
// uses the month's first chain only.
const ChainShards = 16

// monthOf returns the month of a chain name ("2026-12.3" → "2026-12").
func monthOf(chain string) string {
	m, _, _ := strings.Cut(chain, ".")
	return m
}

// shardChains returns the names of month's chains.
func shardChains(month string) []string {
	names := make([]string, ChainShards)
	names[0] = month
	for i := 1; i < ChainShards; i++ {
		names[i] = month + "." + strconv.Itoa(i)
	}
	return names
}

// netstring writes one field: its length in bytes in decimal, ":", the
// bytes, ",". Any language reproduces it without a JSON canonicaliser.
func netstring(h hash.Hash, s string) {
	h.Write([]byte(strconv.Itoa(len(s))))
	h.Write([]byte{':'})
	h.Write([]byte(s))
	h.Write([]byte{','})
}

func optInt(v int64) string {
	if v == 0 {
		return ""
	}
	return strconv.FormatInt(v, 10)
}

// ComputeHash returns the hash of e from its canonical encoding, version 1:
// SHA-256 (hex) over the netstrings of "hubchantier-audit-v1", Chain, Seq,
// PrevHash, Time (2006-01-02T15:04:05.000000Z), Stage, RequestID, UserID,
// APIKeyID (decimal, "" for none), OAuthClient, Action, ResourceType,
// ResourceID, Method, Route, Status (decimal), BodySHA256, ChangesDigest,
// PIIDigest. ID, ClientIP, UserAgent, PIISalt, Changes, ChangesSalt and
// AnonymisedAt are not covered (see Event.PIIDigest, Event.ChangesDigest).
func ComputeHash(e *Event) string {
	h := sha256.New()
	for _, f := range []string{"hubchantier-audit-v1", e.Chain, strconv.FormatInt(e.Seq, 10), e.PrevHash,
		e.Time.UTC().Format(timeLayout), e.Stage, e.RequestID, optInt(e.UserID), optInt(e.APIKeyID), e.OAuthClient,
		e.Action, e.ResourceType, e.ResourceID, e.Method, e.Route, strconv.Itoa(e.Status), e.BodySHA256,
		e.ChangesDigest, e.PIIDigest} {
		netstring(h, f)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// piiDigest is hex SHA-256 over the netstrings of salt, ip and user agent.
func piiDigest(salt, ip, ua string) string {
	h := sha256.New()
	netstring(h, salt)
	netstring(h, ip)
	netstring(h, ua)
	return hex.EncodeToString(h.Sum(nil))
}

// changesDigest is hex SHA-256 over the netstrings of salt and changes.
func changesDigest(salt, changes string) string {
	h := sha256.New()
	netstring(h, salt)
	netstring(h, changes)
	return hex.EncodeToString(h.Sum(nil))
}

// seal fills e's personal-data commitments: fresh random salts and the
// digests of the address and of the changes.
func (e *Event) sealPII() {
	e.PIISalt = randomSalt()
	e.PIIDigest = piiDigest(e.PIISalt, e.ClientIP, e.UserAgent)
	e.ChangesSalt = randomSalt()
	e.ChangesDigest = changesDigest(e.ChangesSalt, e.Changes)
}

func randomSalt() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // never fails (Go 1.24+)
	return hex.EncodeToString(b)
}
