package metrics_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"

	"github.com/gorilla/mux"

	"github.com/hubchantier/hubchantier/clientip"
	"github.com/hubchantier/hubchantier/hubapi/metrics"
)

// A gorilla/mux API with the metrics middleware and a loopback-only
// /metrics endpoint.
func Example() {
	m, err := metrics.New(metrics.Config{})
	if err != nil {
		panic(err)
	}
	api := mux.NewRouter()
	api.Use(m.Middleware(metrics.MuxRoute))
	api.HandleFunc("/api/v1/chantiers/{id}", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, `{"id":42}`)
	}).Methods(http.MethodGet)

	scrape, err := m.Handler(metrics.AccessConfig{}) // loopback only
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", scrape)
	mux.Handle("/", api)

	mux.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/api/v1/chantiers/42", nil))

	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.RemoteAddr = "127.0.0.1:53000"
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	for _, line := range strings.Split(rec.Body.String(), "\n") {
		if strings.HasPrefix(line, "api_requests_total") {
			fmt.Println(line)
		}
	}

	req.RemoteAddr = "198.51.100.7:53000"
	rec = httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	fmt.Println(rec.Code, rec.Header().Get("Content-Type"))
	// Output:
	// api_requests_total{method="GET",route="/api/v1/chantiers/{id}",status="200"} 1
	// 403 application/problem+json
}

// Reading the access rules from the environment: a private network and
// Basic credentials whose password is stored as a bcrypt hash.
func ExampleAccessConfigFromEnv() {
	env := map[string]string{
		metrics.EnvAllowedCIDRs: "172.30.0.0/24",
		metrics.EnvUser:         "prometheus",
		metrics.EnvPasswordHash: "$2a$04$xy10WyWR7YXhgb93g1eUGOnR4J41FukAWfTaeVfanALXqeND7vpnm", // bcrypt("s3cret"), cost 4
	}
	cfg, err := metrics.AccessConfigFromEnv(func(k string) string { return env[k] })
	if err != nil {
		panic(err)
	}
	m, _ := metrics.New(metrics.Config{})
	h, err := m.Handler(cfg)
	if err != nil {
		panic(err)
	}
	for _, c := range []struct{ addr, pass string }{
		{"172.30.0.5:40000", "s3cret"}, {"172.30.0.5:40000", "guess"}, {"10.9.9.9:40000", "s3cret"},
	} {
		req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		req.RemoteAddr = c.addr
		req.SetBasicAuth("prometheus", c.pass)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		fmt.Println(c.addr, rec.Code)
	}
	// Output:
	// 172.30.0.5:40000 200
	// 172.30.0.5:40000 401
	// 10.9.9.9:40000 403
}

// Feeding the hooks from other packages: the response cache, the rate
// limiter and authentication.
func ExampleMetrics_AuthFailure() {
	m, _ := metrics.New(metrics.Config{})
	m.CacheHit()
	m.RateLimitExceeded("/api/v1/stats")
	m.AuthFailure(metrics.AuthExpired)
	m.AuthFailure("no such key hck_abc") // unknown reasons never become labels

	var b bytes.Buffer
	m.WritePrometheus(&b)
	for _, line := range strings.Split(b.String(), "\n") {
		if strings.HasPrefix(line, "api_") && !strings.HasSuffix(line, " 0") {
			fmt.Println(line)
		}
	}
	// Output:
	// api_auth_failures_total{reason="expired"} 1
	// api_auth_failures_total{reason="other"} 1
	// api_cache_hits_total 1
	// api_rate_limit_exceeded_total{route="/api/v1/stats"} 1
}

// Behind a reverse proxy, X-Forwarded-For is honoured only from the
// proxies the client-IP resolver trusts (the server's own resolver).
func ExampleAccessConfig_behindAProxy() {
	m, _ := metrics.New(metrics.Config{})
	proxies, _ := clientip.New(clientip.Config{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16")}})
	h, _ := m.Handler(metrics.AccessConfig{
		AllowedNetworks: []netip.Prefix{netip.MustParsePrefix("192.168.10.0/24")},
		ClientIP:        proxies,
	})
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.RemoteAddr = "10.1.0.2:443"
	req.Header.Set("X-Forwarded-For", "192.168.10.20")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	fmt.Println(rec.Code)
	// Output: 200
}
