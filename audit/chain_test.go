package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"testing"
	"time"
)

// refNetstrings is the canonical encoding as documented (ComputeHash,
// Digest.message), written plainly: an independent reference.
func refNetstrings(fields ...string) []byte {
	var out []byte
	for _, f := range fields {
		out = fmt.Appendf(out, "%d:%s,", len(f), f)
	}
	return out
}

func refHash(e *Event) string {
	opt := func(v int64) string {
		if v == 0 {
			return ""
		}
		return strconv.FormatInt(v, 10)
	}
	sum := sha256.Sum256(refNetstrings("hubchantier-audit-v1", e.Chain, strconv.FormatInt(e.Seq, 10), e.PrevHash,
		e.Time.UTC().Format(timeLayout), e.Stage, e.RequestID, opt(e.UserID), opt(e.APIKeyID), e.OAuthClient,
		e.Action, e.ResourceType, e.ResourceID, e.Method, e.Route, strconv.Itoa(e.Status), e.BodySHA256,
		e.ChangesDigest, e.PIIDigest))
	return hex.EncodeToString(sum[:])
}

func TestCanonicalEncodingIsTheDocumentedOne(t *testing.T) {
	at := time.Date(2026, 12, 8, 1, 2, 3, 456789000, time.FixedZone("CET", 3600))
	events := []*Event{
		{},
		{Chain: "2026-12", Seq: 1, PrevHash: GenesisHash, Time: at, Stage: StageChange, RequestID: "req-1", UserID: 7,
			APIKeyID: 9, OAuthClient: "app", Action: "create_chantier", ResourceType: "chantier", ResourceID: "42",
			Method: "POST", Route: "/api/v1/chantiers", Status: 201, BodySHA256: GenesisHash, ChangesDigest: "cd", PIIDigest: "pd"},
		{Chain: "2026-12.15", Seq: 1 << 62, Time: at, Stage: StageResponse, ResourceID: "été, «ü» ,:,", Route: string(make([]byte, 2000)), Status: -1},
	}
	for i, e := range events {
		if got, want := ComputeHash(e), refHash(e); got != want {
			t.Errorf("event %d: ComputeHash %s, documented encoding %s", i, got, want)
		}
	}
	// pinned: a stored chain verifies only if this never changes
	if got := ComputeHash(events[1]); got != "3c58d2bebdfa0f73cd0573dd499b5a3a4efd96ae0793ab0662ecf7fc7a524b99" {
		t.Errorf("pinned hash changed: %s", got)
	}
	salt, ip, ua := "00ff", "192.0.2.1", "curl/8.0"
	if got, want := piiDigest(salt, ip, ua), sha256.Sum256(refNetstrings(salt, ip, ua)); got != hex.EncodeToString(want[:]) {
		t.Errorf("piiDigest %s", got)
	}
	changes := `{"after":{"nom":"N"}}`
	if got, want := changesDigest(salt, changes), sha256.Sum256(refNetstrings(salt, changes)); got != hex.EncodeToString(want[:]) {
		t.Errorf("changesDigest %s", got)
	}
	d := &Digest{Chain: "2026-12.3", Seq: 12, Hash: GenesisHash, CreatedAt: at}
	want := sha256.Sum256(refNetstrings("hubchantier-audit-digest-v1", d.Chain, "12", d.Hash, at.UTC().Format(timeLayout)))
	if got := d.message(); hex.EncodeToString(got) != hex.EncodeToString(want[:]) {
		t.Errorf("digest message %x", got)
	}
}

func BenchmarkComputeHash(b *testing.B) {
	e := &Event{Chain: "2026-12", Seq: 1234, PrevHash: GenesisHash, Time: time.Now(), Stage: StageResponse, RequestID: "01HXYZ",
		UserID: 7, Action: "list_chantiers", ResourceType: "chantier", Method: "GET", Route: "/api/v1/chantiers", Status: 200,
		ClientIP: "192.0.2.1", UserAgent: "hubbench/1.0"}
	b.ReportAllocs()
	for b.Loop() {
		e.sealPII()
		e.Hash = ComputeHash(e)
	}
}
