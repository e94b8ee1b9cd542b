package service_test

import (
	"testing"
	"time"

	"github.com/hubchantier/hubchantier/internal/testenv"
)

// BenchmarkDetectAnomalies1M times one anomaly scan over 1,000,000 audit
// rows, all inside the scanned hour (the worst case: the scan reads every
// one), on PostgreSQL: 1,000 keys, 800,000 requests spread evenly over the
// hour (a tenth of them 404, three user agents per key), plus 200,000
// requests of ten keys in the last five minutes (spikes: each needs its
// baseline). The rows are written with one INSERT … SELECT
// generate_series (outside the hash chain, which the scan does not read).
//
//	go test ./hubapi/service -run '^$' -bench DetectAnomalies1M -benchtime 5x -benchmem
func BenchmarkDetectAnomalies1M(b *testing.B) {
	if testenv.PostgresURL() == "" {
		b.Skip("HUB_TEST_POSTGRES_URL not set")
	}
	tdb := testenv.Postgres(b)
	f := newKeyFixture(b, tdb)
	ctx := b.Context()
	now := f.clock.now()
	created := now.Add(-48 * time.Hour)
	exec := func(q string, args ...any) {
		if _, err := f.db.ExecContext(ctx, q, args...); err != nil {
			b.Fatal(err)
		}
	}
	exec(`INSERT INTO api_keys (user_id, name, prefix, key_hash, scopes, created_at, updated_at, version)
		SELECT ?, 'bench-' || i, 'hck_bnch', md5('bench-' || i), 'chantiers:read', ?, ?, 1 FROM generate_series(1, 1000) AS i`,
		f.owner.ID, created, created)
	var first int64
	if err := f.db.NewSelect().Table("api_keys").ColumnExpr("min(id)").Where("name LIKE 'bench-%'").Scan(ctx, &first); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	exec(`INSERT INTO audit_events (ts, chain, seq, prev_hash, hash, stage, user_id, api_key_id, method, route, status, user_agent)
		SELECT ?::timestamptz - (i * interval '4500 microseconds'), 'bench', i, '', '', 'response', ?, ? + (i % 1000), 'GET',
			'/api/v1/chantiers/{id}', CASE WHEN i % 10 = 0 THEN 404 ELSE 200 END, 'client-' || (i % 3)
		FROM generate_series(1, 800000) AS i`, now, f.owner.ID, first)
	exec(`INSERT INTO audit_events (ts, chain, seq, prev_hash, hash, stage, user_id, api_key_id, method, route, status, user_agent)
		SELECT ?::timestamptz - (i * interval '1500 microseconds'), 'bench', 800000 + i, '', '', 'response', ?, ? + (i % 10), 'GET',
			'/api/v1/chantiers', 200, 'batch/1'
		FROM generate_series(1, 200000) AS i`, now, f.owner.ID, first)
	exec(`ANALYZE audit_events`)
	b.Logf("1,000,000 audit rows written in %s", time.Since(start).Round(time.Millisecond))
	b.ResetTimer()
	for b.Loop() {
		run, err := f.op.DetectAnomalies(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if run.Keys != 1000 {
			b.Fatalf("%d keys judged", run.Keys)
		}
	}
}
