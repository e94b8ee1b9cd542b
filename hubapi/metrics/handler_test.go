package metrics_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/hubchantier/hubchantier/clientip"
	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/metrics"
	"github.com/hubchantier/hubchantier/problem"
)

// testHash is a bcrypt hash of "s3cret" at the minimum cost, to keep tests fast.
var testHash = func() []byte {
	h, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	if err != nil {
		panic(err)
	}
	return h
}()

type scrape struct {
	method     string
	remoteAddr string
	xff        []string
	user, pass string // Basic credentials when user != ""
}

func (s scrape) do(t *testing.T, h http.Handler) *httptest.ResponseRecorder {
	t.Helper()
	method := s.method
	if method == "" {
		method = http.MethodGet
	}
	req := httptest.NewRequest(method, "/metrics", nil)
	req.RemoteAddr = s.remoteAddr
	for _, v := range s.xff {
		req.Header.Add("X-Forwarded-For", v)
	}
	if s.user != "" {
		req.SetBasicAuth(s.user, s.pass)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func handler(t *testing.T, cfg metrics.AccessConfig) http.Handler {
	t.Helper()
	h, err := newMetrics(t, metrics.Config{}).Handler(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestHandlerAccess(t *testing.T) {
	proxies := mustResolver(t, "10.1.0.0/16")
	internal := []netip.Prefix{netip.MustParsePrefix("192.168.10.0/24"), netip.MustParsePrefix("fd00::/8")}
	basic := metrics.AccessConfig{Username: "prometheus", PasswordHash: testHash}
	tests := []struct {
		name   string
		cfg    metrics.AccessConfig
		req    scrape
		status int
	}{
		{"default: IPv4 loopback may scrape", metrics.AccessConfig{}, scrape{remoteAddr: "127.0.0.1:5000"}, 200},
		{"default: any 127/8 address may scrape", metrics.AccessConfig{}, scrape{remoteAddr: "127.3.2.1:5000"}, 200},
		{"default: IPv6 loopback may scrape", metrics.AccessConfig{}, scrape{remoteAddr: "[::1]:5000"}, 200},
		{"default: IPv4-mapped loopback may scrape", metrics.AccessConfig{}, scrape{remoteAddr: "[::ffff:127.0.0.1]:5000"}, 200},
		{"default: a non-loopback address is forbidden", metrics.AccessConfig{}, scrape{remoteAddr: "203.0.113.9:5000"}, 403},
		{"default: a private address is forbidden", metrics.AccessConfig{}, scrape{remoteAddr: "10.0.0.5:5000"}, 403},
		{"an unparsable RemoteAddr is forbidden", metrics.AccessConfig{}, scrape{remoteAddr: "@"}, 403},
		{"X-Forwarded-For is ignored without a trusted proxy", metrics.AccessConfig{},
			scrape{remoteAddr: "203.0.113.9:5000", xff: []string{"127.0.0.1"}}, 403},
		{"X-Forwarded-For does not demote a loopback peer without a trusted proxy", metrics.AccessConfig{},
			scrape{remoteAddr: "127.0.0.1:5000", xff: []string{"203.0.113.9"}}, 200},

		{"allow-list: an address inside a listed network may scrape", metrics.AccessConfig{AllowedNetworks: internal},
			scrape{remoteAddr: "192.168.10.20:5000"}, 200},
		{"allow-list: an IPv6 address inside a listed network may scrape", metrics.AccessConfig{AllowedNetworks: internal},
			scrape{remoteAddr: "[fd12::7]:5000"}, 200},
		{"allow-list: a zoned address is matched without its zone", metrics.AccessConfig{AllowedNetworks: internal},
			scrape{remoteAddr: "[fd12::7%eth0]:5000"}, 200},
		{"allow-list: loopback is not implied once networks are listed", metrics.AccessConfig{AllowedNetworks: internal},
			scrape{remoteAddr: "127.0.0.1:5000"}, 403},

		{"trusted proxy: the client is the right-most untrusted X-Forwarded-For entry", metrics.AccessConfig{AllowedNetworks: internal, ClientIP: proxies},
			scrape{remoteAddr: "10.1.0.2:443", xff: []string{"203.0.113.9, 192.168.10.20, 10.1.0.3"}}, 200},
		{"trusted proxy: a spoofed left-most entry does not help", metrics.AccessConfig{AllowedNetworks: internal, ClientIP: proxies},
			scrape{remoteAddr: "10.1.0.2:443", xff: []string{"192.168.10.20, 203.0.113.9"}}, 403},
		{"trusted proxy: entries of repeated headers are read in order", metrics.AccessConfig{AllowedNetworks: internal, ClientIP: proxies},
			scrape{remoteAddr: "10.1.0.2:443", xff: []string{"203.0.113.9", "192.168.10.20"}}, 200},
		{"trusted proxy: an entry with a port is understood", metrics.AccessConfig{AllowedNetworks: internal, ClientIP: proxies},
			scrape{remoteAddr: "10.1.0.2:443", xff: []string{"192.168.10.20:51000"}}, 200},
		{"trusted proxy: a garbage entry is forbidden", metrics.AccessConfig{AllowedNetworks: internal, ClientIP: proxies},
			scrape{remoteAddr: "10.1.0.2:443", xff: []string{"192.168.10.20, not-an-ip"}}, 403},
		{"trusted proxy: X-Forwarded-For from an untrusted peer is ignored", metrics.AccessConfig{AllowedNetworks: internal, ClientIP: proxies},
			scrape{remoteAddr: "203.0.113.9:443", xff: []string{"192.168.10.20"}}, 403},
		{"trusted proxy: the proxy itself, without X-Forwarded-For, is judged by its address", metrics.AccessConfig{AllowedNetworks: internal, ClientIP: proxies},
			scrape{remoteAddr: "10.1.0.2:443"}, 403},

		{"basic auth: right credentials from loopback", basic, scrape{remoteAddr: "127.0.0.1:5000", user: "prometheus", pass: "s3cret"}, 200},
		{"basic auth: no credentials → 401", basic, scrape{remoteAddr: "127.0.0.1:5000"}, 401},
		{"basic auth: wrong password → 401", basic, scrape{remoteAddr: "127.0.0.1:5000", user: "prometheus", pass: "guess"}, 401},
		{"basic auth: wrong user → 401", basic, scrape{remoteAddr: "127.0.0.1:5000", user: "admin", pass: "s3cret"}, 401},
		{"basic auth: right credentials from a forbidden network → 403", basic,
			scrape{remoteAddr: "203.0.113.9:5000", user: "prometheus", pass: "s3cret"}, 403},
		{"any network with basic auth: right credentials from anywhere", metrics.AccessConfig{AnyNetwork: true, Username: "prometheus", PasswordHash: testHash},
			scrape{remoteAddr: "203.0.113.9:5000", user: "prometheus", pass: "s3cret"}, 200},
		{"any network with basic auth: no credentials → 401", metrics.AccessConfig{AnyNetwork: true, Username: "prometheus", PasswordHash: testHash},
			scrape{remoteAddr: "203.0.113.9:5000"}, 401},

		{"POST is refused with 405", metrics.AccessConfig{}, scrape{method: http.MethodPost, remoteAddr: "127.0.0.1:5000"}, 405},
		{"POST from a forbidden network is 403, not 405", metrics.AccessConfig{}, scrape{method: http.MethodPost, remoteAddr: "203.0.113.9:5000"}, 403},
		{"HEAD is served", metrics.AccessConfig{}, scrape{method: http.MethodHead, remoteAddr: "127.0.0.1:5000"}, 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := tc.req.do(t, handler(t, tc.cfg))
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d; body %s", rec.Code, tc.status, rec.Body)
			}
			switch rec.Code {
			case http.StatusOK:
				if tc.req.method != http.MethodHead && !strings.Contains(rec.Body.String(), "api_requests_in_flight") {
					t.Error("exposition missing from the body")
				}
				if tc.req.method == http.MethodHead && rec.Body.Len() != 0 {
					t.Error("HEAD answered with a body")
				}
			default:
				assertProblem(t, rec, tc.status)
				if strings.Contains(rec.Body.String(), "api_") {
					t.Error("a refused request saw metrics")
				}
			}
			if rec.Code == http.StatusUnauthorized && rec.Header().Get("WWW-Authenticate") != `Basic realm="metrics", charset="UTF-8"` {
				t.Errorf("WWW-Authenticate = %q", rec.Header().Get("WWW-Authenticate"))
			}
			if rec.Code == http.StatusMethodNotAllowed && rec.Header().Get("Allow") != "GET, HEAD" {
				t.Errorf("Allow = %q", rec.Header().Get("Allow"))
			}
		})
	}
}

func assertProblem(t *testing.T, rec *httptest.ResponseRecorder, status int) {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); ct != problem.ContentType {
		t.Errorf("Content-Type %q, want %s", ct, problem.ContentType)
	}
	var d problem.Details
	if err := json.Unmarshal(rec.Body.Bytes(), &d); err != nil {
		t.Fatalf("body is not a problem document: %v", err)
	}
	// Served alone on its own listener, the handler still names the
	// product's problem types in full.
	if d.Status != status || !strings.HasPrefix(d.Type, hubapi.ProblemTypeBase) || d.Title == "" {
		t.Errorf("problem %+v", d)
	}
}

func TestHandlerAcceptsRepeatedScrapes(t *testing.T) {
	h := handler(t, metrics.AccessConfig{Username: "prometheus", PasswordHash: testHash})
	ok := scrape{remoteAddr: "127.0.0.1:5000", user: "prometheus", pass: "s3cret"}
	bad := scrape{remoteAddr: "127.0.0.1:5000", user: "prometheus", pass: "s3cret!"}
	for i, s := range []scrape{ok, ok, bad, ok, bad} {
		want := http.StatusOK
		if s.pass != "s3cret" {
			want = http.StatusUnauthorized
		}
		if got := s.do(t, h).Code; got != want {
			t.Errorf("scrape %d: status %d, want %d", i, got, want)
		}
	}
}

func TestHandlerConcurrentScrapes(t *testing.T) {
	h := handler(t, metrics.AccessConfig{Username: "prometheus", PasswordHash: testHash})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 5 {
				code := scrape{remoteAddr: "127.0.0.1:5000", user: "prometheus", pass: "s3cret"}.do(t, h).Code
				// 429 is allowed while another bcrypt check is in progress.
				if code != http.StatusOK && code != http.StatusTooManyRequests {
					t.Errorf("status %d", code)
				}
			}
		})
	}
	wg.Wait()
}

