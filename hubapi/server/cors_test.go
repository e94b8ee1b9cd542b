package server

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestCORS(t *testing.T) {
	const app = "https://app.example.com"
	next := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) })
	tests := []struct {
		name      string
		origins   []string
		method    string
		origin    string
		preflight bool
		status    int
		acao      string
		vary      bool
	}{
		{"no origin configured → untouched, no Vary", nil, http.MethodGet, app, false, http.StatusTeapot, "", false},
		{"allowed origin → ACAO, Vary: Origin", []string{app}, http.MethodGet, app, false, http.StatusTeapot, app, true},
		{"disallowed origin → no ACAO, Vary: Origin", []string{app}, http.MethodGet, "https://evil.example", false, http.StatusTeapot, "", true},
		{"no Origin header → no ACAO, Vary: Origin", []string{app}, http.MethodGet, "", false, http.StatusTeapot, "", true},
		{"opaque origin null → no ACAO, Vary: Origin", []string{app}, http.MethodGet, "null", false, http.StatusTeapot, "", true},
		{"allowed preflight → 204 with the allowed methods, Vary: Origin", []string{app}, http.MethodOptions, app, true, http.StatusNoContent, app, true},
		{"disallowed preflight → handler answers, no ACAO, Vary: Origin", []string{app}, http.MethodOptions, "https://evil.example", true, http.StatusTeapot, "", true},
		{"OPTIONS without Access-Control-Request-Method → not a preflight", []string{app}, http.MethodOptions, app, false, http.StatusTeapot, app, true},
		{"configured origin in another spelling → compared normalized", []string{"HTTPS://App.Example.com:443/"}, http.MethodGet, app, false, http.StatusTeapot, app, true},
		{"non-default port → a different origin", []string{app}, http.MethodGet, "https://app.example.com:8443", false, http.StatusTeapot, "", true},
		{"other scheme → a different origin", []string{app}, http.MethodGet, "http://app.example.com", false, http.StatusTeapot, "", true},
		{"suffix of an allowed host → a different origin", []string{app}, http.MethodGet, "https://evilapp.example.com", false, http.StatusTeapot, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mw, err := cors(tc.origins)
			if err != nil {
				t.Fatal(err)
			}
			req := httptest.NewRequest(tc.method, "/api/v1/chantiers", nil)
			if tc.origin != "" {
				req.Header.Set("Origin", tc.origin)
			}
			if tc.preflight {
				req.Header.Set("Access-Control-Request-Method", http.MethodPost)
			}
			rec := httptest.NewRecorder()
			mw(next).ServeHTTP(rec, req)
			h := rec.Header()
			if rec.Code != tc.status {
				t.Errorf("status %d, want %d", rec.Code, tc.status)
			}
			if got := h.Get("Access-Control-Allow-Origin"); got != tc.acao {
				t.Errorf("ACAO %q, want %q", got, tc.acao)
			}
			if got := strings.Join(h.Values("Vary"), ","); (got == "Origin") != tc.vary {
				t.Errorf("Vary %q, want Origin: %v", got, tc.vary)
			}
			if h.Get("Access-Control-Allow-Credentials") != "" {
				t.Error("credentials allowed")
			}
			if wantMethods := rec.Code == http.StatusNoContent; (h.Get("Access-Control-Allow-Methods") != "") != wantMethods {
				t.Errorf("Allow-Methods %q", h.Get("Access-Control-Allow-Methods"))
			}
			if tc.acao == "" && h.Get("Access-Control-Expose-Headers") != "" {
				t.Error("Expose-Headers for a disallowed origin")
			}
		})
	}
}

func TestCORSRefusesBadOriginsWhenBuilt(t *testing.T) {
	for _, bad := range []string{"*", "https://app.example.com/path", "app.example.com", "https://user@app.example.com", "https://app.example.com?x=1"} {
		if _, err := cors([]string{bad}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestNormalizeOrigin(t *testing.T) {
	tests := []struct{ name, in, want, errPart string }{
		{"already serialized → unchanged", "https://app.example.com", "https://app.example.com", ""},
		{"scheme and host lower-cased", "HTTPS://App.Example.COM", "https://app.example.com", ""},
		{"https default port dropped", "https://app.example.com:443", "https://app.example.com", ""},
		{"http default port dropped", "http://localhost:80", "http://localhost", ""},
		{"other port kept", "http://localhost:5173", "http://localhost:5173", ""},
		{"https port 80 kept", "https://app.example.com:80", "https://app.example.com:80", ""},
		{"trailing slash dropped", "https://app.example.com/", "https://app.example.com", ""},
		{"IPv6 host kept in brackets", "http://[::1]:3000", "http://[::1]:3000", ""},
		{"spaces trimmed", "  https://app.example.com ", "https://app.example.com", ""},
		{"wildcard → refused with the reason", "*", "", "credentials"},
		{"path → refused", "https://app.example.com/app", "", "path"},
		{"query → refused", "https://app.example.com?a=1", "", "query"},
		{"empty query → refused", "https://app.example.com/?", "", "query"},
		{"fragment → refused", "https://app.example.com#top", "", "fragment"},
		{"user information → refused", "https://me:pw@app.example.com", "", "user"},
		{"no scheme → refused", "app.example.com", "", "scheme://host"},
		{"null → refused", "null", "", "scheme://host"},
		{"bad port → refused", "https://app.example.com:https", "", "scheme://host"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := NormalizeOrigin(tc.in)
			if tc.errPart != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errPart) {
					t.Fatalf("got %q, %v; want an error about %s", got, err, tc.errPart)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}
