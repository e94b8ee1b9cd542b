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
	// the user's creation and the three keys' (operator commands are
	// audited)
	if code, out, errOut := exit("audit", "export", "--month", month, "--out", archive); code != 0 || !strings.Contains(out, "4 events") {
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

// TestOperatorCommandsAreAudited checks that the administration commands'
// changes leave their change events (method CLI, the command as user
// agent, one request id per command), the password never among them.
func TestOperatorCommandsAreAudited(t *testing.T) {
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "hub.db")
	t.Setenv("HUB_DATABASE_URL", "sqlite:"+dbPath)
	t.Setenv("HUB_REDIS_URL", "")
	const password = "a-long-enough-password"
	for _, args := range [][]string{
		{"user", "create", "--email", "chef@x.fr", "--role", "chef_chantier", "--password-stdin"},
		{"apikey", "create", "--user", "chef@x.fr", "--name", "ci", "--scopes", "chantiers:read"},
		{"user", "disable", "--email", "chef@x.fr"},
		{"user", "enable", "--email", "chef@x.fr"},
		{"user", "enable", "--email", "chef@x.fr"}, // no change: no event
	} {
		if _, err := runCLI(t, password+"\n", args...); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
	}
	db, err := sql.Open("sqlite", dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query("SELECT action, method, user_agent, request_id, changes FROM audit_events ORDER BY seq")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	ids := map[string]bool{}
	for rows.Next() {
		var action, method, agent, requestID, changes string
		if err := rows.Scan(&action, &method, &agent, &requestID, &changes); err != nil {
			t.Fatal(err)
		}
		got = append(got, action+" by "+agent)
		if method != "CLI" || requestID == "" || ids[requestID] {
			t.Errorf("%s: method %q, request id %q (seen before: %v)", action, method, requestID, ids[requestID])
		}
		ids[requestID] = true
		if strings.Contains(changes, password) || strings.Contains(changes, "$2a$") {
			t.Errorf("%s: the password reached the event: %s", action, changes)
		}
	}
	want := []string{"create_user by hubchantier user create", "create_api_key by hubchantier apikey create",
		"disable_user by hubchantier user disable", "enable_user by hubchantier user enable"}
	if strings.Join(got, "; ") != strings.Join(want, "; ") {
		t.Fatalf("events:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
