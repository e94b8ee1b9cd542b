package server_test

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"

	"github.com/hubchantier/hubchantier/notify"
)

// mailbox is a notify.Notifier that keeps the messages it is given, for
// the tests to read the e-mail verification codes.
type mailbox struct {
	mu   sync.Mutex
	msgs []notify.Message
	fail bool
}

func (m *mailbox) Send(_ context.Context, msg notify.Message) error {
	if _, err := msg.Validate(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail {
		return fmt.Errorf("mailbox: refused")
	}
	m.msgs = append(m.msgs, msg)
	return nil
}

var verificationCode = regexp.MustCompile(`hcv_[A-Za-z0-9_-]{43}`)

// codeFor returns the last verification code mailed to addr.
func (m *mailbox) codeFor(t testing.TB, addr string) string {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := len(m.msgs) - 1; i >= 0; i-- {
		if len(m.msgs[i].To) == 1 && m.msgs[i].To[0] == addr {
			if c := verificationCode.FindString(m.msgs[i].Text); c != "" {
				return c
			}
		}
	}
	t.Fatalf("no verification code mailed to %s", addr)
	return ""
}

// tablesHolding lists the tables of db's schema (read from the database's
// catalogue, so that tables added later are searched too) with a row in
// which some column holds s, ignoring case; each as "table: n row(s)".
func tablesHolding(t testing.TB, db *bun.DB, s string) []string {
	t.Helper()
	ctx := context.Background()
	var found []string
	if db.Dialect().Name() == dialect.PG {
		var tables []string
		err := db.NewRaw(`SELECT table_name FROM information_schema.tables
			WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name`).Scan(ctx, &tables)
		if err != nil {
			t.Fatal(err)
		}
		if len(tables) < 10 {
			t.Fatalf("only %d tables in the schema: %v", len(tables), tables)
		}
		for _, tbl := range tables {
			var n int
			// a whole row as text: every column, JSON and arrays included
			err := db.NewRaw(`SELECT count(*) FROM ? AS x WHERE strpos(lower(x::text), lower(?)) > 0`, bun.Ident(tbl), s).Scan(ctx, &n)
			if err != nil {
				t.Fatalf("%s: %v", tbl, err)
			}
			if n > 0 {
				found = append(found, fmt.Sprintf("%s: %d row(s)", tbl, n))
			}
		}
		return found
	}
	var tables []string
	if err := db.NewRaw(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`).Scan(ctx, &tables); err != nil {
		t.Fatal(err)
	}
	if len(tables) < 10 {
		t.Fatalf("only %d tables in the database: %v", len(tables), tables)
	}
	for _, tbl := range tables {
		var cols []string
		if err := db.NewRaw(`SELECT name FROM pragma_table_info(?)`, tbl).Scan(ctx, &cols); err != nil {
			t.Fatal(err)
		}
		conds := make([]string, len(cols))
		for i, c := range cols {
			// text, and blobs (River's JSONB arguments) byte for byte
			conds[i] = fmt.Sprintf(`instr(lower(CAST(%q AS TEXT)), lower(?1)) > 0`, c)
		}
		var n int
		q := fmt.Sprintf(`SELECT count(*) FROM %q WHERE %s`, tbl, strings.Join(conds, " OR "))
		if err := db.DB.QueryRowContext(ctx, q, s).Scan(&n); err != nil {
			t.Fatalf("%s: %v", tbl, err)
		}
		if n > 0 {
			found = append(found, fmt.Sprintf("%s: %d row(s)", tbl, n))
		}
	}
	return found
}