func TestHandlerRejectsMisconfiguration(t *testing.T) {
	tests := []struct {
		name string
		cfg  metrics.AccessConfig
	}{
		{"any network without credentials", metrics.AccessConfig{AnyNetwork: true}},
		{"any network with listed networks", metrics.AccessConfig{AnyNetwork: true, AllowedNetworks: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, Username: "u", PasswordHash: testHash}},
		{"user without a hash", metrics.AccessConfig{Username: "prometheus"}},
		{"hash without a user", metrics.AccessConfig{PasswordHash: testHash}},
		{"a plain password instead of a hash", metrics.AccessConfig{Username: "prometheus", PasswordHash: []byte("s3cret")}},
		{"a user name with a colon", metrics.AccessConfig{Username: "prom:etheus", PasswordHash: testHash}},
		{"an invalid network", metrics.AccessConfig{AllowedNetworks: []netip.Prefix{{}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := newMetrics(t, metrics.Config{})
			h, err := m.Handler(tc.cfg)
			if err == nil || h != nil {
				t.Fatal("Handler accepted the configuration")
			}
			if strings.Contains(err.Error(), "s3cret") || strings.Contains(err.Error(), string(testHash)) {
				t.Errorf("the error reveals a secret: %v", err)
			}
		})
	}
}

func TestAccessConfigFromEnv(t *testing.T) {
	env := func(vars map[string]string) func(string) string {
		return func(k string) string { return vars[k] }
	}
	t.Run("nothing set: loopback only, no credentials", func(t *testing.T) {
		c, err := metrics.AccessConfigFromEnv(env(nil))
		if err != nil || len(c.AllowedNetworks) != 0 || c.AnyNetwork || c.Username != "" || c.PasswordHash != nil {
			t.Fatalf("%+v, %v", c, err)
		}
	})
	t.Run("networks, addresses and credentials", func(t *testing.T) {
		c, err := metrics.AccessConfigFromEnv(env(map[string]string{
			metrics.EnvAllowedCIDRs: " 172.30.0.0/24, 10.0.0.7 ,fd00::/8",
			metrics.EnvUser:         "prometheus",
			metrics.EnvPasswordHash: string(testHash) + "\n",
		}))
		if err != nil {
			t.Fatal(err)
		}
		want := []netip.Prefix{netip.MustParsePrefix("172.30.0.0/24"), netip.MustParsePrefix("10.0.0.7/32"), netip.MustParsePrefix("fd00::/8")}
		if len(c.AllowedNetworks) != len(want) {
			t.Fatalf("networks %v", c.AllowedNetworks)
		}
		for i := range want {
			if c.AllowedNetworks[i] != want[i] {
				t.Errorf("network %d = %v, want %v", i, c.AllowedNetworks[i], want[i])
			}
		}
		if c.Username != "prometheus" || string(c.PasswordHash) != string(testHash) {
			t.Errorf("credentials not read: %q", c.Username)
		}
		rec := scrape{remoteAddr: "10.0.0.7:9", user: "prometheus", pass: "s3cret"}.do(t, handler(t, c))
		if rec.Code != http.StatusOK {
			t.Errorf("scrape with the env configuration: %d", rec.Code)
		}
	})
	t.Run("any network", func(t *testing.T) {
		c, err := metrics.AccessConfigFromEnv(env(map[string]string{metrics.EnvAllowedCIDRs: "any"}))
		if err != nil || !c.AnyNetwork {
			t.Fatalf("%+v, %v", c, err)
		}
	})
	for _, bad := range []string{"10.0.0.0/33", "localhost", "10.0.0.0/8;", ",", "fe80::1%eth0"} {
		t.Run("invalid network list "+bad, func(t *testing.T) {
			if _, err := metrics.AccessConfigFromEnv(env(map[string]string{metrics.EnvAllowedCIDRs: bad})); err == nil {
				t.Error("accepted")
			} else if !strings.Contains(err.Error(), metrics.EnvAllowedCIDRs) {
				t.Errorf("error does not name the variable: %v", err)
			}
		})
	}
}

func TestHashPassword(t *testing.T) {
	h, err := metrics.HashPassword([]byte("correct horse"))
	if err != nil {
		t.Fatal(err)
	}
	if cost, _ := bcrypt.Cost([]byte(h)); cost != metrics.HashCost {
		t.Errorf("cost %d, want %d", cost, metrics.HashCost)
	}
	rec := scrape{remoteAddr: "127.0.0.1:1", user: "p", pass: "correct horse"}.do(t,
		handler(t, metrics.AccessConfig{Username: "p", PasswordHash: []byte(h)}))
	if rec.Code != http.StatusOK {
		t.Errorf("the hash does not verify: %d", rec.Code)
	}
	if _, err := metrics.HashPassword(nil); err == nil {
		t.Error("an empty password was hashed")
	}
	if _, err := metrics.HashPassword([]byte(strings.Repeat("x", 73))); err == nil {
		t.Error("a password longer than bcrypt reads was hashed")
	}
}

func mustResolver(t testing.TB, proxies string) *clientip.Resolver {
	t.Helper()
	p, err := clientip.ParsePrefixes(proxies)
	if err != nil {
		t.Fatal(err)
	}
	r, err := clientip.New(clientip.Config{TrustedProxies: p})
	if err != nil {
		t.Fatal(err)
	}
	return r
}
