package rest

import (
	"context"
	"net/http"
	"net/url"
	"slices"

	"github.com/uptrace/bun"

	"github.com/hubchantier/hubchantier/fields"
	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/store"
	"github.com/hubchantier/hubchantier/pagination"
	"github.com/hubchantier/hubchantier/pagination/bunkeyset"
	"github.com/hubchantier/hubchantier/problem"
)

// lister serves a v1 list: filters, sort, sparse fieldsets pushed down to
// SQL, and two pagination modes:
//   - cursor (keyset): ?cursor= from a previous response; constant cost at
//     any depth; {"data","pagination":{"next_cursor","prev_cursor","has_more"}}
//     and a Link header;
//   - legacy offset: ?page=&limit=, exactly as before, plus a next_cursor so
//     a client can switch.
type lister[T any, F any] struct {
	pager   *pagination.Paginator[T]
	schema  *fields.Schema
	sort    store.Columns
	filters []string                                                 // filter parameter names
	filter  func(q *query) F                                         // parses the filters
	query   func(ctx context.Context, f F) (*bun.SelectQuery, error) // authorized base query
	count   func(ctx context.Context, f F) (int, error)              // total of the same rows (legacy mode)
	// view maps rows to their representation for a selection (nil: rows).
	view func(ctx context.Context, rows []T, sel *fields.Selection) (any, error)
}

// legacyPageInfo is the offset pagination object, with next_cursor added.
type legacyPageInfo struct {
	pageInfo
	NextCursor *string `json:"next_cursor"`
}

func (l *lister[T, F]) handle(a *API) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := newQuery(r, append(slices.Clone(l.filters), "page", "limit", "sort", "cursor", "fields")...)
		f := l.filter(q)
		sortFields := q.sort(l.sort, defaultSort)
		cursor := q.get("cursor")
		_, hasPage := q.v["page"]
		if cursor != "" && hasPage {
			q.fail("page", "cannot be combined with cursor")
		}
		page, limit := q.page()
		var sel *fields.Selection
		if _, ok := q.v["fields"]; ok {
			var err error
			if sel, err = fields.Parse(q.get("fields"), l.schema); err != nil {
				a.writeError(w, r, fields.Problem(err))
				return
			}
		}
		if err := q.err(); err != nil {
			a.writeError(w, r, err)
			return
		}
		fp := l.fingerprint(q.v)
		req, err := l.pager.NewRequest(q.get("sort"), limit, cursor, fp)
		if err != nil {
			if d, ok := pagination.Problem(err); ok {
				problem.Write(w, r, d)
				return
			}
			a.writeError(w, r, err)
			return
		}
		bq, err := l.query(r.Context(), f)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		bq = pushDown(bq, sel, l.sort, sortFields)

		var rows []T
		var body any
		if cursor != "" {
			pg, err := bunkeyset.Fetch(r.Context(), l.pager, bq, req)
			if err != nil {
				a.writeError(w, r, err)
				return
			}
			pagination.WriteLink(w, r.URL, pg.Pagination)
			rows = pg.Data
			data, err := l.represent(r.Context(), rows, sel)
			if err != nil {
				a.writeError(w, r, err)
				return
			}
			body = struct {
				Data       any             `json:"data"`
				Pagination pagination.Info `json:"pagination"`
			}{data, pg.Pagination}
		} else {
			// The paginator's order (NULL placement included) so that the
			// next_cursor continues exactly after this page.
			if err := bunkeyset.OrderBy(bq, l.pager, req).Offset(int64((page-1)*limit)).Limit(int64(limit)).Scan(r.Context(), &rows); err != nil {
				a.writeError(w, r, err)
				return
			}
			n, err := l.count(r.Context(), f)
			if err != nil {
				a.writeError(w, r, err)
				return
			}
			if rows == nil {
				rows = []T{}
			}
			pages := (n + limit - 1) / limit
			info := legacyPageInfo{pageInfo: pageInfo{Page: page, Limit: limit, Total: n, TotalPages: pages, HasMore: page < pages}}
			if info.HasMore && len(rows) > 0 {
				next, err := l.pager.CursorAfter(req, &rows[len(rows)-1])
				if err != nil {
					a.writeError(w, r, err)
					return
				}
				info.NextCursor = &next
				pagination.WriteLink(w, r.URL, pagination.Info{NextCursor: next, HasMore: true})
			}
			data, err := l.represent(r.Context(), rows, sel)
			if err != nil {
				a.writeError(w, r, err)
				return
			}
			body = struct {
				Data       any            `json:"data"`
				Pagination legacyPageInfo `json:"pagination"`
			}{data, info}
		}
		writeSelected(w, r, a, body, sel, dataProjector)
	}
}

func (l *lister[T, F]) represent(ctx context.Context, rows []T, sel *fields.Selection) (any, error) {
	if l.view == nil || sel == nil {
		return rows, nil
	}
	return l.view(ctx, rows, sel)
}

// fingerprint binds cursors to the filters of the query (the resource and
// the sort are bound by the paginator itself).
func (l *lister[T, F]) fingerprint(v url.Values) string {
	f := url.Values{}
	for _, name := range l.filters {
		if x, ok := v[name]; ok {
			f[name] = x
		}
	}
	return f.Encode()
}

var (
	dataProjector = fields.MustProjector("data")
	selfProjector = fields.MustProjector("")
)

// writeSelected writes v, projected on sel when the client asked for fields.
func writeSelected(w http.ResponseWriter, r *http.Request, a *API, v any, sel *fields.Selection, p *fields.Projector) {
	if sel == nil {
		writeJSON(w, http.StatusOK, v)
		return
	}
	if err := p.Write(w, http.StatusOK, v, sel); err != nil {
		a.writeError(w, r, fields.Problem(err))
	}
}

// pushDown reads only the selected columns, plus id and the sort keys
// (cursors are built from them). A full selection reads every column.
func pushDown(q *bun.SelectQuery, sel *fields.Selection, cols store.Columns, sort []hubapi.SortField) *bun.SelectQuery {
	if sel == nil || sel.IsAll() {
		return q
	}
	want := append([]string{"id"}, sel.Columns()...)
	if len(sort) == 0 {
		sort = defaultSort
	}
	for _, s := range sort {
		want = append(want, cols[s.Field])
	}
	seen := map[string]bool{}
	out := want[:0]
	for _, c := range want {
		if c != "" && !seen[c] {
			seen[c] = true
			out = append(out, c)
		}
	}
	return q.Column(out...)
}
