package bunkeyset_test

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/uptrace/bun"

	"github.com/hubchantier/hubchantier/internal/testenv"
	"github.com/hubchantier/hubchantier/pagination"
	"github.com/hubchantier/hubchantier/pagination/bunkeyset"
)

// TestFetchEdgeCases covers pages that the random walks rarely produce.
func TestFetchEdgeCases(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, db *testenv.DB) {
		ctx := context.Background()
		rng := rand.New(rand.NewPCG(3, 3)) // #nosec G404 -- seeded: reproducible test data
		createItems(t, db, 0, rng)
		p := newItemPaginator(t)
		fetch := func(t *testing.T, sort string, limit int, cursor string) *pagination.Page[item] {
			t.Helper()
			req, err := p.NewRequest(sort, limit, cursor)
			if err != nil {
				t.Fatal(err)
			}
			page, err := bunkeyset.Fetch(ctx, p, db.NewSelect().Model((*item)(nil)), req)
			if err != nil {
				t.Fatal(err)
			}
			return page
		}

		t.Run("empty table → empty first page without cursors", func(t *testing.T) {
			page := fetch(t, "", 10, "")
			if page.Data == nil || len(page.Data) != 0 || page.Pagination != (pagination.Info{}) {
				t.Fatalf("got %+v", page)
			}
		})

		insertItems(t, db, 10, rng)
		t.Run("exactly limit rows → one page, no more", func(t *testing.T) {
			page := fetch(t, "name", 10, "")
			if len(page.Data) != 10 || page.Pagination.HasMore || page.Pagination.NextCursor != "" {
				t.Fatalf("got %d rows, %+v", len(page.Data), page.Pagination)
			}
		})
		t.Run("limit+1 rows → next page holds the last one", func(t *testing.T) {
			page := fetch(t, "name", 9, "")
			if len(page.Data) != 9 || !page.Pagination.HasMore {
				t.Fatalf("got %d rows, %+v", len(page.Data), page.Pagination)
			}
			next := fetch(t, "name", 9, page.Pagination.NextCursor)
			if len(next.Data) != 1 || next.Pagination.HasMore || next.Pagination.PrevCursor == "" {
				t.Fatalf("got %d rows, %+v", len(next.Data), next.Pagination)
			}
		})

		t.Run("page ending just before the NULL block → has_more", func(t *testing.T) {
			day := base
			extra := []item{{Name: "n1", At: base}, {Name: "n2", At: base}, {Name: "d1", At: base, Day: &day}}
			if _, err := db.NewInsert().Model(&extra).Exec(ctx); err != nil {
				t.Fatal(err)
			}
			var nonNull []item
			if err := db.NewSelect().Model(&nonNull).Where("day IS NOT NULL").Order("day ASC", "id ASC").Scan(ctx); err != nil {
				t.Fatal(err)
			}
			const limit = 2
			if len(nonNull) < limit+1 {
				t.Fatalf("need %d rows with a day, have %d", limit+1, len(nonNull))
			}
			req, _ := p.NewRequest("day", limit, "")
			cursor, err := p.CursorAfter(req, &nonNull[len(nonNull)-limit-1])
			if err != nil {
				t.Fatal(err)
			}
			page := fetch(t, "day", limit, cursor)
			if !slices.Equal(ids(page.Data), ids(nonNull[len(nonNull)-limit:])) || !page.Pagination.HasMore {
				t.Fatalf("got %v has_more %v, want the last %d rows with a day and more to come", ids(page.Data), page.Pagination.HasMore, limit)
			}
			next := fetch(t, "day", 10, page.Pagination.NextCursor)
			if len(next.Data) == 0 || next.Data[0].Day != nil {
				t.Fatalf("next page does not start with the NULL block: %v", ids(next.Data))
			}
		})

		t.Run("rows after the cursor deleted → empty page that leads back", func(t *testing.T) {
			first := fetch(t, "grp,name", 4, "")
			boundary := first.Data[3].ID
			all := orderedIDs(t, db, p, "grp,name")
			pos := slices.Index(all, boundary)
			if _, err := db.NewDelete().Model((*item)(nil)).Where("id IN (?)", bunIn(all[pos+1:])).Exec(ctx); err != nil {
				t.Fatal(err)
			}
			empty := fetch(t, "grp,name", 4, first.Pagination.NextCursor)
			if len(empty.Data) != 0 || empty.Pagination.HasMore || empty.Pagination.NextCursor != "" || empty.Pagination.PrevCursor == "" {
				t.Fatalf("empty page: %+v", empty)
			}
			back := fetch(t, "grp,name", 4, empty.Pagination.PrevCursor)
			if !slices.Equal(ids(back.Data), ids(first.Data)) {
				t.Fatalf("back from the empty page: got %v, want %v", ids(back.Data), ids(first.Data))
			}
			if back.Pagination.HasMore || back.Pagination.PrevCursor != "" {
				t.Fatalf("back from the empty page: %+v", back.Pagination)
			}
		})

		t.Run("rows before the cursor deleted → empty page that leads forward", func(t *testing.T) {
			insertItems(t, db, 6, rng)
			all := orderedIDs(t, db, p, "-grp")
			req, _ := p.NewRequest("-grp", 3, "")
			var boundary item
			if err := db.NewSelect().Model(&boundary).Where("id = ?", all[3]).Scan(ctx); err != nil {
				t.Fatal(err)
			}
			prev, err := p.CursorBefore(req, &boundary)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := db.NewDelete().Model((*item)(nil)).Where("id IN (?)", bunIn(all[:3])).Exec(ctx); err != nil {
				t.Fatal(err)
			}
			empty := fetch(t, "-grp", 3, prev)
			if len(empty.Data) != 0 || empty.Pagination.PrevCursor != "" || !empty.Pagination.HasMore {
				t.Fatalf("empty page: %+v", empty)
			}
			fwd := fetch(t, "-grp", 3, empty.Pagination.NextCursor)
			if !slices.Equal(ids(fwd.Data), all[3:6]) {
				t.Fatalf("forward from the empty page: got %v, want %v (boundary row included)", ids(fwd.Data), all[3:6])
			}
			if fwd.Pagination.PrevCursor != "" {
				t.Fatalf("nothing precedes, yet prev cursor set: %+v", fwd.Pagination)
			}
		})

		t.Run("Fetch leaves the caller's query unchanged", func(t *testing.T) {
			q := db.NewSelect().Model((*item)(nil)).Where("grp >= ?", 0)
			before := q.String()
			req, _ := p.NewRequest("name", 2, "")
			if _, err := bunkeyset.Fetch(ctx, p, q, req); err != nil {
				t.Fatal(err)
			}
			if q.String() != before {
				t.Fatalf("query changed:\n%s\n%s", before, q.String())
			}
		})

		t.Run("offset page → next cursor continues after its last row", func(t *testing.T) {
			req, _ := p.NewRequest("-at", 0, "", "legacy")
			var rows []item
			if err := bunkeyset.OrderBy(db.NewSelect().Model((*item)(nil)), p, req).Offset(2).Limit(3).Scan(ctx, &rows); err != nil {
				t.Fatal(err)
			}
			next, err := p.CursorAfter(req, &rows[2])
			if err != nil {
				t.Fatal(err)
			}
			cur, err := p.NewRequest("-at", 3, next, "legacy")
			if err != nil {
				t.Fatal(err)
			}
			page, err := bunkeyset.Fetch(ctx, p, db.NewSelect().Model((*item)(nil)), cur)
			if err != nil {
				t.Fatal(err)
			}
			var want []item
			if err := bunkeyset.OrderBy(db.NewSelect().Model((*item)(nil)), p, req).Offset(5).Limit(3).Scan(ctx, &want); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ids(page.Data), ids(want)) {
				t.Fatalf("got %v, want offset page %v", ids(page.Data), ids(want))
			}
		})

		t.Run("request of another paginator → error, not panic", func(t *testing.T) {
			other := newItemPaginator(t)
			req, _ := other.NewRequest("", 0, "")
			if _, err := bunkeyset.Fetch(ctx, p, db.NewSelect().Model((*item)(nil)), req); err == nil {
				t.Fatal("Fetch accepted it")
			}
			if _, err := bunkeyset.Fetch(ctx, p, db.NewSelect().Model((*item)(nil)), nil); err == nil {
				t.Fatal("Fetch accepted a nil request")
			}
			if _, err := p.CursorAfter(req, &item{}); err == nil {
				t.Fatal("CursorAfter accepted it")
			}
			if err := bunkeyset.Apply(db.NewSelect().Model((*item)(nil)), p, req).Scan(ctx, &[]item{}); err == nil {
				t.Fatal("Apply accepted it")
			}
			if _, err := p.Page(req, nil); err == nil {
				t.Fatal("Page accepted it")
			}
		})
	})
}

// bunIn wraps ids for an IN (?) placeholder (an empty list matches nothing).
func bunIn(ids []int64) any { return bun.List(ids) }
