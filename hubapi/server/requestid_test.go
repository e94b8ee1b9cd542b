package server

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func TestRequestID(t *testing.T) {
	generated := regexp.MustCompile(`^[0-9a-f]{24}$`)
	for _, tc := range []struct {
		name, incoming string
		kept           bool
	}{
		{"well-formed incoming id → kept", "trace-123.abc_DEF", true},
		{"no incoming id → a generated one", "", false},
		{"too short → replaced", "abc", false},
		{"too long → replaced", strings.Repeat("a", 65), false},
		{"spaces or control characters → replaced", "trace 123\nforged log line", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var inCtx string
			h := requestID(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { inCtx = RequestIDFrom(r.Context()) }))
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			if tc.incoming != "" {
				req.Header.Set("X-Request-Id", tc.incoming)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			got := rec.Header().Get("X-Request-Id")
			if got != inCtx {
				t.Fatalf("header %q, context %q", got, inCtx)
			}
			if tc.kept && got != tc.incoming || !tc.kept && !generated.MatchString(got) {
				t.Fatalf("id %q (incoming %q)", got, tc.incoming)
			}
		})
	}
}
