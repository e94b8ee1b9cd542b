package rest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/hubchantier/hubchantier/etag"
	"github.com/hubchantier/hubchantier/fields"
	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/pagination"
)

// lister serves a v1 list over a list use case: it reads the filters, the
// page request and the sparse fieldset from the query string, and writes
// one of two envelopes:
//   - keyset (?cursor= from a previous response): constant cost at any
//     depth; {"data","pagination":{"next_cursor","prev_cursor","has_more"}}
//     and a Link header;
//   - legacy offset (?page=&limit=, the default): the exact total, plus a
//     next_cursor so that a client can switch.
type lister[T any, F any] struct {
	schema  *fields.Schema
	filters []string         // filter parameter names
	filter  func(q *query) F // parses the filters
	list    func(ctx context.Context, f F, p hubapi.PageRequest, sel *fields.Selection) (*hubapi.Page[T], error)
	// view maps a page's items to their representation for a selection
	// (nil: the items themselves).
	view func(items []T, sel *fields.Selection) any
	// schemaV2 and dto are the field schema and the shape of an item in v2.
	schemaV2 *fields.Schema
	dto      *dto
	// key writes what identifies an item's representation into the list's
	// ETag: its id and version, and whatever the view nests.
	key func(b []byte, item *T, sel *fields.Selection) []byte
}

// legacyPageInfo is the offset pagination object, with next_cursor added.
type legacyPageInfo struct {
	pageInfo
	NextCursor *string `json:"next_cursor"`
}

func (l *lister[T, F]) handle(a *API) http.HandlerFunc {
	return a.handler(func(w http.ResponseWriter, r *http.Request) error {
		q := newQuery(r, append(slices.Clone(l.filters), "page", "limit", "sort", "cursor", "fields")...)
		f := l.filter(q)
		pr := hubapi.PageRequest{Cursor: q.get("cursor"), Sort: q.get("sort")}
		_, hasPage := q.v["page"]
		if pr.Cursor != "" && hasPage {
			q.fail("page", "cannot be combined with cursor")
		}
		page, limit := q.page()
		pr.Limit = limit
		if pr.Cursor == "" && !a.v2 {
			pr.Page = page
		}
		sel, out, err := a.selection(q, l.schema, l.schemaV2, l.dto)
		if err != nil {
			return err
		}
		if err := q.err(); err != nil {
			return err
		}
		pg, err := l.list(r.Context(), f, pr, sel)
		if err != nil {
			return pageRequestProblem(q, err)
		}
		var data any = pg.Items
		if l.view != nil && sel != nil {
			data = l.view(pg.Items, sel)
		}
		var body any
		if pr.Cursor != "" || a.v2 {
			info := pagination.Info{NextCursor: pg.NextCursor, PrevCursor: pg.PrevCursor, HasMore: pg.HasMore}
			pagination.WriteLink(w, r.URL, info)
			body = struct {
				Data       any             `json:"data"`
				Pagination pagination.Info `json:"pagination"`
			}{data, info}
		} else {
			pages := (pg.Total + pg.Limit - 1) / pg.Limit
			info := legacyPageInfo{pageInfo: pageInfo{Page: pg.Number, Limit: pg.Limit, Total: pg.Total, TotalPages: pages, HasMore: pg.HasMore}}
			if pg.NextCursor != "" {
				info.NextCursor = &pg.NextCursor
				pagination.WriteLink(w, r.URL, pagination.Info{NextCursor: pg.NextCursor, HasMore: true})
			}
			body = struct {
				Data       any            `json:"data"`
				Pagination legacyPageInfo `json:"pagination"`
			}{data, info}
		}
		w.Header().Set("ETag", l.etag(r, pg, sel).String())
		writeSelected(w, r, a, body, out, dataProjector, pageDTO(l.dto))
		return nil
	})
}

// etag tags a list page by what it holds: the query (filters, sort,
// selection, page or cursor), the items' ids and versions and the page's
// counts, never the cursors sealed into the body, which differ on every
// response. The tag is thus the same on every instance and every request
// until a row of the page changes, so If-None-Match revalidates a list
// without the response cache. (Two cursors in the bodies of two responses
// with one tag continue from the same row: the representations are
// equivalent.)
func (l *lister[T, F]) etag(r *http.Request, pg *hubapi.Page[T], sel *fields.Selection) etag.Tag {
	b := make([]byte, 0, 128+len(r.URL.RawQuery)+24*len(pg.Items))
	b = append(b, "list/v1\x00"...)
	b = append(b, r.URL.Path...)
	b = append(b, 0)
	b = append(b, r.URL.RawQuery...)
	b = fmt.Appendf(b, "\x00%d/%d/%d/%t/%t/%t\x00", pg.Total, pg.Number, pg.Limit, pg.HasMore, pg.NextCursor != "", pg.PrevCursor != "")
	for i := range pg.Items {
		b = l.key(b, &pg.Items[i], sel)
	}
	return etag.Of(b)
}

// versionKey is the ETag key of an item without nested relations.
func versionKey[T any](idVersion func(*T) (int64, int64)) func([]byte, *T, *fields.Selection) []byte {
	return func(b []byte, item *T, _ *fields.Selection) []byte {
		id, v := idVersion(item)
		return fmt.Appendf(b, "%d:%d;", id, v)
	}
}

// pageRequestProblem answers the page-request errors of a list use case in
// v1's terms: a rejected cursor alone is the pagination package's
// invalid-cursor problem; an invalid sort or limit is a field of the
// invalid-query problem, like every other query parameter.
func pageRequestProblem(q *query, err error) error {
	var re *pagination.RequestError
	if !errors.As(err, &re) {
		return err
	}
	if errors.Is(err, pagination.ErrInvalidCursor) && len(re.Problem.Errors) == 1 {
		return re.Problem
	}
	for _, fe := range re.Problem.Errors {
		q.fail(fe.Field, fe.Message)
	}
	return q.err()
}

var (
	dataProjector = fields.MustProjector("data")
	selfProjector = fields.MustProjector("")
)

// writeSelected writes v (in its v2 form, of shape d, on v2), projected on
// sel when the client asked for fields.
func writeSelected(w http.ResponseWriter, r *http.Request, a *API, v any, sel *fields.Selection, p *fields.Projector, d *dto) {
	if a.v2 {
		b, err := a.v2JSON(v, d)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		v = b
	}
	if sel == nil {
		writeJSON(w, http.StatusOK, v)
		return
	}
	if err := p.Write(w, http.StatusOK, v, sel); err != nil {
		a.writeError(w, r, fields.Problem(err))
	}
}
