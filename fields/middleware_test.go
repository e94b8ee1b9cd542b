package fields_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/hubchantier/hubchantier/fields"
	"github.com/hubchantier/hubchantier/problem"
)

// chantierHandler serves the full representation, like a handler that knows
// nothing of sparse fieldsets; it records the selection it was given.
type chantierHandler struct {
	seen *fields.Selection
}

func (h *chantierHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.seen, _ = fields.FromContext(r.Context())
	var v any = samplePage(3)
	if r.URL.Path == "/chantiers/1" {
		v = sampleChantier(1)
	}
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.Header().Set("ETag", `"v42"`)
	_, _ = w.Write(b)
}

func serve(h http.Handler, method, target string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, target, nil))
	return rec
}

func TestMiddlewareProjectsResponses(t *testing.T) {
	h := fields.Middleware(chantierSchema)(&chantierHandler{})
	for _, tc := range projectionCases {
		var want any
		_ = json.Unmarshal([]byte(tc.want), &want)
		q := "?fields=" + url.QueryEscape(tc.expr)
		t.Run(tc.name+"/single", func(t *testing.T) {
			rec := serve(h, http.MethodGet, "/chantiers/1"+q)
			if rec.Code != 200 {
				t.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
			assertJSONEqual(t, rec.Body.Bytes(), want)
			if cl := rec.Header().Get("Content-Length"); cl != strconv.Itoa(rec.Body.Len()) {
				t.Fatalf("Content-Length %s for %d bytes", cl, rec.Body.Len())
			}
		})
		t.Run(tc.name+"/list", func(t *testing.T) {
			rec := serve(h, http.MethodGet, "/chantiers"+q)
			sel := mustParse(t, tc.expr, chantierSchema)
			assertJSONEqual(t, rec.Body.Bytes(), referencePage(toGeneric(t, samplePage(3)), sel))
		})
	}
}

func TestMiddlewareRejectsBadExpressionsWithProblems(t *testing.T) {
	tests := []struct {
		query, problemType string
	}{
		{"fields=id,,nom", fields.ProblemInvalid},
		{"fields=(", fields.ProblemInvalid},
		{"fields=a..b", fields.ProblemUnknown},
		{"fields=responsable..nom", fields.ProblemInvalid},
		{"fields=a(", fields.ProblemUnknown},
		{"fields=)", fields.ProblemInvalid},
		{"fields=a()", fields.ProblemUnknown},
		{"fields=responsable()", fields.ProblemInvalid},
		{"fields=password_hash", fields.ProblemUnknown},
		{"fields=responsable(password_hash)", fields.ProblemUnknown},
		{"fields=" + strings.Repeat("nom,", 300) + "id", fields.ProblemInvalid},
		{"fields=responsable.entreprise.nom.x", fields.ProblemInvalid},
		{"fields=id&fields=nom", fields.ProblemInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.query+" → 400", func(t *testing.T) {
			inner := &chantierHandler{}
			rec := serve(fields.Middleware(chantierSchema)(inner), http.MethodGet, "/chantiers?"+tt.query)
			if rec.Code != 400 || rec.Header().Get("Content-Type") != problem.ContentType {
				t.Fatalf("got %d %s: %s", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
			}
			body := decode(t, rec.Body.Bytes()).(map[string]any)
			if body["type"] != problem.DefaultTypeBase+tt.problemType || body["status"] != float64(400) || body["instance"] != "/chantiers" {
				t.Fatalf("body %v", body)
			}
			if inner.seen != nil {
				t.Fatal("the handler was called")
			}
		})
	}
}

func TestMiddlewareUnknownFieldProblemListsAllowedNames(t *testing.T) {
	rec := serve(fields.Middleware(chantierSchema)(&chantierHandler{}), http.MethodGet, "/chantiers?fields=responsable(prenon)")
	var body struct {
		Type       string   `json:"type"`
		Detail     string   `json:"detail"`
		Field      string   `json:"field"`
		Offset     int      `json:"offset"`
		Allowed    []string `json:"allowed"`
		Suggestion string   `json:"suggestion"`
		Errors     []problem.FieldError
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	if body.Field != "responsable.prenon" || body.Offset != 12 || body.Suggestion != "prenom" ||
		strings.Join(body.Allowed, ",") != "id,nom,prenom,email,entreprise" ||
		len(body.Errors) != 1 || body.Errors[0].Field != "fields" {
		t.Fatalf("body %s", rec.Body)
	}
	if body.Detail != `Unknown field "responsable.prenon" at byte 12 of the fields parameter. Did you mean "prenom"?` {
		t.Fatalf("detail %q", body.Detail)
	}
}

func TestMiddlewarePassesFullRepresentationsThrough(t *testing.T) {
	plain := &chantierHandler{}
	direct := serve(plain, http.MethodGet, "/chantiers")
	for _, q := range []string{"", "?fields=", "?fields=*", "?other=1"} {
		t.Run("query "+q, func(t *testing.T) {
			inner := &chantierHandler{}
			rec := serve(fields.Middleware(chantierSchema)(inner), http.MethodGet, "/chantiers"+q)
			if rec.Body.String() != direct.Body.String() || rec.Header().Get("ETag") != `"v42"` {
				t.Fatal("the full representation was altered")
			}
			if !inner.seen.IsAll() {
				t.Fatalf("the handler saw selection %q, want the full one", inner.seen)
			}
		})
	}
}

func TestMiddlewareGivesTheHandlerTheSelection(t *testing.T) {
	inner := &chantierHandler{}
	serve(fields.Middleware(chantierSchema)(inner), http.MethodGet, "/chantiers?fields=responsable(nom),nom")
	if inner.seen.String() != "id,nom,responsable(id,nom)" {
		t.Fatalf("handler saw %q", inner.seen)
	}
	if got := strings.Join(inner.seen.Columns(), ","); got != "id,nom,responsable_id" {
		t.Fatalf("columns %s", got)
	}
}

func TestMiddlewareETagDependsOnTheSelection(t *testing.T) {
	h := fields.Middleware(chantierSchema)(&chantierHandler{})
	a := serve(h, http.MethodGet, "/chantiers?fields=nom").Header().Get("ETag")
	a2 := serve(h, http.MethodGet, "/chantiers?fields=id,nom,nom").Header().Get("ETag")
	b := serve(h, http.MethodGet, "/chantiers?fields=statut").Header().Get("ETag")
	full := serve(h, http.MethodGet, "/chantiers").Header().Get("ETag")
	if a == "" || a != a2 {
		t.Fatalf("equivalent selections got %q and %q", a, a2)
	}
	if a == b || a == full || !strings.HasPrefix(a, `"v42-f`) || !strings.HasSuffix(a, `"`) {
		t.Fatalf("ETags %q %q %q", a, b, full)
	}

	weak := fields.Middleware(chantierSchema)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("ETag", `W/"abc"`)
		_, _ = io.WriteString(w, `{"id":1,"nom":"x"}`)
	}))
	if got := serve(weak, http.MethodGet, "/x?fields=nom").Header().Get("ETag"); !strings.HasPrefix(got, `W/"abc-f`) {
		t.Fatalf("weak ETag became %q", got)
	}
	bad := fields.Middleware(chantierSchema)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("ETag", `abc`)
		_, _ = io.WriteString(w, `{"id":1,"nom":"x"}`)
	}))
	if got := serve(bad, http.MethodGet, "/x?fields=nom").Header(); got.Get("ETag") != "" {
		t.Fatalf("malformed ETag kept: %q", got.Get("ETag"))
	}
}

