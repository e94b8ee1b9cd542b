package audit

import (
	"context"
	"time"

	"github.com/uptrace/bun"

	"github.com/hubchantier/hubchantier/pagination"
	"github.com/hubchantier/hubchantier/pagination/bunkeyset"
)

// Filter selects events; zero fields select everything.
type Filter struct {
	UserID       int64
	APIKeyID     int64
	OAuthClient  string
	ResourceType string
	ResourceID   string
	Action       string
	Stage        string
	Status       int
	// From and To bound Time (inclusive; zero: open).
	From, To time.Time
}

// apply adds f's conditions to q.
func (f Filter) apply(q *bun.SelectQuery) *bun.SelectQuery {
	if f.UserID != 0 {
		q = q.Where("user_id = ?", f.UserID)
	}
	if f.APIKeyID != 0 {
		q = q.Where("api_key_id = ?", f.APIKeyID)
	}
	if f.OAuthClient != "" {
		q = q.Where("oauth_client = ?", f.OAuthClient)
	}
	if f.ResourceType != "" {
		q = q.Where("resource_type = ?", f.ResourceType)
	}
	if f.ResourceID != "" {
		q = q.Where("resource_id = ?", f.ResourceID)
	}
	if f.Action != "" {
		q = q.Where("action = ?", f.Action)
	}
	if f.Stage != "" {
		q = q.Where("stage = ?", f.Stage)
	}
	if f.Status != 0 {
		q = q.Where("status = ?", f.Status)
	}
	if !f.From.IsZero() {
		q = q.Where("ts >= ?", f.From.UTC())
	}
	if !f.To.IsZero() {
		q = q.Where("ts <= ?", f.To.UTC())
	}
	return q
}

// Select returns the query of the events f selects, with no order: for
// pagination.Paginator pages (see NewPaginator and bunkeyset.Fetch).
func (s *Store) Select(f Filter) *bun.SelectQuery {
	return f.apply(s.db.NewSelect().Model((*Event)(nil)))
}

// NewPaginator returns the paginator of event lists: newest first (sort
// "-time", tie-broken on id), cursors sealed by codec.
func NewPaginator(codec *pagination.Codec) (*pagination.Paginator[Event], error) {
	return pagination.New(codec, pagination.Spec[Event]{
		Resource: "audit-logs",
		Columns: map[string]pagination.Column[Event]{
			"time": {SQL: "ts", Key: func(e *Event) any { return e.Time }},
		},
		ID:      pagination.Column[Event]{SQL: "id", Key: func(e *Event) any { return e.ID }},
		Default: "-time,-id",
	})
}

// Page is a position in a List: the events before Before (newest first),
// Limit of them (default 100, at most 1000).
type Page struct {
	Limit  int
	Before *Position
}

// Position is an event's place in the newest-first order.
type Position struct {
	Time time.Time
	ID   int64
}

// List returns the events f selects, newest first, one page at a time: the
// next page starts at the returned position (nil after the last page). For
// instance the events of one user (Filter{UserID: id}), for a GDPR export.
func (s *Store) List(ctx context.Context, f Filter, page Page) ([]Event, *Position, error) {
	limit := page.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 1000)
	q := s.Select(f).OrderExpr("ts DESC, id DESC").Limit(int64(limit + 1))
	if b := page.Before; b != nil {
		q = q.Where("(ts < ? OR (ts = ? AND id < ?))", b.Time.UTC(), b.Time.UTC(), b.ID)
	}
	var out []Event
	if err := q.Scan(ctx, &out); err != nil {
		return nil, nil, err
	}
	if len(out) <= limit {
		return out, nil, nil
	}
	out = out[:limit]
	last := out[limit-1]
	return out, &Position{Time: last.Time, ID: last.ID}, nil
}

// Fetch returns one page of the events f selects, for the request req of
// p (see NewPaginator).
func (s *Store) Fetch(ctx context.Context, p *pagination.Paginator[Event], f Filter, req *pagination.Request) (*pagination.Page[Event], error) {
	return bunkeyset.Fetch(ctx, p, s.Select(f), req)
}
