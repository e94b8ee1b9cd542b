package rest

import (
	"net/http"
	"strings"
	"time"
	"unicode"

	"github.com/hubchantier/hubchantier/audit"
	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/pagination"
)

// auditLogParams are the query parameters of GET /admin/audit-logs.
var auditLogParams = []string{"user_id", "api_key_id", "oauth_client_id", "resource_type", "resource_id", "action", "status",
	"from", "to", "cursor", "limit"}

// maxAuditText bounds the text filters (a longer value matches nothing
// the server writes).
const maxAuditText = 200

// parseAuditLogQuery reads the filters and page request of GET
// /admin/audit-logs. Every error is a field of one 400 problem.
func parseAuditLogQuery(q *query) (audit.Filter, hubapi.PageRequest) {
	var f audit.Filter
	f.UserID = q.int64("user_id", true)
	f.APIKeyID = q.int64("api_key_id", true)
	text := func(name string) string {
		v := q.get(name)
		if len(v) > maxAuditText || strings.IndexFunc(v, func(r rune) bool { return unicode.IsControl(r) || r == unicode.ReplacementChar }) >= 0 {
			q.fail(name, "must be at most 200 printable characters")
			return ""
		}
		return v
	}
	f.OAuthClient = text("oauth_client_id")
	f.ResourceType = text("resource_type")
	f.ResourceID = text("resource_id")
	f.Action = text("action")
	f.Status = q.intRange("status", 0, 100, 599)
	f.From = auditTime(q, "from", false)
	f.To = auditTime(q, "to", true)
	if !f.From.IsZero() && !f.To.IsZero() && f.To.Before(f.From) {
		q.fail("to", "must not be before from")
	}
	pr := hubapi.PageRequest{Cursor: q.get("cursor"), Limit: q.intRange("limit", pagination.DefaultLimit, 1, pagination.MaxLimit)}
	return f, pr
}

// auditTime reads an RFC 3339 time or a date (YYYY-MM-DD, UTC: its first
// instant, or its last as "to").
func auditTime(q *query, name string, end bool) time.Time {
	v := q.get(name)
	if v == "" {
		return time.Time{}
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil && t.Year() >= 1 && t.Year() <= 9999 {
		return t.UTC()
	}
	d, err := time.Parse("2006-01-02", v)
	if err != nil {
		q.fail(name, "must be an RFC 3339 time or a date YYYY-MM-DD")
		return time.Time{}
	}
	if end {
		d = d.Add(24*time.Hour - time.Microsecond)
	}
	return d
}

// listAuditLogs serves GET /admin/audit-logs: keyset pages of the audit
// trail, newest first, with the pagination envelope and a Link header.
func (a *API) listAuditLogs(w http.ResponseWriter, r *http.Request) error {
	q := newQuery(r, auditLogParams...)
	f, pr := parseAuditLogQuery(q)
	if err := q.err(); err != nil {
		return err
	}
	pg, err := a.o.AuditLogs.ListAuditLogs(r.Context(), f, pr)
	if err != nil {
		return pageRequestProblem(q, err)
	}
	info := pagination.Info{NextCursor: pg.NextCursor, PrevCursor: pg.PrevCursor, HasMore: pg.HasMore}
	pagination.WriteLink(w, r.URL, info)
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, struct {
		Data       []audit.Event   `json:"data"`
		Pagination pagination.Info `json:"pagination"`
	}{pg.Items, info})
	return nil
}