func TestMiddlewareLeavesOtherResponsesAlone(t *testing.T) {
	tests := []struct {
		name    string
		method  string
		handler http.HandlerFunc
	}{
		{"error status", http.MethodGet, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, `{"id":1,"statut":"x"}`)
		}},
		{"created status", http.MethodGet, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusCreated)
			_, _ = io.WriteString(w, `{"id":1,"statut":"x"}`)
		}},
		{"not JSON", http.MethodGet, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/csv")
			_, _ = io.WriteString(w, `{"id":1,"statut":"x"}`)
		}},
		{"no content type", http.MethodGet, func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, `{"id":1,"statut":"x"}`)
		}},
		{"POST", http.MethodPost, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"id":1,"statut":"x"}`)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := serve(fields.Middleware(chantierSchema)(tt.handler), tt.method, "/x?fields=nom")
			if rec.Body.String() != `{"id":1,"statut":"x"}` {
				t.Fatalf("body altered: %s", rec.Body)
			}
		})
	}
	t.Run("POST with a malformed expression is not parsed", func(t *testing.T) {
		rec := serve(fields.Middleware(chantierSchema)(tests[4].handler), http.MethodPost, "/x?fields=((")
		if rec.Code != 200 {
			t.Fatalf("status %d", rec.Code)
		}
	})
}

func TestMiddlewareProjectsVendorJSONTypes(t *testing.T) {
	h := fields.Middleware(chantierSchema)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/vnd.example.v1+json")
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, `{"id":1,`)
		_, _ = io.WriteString(w, `"statut":"x","nom":"n"}`)
		w.WriteHeader(http.StatusTeapot) // superfluous, ignored
	}))
	if rec := serve(h, http.MethodGet, "/x?fields=nom"); rec.Body.String() != `{"id":1,"nom":"n"}` || rec.Code != 200 {
		t.Fatalf("got %d %s", rec.Code, rec.Body)
	}
}

func TestMiddlewareHEAD(t *testing.T) {
	h := fields.Middleware(chantierSchema)(&chantierHandler{})
	rec := serve(h, http.MethodHead, "/chantiers/1?fields=nom")
	get := serve(h, http.MethodGet, "/chantiers/1?fields=nom")
	if rec.Code != 200 || rec.Header().Get("Content-Length") != strconv.Itoa(get.Body.Len()) {
		t.Fatalf("HEAD %d Content-Length %q, GET body %d bytes", rec.Code, rec.Header().Get("Content-Length"), get.Body.Len())
	}
	empty := fields.Middleware(chantierSchema)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", "999")
		w.WriteHeader(http.StatusOK)
	}))
	rec = serve(empty, http.MethodHead, "/x?fields=nom")
	if rec.Code != 200 || rec.Header().Get("Content-Length") != "" {
		t.Fatalf("empty body: %d %v", rec.Code, rec.Header())
	}
}

func TestMiddlewareInvalidHandlerJSONIs500(t *testing.T) {
	h := fields.Middleware(chantierSchema)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("ETag", `"x"`)
		_, _ = io.WriteString(w, `{"id":1,"nom":`)
	}))
	rec := serve(h, http.MethodGet, "/x?fields=nom")
	if rec.Code != 500 || rec.Header().Get("Content-Type") != problem.ContentType || rec.Header().Get("ETag") != "" {
		t.Fatalf("got %d %v", rec.Code, rec.Header())
	}
	if strings.Contains(rec.Body.String(), "byte") {
		t.Fatalf("internal detail leaked: %s", rec.Body)
	}
}

func TestMiddlewareFlushAndUnwrap(t *testing.T) {
	h := fields.Middleware(chantierSchema)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":1,`)
		_ = rc.Flush() // buffered: nothing may go out yet
		_, _ = io.WriteString(w, `"nom":"n","statut":"s"}`)
	}))
	srv := httptest.NewServer(h)
	defer srv.Close()
	res, err := http.Get(srv.URL + "/x?fields=statut")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if string(b) != `{"id":1,"statut":"s"}` {
		t.Fatalf("got %s", b)
	}

	streaming := fields.Middleware(chantierSchema)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, "data: 1\n\n")
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("flush: %v", err)
		}
	}))
	srv2 := httptest.NewServer(streaming)
	defer srv2.Close()
	res2, err := http.Get(srv2.URL + "/x?fields=statut")
	if err != nil {
		t.Fatal(err)
	}
	defer res2.Body.Close()
	if b, _ := io.ReadAll(res2.Body); string(b) != "data: 1\n\n" {
		t.Fatalf("got %q", b)
	}
}

