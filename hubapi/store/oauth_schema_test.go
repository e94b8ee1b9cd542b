package store_test

import (
	"os"
	"testing"

	"github.com/uptrace/bun/dialect"

	"github.com/hubchantier/hubchantier/oauth"
)

// The product's migration of the OAuth tables is the oauth package's
// schema, byte for byte, for each dialect: one definition, one path.
func TestOAuthMigrationIsThePackageSchema(t *testing.T) {
	for d, file := range map[dialect.Name]string{
		dialect.PG:     "migrations/postgres/20261207060000_oauth.up.sql",
		dialect.SQLite: "migrations/sqlite/20261207060000_oauth.up.sql",
	} {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != oauth.SchemaSQL(d) {
			t.Errorf("%s differs from oauth.SchemaSQL(%s)", file, d)
		}
	}
}
