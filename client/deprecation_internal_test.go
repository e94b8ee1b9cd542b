package client

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestOnDeprecationOncePerVersion(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v2/stats" {
			w.Header().Set("Deprecation", "@1767225600")
			w.Header().Set("Sunset", "Thu, 31 Dec 2026 23:59:59 GMT")
			w.Header().Add("Link", `</docs/migration-v1-v2>; rel="deprecation"`)
			w.Header().Add("Link", `</docs/migration-v1-v2>; rel="sunset"`)
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{}`))
	}))
	defer srv.Close()
	var got []Deprecation
	c, err := New(srv.URL, WithAPIKey(testKey), WithOnDeprecation(func(d Deprecation) { got = append(got, d) }))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for range 2 {
		_, _ = c.V1.Stats(ctx)
		_, _ = c.V1.Me(ctx)
	}
	_, _ = get[struct{}](ctx, c, "/api/v2/stats", nil, nil)
	if len(got) != 1 {
		t.Fatalf("%d reports for four v1 answers and one v2 answer, want 1: %+v", len(got), got)
	}
	want := Deprecation{Method: "GET", Path: "/api/v1/stats", Since: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		Sunset: time.Date(2026, 12, 31, 23, 59, 59, 0, time.UTC), Link: "/docs/migration-v1-v2"}
	if got[0] != want {
		t.Errorf("report %+v, want %+v", got[0], want)
	}
	if d, ok := deprecationOf("GET", "/x", http.Header{"Deprecation": {"true"}}); !ok || !d.Since.IsZero() || !d.Sunset.IsZero() {
		t.Errorf("a Deprecation without date → %+v %v", d, ok)
	}
	if apiVersionOf("/healthz") != "/healthz" || apiVersionOf("/api/v1") != "/api/v1" {
		t.Error("apiVersionOf")
	}
}
