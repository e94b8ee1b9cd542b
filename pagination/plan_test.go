package pagination_test

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hubchantier/hubchantier/pagination"
)

func TestPlan(t *testing.T) {
	p := newItemPaginator(t)
	day := time.Date(2026, 1, 20, 0, 0, 0, 0, time.UTC)
	row := &item{ID: 42, Grp: 3, Name: "beta", Day: &day, At: day}
	request := func(t *testing.T, sort string, limit int, backward bool) *pagination.Request {
		t.Helper()
		first, err := p.NewRequest(sort, limit, "")
		if err != nil {
			t.Fatal(err)
		}
		cursor := p.CursorAfter
		if backward {
			cursor = p.CursorBefore
		}
		tok, err := cursor(first, row)
		if err != nil {
			t.Fatal(err)
		}
		req, err := p.NewRequest(sort, limit, tok)
		if err != nil {
			t.Fatal(err)
		}
		return req
	}
	plan := func(t *testing.T, req *pagination.Request) *pagination.Plan {
		t.Helper()
		pl, err := p.Plan(req)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range append([]pagination.Condition{pl.Where}, pl.Ranges...) {
			if n := strings.Count(c.SQL, "?") - strings.Count(c.SQL, "?TableAlias"); n != len(c.Args) {
				t.Fatalf("%q: %d placeholders for %d args", c.SQL, n, len(c.Args))
			}
		}
		return pl
	}

	t.Run("first page → no condition, display order, limit+1", func(t *testing.T) {
		req, _ := p.NewRequest("-grp,name", 10, "")
		pl := plan(t, req)
		if pl.Where.SQL != "" || pl.Ranges != nil || pl.Limit != 11 {
			t.Fatalf("got %+v", pl)
		}
		want := []string{"?TableAlias.grp DESC", "i.name ASC", "i.id ASC"}
		if !slices.Equal(pl.OrderBy, want) || !slices.Equal(pl.DisplayOrderBy, want) {
			t.Fatalf("order %q / %q, want %q", pl.OrderBy, pl.DisplayOrderBy, want)
		}
	})
	t.Run("next page, one direction → one row-value range with the row's keys", func(t *testing.T) {
		pl := plan(t, request(t, "grp,name", 10, false))
		if pl.Where.SQL != "(?TableAlias.grp, i.name, i.id) > (?, ?, ?)" {
			t.Fatalf("where %q", pl.Where.SQL)
		}
		if !reflect.DeepEqual(pl.Where.Args, []any{int64(3), "beta", int64(42)}) {
			t.Fatalf("args %#v", pl.Where.Args)
		}
		if len(pl.Ranges) != 1 || !reflect.DeepEqual(pl.Ranges[0], pl.Where) {
			t.Fatalf("ranges %+v", pl.Ranges)
		}
	})
	t.Run("previous page → reversed scan, display order kept", func(t *testing.T) {
		pl := plan(t, request(t, "-day", 5, true))
		if !slices.Equal(pl.OrderBy, []string{"i.day ASC NULLS LAST", "i.id ASC"}) ||
			!slices.Equal(pl.DisplayOrderBy, []string{"i.day DESC NULLS FIRST", "i.id DESC"}) {
			t.Fatalf("order %q, display %q", pl.OrderBy, pl.DisplayOrderBy)
		}
		if pl.Limit != 6 {
			t.Fatalf("limit %d", pl.Limit)
		}
	})
	t.Run("nullable first column toward the NULL block → two ranges, values then NULLs", func(t *testing.T) {
		pl := plan(t, request(t, "day", 10, false))
		if len(pl.Ranges) != 2 {
			t.Fatalf("ranges %+v", pl.Ranges)
		}
		if pl.Ranges[0].SQL != "i.day >= ? AND (i.day <> ? OR i.id > ?)" || pl.Ranges[1].SQL != "i.day IS NULL" || pl.Ranges[1].Args != nil {
			t.Fatalf("ranges %+v", pl.Ranges)
		}
		if pl.Where.SQL != "((i.day > ? OR i.day IS NULL) OR (i.day = ? AND i.id > ?))" {
			t.Fatalf("where %q", pl.Where.SQL)
		}
	})
	t.Run("request of another paginator or nil → error", func(t *testing.T) {
		req, _ := newItemPaginator(t).NewRequest("", 0, "")
		for _, r := range []*pagination.Request{req, nil} {
			if _, err := p.Plan(r); err == nil {
				t.Fatal("Plan accepted it")
			}
			if _, err := p.Page(r, nil); err == nil {
				t.Fatal("Page accepted it")
			}
			if _, err := p.CursorAfter(r, &item{}); err == nil {
				t.Fatal("CursorAfter accepted it")
			}
			if _, err := p.CursorBefore(r, &item{}); err == nil {
				t.Fatal("CursorBefore accepted it")
			}
		}
	})
}

// TestPageFromPlannedRows runs the plan over rows held in memory: the page
// keeps limit rows, and its next cursor plans the query after the last one.
func TestPageFromPlannedRows(t *testing.T) {
	p := newItemPaginator(t)
	rows := []item{{ID: 1, Grp: 1}, {ID: 2, Grp: 1}, {ID: 3, Grp: 2}, {ID: 4, Grp: 2}}
	req, _ := p.NewRequest("grp", 3, "")
	pl, _ := p.Plan(req)
	page, err := p.Page(req, slices.Clone(rows[:pl.Limit]))
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Data) != 3 || !page.Pagination.HasMore || page.Pagination.PrevCursor != "" {
		t.Fatalf("got %+v", page)
	}
	next, err := p.NewRequest("grp", 3, page.Pagination.NextCursor)
	if err != nil {
		t.Fatal(err)
	}
	pl, _ = p.Plan(next)
	if !reflect.DeepEqual(pl.Where.Args, []any{int64(2), int64(3)}) {
		t.Fatalf("next page starts after %v, want after (2, 3)", pl.Where.Args)
	}
	last, err := p.Page(next, rows[3:])
	if err != nil || last.Pagination.HasMore || last.Pagination.PrevCursor == "" {
		t.Fatalf("last page %+v, %v", last, err)
	}
}

func TestCursorOfNullKeyInNotNullableColumnFails(t *testing.T) {
	spec := itemSpec()
	spec.Columns["day"] = pagination.Column[item]{SQL: "i.day", Key: func(r *item) any { return r.Day }}
	bad := pagination.MustNew(mustCodec(t, [][]byte{key1}), spec)
	req, _ := bad.NewRequest("day", 0, "")
	_, err := bad.CursorAfter(req, &item{ID: 1})
	if err == nil || errors.Is(err, pagination.ErrInvalidCursor) {
		t.Fatalf("got %v", err)
	}
}
