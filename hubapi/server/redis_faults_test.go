package server_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/server"
	"github.com/hubchantier/hubchantier/hubapi/store"
	"github.com/hubchantier/hubchantier/internal/testenv"
	"github.com/hubchantier/hubchantier/ratelimit/redisstore"
)

// node is one server of a cluster sharing a database (and Redis).
type node struct {
	*server.Server
	url string
}

func startNode(t *testing.T, cfg server.Config) node {
	t.Helper()
	cfg.BlobDir = t.TempDir()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewJSONHandler(io.Discard, nil))
	}
	if cfg.CursorKeys == nil {
		cfg.CursorKeys = [][]byte{bytes.Repeat([]byte{7}, 32)}
	}
	srv, err := server.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	hs := httptest.NewServer(srv.Handler)
	t.Cleanup(hs.Close)
	return node{Server: srv, url: hs.URL}
}

// waitBroadcasts waits for the node's Redis subscriptions.
func (in node) waitBroadcasts(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := in.WaitBroadcasts(ctx); err != nil {
		t.Fatalf("subscriptions not confirmed: %v", err)
	}
}

// newKeyFor creates a user of the role (unless the e-mail exists) and
// returns it with a fresh key holding every scope of the role.
func (in node) newKeyFor(t *testing.T, email string, role hubapi.Role) (*hubapi.User, *hubapi.APIKey, string) {
	t.Helper()
	ctx := context.Background()
	u, err := in.Operator.FindUserByEmail(ctx, email)
	if err != nil {
		u = &hubapi.User{Email: email, Role: role}
		if err := in.Operator.CreateUser(ctx, u, ""); err != nil {
			t.Fatal(err)
		}
	}
	k, secret, err := in.Operator.IssueAPIKey(ctx, hubapi.APIKeyInput{UserID: u.ID, Name: "test", Scopes: hubapi.RoleScopes(role)})
	if err != nil {
		t.Fatal(err)
	}
	return u, k, secret
}

type reply struct {
	status int
	header http.Header
	body   string
}

