package pagination_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	_ "modernc.org/sqlite"

	"github.com/hubchantier/hubchantier/pagination"
	"github.com/hubchantier/hubchantier/problem"
)

// Chantier is the storage model of the examples.
type Chantier struct {
	bun.BaseModel `bun:"table:chantiers,alias:c"`

	ID        int64      `bun:"id,pk,autoincrement"`
	Nom       string     `bun:"nom,notnull"`
	Statut    string     `bun:"statut,notnull"`
	DateDebut *time.Time `bun:"date_debut"`
	CreatedAt time.Time  `bun:"created_at,notnull"`
}

// exampleKey stands for a key loaded from configuration (ParseKeys).
var exampleKey = []byte("0123456789abcdef0123456789abcdef")

// The paginator of a resource is built once, at start-up.
var chantiers = pagination.MustNew(
	pagination.MustNewCodec([][]byte{exampleKey}),
	pagination.Spec[Chantier]{
		Resource: "chantiers",
		Columns: map[string]pagination.Column[Chantier]{
			"nom":        {SQL: "c.nom", Key: func(c *Chantier) any { return c.Nom }},
			"date_debut": {SQL: "c.date_debut", Nullable: true, Key: func(c *Chantier) any { return c.DateDebut }},
			"created_at": {SQL: "c.created_at", Key: func(c *Chantier) any { return c.CreatedAt }},
		},
		ID:      pagination.Column[Chantier]{SQL: "c.id", Key: func(c *Chantier) any { return c.ID }},
		Default: "-created_at",
	})

func exampleDB() *bun.DB {
	sqldb, err := sql.Open("sqlite", "file::memory:")
	if err != nil {
		panic(err)
	}
	sqldb.SetMaxOpenConns(1) // one in-memory database
	db := bun.NewDB(sqldb, sqlitedialect.New())
	ctx := context.Background()
	if _, err := db.NewCreateTable().Model((*Chantier)(nil)).Exec(ctx); err != nil {
		panic(err)
	}
	t0 := time.Date(2026, 1, 15, 8, 0, 0, 0, time.UTC)
	rows := []Chantier{
		{Nom: "École Jaurès", Statut: "ouvert", CreatedAt: t0},
		{Nom: "Pont Neuf", Statut: "ouvert", CreatedAt: t0.Add(time.Hour)},
		{Nom: "Gare Sud", Statut: "clos", CreatedAt: t0.Add(2 * time.Hour)},
		{Nom: "Halle", Statut: "ouvert", CreatedAt: t0.Add(3 * time.Hour)},
		{Nom: "Tour B", Statut: "ouvert", CreatedAt: t0.Add(3 * time.Hour)},
	}
	if _, err := db.NewInsert().Model(&rows).Exec(ctx); err != nil {
		panic(err)
	}
	return db
}

// listChantiers is a list handler: filters, cursor pagination, envelope,
// Link header, problem+json for bad input.
func listChantiers(db *bun.DB) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		filters := url.Values{}
		if s := q.Get("statut"); s != "" {
			filters.Set("statut", s)
		}
		req, err := chantiers.ParseRequest(q, filters.Encode())
		if d, ok := problem.As(err); ok {
			problem.Write(w, r, d)
			return
		}
		sel := db.NewSelect().Model((*Chantier)(nil))
		if s := filters.Get("statut"); s != "" {
			sel = sel.Where("c.statut = ?", s)
		}
		page, err := chantiers.Fetch(r.Context(), sel, req)
		if err != nil {
			problem.Write(w, r, problem.New(http.StatusInternalServerError, "internal", ""))
			return
		}
		out := pagination.Map(page, func(c *Chantier) string { return c.Nom })
		pagination.WriteLink(w, r.URL, out.Pagination)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(out)
	}
}

// Walk a list forward with next_cursor, then back with prev_cursor.
func Example() {
	h := listChantiers(exampleDB())
	get := func(target string) pagination.Page[string] {
		rec := httptest.NewRecorder()
		h(rec, httptest.NewRequest(http.MethodGet, target, nil))
		var page pagination.Page[string]
		if err := json.Unmarshal(rec.Body.Bytes(), &page); err != nil {
			panic(err)
		}
		return page
	}

	page := get("/api/v1/chantiers?statut=ouvert&limit=2")
	fmt.Println(page.Data, page.Pagination.HasMore)
	page = get("/api/v1/chantiers?statut=ouvert&limit=2&cursor=" + page.Pagination.NextCursor)
	fmt.Println(page.Data, page.Pagination.HasMore)
	page = get("/api/v1/chantiers?statut=ouvert&limit=2&cursor=" + page.Pagination.PrevCursor)
	fmt.Println(page.Data, page.Pagination.PrevCursor == "")
	// Output:
	// [Tour B Halle] true
	// [Pont Neuf École Jaurès] false
	// [Tour B Halle] true
}

