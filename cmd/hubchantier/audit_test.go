package main

import (
	"bytes"
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"
)

func TestAuditCommands(t *testing.T) {
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "hub.db")
	t.Setenv("HUB_DATABASE_URL", "sqlite:"+dbPath)
	t.Setenv("HUB_AUDIT_SIGNING_KEY", "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=")
	if _, err := runCLI(t, "", "user", "create", "--email", "chef@x.fr", "--role", "chef_chantier"); err != nil {
		t.Fatal(err)
	}
	for range 3 { // each key creation is an audited change
		if _, err := runCLI(t, "", "apikey", "create", "--user", "chef@x.fr", "--name", "ci", "--scopes", "chantiers:read"); err != nil {
			t.Fatal(err)
		}
	}
	exit := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := Main(context.Background(), args, strings.NewReader(""), &out, &errOut)
		return code, out.String(), errOut.String()
	}
	if code, out, errOut := exit("audit", "verify"); code != 0 || !strings.Contains(out, "intact") {
		t.Fatalf("verify: %d %q %q", code, out, errOut)
	}
	today := time.Now().UTC().Format("2006-01-02")
	if code, _, errOut := exit("audit", "verify", "--from", today, "--to", today); code != 0 {
		t.Fatalf("verify of today: %d %q", code, errOut)
	}
	if code, _, _ := exit("audit", "verify", "--from", "yesterday"); code != exitUsage {
		t.Errorf("bad date: exit %d", code)
	}
	month := time.Now().UTC().Format("2006-01")
	archive := filepath.Join(dir, "a.jsonl.gz")
	if code, out, errOut := exit("audit", "export", "--month", month, "--out", archive); code != 0 || !strings.Contains(out, "3 events") {
		t.Fatalf("export: %d %q %q", code, out, errOut)
	}
	if code, out, errOut := exit("audit", "verify", "--file", archive); code != 0 || !strings.Contains(out, "intact") {
		t.Fatalf("verify --file: %d %q %q", code, out, errOut)
	}
	if code, _, _ := exit("audit", "export", "--month", "2026-13"); code != exitUsage {
		t.Errorf("bad month: exit %d", code)
	}

	// What a database owner can do: drop the guard, edit a row.
	db, err := sql.Open("sqlite", dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, stmt := range []string{"DROP TRIGGER audit_events_no_update", "UPDATE audit_events SET resource_id = '999' WHERE seq = 2"} {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatal(err)
		}
	}
	code, _, errOut := exit("audit", "verify")
	if code != exitFailure || !strings.Contains(errOut, "broken at seq 2") {
		t.Fatalf("verify of an edited chain: exit %d, %q", code, errOut)
	}
	// The archive made before the edit still verifies offline.
	if code, _, _ := exit("audit", "verify", "--file", archive); code != 0 {
		t.Fatalf("archive: exit %d", code)
	}
}
