package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/store"
)

func runCLI(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, strings.NewReader(stdin), &out, &errOut)
	return out.String(), err
}

func TestAdminCommands(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("HUB_DATABASE_URL", "sqlite:"+filepath.Join(dir, "hub.db"))
	t.Setenv("HUB_BLOB_DIR", filepath.Join(dir, "blobs"))

	if out, err := runCLI(t, "", "migrate"); err != nil || !strings.Contains(out, "migrations applied") {
		t.Fatalf("migrate: %v %q", err, out)
	}
	if _, err := runCLI(t, "a-long-enough-password\n", "user", "create", "--email", "chef@x.fr", "--role", "chef_chantier", "--password-stdin"); err != nil {
		t.Fatal(err)
	}
	out, err := runCLI(t, "", "apikey", "create", "--user", "chef@x.fr", "--name", "ci", "--scopes", "chantiers:read,pointages:write")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if key := lines[len(lines)-1]; !hubapi.WellFormedAPIKey(key) {
		t.Fatalf("last line is not a key: %q", out)
	}
	for name, args := range map[string][]string{
		"unknown role":          {"user", "create", "--email", "x@x.fr", "--role", "boss"},
		"duplicate user":        {"user", "create", "--email", "chef@x.fr", "--role", "compagnon"},
		"scope beyond the role": {"apikey", "create", "--user", "chef@x.fr", "--name", "n", "--scopes", "admin"},
		"unknown scope":         {"apikey", "create", "--user", "chef@x.fr", "--name", "n", "--scopes", "root"},
		"unknown user":          {"apikey", "create", "--user", "nobody@x.fr", "--name", "n", "--scopes", "chantiers:read"},
		"missing flags":         {"apikey", "create", "--user", "chef@x.fr"},
		"unknown command":       {"frobnicate"},
		"stray argument":        {"migrate", "now"},
	} {
		if _, err := runCLI(t, "", args...); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := runCLI(t, "short\n", "user", "create", "--email", "p@x.fr", "--role", "admin", "--password-stdin"); err == nil {
		t.Error("short password accepted")
	}
}

// serve --demo answers with the printed key and shuts down gracefully.
func TestServeDemo(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("HUB_DATABASE_URL", "sqlite:"+filepath.Join(dir, "hub.db"))
	t.Setenv("HUB_BLOB_DIR", filepath.Join(dir, "blobs"))
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	_ = ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--demo", "--addr", addr}, strings.NewReader(""), &out, &errOut)
	}()
	var key string
	deadline := time.Now().Add(20 * time.Second)
	for key == "" && time.Now().Before(deadline) {
		for _, l := range strings.Split(out.String(), "\n") {
			if hubapi.WellFormedAPIKey(l) && strings.Contains(out.String(), "listening") {
				key = l
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if key == "" {
		t.Fatalf("no key printed: %q %q", out.String(), errOut.String())
	}
	req, _ := http.NewRequest("GET", "http://"+addr+"/api/v1/chantiers", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("list with the demo key: %v %v", err, res)
	}
	res.Body.Close()
	res, _ = http.Get("http://" + addr + "/api/v1/chantiers")
	if res.StatusCode != 401 {
		t.Fatalf("without a key: %d", res.StatusCode)
	}
	res.Body.Close()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("shutdown: %v", err)
		}
	case <-time.After(35 * time.Second):
		t.Fatal("serve did not stop")
	}
}

func TestCountersCommand(t *testing.T) {
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "hub.db")
	t.Setenv("HUB_DATABASE_URL", "sqlite:"+dbPath)
	t.Setenv("HUB_BLOB_DIR", filepath.Join(dir, "blobs"))
	if _, err := runCLI(t, "", "seed", "--chantiers", "50"); err != nil {
		t.Fatal(err)
	}
	if out, err := runCLI(t, "", "counters", "check"); err != nil || !strings.Contains(out, "counters exact") {
		t.Fatalf("check on seeded data: %v %q", err, out)
	}
	// Drift as after a restore that bypassed the triggers.
	db, err := store.Open("sqlite:" + dbPath)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(context.Background(), `UPDATE counters SET n = n + 3 WHERE name = 'chantiers'`); err != nil {
		t.Fatal(err)
	}
	_ = db.Close()
	out, err := runCLI(t, "", "counters", "check")
	if err == nil || !strings.Contains(out, "chantiers ") || !strings.Contains(err.Error(), "rebuild") {
		t.Fatalf("check on drifted counters: %v %q", err, out)
	}
	if out, err := runCLI(t, "", "counters", "rebuild"); err != nil || !strings.Contains(out, "counters rebuilt") {
		t.Fatalf("rebuild: %v %q", err, out)
	}
	if out, err := runCLI(t, "", "counters", "check"); err != nil || !strings.Contains(out, "counters exact") {
		t.Fatalf("check after rebuild: %v %q", err, out)
	}
	for _, args := range [][]string{{"counters"}, {"counters", "fix"}, {"counters", "check", "now"}} {
		if _, err := runCLI(t, "", args...); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}
