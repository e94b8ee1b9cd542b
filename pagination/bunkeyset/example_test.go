package bunkeyset_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	_ "modernc.org/sqlite"

	"github.com/hubchantier/hubchantier/pagination"
	"github.com/hubchantier/hubchantier/pagination/bunkeyset"
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
		page, err := bunkeyset.Fetch(r.Context(), chantiers, sel, req)
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

// A cursor used with other filters, an out-of-range limit and a "+" sort
// prefix (a space once the query string is decoded) get a 400 problem.
func Example_invalidParameters() {
	h := listChantiers(exampleDB())
	rec := httptest.NewRecorder()
	h(rec, httptest.NewRequest(http.MethodGet, "/api/v1/chantiers?statut=ouvert&limit=1", nil))
	var page pagination.Page[string]
	_ = json.Unmarshal(rec.Body.Bytes(), &page)

	for _, target := range []string{
		"/api/v1/chantiers?statut=clos&limit=1&cursor=" + page.Pagination.NextCursor,
		"/api/v1/chantiers?limit=500",
		"/api/v1/chantiers?sort=+nom",
	} {
		rec := httptest.NewRecorder()
		h(rec, httptest.NewRequest(http.MethodGet, target, nil))
		var d problem.Details
		_ = json.Unmarshal(rec.Body.Bytes(), &d)
		fmt.Println(rec.Code, rec.Header().Get("Content-Type"), path.Base(d.Type), d.Errors)
	}
	// Output:
	// 400 application/problem+json invalid-cursor [{cursor is invalid or has expired}]
	// 400 application/problem+json invalid-parameter [{limit must be an integer between 1 and 100}]
	// 400 application/problem+json invalid-parameter [{sort unknown field " nom"}]
}

// A legacy offset page also offers a next_cursor, so that clients can
// switch to cursors.
func ExampleOrderBy() {
	db := exampleDB()
	ctx := context.Background()
	req, _ := chantiers.NewRequest("nom", 2, "")
	var rows []Chantier
	// ?page=1&limit=2, ordered like the cursor pages
	if err := bunkeyset.OrderBy(db.NewSelect().Model((*Chantier)(nil)), chantiers, req).Limit(2).Scan(ctx, &rows); err != nil {
		panic(err)
	}
	next, _ := chantiers.CursorAfter(req, &rows[len(rows)-1])

	req, _ = chantiers.NewRequest("nom", 2, next)
	page, _ := bunkeyset.Fetch(ctx, chantiers, db.NewSelect().Model((*Chantier)(nil)), req)
	fmt.Println(rows[0].Nom, rows[1].Nom, "|", page.Data[0].Nom, page.Data[1].Nom)
	// Output:
	// Gare Sud Halle | Pont Neuf Tour B
}