func call(t *testing.T, in node, key, method, path, body string) reply {
	t.Helper()
	req, err := http.NewRequest(method, in.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return reply{res.StatusCode, res.Header, string(b)}
}

// eventually polls cond until it holds, failing after limit.
func eventually(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, limit)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

const unsynced = "hubchantier; fwd=bypass; detail=unsynced"

// An instance cut off from Redis cannot hear the invalidations of the
// others: it must not serve (or fill) its response cache meanwhile, and must
// empty it when the subscription is back.
func TestCacheBypassedWhileInvalidationChannelIsDown(t *testing.T) {
	rs := testenv.StartPrivateRedis(t)
	tdb := testenv.SQLite(t)
	cfg := server.Config{DB: store.Wrap(tdb.DB), RedisURL: rs.URL()}
	a, b := startNode(t, cfg), startNode(t, cfg)
	a.waitBroadcasts(t)
	b.waitBroadcasts(t)
	_, _, key := a.newKeyFor(t, "admin@test.fr", hubapi.RoleAdmin)
	const list = "/api/v1/chantiers?limit=100"
	create := func(code string) {
		t.Helper()
		if r := call(t, b, key, "POST", "/api/v1/chantiers", `{"code":"`+code+`","nom":"n","adresse":"a"}`); r.status != 201 {
			t.Fatalf("create on B: %d %s", r.status, r.body)
		}
	}
	create("BEFORE")
	call(t, a, key, "GET", list, "")
	if r := call(t, a, key, "GET", list, ""); r.header.Get("Cache-Status") != "hubchantier; hit" {
		t.Fatalf("A does not cache the list: %q", r.header.Get("Cache-Status"))
	}

	rs.Stop()
	eventually(t, 10*time.Second, "A notices the lost subscription", func() bool {
		return call(t, a, key, "GET", list, "").header.Get("Cache-Status") == unsynced
	})
	t.Run("while disconnected, A serves what B wrote, uncached", func(t *testing.T) {
		create("DURING")
		for range 3 {
			r := call(t, a, key, "GET", list, "")
			if r.status != 200 || !strings.Contains(r.body, `"DURING"`) || r.header.Get("Cache-Status") != unsynced {
				t.Fatalf("A: %d %q, body has DURING: %v", r.status, r.header.Get("Cache-Status"), strings.Contains(r.body, `"DURING"`))
			}
		}
	})
	flushes := a.Cache.Stats().Flushes
	rs.Start()
	eventually(t, 15*time.Second, "A subscribes again", func() bool {
		return call(t, a, key, "GET", list, "").header.Get("Cache-Status") != unsynced
	})
	t.Run("after reconnection A's cache was emptied, and caches again", func(t *testing.T) {
		if a.Cache.Stats().Flushes <= flushes {
			t.Fatal("no resync flush on reconnection")
		}
		r := call(t, a, key, "GET", list, "")
		if r.header.Get("Cache-Status") != "hubchantier; hit" || !strings.Contains(r.body, `"DURING"`) {
			t.Fatalf("A after reconnection: %q, body has DURING: %v", r.header.Get("Cache-Status"), strings.Contains(r.body, `"DURING"`))
		}
		b.waitBroadcasts(t)
		eventually(t, 15*time.Second, "B's broadcasts reach A again", func() bool {
			create(fmt.Sprintf("AFTER%d", time.Now().UnixNano()))
			return strings.Contains(call(t, a, key, "GET", list, "").body, `"AFTER`)
		})
	})
}

// With fail-closed rate limiting, requests are refused while Redis is
// unreachable: the instance must say it is not ready, and ready again once
// Redis is back. Fail-open instances stay ready.
func TestReadyzFollowsRedisWhenRateLimitingFailsClosed(t *testing.T) {
	rs := testenv.StartPrivateRedis(t)
	tdb := testenv.SQLite(t)
	breaker := redisstore.BreakerConfig{Failures: 2, Cooldown: 50 * time.Millisecond}
	closed := startNode(t, server.Config{DB: store.Wrap(tdb.DB), RedisURL: rs.URL(), RateLimitFailClosed: true, RedisBreaker: breaker})
	open := startNode(t, server.Config{DB: store.Wrap(tdb.DB), RedisURL: rs.URL(), RedisBreaker: breaker})
	_, _, key := closed.newKeyFor(t, "admin@test.fr", hubapi.RoleAdmin)
	if r := call(t, closed, "", "GET", "/readyz", ""); r.status != 200 {
		t.Fatalf("Redis up: %d %s", r.status, r.body)
	}
	if r := call(t, closed, key, "GET", "/api/v1/chantiers", ""); r.status != 200 {
		t.Fatalf("Redis up: %d %s", r.status, r.body)
	}
	rs.Stop()
	t.Run("Redis down: not ready, and requests get 503", func(t *testing.T) {
		for range 5 {
			r := call(t, closed, "", "GET", "/readyz", "")
			if r.status != 503 || !strings.HasPrefix(r.header.Get("Content-Type"), "application/problem+json") || !strings.Contains(r.body, "Redis") {
				t.Fatalf("readyz: %d %q %s", r.status, r.header.Get("Content-Type"), r.body)
			}
		}
		if r := call(t, closed, key, "GET", "/api/v1/chantiers", ""); r.status != 503 {
			t.Fatalf("request: %d %s", r.status, r.body)
		}
	})
	t.Run("a fail-open instance stays ready", func(t *testing.T) {
		if r := call(t, open, "", "GET", "/readyz", ""); r.status != 200 {
			t.Fatalf("readyz: %d %s", r.status, r.body)
		}
		if r := call(t, open, key, "GET", "/api/v1/chantiers", ""); r.status != 200 {
			t.Fatalf("request: %d %s", r.status, r.body)
		}
	})
	rs.Start()
	t.Run("Redis back: ready again", func(t *testing.T) {
		eventually(t, 10*time.Second, "readyz 200", func() bool {
			return call(t, closed, "", "GET", "/readyz", "").status == 200
		})
		eventually(t, 10*time.Second, "requests served", func() bool {
			return call(t, closed, key, "GET", "/api/v1/chantiers", "").status == 200
		})
	})
}

// blackhole accepts TCP connections and reads the commands sent on them,
// counting both, and never answers: a Redis that hangs.
type blackhole struct {
	ln       net.Listener
	accepts  atomic.Int64
	commands atomic.Int64
	mu       sync.Mutex
	conns    []net.Conn
}

// countCommands reads RESP commands (arrays of bulk strings) until the
// connection ends.
func (bh *blackhole) countCommands(c net.Conn) {
	r := bufio.NewReader(c)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		n, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "*")))
		if err != nil || !strings.HasPrefix(line, "*") {
			return
		}
		bh.commands.Add(1)
		for range n {
			hdr, err := r.ReadString('\n')
			if err != nil {
				return
			}
			size, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(hdr, "$")))
			if err != nil {
				return
			}
			if _, err := r.Discard(size + 2); err != nil {
				return
			}
		}
	}
}