// A cursor used with other filters, and an out-of-range limit, get a 400
// problem.
func Example_invalidParameters() {
	h := listChantiers(exampleDB())
	rec := httptest.NewRecorder()
	h(rec, httptest.NewRequest(http.MethodGet, "/api/v1/chantiers?statut=ouvert&limit=1", nil))
	var page pagination.Page[string]
	_ = json.Unmarshal(rec.Body.Bytes(), &page)

	for _, target := range []string{
		"/api/v1/chantiers?statut=clos&limit=1&cursor=" + page.Pagination.NextCursor,
		"/api/v1/chantiers?limit=500",
	} {
		rec := httptest.NewRecorder()
		h(rec, httptest.NewRequest(http.MethodGet, target, nil))
		fmt.Println(rec.Code, rec.Header().Get("Content-Type"))
		fmt.Println(rec.Body.String())
	}
	// Output:
	// 400 application/problem+json
	// {"type":"https://hubchantier.fr/problems/invalid-cursor","title":"Bad Request","status":400,"detail":"The cursor is invalid or has expired. Repeat the request without a cursor to start again from the first page.","instance":"/api/v1/chantiers","errors":[{"field":"cursor","message":"is invalid or has expired"}]}
	// 400 application/problem+json
	// {"type":"https://hubchantier.fr/problems/invalid-parameter","title":"Bad Request","status":400,"detail":"Invalid pagination parameters.","instance":"/api/v1/chantiers","errors":[{"field":"limit","message":"must be an integer between 1 and 100"}]}
}

// Sort by several fields, mixing directions; the id ends every order.
func ExamplePaginator_ParseRequest() {
	req, err := chantiers.ParseRequest(url.Values{"sort": {"-date_debut,nom"}, "limit": {"50"}})
	if err != nil {
		panic(err)
	}
	fmt.Println(req.Sort(), req.Limit(), req.HasCursor())

	_, err = chantiers.ParseRequest(url.Values{"sort": {"budget"}})
	d, _ := problem.As(err)
	fmt.Println(d.Status, d.Errors[0].Field, d.Errors[0].Message, d.Extensions["allowed"])
	// Output:
	// -date_debut,nom,id 50 false
	// 400 sort unknown field "budget" [created_at date_debut id nom]
}

// A legacy offset page also offers a next_cursor, so that clients can
// switch to cursors.
func ExamplePaginator_CursorAfter() {
	db := exampleDB()
	ctx := context.Background()
	req, _ := chantiers.NewRequest("nom", 2, "")
	var rows []Chantier
	// ?page=1&limit=2, ordered like the cursor pages
	if err := chantiers.OrderBy(db.NewSelect().Model((*Chantier)(nil)), req).Limit(2).Scan(ctx, &rows); err != nil {
		panic(err)
	}
	next, _ := chantiers.CursorAfter(req, &rows[len(rows)-1])

	req, _ = chantiers.NewRequest("nom", 2, next)
	page, _ := chantiers.Fetch(ctx, db.NewSelect().Model((*Chantier)(nil)), req)
	fmt.Println(rows[0].Nom, rows[1].Nom, "|", page.Data[0].Nom, page.Data[1].Nom)
	// Output:
	// Gare Sud Halle | Pont Neuf Tour B
}

// The codec alone: seal a position for a query, open it again.
func ExampleCodec() {
	codec, err := pagination.NewCodec([][]byte{exampleKey}, pagination.WithTTL(time.Hour))
	if err != nil {
		panic(err)
	}
	query := pagination.NewFingerprint("chantiers", "statut=ouvert", "-created_at,id")
	token, _ := codec.Encode(pagination.Cursor{Values: []any{time.Date(2026, 1, 15, 10, 0, 0, 0, time.UTC), int64(123)}}, query)

	cur, err := codec.Decode(token, query)
	fmt.Println(cur.Values, cur.Backward, err)

	other := pagination.NewFingerprint("chantiers", "statut=clos", "-created_at,id")
	_, err = codec.Decode(token, other)
	fmt.Println(err)
	// Output:
	// [2026-01-15 10:00:00 +0000 UTC 123] false <nil>
	// pagination: invalid cursor (other-query)
}

func ExampleLinkHeader() {
	u, _ := url.Parse("/api/v1/chantiers?statut=ouvert&limit=50&cursor=old")
	fmt.Println(pagination.LinkHeader(u, pagination.Info{NextCursor: "NEXT", PrevCursor: "PREV", HasMore: true}))
	// Output:
	// </api/v1/chantiers?cursor=NEXT&limit=50&statut=ouvert>; rel="next", </api/v1/chantiers?cursor=PREV&limit=50&statut=ouvert>; rel="prev"
}

// ParseKeys reads the rotation list from configuration (e.g. an environment
// variable), newest key first.
func ExampleParseKeys() {
	keys, err := pagination.ParseKeys("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=, MTIzNDU2Nzg5YWJjZGVmMDEyMzQ1Njc4OWFiY2RlZjA=")
	if err != nil {
		panic(err)
	}
	fmt.Println(len(keys), len(keys[0]))
	// Output:
	// 2 32
}
