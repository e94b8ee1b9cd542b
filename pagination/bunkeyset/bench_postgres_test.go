package bunkeyset_test

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/hubchantier/hubchantier/internal/testenv"
	"github.com/hubchantier/hubchantier/pagination/bunkeyset"
)

// BenchmarkPostgresPages compares keyset pages at increasing depth with an
// OFFSET page, limit 50, on a 1,000,000-row table (sort -created_at, index
// on (created_at, id)). A keyset iteration parses the request (opening the
// cursor) and fetches the page; the offset iteration only runs its query.
// Besides ns/op it reports the median and 95th percentile of the iterations.
//
// It needs the PostgreSQL test database (see internal/testenv); creating
// the table takes several seconds.
func BenchmarkPostgresPages(b *testing.B) {
	if testenv.PostgresURL() == "" {
		b.Skip("no PostgreSQL test database")
	}
	const rows, limit = 1_000_000, 50
	ctx := context.Background()
	db := testenv.Postgres(b)
	createChantiers(b, db, rows, chantierIndexes[0])
	p := chantierPaginator(b)
	first, err := p.NewRequest("-created_at", limit, "")
	if err != nil {
		b.Fatal(err)
	}

	for _, depth := range []int{0, 500_000, 900_000, rows - limit} {
		q := url.Values{"limit": {fmt.Sprint(limit)}}
		if depth > 0 {
			var last chantier
			if err := bunkeyset.OrderBy(db.NewSelect().Model(&last), p, first).Offset(int64(depth - 1)).Limit(1).Scan(ctx); err != nil {
				b.Fatal(err)
			}
			tok, err := p.CursorAfter(first, &last)
			if err != nil {
				b.Fatal(err)
			}
			q.Set("cursor", tok)
		}
		req, err := p.ParseRequest(q)
		if err != nil {
			b.Fatal(err)
		}
		b.Logf("keyset depth %d plan: %s", depth, explain(b, db, bunkeyset.Apply(db.NewSelect().Model((*chantier)(nil)), p, req).String(), false))
		b.Run(fmt.Sprintf("keyset/depth=%d", depth), func(b *testing.B) {
			b.ReportAllocs()
			var lat []time.Duration
			for b.Loop() {
				start := time.Now()
				req, err := p.ParseRequest(q)
				if err != nil {
					b.Fatal(err)
				}
				page, err := bunkeyset.Fetch(ctx, p, db.NewSelect().Model((*chantier)(nil)), req)
				if err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(start))
				if len(page.Data) != limit {
					b.Fatalf("%d rows", len(page.Data))
				}
			}
			reportLatency(b, lat)
		})
	}

	const offset = 900_000
	b.Run(fmt.Sprintf("offset/depth=%d", offset), func(b *testing.B) {
		b.ReportAllocs()
		var lat []time.Duration
		for b.Loop() {
			start := time.Now()
			var page []chantier
			if err := bunkeyset.OrderBy(db.NewSelect().Model((*chantier)(nil)), p, first).Offset(offset).Limit(limit).Scan(ctx, &page); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(start))
			if len(page) != limit {
				b.Fatalf("%d rows", len(page))
			}
		}
		reportLatency(b, lat)
	})
}

func reportLatency(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	ms := func(q float64) float64 {
		return float64(lat[int(q*float64(len(lat)-1))]) / float64(time.Millisecond)
	}
	b.ReportMetric(ms(0.50), "p50-ms")
	b.ReportMetric(ms(0.95), "p95-ms")
}
