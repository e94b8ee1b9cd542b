package store_test

import (
	"os"
	"testing"

	"github.com/uptrace/bun/dialect"

	"github.com/hubchantier/hubchantier/audit"
)

// The product's migration of the audit tables is the audit package's
// schema, byte for byte, for each dialect.
func TestAuditMigrationIsThePackageSchema(t *testing.T) {
	for d, file := range map[dialect.Name]string{
		dialect.PG:     "migrations/postgres/20261207145300_audit.up.sql",
		dialect.SQLite: "migrations/sqlite/20261207145300_audit.up.sql",
	} {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != audit.SchemaSQL(d) {
			t.Errorf("%s differs from audit.SchemaSQL(%s)", file, d)
		}
	}
}
