package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/server"
	"github.com/hubchantier/hubchantier/internal/testenv"
)

// cliEnv points the CLI at a fresh SQLite database and returns its URL.
func cliEnv(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	url := "sqlite:" + filepath.Join(dir, "hub.db")
	t.Setenv("HUB_DATABASE_URL", url)
	t.Setenv("HUB_BLOB_DIR", filepath.Join(dir, "blobs"))
	t.Setenv("HUB_REDIS_URL", "")
	return url
}

// newCLIKey creates a key with the CLI and returns its secret.
func newCLIKey(t *testing.T, email, name string) string {
	t.Helper()
	out, err := runCLI(t, "", "apikey", "create", "--user", email, "--name", name, "--scopes", "chantiers:read")
	if err != nil {
		t.Fatal(err)
	}
	key := strings.TrimSpace(out)
	if !hubapi.WellFormedAPIKey(key) {
		t.Fatalf("not a key: %q", out)
	}
	return key
}

func TestAPIKeyAndUserCommands(t *testing.T) {
	cliEnv(t)
	if _, err := runCLI(t, "", "user", "create", "--email", "chef@x.fr", "--role", "chef_chantier"); err != nil {
		t.Fatal(err)
	}
	key1 := newCLIKey(t, "chef@x.fr", "laptop")
	key2 := newCLIKey(t, "chef@x.fr", "ci")

	t.Run("apikey list shows id, name, display prefix, scopes, dates; never the secret", func(t *testing.T) {
		out, err := runCLI(t, "", "apikey", "list", "--user", "chef@x.fr")
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != 3 || !strings.HasPrefix(lines[0], "ID") || !strings.Contains(lines[0], "LAST USED") {
			t.Fatalf("%q", out)
		}
		for _, want := range []string{"laptop", "ci", key1[:8], key2[:8], "chantiers:read"} {
			if !strings.Contains(out, want) {
				t.Errorf("no %q in %q", want, out)
			}
		}
		for _, secret := range []string{key1, key2, key1[8:], hubapi.HashAPIKey(key1)} {
			if strings.Contains(out, secret) {
				t.Fatal("the listing holds a secret or its hash")
			}
		}
	})
	listed := func(t *testing.T) string {
		out, err := runCLI(t, "", "apikey", "list", "--user", "chef@x.fr")
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	idOf := func(t *testing.T, name string) string {
		for _, l := range strings.Split(listed(t), "\n") {
			if f := strings.Fields(l); len(f) > 1 && f[1] == name {
				return f[0]
			}
		}
		t.Fatalf("no key %q", name)
		return ""
	}

	t.Run("apikey revoke --id revokes that key only", func(t *testing.T) {
		id := idOf(t, "laptop")
		out, err := runCLI(t, "", "apikey", "revoke", "--id", id)
		if err != nil || !strings.Contains(out, "key "+id+" revoked") {
			t.Fatalf("%v %q", err, out)
		}
		for _, l := range strings.Split(listed(t), "\n") {
			f := strings.Fields(l)
			if len(f) < 8 || f[0] == "ID" {
				continue
			}
			revoked := f[len(f)-1] != "-"
			if (f[1] == "laptop") != revoked {
				t.Errorf("revoked column wrong: %q", l)
			}
		}
	})
	t.Run("user disable and enable", func(t *testing.T) {
		out, err := runCLI(t, "", "user", "disable", "--email", "chef@x.fr")
		if err != nil || !strings.Contains(out, "disabled") {
			t.Fatalf("%v %q", err, out)
		}
		if !strings.Contains(listed(t), "is disabled") {
			t.Fatal("the listing does not say the user is disabled")
		}
		if out, err := runCLI(t, "", "user", "enable", "--email", "chef@x.fr"); err != nil || !strings.Contains(out, "enabled") {
			t.Fatalf("%v %q", err, out)
		}
		if strings.Contains(listed(t), "is disabled") {
			t.Fatal("still disabled")
		}
	})
	for name, args := range map[string][]string{
		"list without --user":     {"apikey", "list"},
		"list of an unknown user": {"apikey", "list", "--user", "nobody@x.fr"},
		"revoke without --id":     {"apikey", "revoke"},
		"revoke a zero id":        {"apikey", "revoke", "--id", "0"},
		"revoke an unknown key":   {"apikey", "revoke", "--id", "999"},
		"revoke a non-number":     {"apikey", "revoke", "--id", "x"},
		"disable without --email": {"user", "disable"},
		"disable an unknown user": {"user", "disable", "--email", "nobody@x.fr"},
		"enable an unknown user":  {"user", "enable", "--email", "nobody@x.fr"},
		"unknown apikey command":  {"apikey", "rotate"},
	} {
		if _, err := runCLI(t, "", args...); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// A revocation or a disablement made with the CLI reaches the cached
// authentications of a running server at once, through Redis.
func TestCLIRevocationReachesRunningServers(t *testing.T) {
	rs := testenv.StartPrivateRedis(t)
	dbURL := cliEnv(t)
	if _, err := runCLI(t, "", "user", "create", "--email", "chef@x.fr", "--role", "chef_chantier"); err != nil {
		t.Fatal(err)
	}
	key1 := newCLIKey(t, "chef@x.fr", "one")
	key2 := newCLIKey(t, "chef@x.fr", "two")
	srv, err := server.New(context.Background(), server.Config{DatabaseURL: dbURL, BlobDir: t.TempDir(), RedisURL: rs.URL(),
		Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.WaitBroadcasts(ctx); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler)
	t.Cleanup(hs.Close)
	status := func(key string) int {
		req, _ := http.NewRequest("GET", hs.URL+"/api/v1/chantiers", nil)
		req.Header.Set("Authorization", "Bearer "+key)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	refusedWithin1s := func(key string) {
		t.Helper()
		deadline := time.Now().Add(time.Second)
		for status(key) != http.StatusUnauthorized {
			if time.Now().After(deadline) {
				t.Fatal("key still accepted after 1 s")
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	for _, k := range []string{key1, key2} {
		if s := status(k); s != 200 {
			t.Fatalf("before: %d", s)
		}
	}
	t.Setenv("HUB_REDIS_URL", rs.URL())
	out, err := runCLI(t, "", "apikey", "list", "--user", "chef@x.fr")
	if err != nil {
		t.Fatal(err)
	}
	id := regexp.MustCompile(`(?m)^(\d+)\s+one\s`).FindStringSubmatch(out)
	if id == nil {
		t.Fatalf("%q", out)
	}
	if _, err := runCLI(t, "", "apikey", "revoke", "--id", id[1]); err != nil {
		t.Fatal(err)
	}
	refusedWithin1s(key1)
	if s := status(key2); s != 200 {
		t.Fatalf("the other key: %d", s)
	}
	if _, err := runCLI(t, "", "user", "disable", "--email", "chef@x.fr"); err != nil {
		t.Fatal(err)
	}
	refusedWithin1s(key2)
}

// serve sends go-redis's log lines through its JSON logger.
func TestServeLogsGoRedisAsJSON(t *testing.T) {
	cliEnv(t)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	_ = ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut syncBuffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"serve", "--addr", addr}, strings.NewReader(""), &out, &errOut) }()
	defer func() {
		cancel()
		<-done
	}()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(out.String(), "listening") {
		if time.Now().After(deadline) {
			t.Fatalf("serve did not start: %q", errOut.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	// go-redis logs when it truncates an expiry below its resolution, before
	// sending anything: no server needed.
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	defer rdb.Close()
	_ = rdb.Set(context.Background(), "k", "v", 500*time.Microsecond).Err()
	for _, l := range strings.Split(errOut.String(), "\n") {
		if !strings.Contains(l, "truncating") {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("not JSON: %q", l)
		}
		if rec["level"] != "WARN" || rec["component"] != "go-redis" || !strings.Contains(rec["msg"].(string), "minimal supported value") {
			t.Fatalf("%v", rec)
		}
		return
	}
	t.Fatalf("no go-redis line in %q", errOut.String())
}
