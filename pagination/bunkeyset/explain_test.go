package bunkeyset_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/hubchantier/hubchantier/internal/testenv"
	"github.com/hubchantier/hubchantier/pagination"
	"github.com/hubchantier/hubchantier/pagination/bunkeyset"
)

// chantier is the row type of the PostgreSQL plan test and benchmark.
type chantier struct {
	bun.BaseModel `bun:"table:chantiers,alias:c"`

	ID        int64      `bun:"id,pk"`
	Nom       string     `bun:"nom"`
	CreatedAt time.Time  `bun:"created_at"`
	DateDebut *time.Time `bun:"date_debut"`
}

func chantierPaginator(t testing.TB) *pagination.Paginator[chantier] {
	t.Helper()
	codec, err := pagination.NewCodec([][]byte{key1})
	if err != nil {
		t.Fatal(err)
	}
	p, err := pagination.New(codec, pagination.Spec[chantier]{
		Resource: "chantiers",
		Columns: map[string]pagination.Column[chantier]{
			"nom":        {SQL: "c.nom", Key: func(c *chantier) any { return c.Nom }},
			"created_at": {SQL: "c.created_at", Key: func(c *chantier) any { return c.CreatedAt }},
			"date_debut": {SQL: "c.date_debut", Nullable: true, Key: func(c *chantier) any { return c.DateDebut }},
		},
		ID:      pagination.Column[chantier]{SQL: "c.id", Key: func(c *chantier) any { return c.ID }},
		Default: "-created_at",
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// chantierIndexes match the orders used by the tests.
var chantierIndexes = []string{
	`CREATE INDEX chantiers_created_at_id ON chantiers (created_at, id)`,
	`CREATE INDEX chantiers_nom_id ON chantiers (nom, id)`,
	`CREATE INDEX chantiers_date_debut_nom_id ON chantiers (date_debut DESC, nom, id)`,
}

// createChantiers fills a chantiers table with n rows (three rows per
// created_at value, one date_debut in ten NULL), creates the indexes and
// analyzes the table.
func createChantiers(t testing.TB, db *testenv.DB, n int, indexes ...string) {
	t.Helper()
	ctx := context.Background()
	stmts := []string{
		`CREATE TABLE chantiers (
			id bigint PRIMARY KEY,
			nom text NOT NULL,
			created_at timestamptz NOT NULL,
			date_debut date
		)`,
		fmt.Sprintf(`INSERT INTO chantiers (id, nom, created_at, date_debut)
			SELECT g,
			       'chantier ' || (g %% 1000),
			       timestamptz '2020-01-01 00:00:00+00' + (g / 3) * interval '1 second',
			       CASE WHEN g %% 10 = 0 THEN NULL ELSE date '2020-01-01' + (g %% 3650) END
			FROM generate_series(1, %d) AS g`, n),
	}
	stmts = append(append(stmts, indexes...), `ANALYZE chantiers`)
	for _, stmt := range stmts {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
}

// planNode is a node of EXPLAIN (FORMAT JSON) output.
type planNode struct {
	NodeType         string     `json:"Node Type"`
	ActualRows       float64    `json:"Actual Rows"`
	ActualLoops      float64    `json:"Actual Loops"`
	RemovedByFilter  float64    `json:"Rows Removed by Filter"`
	RemovedByRecheck float64    `json:"Rows Removed by Index Recheck"`
	Plans            []planNode `json:"Plans"`
}

// explain returns the plan of query, run (ANALYZE) or not.
func explain(t testing.TB, db *testenv.DB, query string, analyze bool) planNode {
	t.Helper()
	opts := "FORMAT JSON"
	if analyze {
		opts = "ANALYZE, FORMAT JSON"
	}
	var raw string
	if err := db.QueryRowContext(context.Background(), "EXPLAIN ("+opts+") "+query).Scan(&raw); err != nil {
		t.Fatal(err)
	}
	var plans []struct{ Plan planNode }
	if err := json.Unmarshal([]byte(raw), &plans); err != nil || len(plans) != 1 {
		t.Fatalf("EXPLAIN output %s: %v", raw, err)
	}
	return plans[0].Plan
}

// String lists the node types depth first: "Limit > Index Scan".
func (n planNode) String() string {
	s := n.NodeType
	for _, c := range n.Plans {
		s += " > " + c.String()
	}
	return s
}

// sorted returns the number of rows fed into Sort nodes.
func (n planNode) sorted() float64 {
	var rows float64
	for _, c := range n.Plans {
		if strings.Contains(n.NodeType, "Sort") {
			rows += c.ActualRows * c.ActualLoops
		}
		rows += c.sorted()
	}
	return rows
}

// examined returns the rows read by scan nodes, kept or filtered out.
func (n planNode) examined() float64 {
	var rows float64
	if strings.Contains(n.NodeType, "Scan") {
		rows = n.ActualRows*n.ActualLoops + n.RemovedByFilter + n.RemovedByRecheck
	}
	for _, c := range n.Plans {
		rows += c.examined()
	}
	return rows
}

// queryLog records the SQL that bun runs.
type queryLog struct{ queries []string }

func (l *queryLog) BeforeQuery(ctx context.Context, _ *bun.QueryEvent) context.Context { return ctx }
func (l *queryLog) AfterQuery(_ context.Context, e *bun.QueryEvent) {
	l.queries = append(l.queries, e.Query)
}

// TestPostgresPagesUseIndexScanWithoutSort checks with EXPLAIN ANALYZE that
// the queries Fetch runs for pages at any depth, forward and backward, walk
// a matching index with no Sort node and read a bounded number of rows, for
// one-direction orders (row-value comparison) and mixed-direction orders led
// by a nullable column (expanded form, split around the NULL block).
//
// Where less than a page of rows remains (the last page of either end, the
// part of a page before the NULL block), PostgreSQL may prefer a bitmap scan
// and a sort of those few rows; there the test checks that at most one page
// of rows is sorted.
func TestPostgresPagesUseIndexScanWithoutSort(t *testing.T) {
	db := testenv.Postgres(t)
	ctx := context.Background()
	const n, limit, nulls = 30000, 50, 3000
	// Far below the depth of the middle pages: reading rows up to the
	// boundary instead of seeking to it would exceed it.
	const maxExamined = 600
	createChantiers(t, db, n, chantierIndexes...)
	p := chantierPaginator(t)
	log := &queryLog{}
	hooked := db.WithQueryHook(log)

	rowAt := func(t *testing.T, req *pagination.Request, offset int) *chantier {
		t.Helper()
		var c chantier
		if err := bunkeyset.OrderBy(db.NewSelect().Model(&c), p, req).Offset(int64(offset)).Limit(1).Scan(ctx); err != nil {
			t.Fatal(err)
		}
		return &c
	}
	type page struct {
		name   string
		offset int  // boundary row; -1 for the first page
		prev   bool // page before the boundary
		tail   bool // less than a page of rows beyond the boundary
	}
	pages := []page{
		{"first page", -1, false, false},
		{"next page in the NULL block at the start", 5, false, false},
		{"next page leaving the NULL block at the start", nulls - 20, false, false},
		{"next page from the middle", n / 2, false, false},
		{"prev page from the middle", n / 2, true, false},
		{"next page entering the NULL block at the end", n - nulls - 20, false, false},
		{"prev page leaving the NULL block at the end", n - nulls + 20, true, false},
		{"next page near the end", n - 5*limit, false, false},
		{"prev page near the start", 5 * limit, true, false},
		{"last page", n - limit + 10, false, true},
		{"first page reached backward", limit - 10, true, true},
	}
	for _, sort := range []string{"-created_at", "created_at", "nom", "-date_debut,nom", "date_debut,-nom"} {
		first, err := p.NewRequest(sort, limit, "")
		if err != nil {
			t.Fatal(err)
		}
		for _, pg := range pages {
			t.Run(fmt.Sprintf("sort=%s/%s", sort, pg.name), func(t *testing.T) {
				cursor := ""
				if pg.offset >= 0 {
					row := rowAt(t, first, pg.offset)
					if pg.prev {
						cursor, err = p.CursorBefore(first, row)
					} else {
						cursor, err = p.CursorAfter(first, row)
					}
					if err != nil {
						t.Fatal(err)
					}
				}
				req, err := p.NewRequest(sort, limit, cursor)
				if err != nil {
					t.Fatal(err)
				}
				log.queries = nil
				page, err := bunkeyset.Fetch(ctx, p, hooked.NewSelect().Model((*chantier)(nil)), req)
				if err != nil {
					t.Fatal(err)
				}
				if !pg.tail && len(page.Data) != limit {
					t.Fatalf("%d rows", len(page.Data))
				}
				if len(log.queries) == 0 || len(log.queries) > 2 {
					t.Fatalf("%d queries", len(log.queries))
				}
				// A page split around the NULL block may leave a query with
				// fewer rows than a page, like the last pages.
				strict := !pg.tail && len(log.queries) == 1
				for _, query := range log.queries {
					plan := explain(t, db, query, true)
					if examined := plan.examined(); examined > maxExamined {
						t.Errorf("plan reads %v rows: %s\n%s", examined, plan, query)
					}
					if sorted := plan.sorted(); sorted > limit+1 {
						t.Errorf("plan sorts %v rows: %s\n%s", sorted, plan, query)
					}
					if !strict {
						continue
					}
					if strings.Contains(plan.String(), "Sort") {
						t.Errorf("plan sorts: %s\n%s", plan, query)
					}
					if !strings.Contains(plan.String(), "Index") {
						t.Errorf("plan does not scan an index: %s\n%s", plan, query)
					}
				}
			})
		}
	}
}
