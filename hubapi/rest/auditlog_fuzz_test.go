package rest

import (
	"net/http/httptest"
	"strings"
	"testing"
	"unicode"
)

// FuzzAuditLogQuery feeds any query string to the parser of GET
// /admin/audit-logs: it never panics, and what it accepts is within
// bounds (printable text of at most 200 bytes, a real status, to ≥ from).
func FuzzAuditLogQuery(f *testing.F) {
	for _, s := range []string{"", "user_id=3", "user_id=-1", "status=403&action=create_chantier", "from=2026-12-01&to=2026-11-01",
		"from=2026-12-01T10:00:00Z", "resource_type=chantiers&resource_id=12", "oauth_client_id=%00", "limit=1000", "cursor=abc",
		"status=99999999999999999999", "action=" + strings.Repeat("a", 201), "user_id=1&user_id=2", "colour=red", "to=9999-12-31"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		r := httptest.NewRequest("GET", "/api/v1/admin/audit-logs", nil)
		r.URL.RawQuery = raw
		q := newQuery(r, auditLogParams...)
		flt, pr := parseAuditLogQuery(q)
		if q.err() != nil {
			return
		}
		for _, s := range []string{flt.OAuthClient, flt.ResourceType, flt.ResourceID, flt.Action} {
			if len(s) > maxAuditText || strings.IndexFunc(s, unicode.IsControl) >= 0 || strings.ContainsRune(s, unicode.ReplacementChar) {
				t.Fatalf("accepted text %q", s)
			}
		}
		if flt.Status != 0 && (flt.Status < 100 || flt.Status > 599) {
			t.Fatalf("accepted status %d", flt.Status)
		}
		if !flt.From.IsZero() && !flt.To.IsZero() && flt.To.Before(flt.From) {
			t.Fatalf("accepted to %v before from %v", flt.To, flt.From)
		}
		if flt.UserID < 0 || flt.APIKeyID < 0 || pr.Limit < 1 || pr.Limit > 100 {
			t.Fatalf("accepted %+v %+v", flt, pr)
		}
	})
}