func newBlackhole(t *testing.T) *blackhole {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	bh := &blackhole{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			bh.accepts.Add(1)
			bh.mu.Lock()
			bh.conns = append(bh.conns, c)
			bh.mu.Unlock()
			go bh.countCommands(c)
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		bh.mu.Lock()
		for _, c := range bh.conns {
			_ = c.Close()
		}
		bh.mu.Unlock()
	})
	return bh
}

// While Redis hangs, requests must not each pay a Redis timeout: after a
// few failures the circuit breaker opens and requests stop reaching Redis,
// let through (fail open) or refused with 503 (fail closed) at once.
func TestRequestsDoNotEachWaitForADownRedis(t *testing.T) {
	const requests = 200
	for _, failClosed := range []bool{false, true} {
		t.Run(fmt.Sprintf("fail closed %v", failClosed), func(t *testing.T) {
			bh := newBlackhole(t)
			tdb := testenv.SQLite(t)
			in := startNode(t, server.Config{DB: store.Wrap(tdb.DB), RedisURL: "redis://" + bh.ln.Addr().String() + "/0?pool_size=200", // no wait for a pooled connection
				CacheMaxMB: -1, RateLimitFailClosed: failClosed,
				RedisBreaker: redisstore.BreakerConfig{Failures: 3, Cooldown: time.Hour}})
			_, _, key := in.newKeyFor(t, "admin@test.fr", hubapi.RoleAdmin)
			want := 200
			if failClosed {
				want = 503
			}
			for i := range requests {
				r := call(t, in, key, "GET", "/api/v1/chantiers", "")
				if r.status != want {
					t.Fatalf("request %d: %d %s", i, r.status, r.body)
				}
			}
			// Without the breaker every request sends its command and
			// waits for the answer until the limiter's timeout.
			t.Logf("%d connections, %d commands", bh.accepts.Load(), bh.commands.Load())
			if n := bh.commands.Load(); n > 10 {
				t.Fatalf("%d commands sent to Redis for %d requests", n, requests)
			}
			// The failures that open the breaker may each dial once per
			// attempt (go-redis retries 3 times), writing nothing once the
			// limiter's deadline has passed.
			if n := bh.accepts.Load(); n > 20 {
				t.Fatalf("%d connections to Redis for %d requests", n, requests)
			}
			if s := in.RedisBreaker.State(); s != redisstore.BreakerOpen {
				t.Fatalf("breaker %s", s)
			}
		})
	}
}

