package bunkeyset_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/hubchantier/hubchantier/internal/testenv"
	"github.com/hubchantier/hubchantier/pagination"
	"github.com/hubchantier/hubchantier/pagination/bunkeyset"
)

// randomSort draws 1 to 3 distinct sort fields with random directions, and
// sometimes an explicit id.
func randomSort(rng *rand.Rand) string {
	fields := []string{"grp", "name", "day", "score", "at"}
	rng.Shuffle(len(fields), func(i, j int) { fields[i], fields[j] = fields[j], fields[i] })
	n := 1 + rng.IntN(3)
	parts := make([]string, 0, n+1)
	for _, f := range fields[:n] {
		if rng.IntN(2) == 0 {
			f = "-" + f
		}
		parts = append(parts, f)
	}
	if rng.IntN(4) == 0 {
		id := "id"
		if rng.IntN(2) == 0 {
			id = "-id"
		}
		parts = append(parts, id)
	}
	return strings.Join(parts, ",")
}

// orderedIDs is the ground truth: the whole table in the request's order,
// as the database sorts it.
func orderedIDs(t *testing.T, db *testenv.DB, p *pagination.Paginator[item], sort string) []int64 {
	t.Helper()
	req, err := p.NewRequest(sort, 0, "")
	if err != nil {
		t.Fatal(err)
	}
	var rows []item
	if err := bunkeyset.OrderBy(db.NewSelect().Model((*item)(nil)), p, req).Scan(context.Background(), &rows); err != nil {
		t.Fatal(err)
	}
	return ids(rows)
}

// walker follows cursors and checks each page's shape.
type walker struct {
	t    *testing.T
	db   *testenv.DB
	p    *pagination.Paginator[item]
	sort string
	rng  *rand.Rand
}

func (w *walker) page(cursor string) (*pagination.Page[item], int) {
	w.t.Helper()
	limit := 1 + w.rng.IntN(20)
	req, err := w.p.NewRequest(w.sort, limit, cursor)
	if err != nil {
		w.t.Fatalf("sort %q: %v", w.sort, err)
	}
	// Fetch (which may split the query around NULLs) or the single query
	// of Apply, scanned here and passed to Page.
	var page *pagination.Page[item]
	if w.rng.IntN(3) > 0 {
		page, err = bunkeyset.Fetch(context.Background(), w.p, w.db.NewSelect().Model((*item)(nil)), req)
	} else {
		var rows []item
		if err = bunkeyset.Apply(w.db.NewSelect().Model(&rows), w.p, req).Scan(context.Background()); err == nil {
			page, err = w.p.Page(req, rows)
		}
	}
	if err != nil {
		w.t.Fatalf("sort %q: %v", w.sort, err)
	}
	if page.Pagination.HasMore != (page.Pagination.NextCursor != "") {
		w.t.Fatalf("sort %q: has_more %v with next cursor %q", w.sort, page.Pagination.HasMore, page.Pagination.NextCursor)
	}
	return page, limit
}

// forward walks from the first page to the last and returns the visited ids
// and the last page. between runs after every page.
func (w *walker) forward(between func(page []item)) ([]int64, *pagination.Page[item]) {
	w.t.Helper()
	var seen []int64
	cursor := ""
	for step := 0; ; step++ {
		page, limit := w.page(cursor)
		if step == 0 && page.Pagination.PrevCursor != "" {
			w.t.Fatalf("sort %q: first page has a prev cursor", w.sort)
		}
		if page.Pagination.HasMore && len(page.Data) != limit {
			w.t.Fatalf("sort %q: page %d has %d rows, limit %d, and more follow", w.sort, step, len(page.Data), limit)
		}
		seen = append(seen, ids(page.Data)...)
		if !page.Pagination.HasMore {
			return seen, page
		}
		if step > 10000 {
			w.t.Fatal("walk does not end")
		}
		if between != nil {
			between(page.Data)
		}
		cursor = page.Pagination.NextCursor
	}
}

