package store_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"

	"github.com/hubchantier/hubchantier/audit"
	"github.com/hubchantier/hubchantier/internal/testenv"
)

// The product's SQLite migration of the audit tables is the audit
// package's schema, byte for byte.
func TestAuditMigrationIsThePackageSchema(t *testing.T) {
	b, err := os.ReadFile("migrations/sqlite/20261207145300_audit.up.sql")
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != audit.SchemaSQL(dialect.SQLite) {
		t.Error("migrations/sqlite/20261207145300_audit.up.sql differs from audit.SchemaSQL(sqlite)")
	}
}

// On PostgreSQL the audit tables have changed since their first migration
// (applied migrations are never edited): the product's migrations, all
// applied, leave the audit tables, their columns, indexes, triggers and
// functions as the package's current schema creates them, plus the
// product's own indexes (productAuditObjects).
func TestAuditMigrationsMakeThePackageSchema(t *testing.T) {
	ctx := context.Background()
	migrated := open(t, testenv.Postgres(t))
	pkg := testenv.Postgres(t)
	if err := audit.CreateSchema(ctx, pkg.DB); err != nil {
		t.Fatal(err)
	}
	want, got := auditCatalog(t, pkg.DB), auditCatalog(t, migrated.DB)
	if len(want) == 0 {
		t.Fatal("the package's schema has no audit objects")
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: migrations give %q, the package %q", k, got[k], v)
		}
	}
	for k, v := range got {
		if _, ok := want[k]; !ok && !productAuditObjects[k] {
			t.Errorf("%s: migrations give %q, absent from the package's schema", k, v)
		}
	}
}

// productAuditObjects are what the product adds to the package's audit
// tables for its own queries.
var productAuditObjects = map[string]bool{
	"index audit_events_key_ts": true, // API key anomaly scans (20261207190000_api_key_security)
}

// auditCatalog describes the audit objects of db's current schema: the
// columns of the audit tables, their indexes, triggers and functions.
func auditCatalog(t *testing.T, db *bun.DB) map[string]string {
	t.Helper()
	ctx := context.Background()
	out := map[string]string{}
	add := func(q string) {
		rows, err := db.QueryContext(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var k, v string
			if err := rows.Scan(&k, &v); err != nil {
				t.Fatal(err)
			}
			// definitions name the schema: compare them without it
			out[k] = strings.ReplaceAll(v, "current_schema", "")
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
	}
	add(`SELECT 'column ' || table_name || '.' || column_name,
	        data_type || ' ' || is_nullable || ' ' || coalesce(column_default, '')
	     FROM information_schema.columns
	     WHERE table_schema = current_schema() AND table_name LIKE 'audit\_%' AND table_name NOT LIKE 'audit\_events\_2%'`)
	add(`SELECT 'index ' || c.relname, regexp_replace(pg_get_indexdef(c.oid), '\S+\.', '', 'g')
	     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	     JOIN pg_index i ON i.indexrelid = c.oid JOIN pg_class tb ON tb.oid = i.indrelid
	     WHERE n.nspname = current_schema() AND tb.relname LIKE 'audit\_%' AND tb.relname NOT LIKE 'audit\_events\_2%'`)
	add(`SELECT 'trigger ' || tgname, regexp_replace(pg_get_triggerdef(tg.oid), '\S+\.', '', 'g')
	     FROM pg_trigger tg JOIN pg_class c ON c.oid = tg.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
	     WHERE n.nspname = current_schema() AND NOT tg.tgisinternal AND c.relname LIKE 'audit\_%' AND c.relname NOT LIKE 'audit\_events\_2%'`)
	add(`SELECT 'function ' || p.proname, md5(p.prosrc)
	     FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
	     WHERE n.nspname = current_schema() AND p.proname LIKE 'audit\_%'`)
	return out
}
