package service

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/hubchantier/hubchantier/audit"
	"github.com/hubchantier/hubchantier/hubapi"
)

// WithAudit sets the audit store: every change a use case commits is
// recorded there, in its transaction (default: no audit).
func WithAudit(st *audit.Store) Option { return func(d *deps) { d.audit = st } }

// auditAction names the change of event type t ("chantier.created" →
// "create_chantier"), or "" for the events that record no change of their
// own (a signalement's urgency accompanies its creation or update).
func auditAction(t hubapi.EventType) string {
	noun, verb, ok := strings.Cut(string(t), ".")
	if !ok {
		return ""
	}
	switch verb {
	case "created":
		return "create_" + noun
	case "updated":
		return "update_" + noun
	case "deleted":
		return "delete_" + noun
	case "validated":
		return "validate_" + noun
	case "revoked":
		return "revoke_" + noun
	case "rotated":
		return "rotate_" + noun
	}
	return ""
}

func beforeKey(resource string, id int64) string { return resource + "/" + strconv.FormatInt(id, 10) }

// noteBefore keeps the state of row id of resource as read (locked) by a
// write, before the write changes it: the "before" of its audit event.
func noteBefore(ctx context.Context, resource string, id int64, row any) {
	pending, ok := ctx.Value(pendingKey{}).(*pendingEvents)
	if !ok || row == nil {
		return
	}
	if pending.before == nil {
		pending.before = map[string]any{}
	}
	k := beforeKey(resource, id)
	if _, seen := pending.before[k]; !seen {
		// a copy, redacted now: the write changes the row in place
		pending.before[k] = audit.Redact(row)
	}
}

// recordChange queues the audit event of a change for its transaction
// (appended before the commit, see tx and Atomically).
func (s *deps) recordChange(ctx context.Context, action, resource string, id int64, after any) {
	if s.audit == nil || action == "" {
		return
	}
	pending, ok := ctx.Value(pendingKey{}).(*pendingEvents)
	if !ok {
		return
	}
	var before any
	if b, ok := pending.before[beforeKey(resource, id)]; ok {
		before = b
	}
	pending.audits = append(pending.audits, audit.NewChange(ctx, action, resource, strconv.FormatInt(id, 10), before, after))
}

// appendAudit appends the transaction's change events in tx, last, just
// before the commit (the chain's head stays locked until then).
func (s *deps) appendAudit(ctx context.Context, tx bun.Tx, pending *pendingEvents) error {
	if s.audit == nil || len(pending.audits) == 0 {
		return nil
	}
	if err := s.audit.Append(ctx, tx, pending.audits...); err != nil {
		return fmt.Errorf("recording %d audit events: %w", len(pending.audits), err)
	}
	pending.audits = nil
	return nil
}

// NewAuditTrail is the audit store as the GDPR rights use it (a user's
// events in their export, anonymised at their erasure); flush, when not
// nil, appends the events still queued for the store (an asynchronous
// writer's) before either. WithAudit alone uses it with no flush.
func NewAuditTrail(st *audit.Store, flush func(context.Context) error) hubapi.AuditTrail {
	return storeTrail{st: st, flush: flush}
}

type storeTrail struct {
	st    *audit.Store
	flush func(context.Context) error
}

// UserEvents implements hubapi.AuditTrail: newest first; the cursor is the
// position of the last event returned ("<unix nanoseconds>.<id>"), only
// ever handed back by the export itself.
func (t storeTrail) UserEvents(ctx context.Context, userID int64, cursor string, limit int) ([]json.RawMessage, string, error) {
	page := audit.Page{Limit: limit}
	if cursor == "" && t.flush != nil {
		if err := t.flush(ctx); err != nil {
			return nil, "", err
		}
	}
	if cursor != "" {
		ns, id, ok := strings.Cut(cursor, ".")
		n, err1 := strconv.ParseInt(ns, 10, 64)
		i, err2 := strconv.ParseInt(id, 10, 64)
		if !ok || err1 != nil || err2 != nil {
			return nil, "", fmt.Errorf("audit trail: malformed export position %q", cursor)
		}
		page.Before = &audit.Position{Time: time.Unix(0, n).UTC(), ID: i}
	}
	events, next, err := t.st.List(ctx, audit.Filter{UserID: userID}, page)
	if err != nil {
		return nil, "", err
	}
	out := make([]json.RawMessage, len(events))
	for k := range events {
		if out[k], err = json.Marshal(events[k]); err != nil {
			return nil, "", err
		}
	}
	if next == nil {
		return out, "", nil
	}
	return out, strconv.FormatInt(next.Time.UnixNano(), 10) + "." + strconv.FormatInt(next.ID, 10), nil
}

// AnonymiseUser implements hubapi.AuditTrail.
func (t storeTrail) AnonymiseUser(ctx context.Context, userID int64) error {
	if t.flush != nil {
		if err := t.flush(ctx); err != nil {
			return err
		}
	}
	return t.st.AnonymiseUser(ctx, userID)
}