// backward walks from the page before last to the first page and returns
// the ids in display order.
func (w *walker) backward(last *pagination.Page[item], between func(page []item)) []int64 {
	w.t.Helper()
	var pages [][]int64
	cursor := last.Pagination.PrevCursor
	for step := 0; cursor != ""; step++ {
		page, limit := w.page(cursor)
		if page.Pagination.PrevCursor != "" && len(page.Data) != limit {
			w.t.Fatalf("sort %q: backward page has %d rows, limit %d, and more precede", w.sort, len(page.Data), limit)
		}
		if !page.Pagination.HasMore && (step > 0 || len(last.Data) > 0) {
			w.t.Fatalf("sort %q: a page reached backward says nothing follows", w.sort)
		}
		pages = append(pages, ids(page.Data))
		if step > 10000 {
			w.t.Fatal("walk does not end")
		}
		if between != nil {
			between(page.Data)
		}
		cursor = page.Pagination.PrevCursor
	}
	var out []int64
	for i := len(pages) - 1; i >= 0; i-- {
		out = append(out, pages[i]...)
	}
	return out
}

func TestWalkVisitsEveryRowOnceInOrder(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, db *testenv.DB) {
		seed := uint64(20260115)
		rng := rand.New(rand.NewPCG(seed, 1)) // #nosec G404 -- seeded: reproducible test data
		createItems(t, db, 101, rng)
		p := newItemPaginator(t)
		for i := range 24 {
			sort := randomSort(rng)
			t.Run(fmt.Sprintf("%02d_sort=%s", i, sort), func(t *testing.T) {
				want := orderedIDs(t, db, p, sort)
				w := &walker{t: t, db: db, p: p, sort: sort, rng: rng}

				got, last := w.forward(nil)
				if !slices.Equal(got, want) {
					t.Fatalf("forward walk:\n got %v\nwant %v", got, want)
				}

				back := append(w.backward(last, nil), ids(last.Data)...)
				if !slices.Equal(back, want) {
					t.Fatalf("backward walk from the last page:\n got %v\nwant %v", back, want)
				}
			})
		}
	})
}

func TestWalkSurvivesConcurrentInsertsAndDeletes(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, db *testenv.DB) {
		ctx := context.Background()
		seed := uint64(7)
		rng := rand.New(rand.NewPCG(seed, 2)) // #nosec G404 -- seeded: reproducible test data
		createItems(t, db, 120, rng)
		p := newItemPaginator(t)

		for i := range 16 {
			sort := randomSort(rng)
			t.Run(fmt.Sprintf("%02d_sort=%s", i, sort), func(t *testing.T) {
				var all []int64
				if err := db.NewSelect().Model((*item)(nil)).Column("id").Scan(ctx, &all); err != nil {
					t.Fatal(err)
				}
				deleted := map[int64]bool{}
				// mutate inserts rows with random (tying) keys and deletes
				// random rows, among them the page's boundary rows.
				mutate := func(page []item) {
					insertItems(t, db, rng.IntN(4), rng)
					if len(page) == 0 {
						return
					}
					victims := []int64{page[0].ID, page[len(page)-1].ID}
					for range rng.IntN(3) {
						victims = append(victims, all[rng.IntN(len(all))])
					}
					for _, id := range victims[rng.IntN(2):] {
						if _, err := db.NewDelete().Model((*item)(nil)).Where("id = ?", id).Exec(ctx); err != nil {
							t.Fatal(err)
						}
						deleted[id] = true
					}
				}
				check := func(direction string, seen []int64) {
					t.Helper()
					counts := map[int64]int{}
					for _, id := range seen {
						counts[id]++
						if counts[id] > 1 {
							t.Fatalf("%s walk: row %d seen twice", direction, id)
						}
					}
					// Rows present throughout appear exactly once, in order.
					var want, got []int64
					for _, id := range orderedIDs(t, db, p, sort) {
						if !deleted[id] && slices.Contains(all, id) {
							want = append(want, id)
						}
					}
					for _, id := range seen {
						if !deleted[id] && slices.Contains(all, id) {
							got = append(got, id)
						}
					}
					if !slices.Equal(got, want) {
						t.Fatalf("%s walk, rows present throughout:\n got %v\nwant %v", direction, got, want)
					}
				}

				w := &walker{t: t, db: db, p: p, sort: sort, rng: rng}
				seen, last := w.forward(mutate)
				check("forward", seen)

				if err := db.NewSelect().Model((*item)(nil)).Column("id").Scan(ctx, &all); err != nil {
					t.Fatal(err)
				}
				clear(deleted)
				back := append(w.backward(last, mutate), ids(last.Data)...)
				check("backward", back)
			})
		}
	})
}
