package pagination_test

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"net/http/httptest"
	"net/url"
	"slices"
	"testing"

	"github.com/uptrace/bun"

	"github.com/hubchantier/hubchantier/internal/testenv"
	"github.com/hubchantier/hubchantier/pagination"
)

func TestPageJSONEnvelope(t *testing.T) {
	tests := []struct {
		name string
		page pagination.Page[int]
		want string
	}{
		{"first page with more", pagination.Page[int]{Data: []int{1, 2}, Pagination: pagination.Info{NextCursor: "n", HasMore: true}},
			`{"data":[1,2],"pagination":{"next_cursor":"n","prev_cursor":null,"has_more":true}}`},
		{"middle page", pagination.Page[int]{Data: []int{3}, Pagination: pagination.Info{NextCursor: "n", PrevCursor: "p", HasMore: true}},
			`{"data":[3],"pagination":{"next_cursor":"n","prev_cursor":"p","has_more":true}}`},
		{"empty page: data is [] not null", pagination.Page[int]{},
			`{"data":[],"pagination":{"next_cursor":null,"prev_cursor":null,"has_more":false}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(tt.page)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tt.want {
				t.Fatalf("got  %s\nwant %s", b, tt.want)
			}
			var back struct {
				Pagination pagination.Info `json:"pagination"`
			}
			if err := json.Unmarshal(b, &back); err != nil || back.Pagination != tt.page.Pagination {
				t.Fatalf("round trip: %+v, %v", back.Pagination, err)
			}
		})
	}
	t.Run("a pointer to a page marshals the same", func(t *testing.T) {
		b, _ := json.Marshal(&pagination.Page[int]{})
		if string(b) != tests[2].want {
			t.Fatalf("got %s", b)
		}
	})
}

func TestMapKeepsPagination(t *testing.T) {
	in := &pagination.Page[item]{Data: []item{{ID: 1, Name: "a"}, {ID: 2, Name: "b"}}, Pagination: pagination.Info{NextCursor: "n", HasMore: true}}
	type dto struct{ Nom string }
	out := pagination.Map(in, func(it *item) dto { return dto{Nom: it.Name} })
	if !slices.Equal(out.Data, []dto{{"a"}, {"b"}}) || out.Pagination != in.Pagination {
		t.Fatalf("got %+v", out)
	}
}

func TestLinkHeader(t *testing.T) {
	u, _ := url.Parse("/api/v1/chantiers?statut=ouvert&limit=50&sort=-date_debut,nom&cursor=old&page=3#frag")
	tests := []struct {
		name string
		info pagination.Info
		want string
	}{
		{"no cursors → no header", pagination.Info{}, ""},
		{"next only", pagination.Info{NextCursor: "NEXT", HasMore: true},
			`</api/v1/chantiers?cursor=NEXT&limit=50&sort=-date_debut%2Cnom&statut=ouvert>; rel="next"`},
		{"next and prev", pagination.Info{NextCursor: "N-_1", PrevCursor: "P", HasMore: true},
			`</api/v1/chantiers?cursor=N-_1&limit=50&sort=-date_debut%2Cnom&statut=ouvert>; rel="next", ` +
				`</api/v1/chantiers?cursor=P&limit=50&sort=-date_debut%2Cnom&statut=ouvert>; rel="prev"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := pagination.LinkHeader(u, tt.info); got != tt.want {
				t.Fatalf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
	t.Run("absolute URL stays absolute, without user info", func(t *testing.T) {
		abs, _ := url.Parse("https://user:pw@api.hubchantier.fr/api/v1/chantiers?limit=5")
		got := pagination.LinkHeader(abs, pagination.Info{NextCursor: "N"})
		if want := `<https://api.hubchantier.fr/api/v1/chantiers?cursor=N&limit=5>; rel="next"`; got != want {
			t.Fatalf("got %s", got)
		}
	})
	t.Run("characters that would end the link target are escaped", func(t *testing.T) {
		odd, _ := url.Parse("/a%3Eb?q=%3E%3C%22")
		got := pagination.LinkHeader(odd, pagination.Info{NextCursor: "N"})
		if want := `</a%3Eb?cursor=N&q=%3E%3C%22>; rel="next"`; got != want {
			t.Fatalf("got %s", got)
		}
	})
	t.Run("WriteLink adds to existing Link values", func(t *testing.T) {
		rec := httptest.NewRecorder()
		rec.Header().Set("Link", `</api/v2/chantiers>; rel="successor-version"`)
		pagination.WriteLink(rec, u, pagination.Info{NextCursor: "N"})
		pagination.WriteLink(rec, u, pagination.Info{})
		if got := rec.Header().Values("Link"); len(got) != 2 {
			t.Fatalf("Link values: %q", got)
		}
	})
}

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
			page, err := p.Fetch(ctx, db.NewSelect().Model((*item)(nil)), req)
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
			if _, err := p.Fetch(ctx, q, req); err != nil {
				t.Fatal(err)
			}
			if q.String() != before {
				t.Fatalf("query changed:\n%s\n%s", before, q.String())
			}
		})

		t.Run("offset page → next cursor continues after its last row", func(t *testing.T) {
			req, _ := p.NewRequest("-at", 0, "", "legacy")
			var rows []item
			if err := p.OrderBy(db.NewSelect().Model((*item)(nil)), req).Offset(2).Limit(3).Scan(ctx, &rows); err != nil {
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
			page, err := p.Fetch(ctx, db.NewSelect().Model((*item)(nil)), cur)
			if err != nil {
				t.Fatal(err)
			}
			var want []item
			if err := p.OrderBy(db.NewSelect().Model((*item)(nil)), req).Offset(5).Limit(3).Scan(ctx, &want); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ids(page.Data), ids(want)) {
				t.Fatalf("got %v, want offset page %v", ids(page.Data), ids(want))
			}
		})

		t.Run("request of another paginator → error, not panic", func(t *testing.T) {
			other := newItemPaginator(t)
			req, _ := other.NewRequest("", 0, "")
			if _, err := p.Fetch(ctx, db.NewSelect().Model((*item)(nil)), req); err == nil {
				t.Fatal("Fetch accepted it")
			}
			if _, err := p.Fetch(ctx, db.NewSelect().Model((*item)(nil)), nil); err == nil {
				t.Fatal("Fetch accepted a nil request")
			}
			if _, err := p.CursorAfter(req, &item{}); err == nil {
				t.Fatal("CursorAfter accepted it")
			}
			if err := p.Apply(db.NewSelect().Model((*item)(nil)), req).Scan(ctx, &[]item{}); err == nil {
				t.Fatal("Apply accepted it")
			}
			if _, err := p.Page(req, nil); err == nil {
				t.Fatal("Page accepted it")
			}
		})

		t.Run("NULL key in a column not marked Nullable → error", func(t *testing.T) {
			spec := itemSpec()
			spec.Columns["day"] = pagination.Column[item]{SQL: "i.day", Key: func(r *item) any { return r.Day }}
			bad := pagination.MustNew(mustCodec(t, [][]byte{key1}), spec)
			req, _ := bad.NewRequest("day", 0, "")
			_, err := bad.CursorAfter(req, &item{ID: 1})
			if err == nil || errors.Is(err, pagination.ErrInvalidCursor) {
				t.Fatalf("got %v", err)
			}
		})
	})
}

// bunIn wraps ids for an IN (?) placeholder (an empty list matches nothing).
func bunIn(ids []int64) any { return bun.List(ids) }