func TestMiddlewareOptions(t *testing.T) {
	h := fields.Middleware(chantierSchema,
		fields.WithParam("select"),
		fields.WithEnvelope("result.items"),
		fields.WithLimits(fields.Limits{MaxNames: 2}),
	)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"result":{"items":[{"id":1,"nom":"n","statut":"s"}]},"fields":"kept"}`)
	}))
	if rec := serve(h, http.MethodGet, "/x?select=nom&fields=(("); rec.Body.String() != `{"result":{"items":[{"id":1,"nom":"n"}]},"fields":"kept"}` {
		t.Fatalf("got %d %s", rec.Code, rec.Body)
	}
	if rec := serve(h, http.MethodGet, "/x?select=nom,statut,url"); rec.Code != 400 {
		t.Fatalf("limit not applied: %d", rec.Code)
	}
}

func TestMiddlewareMisconfigurationPanicsAtBuild(t *testing.T) {
	withData := fields.MustSchema(fields.F("id"), fields.F("data"))
	tests := map[string]func(){
		"nil schema":            func() { fields.Middleware(nil) },
		"empty parameter name":  func() { fields.Middleware(chantierSchema, fields.WithParam("")) },
		"invalid envelope":      func() { fields.Middleware(chantierSchema, fields.WithEnvelope("a..b")) },
		"envelope is a member":  func() { fields.Middleware(withData) },
		"nested envelope clash": func() { fields.Middleware(chantierSchema, fields.WithEnvelope("nom.items")) },
	}
	for name, build := range tests {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("no panic")
				}
			}()
			build()
		})
	}
	// Without an envelope, a schema may declare "data".
	fields.Middleware(withData, fields.WithEnvelope(""))
}

func TestMiddlewareIsSafeForConcurrentUse(t *testing.T) {
	h := fields.Middleware(chantierSchema)(&statelessHandler{})
	exprs := []string{"nom", "statut", "responsable.nom", "taches(titre)", "*", "adresse,url"}
	want := map[string]string{}
	for _, e := range exprs {
		want[e] = serve(h, http.MethodGet, "/chantiers?fields="+url.QueryEscape(e)).Body.String()
	}
	done := make(chan error)
	for g := range 8 {
		go func() {
			for i := range 50 {
				e := exprs[(g+i)%len(exprs)]
				if got := serve(h, http.MethodGet, "/chantiers?fields="+url.QueryEscape(e)).Body.String(); got != want[e] {
					done <- fmt.Errorf("fields=%s: got %s", e, got)
					return
				}
			}
			done <- nil
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

// statelessHandler is chantierHandler without the recorded selection.
type statelessHandler struct{}

func (statelessHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := json.Marshal(samplePage(3))
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}
