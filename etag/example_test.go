package etag_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/hubchantier/hubchantier/etag"
	"github.com/hubchantier/hubchantier/problem"
)

// A client fetches a chantier, then revalidates it with If-None-Match and
// receives 304 Not Modified without a body.
func ExampleConditionalGET() {
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "private, no-cache")
		_, _ = io.WriteString(w, `{"id":123,"nom":"Chantier Rivoli"}`)
	})
	h := etag.ConditionalGET()(api)

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/chantiers/123", nil))
	tag := rec.Header().Get("ETag")
	fmt.Println(rec.Code, tag)

	req := httptest.NewRequest(http.MethodGet, "/api/v1/chantiers/123", nil)
	req.Header.Set("If-None-Match", tag)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	fmt.Println(rec.Code, rec.Body.Len(), rec.Header().Get("Cache-Control"))
	// Output:
	// 200 "X9hiI6E0PAjXq0p3zzUmIO3wT_J3LEaPcT4Kx8IGS2w"
	// 304 0 private, no-cache
}

// A write checks If-Match against the version it read; a stale tag is
// refused with 412 problem details.
func ExampleCheckPreconditions() {
	type chantier struct {
		Version   int64
		UpdatedAt time.Time
	}
	current := chantier{Version: 4, UpdatedAt: time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)}

	update := func(w http.ResponseWriter, r *http.Request) {
		err := etag.CheckPreconditions(r, etag.VersionTag(current.Version), current.UpdatedAt, true)
		if d, ok := problem.As(err); ok {
			problem.Write(w, r, d)
			return
		}
		// UPDATE chantiers SET ..., version = version + 1 WHERE id = ? AND version = 4
		w.WriteHeader(http.StatusNoContent)
	}

	for _, ifMatch := range []string{`"v4"`, `"v3"`} {
		req := httptest.NewRequest(http.MethodPut, "/api/v1/chantiers/123", nil)
		req.Header.Set("If-Match", ifMatch)
		rec := httptest.NewRecorder()
		update(rec, req)
		fmt.Println(ifMatch, rec.Code)
	}
	// Output:
	// "v4" 204
	// "v3" 412
}

// A GET handler can skip loading the full representation when the client's
// copy is current.
func ExampleEvaluate() {
	req := httptest.NewRequest(http.MethodGet, "/api/v1/chantiers/123", nil)
	req.Header.Set("If-None-Match", `W/"v7"`)
	fmt.Println(etag.Evaluate(req, etag.VersionTag(7), time.Time{}, true))
	fmt.Println(errors.Is(etag.CheckPreconditions(req, etag.VersionTag(7), time.Time{}, true), etag.ErrNotModified))
	// Output:
	// NotModified
	// true
}

func ExampleParseList() {
	l, err := etag.ParseList(`"xyzzy", W/"r2d2xxxx", "c3piozzzz"`)
	if err != nil {
		panic(err)
	}
	for _, t := range l.Tags {
		fmt.Println(t.Opaque(), t.IsWeak())
	}
	_, err = etag.ParseList(`xyzzy`)
	fmt.Println(err)
	// Output:
	// xyzzy false
	// r2d2xxxx true
	// c3piozzzz false
	// etag: malformed entity-tag
}

// The version a client saw goes straight into a conditional UPDATE.
func ExampleIfMatchVersion() {
	req := httptest.NewRequest(http.MethodPut, "/api/v1/chantiers/123", nil)
	req.Header.Set("If-Match", etag.VersionTag(12).String())
	v, ok := etag.IfMatchVersion(req)
	fmt.Println(v, ok)
	// UPDATE chantiers SET ..., version = version + 1 WHERE id = 123 AND version = 12
	// Output: 12 true
}

func ExampleVersionTag() {
	t := etag.VersionTag(42)
	v, _ := t.Version()
	fmt.Println(t, v)
	// Output: "v42" 42
}

func ExampleOf() {
	fmt.Println(etag.Of([]byte(`{"id":1}`)))
	// Output: "A3ySFO73TMOIfzpPCFtOF9digNr9JzsO4WDAnEuhz9Q"
}

// Writes on a route can be required to be conditional (off by default).
func ExampleRequirePrecondition() {
	put := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	h := etag.RequirePrecondition(put)

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPut, "/api/v1/chantiers/123", nil))
	fmt.Println(rec.Code, rec.Header().Get("Content-Type"))
	// Output: 428 application/problem+json
}
