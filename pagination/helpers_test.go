package pagination_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/hubchantier/hubchantier/pagination"
)

// Test keys: fixed, distinct, non-zero.
var (
	key1 = bytes.Repeat([]byte{0x11}, pagination.KeySize)
	key2 = bytes.Repeat([]byte{0x22}, pagination.KeySize)
	key3 = bytes.Repeat([]byte{0x33}, pagination.KeySize)
)

// item is the row type of the tests: two sort columns are nullable.
type item struct {
	ID    int64
	Grp   int64
	Name  string
	Day   *time.Time
	Score *float64
	At    time.Time
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
