package server

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestSecurityHeaders(t *testing.T) {
	always := map[string]string{
		"X-Content-Type-Options":       "nosniff",
		"X-Frame-Options":              "DENY",
		"Referrer-Policy":              "no-referrer",
		"Cross-Origin-Resource-Policy": "same-origin",
	}
	const csp = "default-src 'none'; frame-ancestors 'none'"
	tests := []struct {
		name, path string
		tls        bool
		csp        string
		hsts       bool
	}{
		{"API over plain HTTP → CSP, no HSTS", "/api/v1/chantiers", false, csp, false},
		{"API over TLS → CSP and HSTS", "/api/v1/chantiers", true, csp, true},
		{"docs page → no CSP (it loads its own script and styles)", "/docs", false, "", false},
		{"docs assets over TLS → no CSP, HSTS", "/docs/openapi.json", true, "", true},
		{"error answers get them too", "/no-such-route", false, csp, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, tc.path, nil)
			if tc.tls {
				req.TLS = &tls.ConnectionState{}
			}
			rec := httptest.NewRecorder()
			securityHeaders(http.NotFoundHandler()).ServeHTTP(rec, req)
			for k, v := range always {
				if got := rec.Header().Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			if got := rec.Header().Get("Content-Security-Policy"); got != tc.csp {
				t.Errorf("CSP %q, want %q", got, tc.csp)
			}
			if got := rec.Header().Get("Strict-Transport-Security"); (got != "") != tc.hsts {
				t.Errorf("HSTS %q, want present: %v", got, tc.hsts)
			}
		})
	}
}