// Revoking a key or disabling a user on one instance reaches the
// authentication cache of every other instance at once (through Redis), on
// both databases.
func TestRevocationReachesEveryInstance(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, tdb *testenv.DB) {
		rs := testenv.StartPrivateRedis(t)
		cfg := server.Config{DB: store.Wrap(tdb.DB), RedisURL: rs.URL()}
		a, b := startNode(t, cfg), startNode(t, cfg)
		a.waitBroadcasts(t)
		b.waitBroadcasts(t)
		_, _, admin := b.newKeyFor(t, "admin@test.fr", hubapi.RoleAdmin)
		refusedOnA := func(key string) func() bool {
			return func() bool { return call(t, a, key, "GET", "/api/v1/users/me", "").status == 401 }
		}

		t.Run("a key revoked through B's admin API is refused by A within 1 s", func(t *testing.T) {
			_, k, key := a.newKeyFor(t, "conducteur@test.fr", hubapi.RoleConducteur)
			if r := call(t, a, key, "GET", "/api/v1/users/me", ""); r.status != 200 {
				t.Fatalf("before: %d %s", r.status, r.body)
			}
			if r := call(t, b, admin, "DELETE", fmt.Sprintf("/api/v1/admin/api-keys/%d", k.ID), ""); r.status != 204 {
				t.Fatalf("revoke on B: %d %s", r.status, r.body)
			}
			eventually(t, time.Second, "A refuses the revoked key", refusedOnA(key))
			r := call(t, a, key, "GET", "/api/v1/users/me", "")
			if r.status != 401 || !strings.HasPrefix(r.header.Get("Content-Type"), "application/problem+json") {
				t.Fatalf("%d %q", r.status, r.header.Get("Content-Type"))
			}
		})
		t.Run("a user disabled on B has every key refused by A within 1 s", func(t *testing.T) {
			u, _, key1 := a.newKeyFor(t, "chef@test.fr", hubapi.RoleChefChantier)
			_, _, key2 := a.newKeyFor(t, "chef@test.fr", hubapi.RoleChefChantier)
			for _, k := range []string{key1, key2} {
				if r := call(t, a, k, "GET", "/api/v1/users/me", ""); r.status != 200 {
					t.Fatalf("before: %d %s", r.status, r.body)
				}
			}
			if _, err := b.Operator.SetUserDisabled(context.Background(), u.Email, true); err != nil {
				t.Fatal(err)
			}
			eventually(t, time.Second, "A refuses the first key", refusedOnA(key1))
			eventually(t, time.Second, "A refuses the second key", refusedOnA(key2))
			if r := call(t, b, key1, "GET", "/api/v1/users/me", ""); r.status != 401 {
				t.Fatalf("B: %d", r.status)
			}
			t.Run("enabled again, its keys work again", func(t *testing.T) {
				if _, err := b.Operator.SetUserDisabled(context.Background(), u.Email, false); err != nil {
					t.Fatal(err)
				}
				for _, in := range []node{a, b} {
					if r := call(t, in, key1, "GET", "/api/v1/users/me", ""); r.status != 200 {
						t.Fatalf("%d %s", r.status, r.body)
					}
				}
			})
		})
	})
}

// Without Redis, a revocation through the admin API applies at once on the
// instance itself (in process).
func TestRevocationInProcess(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, tdb *testenv.DB) {
		in := startNode(t, server.Config{DB: store.Wrap(tdb.DB)})
		_, _, admin := in.newKeyFor(t, "admin@test.fr", hubapi.RoleAdmin)
		u, k, key := in.newKeyFor(t, "compagnon@test.fr", hubapi.RoleCompagnon)
		if r := call(t, in, key, "GET", "/api/v1/users/me", ""); r.status != 200 {
			t.Fatalf("before: %d", r.status)
		}
		if r := call(t, in, admin, "DELETE", fmt.Sprintf("/api/v1/admin/api-keys/%d", k.ID), ""); r.status != 204 {
			t.Fatalf("revoke: %d %s", r.status, r.body)
		}
		if r := call(t, in, key, "GET", "/api/v1/users/me", ""); r.status != 401 {
			t.Fatalf("revoked key: %d", r.status)
		}
		_, _, key2 := in.newKeyFor(t, u.Email, hubapi.RoleCompagnon)
		if r := call(t, in, key2, "GET", "/api/v1/users/me", ""); r.status != 200 {
			t.Fatalf("new key: %d", r.status)
		}
		if _, err := in.Operator.SetUserDisabled(context.Background(), u.Email, true); err != nil {
			t.Fatal(err)
		}
		if r := call(t, in, key2, "GET", "/api/v1/users/me", ""); r.status != 401 {
			t.Fatalf("disabled user's key: %d", r.status)
		}
		var keys struct {
			Data []map[string]any `json:"data"`
		}
		r := call(t, in, admin, "GET", fmt.Sprintf("/api/v1/admin/api-keys?user_id=%d", u.ID), "")
		if err := json.Unmarshal([]byte(r.body), &keys); err != nil || len(keys.Data) != 2 || keys.Data[0]["revoked_at"] == nil {
			t.Fatalf("listing: %d %s", r.status, r.body)
		}
	})
}
