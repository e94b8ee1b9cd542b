package metrics_test

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/hubchantier/hubchantier/hubapi/metrics"
)

// FuzzHandlerAccess feeds the /metrics guard arbitrary client input: peer
// address, X-Forwarded-For, Authorization and method. It must never panic,
// answer only with the documented statuses, and serve metrics only to the
// right credentials from an allowed client.
func FuzzHandlerAccess(f *testing.F) {
	good := "Basic " + base64.StdEncoding.EncodeToString([]byte("prometheus:s3cret"))
	f.Add("127.0.0.1:1", "", good, "GET")
	f.Add("10.1.0.2:443", "192.168.10.20, 10.1.0.3", good, "GET")
	f.Add("10.1.0.2:443", "[fd00::1]:80,garbage", "Basic !!!", "HEAD")
	f.Add("[::ffff:192.168.10.9%eth0]:1", "", "Bearer x", "POST")
	f.Add("@", strings.Repeat("10.1.0.1,", 40), "Basic cHJvbWV0aGV1czo=", "GET")
	m := newMetrics(f, metrics.Config{})
	h, err := m.Handler(metrics.AccessConfig{
		AllowedNetworks: []netip.Prefix{netip.MustParsePrefix("192.168.10.0/24"), netip.MustParsePrefix("127.0.0.0/8")},
		ClientIP:        mustResolver(f, "10.1.0.0/16"),
		Username:        "prometheus",
		PasswordHash:    testHash,
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, remoteAddr, xff, authorization, method string) {
		req := &http.Request{Method: method, URL: mustURL("/metrics"), Header: http.Header{}, RemoteAddr: remoteAddr}
		if xff != "" {
			req.Header.Set("X-Forwarded-For", xff)
		}
		if authorization != "" {
			req.Header.Set("Authorization", authorization)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		switch rec.Code {
		case http.StatusOK, http.StatusMethodNotAllowed:
			if user, pass, ok := req.BasicAuth(); !ok || user != "prometheus" || pass != "s3cret" {
				t.Fatalf("status %d without the right credentials", rec.Code)
			}
		case http.StatusUnauthorized, http.StatusForbidden, http.StatusTooManyRequests:
			if strings.Contains(rec.Body.String(), "api_") {
				t.Fatal("a refused request saw metrics")
			}
		default:
			t.Fatalf("unexpected status %d", rec.Code)
		}
	})
}

// FuzzParseNetworks checks that HUB_METRICS_ALLOWED_CIDRS parsing never
// panics and yields only valid networks that survive a round trip.
func FuzzParseNetworks(f *testing.F) {
	for _, s := range []string{"127.0.0.0/8,::1", "10.0.0.7", "fd00::/8, 192.168.0.0/16", "any", "1.2.3.4/99", "::ffff:1.2.3.4", ",,"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		nets, err := metrics.ParseNetworks(s)
		if err != nil {
			return
		}
		if len(nets) == 0 {
			t.Fatal("no error and no network")
		}
		parts := make([]string, len(nets))
		for i, p := range nets {
			if !p.IsValid() {
				t.Fatalf("invalid prefix %v from %q", p, s)
			}
			parts[i] = p.String()
		}
		again, err := metrics.ParseNetworks(strings.Join(parts, ","))
		if err != nil || len(again) != len(nets) {
			t.Fatalf("round trip of %v: %v, %v", nets, again, err)
		}
	})
}

// FuzzMiddlewareLabels records requests with arbitrary methods, routes and
// statuses: the exposition must stay valid and the method label bounded.
func FuzzMiddlewareLabels(f *testing.F) {
	f.Add("GET", "/api/v1/chantiers/{id}", 200)
	f.Add("BREW", "/q\"uo\\te\n", 418)
	f.Add("", "", 999)
	f.Add("get", "\xff\xfe", 101)
	f.Fuzz(func(t *testing.T, method, route string, status int) {
		if status < 100 || status > 999 {
			status = 100 + (status%900+900)%900 // net/http's valid range
		}
		m := newMetrics(t, metrics.Config{})
		h := m.Middleware(func(*http.Request) string { return route })(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(status)
		}))
		h.ServeHTTP(&nopWriter{h: http.Header{}}, &http.Request{Method: method, URL: mustURL("/x")})
		text := exposition(m)
		lintExposition(t, text)
		found := false
		for _, l := range strings.Split(text, "\n") {
			if rest, ok := strings.CutPrefix(l, `api_requests_total{method="`); ok {
				found = true
				known := false
				for _, meth := range []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE", "OTHER"} {
					known = known || strings.HasPrefix(rest, meth+`"`)
				}
				if !known {
					t.Fatalf("method label outside the fixed set: %s", l)
				}
			}
		}
		if !found {
			t.Fatal("request not counted")
		}
	})
}
