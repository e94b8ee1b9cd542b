package bunkeyset_test

import (
	"bytes"
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/hubchantier/hubchantier/internal/testenv"
	"github.com/hubchantier/hubchantier/pagination"
)

// key1 is the test key: fixed, non-zero.
var key1 = bytes.Repeat([]byte{0x11}, pagination.KeySize)

// item is the row type of the property tests: every sort column has many
// ties, two are nullable.
type item struct {
	bun.BaseModel `bun:"table:items,alias:i"`

	ID    int64      `bun:"id,pk,autoincrement"`
	Grp   int64      `bun:"grp,notnull"`
	Name  string     `bun:"name,notnull"`
	Day   *time.Time `bun:"day"`
	Score *float64   `bun:"score"`
	At    time.Time  `bun:"at,notnull"`
}

func itemSpec() pagination.Spec[item] {
	return pagination.Spec[item]{
		Resource: "items",
		Columns: map[string]pagination.Column[item]{
			"grp":   {SQL: "?TableAlias.grp", Key: func(r *item) any { return r.Grp }},
			"name":  {SQL: "i.name", Key: func(r *item) any { return r.Name }},
			"day":   {SQL: "i.day", Nullable: true, Key: func(r *item) any { return r.Day }},
			"score": {SQL: "i.score", Nullable: true, Key: func(r *item) any { return r.Score }},
			"at":    {SQL: "i.at", Key: func(r *item) any { return r.At }},
		},
		ID:      pagination.Column[item]{SQL: "i.id", Key: func(r *item) any { return r.ID }},
		Default: "-at",
	}
}

func newItemPaginator(t testing.TB, opts ...pagination.Option) *pagination.Paginator[item] {
	t.Helper()
	codec, err := pagination.NewCodec([][]byte{key1}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	p, err := pagination.New(codec, itemSpec())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

var (
	names = []string{"alpha", "beta", "gamma", "delta"}
	base  = time.Date(2026, 1, 15, 10, 0, 0, 0, time.UTC)
)

// randomItem draws column values from small sets so that sort keys tie.
func randomItem(rng *rand.Rand) item {
	it := item{
		Grp:  rng.Int64N(4),
		Name: names[rng.IntN(len(names))],
		At:   base.Add(time.Duration(rng.IntN(6)) * 1234567 * time.Microsecond),
	}
	if d := rng.IntN(6); d > 0 {
		day := base.AddDate(0, 0, d)
		it.Day = &day
	}
	if s := rng.IntN(3); s > 0 {
		f := float64(s) + 0.5
		it.Score = &f
	}
	return it
}

func createItems(t testing.TB, db *testenv.DB, n int, rng *rand.Rand) {
	t.Helper()
	ctx := context.Background()
	if _, err := db.NewCreateTable().Model((*item)(nil)).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	insertItems(t, db, n, rng)
}

func insertItems(t testing.TB, db *testenv.DB, n int, rng *rand.Rand) []int64 {
	t.Helper()
	if n == 0 {
		return nil
	}
	rows := make([]item, n)
	for i := range rows {
		rows[i] = randomItem(rng)
	}
	if _, err := db.NewInsert().Model(&rows).Exec(context.Background()); err != nil {
		t.Fatal(err)
	}
	ids := make([]int64, n)
	for i, r := range rows {
		ids[i] = r.ID
	}
	return ids
}

func ids(rows []item) []int64 {
	out := make([]int64, len(rows))
	for i, r := range rows {
		out[i] = r.ID
	}
	return out
}
