// Package sqlscript runs the schema scripts of the reusable packages
// (audit, oauth): statements separated by "--bun:split" lines, as bun's
// SQL migrations have them.
package sqlscript

import (
	"context"
	"strings"

	"github.com/uptrace/bun"
)

// Split is the separator line between two statements of a script.
const Split = "--bun:split"

// Exec runs the statements of script on db, in order, stopping at the
// first error.
func Exec(ctx context.Context, db bun.IDB, script string) error {
	for _, stmt := range strings.Split(script, Split) {
		if strings.TrimSpace(stmt) == "" {
			continue
		}
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			return err
		}
	}
	return nil
}
