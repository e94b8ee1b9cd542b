package problem_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/hubchantier/hubchantier/problem"
)

func TestWrite(t *testing.T) {
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/api/v1/chantiers?x=1", nil)
	d := problem.New(http.StatusUnprocessableEntity, "validation", "Invalid body.").With("allowed", []string{"a"})
	d.Errors = []problem.FieldError{{Field: "nom", Message: "required"}}
	problem.Write(rec, req, d)
	if rec.Code != 422 {
		t.Fatalf("status %d", rec.Code)
	}
	if ct := rec.Header().Get("Content-Type"); ct != problem.ContentType {
		t.Fatalf("content type %q", ct)
	}
	var got map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got["type"] != "/problems/validation" || got["instance"] != "/api/v1/chantiers" || got["status"].(float64) != 422 {
		t.Fatalf("body %v", got)
	}
	if got["allowed"].([]any)[0] != "a" || got["errors"].([]any)[0].(map[string]any)["field"] != "nom" {
		t.Fatalf("extensions or errors missing: %v", got)
	}
}

func TestExtensionCannotOverrideStandardMember(t *testing.T) {
	d := problem.New(400, "x", "y").With("status", 200)
	b, _ := json.Marshal(d)
	var got map[string]any
	_ = json.Unmarshal(b, &got)
	if got["status"].(float64) != 400 {
		t.Fatalf("extension overrode status: %s", b)
	}
}

// writtenType serves one problem of type typ through the middlewares mw
// (outermost first) and returns the "type" member of the response.
func writtenType(t *testing.T, typ string, mw ...func(http.Handler) http.Handler) string {
	t.Helper()
	var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		problem.Write(w, r, &problem.Details{Type: typ, Status: http.StatusBadRequest})
	})
	for i := len(mw) - 1; i >= 0; i-- {
		h = mw[i](h)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/orders/7", nil))
	var body struct{ Type string }
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	return body.Type
}

func TestTypeBaseResolution(t *testing.T) {
	example := problem.WithTypeBase("https://example.com/problems/")
	other := problem.WithTypeBase("urn:example:problem:")
	for _, tt := range []struct {
		name string
		typ  string
		mw   []func(http.Handler) http.Handler
		want string
	}{
		{"no base: a code becomes a path-absolute reference under /problems/", "invalid-cursor", nil, "/problems/invalid-cursor"},
		{"base set by the middleware prefixes the code", "invalid-cursor", []func(http.Handler) http.Handler{example}, "https://example.com/problems/invalid-cursor"},
		{"a URN base works as well", "invalid-cursor", []func(http.Handler) http.Handler{other}, "urn:example:problem:invalid-cursor"},
		{"the middleware nearest the handler wins", "invalid-cursor", []func(http.Handler) http.Handler{example, other}, "urn:example:problem:invalid-cursor"},
		{"an absolute type URI is written unchanged", "https://other.example/p/x", []func(http.Handler) http.Handler{example}, "https://other.example/p/x"},
		{"about:blank is written unchanged", "about:blank", []func(http.Handler) http.Handler{example}, "about:blank"},
		{"a path reference is written unchanged", "/docs/errors/x", []func(http.Handler) http.Handler{example}, "/docs/errors/x"},
		{"an empty type is about:blank (RFC 9457 §4.2.1)", "", []func(http.Handler) http.Handler{example}, "about:blank"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := writtenType(t, tt.typ, tt.mw...); got != tt.want {
				t.Fatalf("type %q, want %q", got, tt.want)
			}
		})
	}
}

func TestTypeURIMatchesWrite(t *testing.T) {
	if got := problem.TypeURI(context.Background(), "x"); got != problem.DefaultTypeBase+"x" {
		t.Fatalf("TypeURI without base = %q", got)
	}
	var inCtx string
	h := problem.WithTypeBase("https://example.com/p/")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inCtx = problem.TypeURI(r.Context(), "x")
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	if inCtx != "https://example.com/p/x" {
		t.Fatalf("TypeURI in a request = %q", inCtx)
	}
}

func TestWithTypeBaseRejectsBasesThatDoNotMakeURIs(t *testing.T) {
	for _, base := range []string{
		"",                             // nothing to resolve against
		"problems/",                    // relative path: would resolve per endpoint
		"//example.com/problems/",      // network-path reference
		"https://example.com/problems", // code would be glued to "problems"
		"https://exa mple.com/%zz/",    // not a URI
	} {
		t.Run(base, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatalf("WithTypeBase(%q) did not panic", base)
				}
			}()
			problem.WithTypeBase(base)
		})
	}
}

func TestWriteWithoutRequestUsesDefaultBase(t *testing.T) {
	rec := httptest.NewRecorder()
	problem.Write(rec, nil, problem.New(http.StatusInternalServerError, "internal", ""))
	want := `{"type":"/problems/internal","title":"Internal Server Error","status":500}`
	if got := rec.Body.String(); got != want {
		t.Fatalf("body %s, want %s", got, want)
	}
}

// A shared Details (a sentinel) is written by concurrent requests under
// different bases; run with -race.
func TestWriteDoesNotModifyDetails(t *testing.T) {
	d := problem.New(http.StatusNotFound, "not-found", "")
	bases := []string{"https://a.example/p/", "https://b.example/p/"}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			base := bases[i%2]
			h := problem.WithTypeBase(base)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { problem.Write(w, r, d) }))
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/x", nil))
			var body struct{ Type, Instance string }
			_ = json.Unmarshal(rec.Body.Bytes(), &body)
			if body.Type != base+"not-found" || body.Instance != "/x" {
				t.Errorf("body %s", rec.Body)
			}
		}()
	}
	wg.Wait()
	if d.Type != "not-found" || d.Instance != "" {
		t.Fatalf("Write modified d: %+v", d)
	}
}
