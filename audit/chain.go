package audit

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
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

// canon is a canonical encoding being built: netstrings, each one field's
// length in bytes in decimal, ":", the bytes, ",". Any language reproduces
// it without a JSON canonicaliser. Built in one buffer (on the stack for
// the usual event) and hashed once.
type canon []byte

func (c canon) str(s string) canon {
	c = strconv.AppendInt(c, int64(len(s)), 10)
	c = append(c, ':')
	c = append(c, s...)
	return append(c, ',')
}

// int adds v in decimal.
func (c canon) int(v int64) canon {
	var b [20]byte
	return c.bytes(strconv.AppendInt(b[:0], v, 10))
}

// optInt adds v in decimal, "" for 0.
func (c canon) optInt(v int64) canon {
	if v == 0 {
		return c.str("")
	}
	return c.int(v)
}

func (c canon) bytes(b []byte) canon {
	c = strconv.AppendInt(c, int64(len(b)), 10)
	c = append(c, ':')
	c = append(c, b...)
	return append(c, ',')
}

// sum is the hex SHA-256 of c.
func (c canon) sum() string {
	h := sha256.Sum256(c)
	return hex.EncodeToString(h[:])
}

// ComputeHash returns the hash of e from its canonical encoding, version 1:
// SHA-256 (hex) over the netstrings of "hubchantier-audit-v1", Chain, Seq,
// PrevHash, Time (2006-01-02T15:04:05.000000Z), Stage, RequestID, UserID,
// APIKeyID (decimal, "" for none), OAuthClient, Action, ResourceType,
// ResourceID, Method, Route, Status (decimal), BodySHA256, ChangesDigest,
// PIIDigest. ID, ClientIP, UserAgent, PIISalt, Changes, ChangesSalt and
// AnonymisedAt are not covered (see Event.PIIDigest, Event.ChangesDigest).
func ComputeHash(e *Event) string {
	var buf [1024]byte
	var tb [32]byte
	c := canon(buf[:0]).str("hubchantier-audit-v1").str(e.Chain).int(e.Seq).str(e.PrevHash).
		bytes(e.Time.UTC().AppendFormat(tb[:0], timeLayout)).str(e.Stage).str(e.RequestID).
		optInt(e.UserID).optInt(e.APIKeyID).str(e.OAuthClient).str(e.Action).str(e.ResourceType).
		str(e.ResourceID).str(e.Method).str(e.Route).int(int64(e.Status)).str(e.BodySHA256).
		str(e.ChangesDigest).str(e.PIIDigest)
	return c.sum()
}

// piiDigest is hex SHA-256 over the netstrings of salt, ip and user agent.
func piiDigest(salt, ip, ua string) string {
	var buf [512]byte
	return canon(buf[:0]).str(salt).str(ip).str(ua).sum()
}

// changesDigest is hex SHA-256 over the netstrings of salt and changes.
func changesDigest(salt, changes string) string {
	var buf [1024]byte
	return canon(buf[:0]).str(salt).str(changes).sum()
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
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (Go 1.24+)
	return hex.EncodeToString(b[:])
}
