package batch_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/batch"
	"github.com/hubchantier/hubchantier/ratelimit"
)

// target is a small API: POST /api/v1/things creates {"id": n, ...body},
// GET /api/v1/things/{id} echoes the id, /api/v1/fail answers 422,
// /api/v1/panic panics, /api/v1/slow waits for its context, /api/v1/big
// answers a large body, /api/v1/bin answers bytes. It records what it saw.
type target struct {
	mu       sync.Mutex
	seen     []*http.Request
	bodies   []string
	next     atomic.Int64
	running  atomic.Int64
	maxInFly atomic.Int64
}

func (tg *target) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := tg.running.Add(1)
	defer tg.running.Add(-1)
	for {
		m := tg.maxInFly.Load()
		if n <= m || tg.maxInFly.CompareAndSwap(m, n) {
			break
		}
	}
	body, _ := io.ReadAll(r.Body)
	tg.mu.Lock()
	tg.seen = append(tg.seen, r)
	tg.bodies = append(tg.bodies, string(body))
	tg.mu.Unlock()
	switch p := r.URL.Path; {
	case p == "/api/v1/things" && r.Method == http.MethodPost:
		time.Sleep(2 * time.Millisecond) // lets parallel operations overlap
		id := tg.next.Add(1)
		m := map[string]any{}
		_ = json.Unmarshal(body, &m)
		m["id"] = id
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("ETag", fmt.Sprintf(`"v%d"`, id))
		w.Header().Set("Set-Cookie", "x=y")
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(m)
	case strings.HasPrefix(p, "/api/v1/things/"):
		w.Header().Set("Content-Type", "application/json")
		_, _ = fmt.Fprintf(w, `{"path":%q,"if_match":%q,"cache":%q,"batch":%t}`, p, r.Header.Get("If-Match"),
			r.Header.Get("Cache-Control"), hubapi.IsBatchOperation(r.Context()))
	case p == "/api/v1/fail":
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusUnprocessableEntity)
		_, _ = w.Write([]byte(`{"type":"validation-error","status":422}`))
	case p == "/api/v1/panic":
		panic("boom")
	case p == "/api/v1/slow":
		<-r.Context().Done()
		w.WriteHeader(http.StatusServiceUnavailable)
	case p == "/api/v1/big":
		_, _ = w.Write(bytes.Repeat([]byte("x"), 2048))
	case p == "/api/v1/bin":
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = w.Write([]byte{0, 1, 2})
	case p == "/api/v1/empty":
		w.WriteHeader(http.StatusNoContent)
	default:
		http.NotFound(w, r)
	}
}

// uow is a unit of work that records its outcome.
type uow struct {
	commits, rollbacks atomic.Int64
	fail               error
}

type uowKey struct{}

func (u *uow) Atomically(ctx context.Context, fn func(context.Context) error) error {
	if err := fn(context.WithValue(ctx, uowKey{}, u)); err != nil {
		u.rollbacks.Add(1)
		return err
	}
	if u.fail != nil {
		u.rollbacks.Add(1)
		return u.fail
	}
	u.commits.Add(1)
	return nil
}

type result struct {
	ID           string            `json:"id"`
	Status       int               `json:"status"`
	Headers      map[string]string `json:"headers"`
	Body         json.RawMessage   `json:"body"`
	BodyEncoding string            `json:"body_encoding"`
}

func newHandler(t *testing.T, tg http.Handler, u hubapi.UnitOfWork, edit func(*batch.Config)) *batch.Handler {
	t.Helper()
	cfg := batch.Config{Target: tg, UnitOfWork: u, MaxResponseBytes: 1024, MaxBodyBytes: 64 << 10}
	if edit != nil {
		edit(&cfg)
	}
	h, err := batch.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func post(t *testing.T, h http.Handler, body string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/api/v1/batch", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func results(t *testing.T, h http.Handler, body string) []result {
	t.Helper()
	w := post(t, h, body)
	if w.Code != http.StatusOK {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	var out struct{ Results []result }
	if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
		t.Fatal(err)
	}
	return out.Results
}

func codes(rs []result) string {
	var b strings.Builder
	for i, r := range rs {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprint(&b, r.Status)
	}
	return b.String()
}

func TestSequentialReferencesAndHeaders(t *testing.T) {
	tg := &target{}
	h := newHandler(t, tg, nil, nil)
	rs := results(t, h, `{"operations":[
		{"id":"a","method":"POST","path":"/things","body":{"name":"x"}},
		{"method":"POST","path":"/things","body":{"parent":{"$ref":"a.body.id"},"list":[{"$ref":"a.body.name"},{"$ref":"a.status"}],"keep":{"$ref":1}}},
		{"method":"GET","path":"/things/{a.body.id}?fields=id","headers":{"if-match":"{a.headers.etag}"}},
		{"method":"GET","path":"/things/{op2.body.list.0}"},
		{"method":"GET","path":"/empty"},
		{"method":"GET","path":"/bin"}
	]}`)
	if got := codes(rs); got != "201 201 200 200 204 200" {
		t.Fatalf("statuses %s: %+v", got, rs)
	}
	if rs[1].ID != "op2" || !strings.Contains(string(rs[1].Body), `"parent":1`) || !strings.Contains(string(rs[1].Body), `"list":["x",201]`) ||
		!strings.Contains(string(rs[1].Body), `"keep":{"$ref":1}`) {
		t.Fatalf("body references not replaced: %s", rs[1].Body)
	}
	if !strings.Contains(string(rs[2].Body), `"path":"/api/v1/things/1"`) || !strings.Contains(string(rs[2].Body), `"if_match":"\"v1\""`) ||
		!strings.Contains(string(rs[2].Body), `"batch":true`) {
		t.Fatalf("path or header references not replaced: %s", rs[2].Body)
	}
	if rs[0].Headers["ETag"] != `"v1"` || rs[0].Headers["Set-Cookie"] != "" {
		t.Fatalf("result headers %v", rs[0].Headers)
	}
	if string(rs[4].Body) != "null" || rs[5].BodyEncoding != "base64" || string(rs[5].Body) != `"AAEC"` {
		t.Fatalf("bodies %s / %s %s", rs[4].Body, rs[5].Body, rs[5].BodyEncoding)
	}
	if tg.seen[2].URL.RawQuery != "fields=id" || tg.seen[2].Header.Get("Authorization") != "" {
		t.Fatalf("request %v", tg.seen[2])
	}
}

func TestReferenceValuesAreEscapedAndChecked(t *testing.T) {
	tg := &target{}
	h := newHandler(t, tg, nil, nil)
	rs := results(t, h, `{"operations":[
		{"id":"a","method":"POST","path":"/things","body":{"slash":"x/../../admin","dots":"..","obj":{"k":1},"sp":"a b?c"}},
		{"method":"GET","path":"/things/{a.body.slash}"},
		{"method":"GET","path":"/things/{a.body.dots}"},
		{"method":"GET","path":"/things/{a.body.obj}"},
		{"method":"GET","path":"/things/{a.body.missing}"},
		{"method":"GET","path":"/things/{a.headers.Location}"},
		{"method":"GET","path":"/things/{a.body.sp}"}
	]}`)
	// A value is one segment, escaped: one that would climb out of its
	// segment once decoded is refused like such a path in the request.
	if got := codes(rs); got != "201 400 400 400 400 400 200" {
		t.Fatalf("statuses %s: %+v", got, rs)
	}
	if p := tg.seen[1].URL; p.Path != "/api/v1/things/a b?c" || p.RawQuery != "" {
		t.Fatalf("a value was not escaped as one segment: %q ? %q", p.Path, p.RawQuery)
	}
	for _, r := range rs[1:6] {
		if !strings.Contains(string(r.Body), "invalid-batch") || !strings.Contains(string(r.Body), "operation "+r.ID) {
			t.Fatalf("%s: %s", r.ID, r.Body)
		}
	}
	if len(tg.seen) != 2 {
		t.Fatalf("%d requests reached the target", len(tg.seen))
	}
}

func TestBestEffortFailuresAndDependencies(t *testing.T) {
	tg := &target{}
	h := newHandler(t, tg, nil, nil)
	rs := results(t, h, `{"operations":[
		{"id":"f","method":"POST","path":"/fail","body":{}},
		{"method":"GET","path":"/things/{f.body.id}"},
		{"method":"GET","path":"/things/1","depends_on":["op2"]},
		{"method":"GET","path":"/panic"},
		{"method":"GET","path":"/big"},
		{"method":"GET","path":"/things/2"}
	]}`)
	if got := codes(rs); got != "422 424 424 500 413 200" {
		t.Fatalf("statuses %s: %+v", got, rs)
	}
	if !strings.Contains(string(rs[2].Body), "operation op2 did not succeed") {
		t.Fatalf("424 body %s", rs[2].Body)
	}
}

func TestDependsOnReordersAndParallelIsBounded(t *testing.T) {
	tg := &target{}
	h := newHandler(t, tg, nil, func(c *batch.Config) { c.Workers = 3 })
	var ops []string
	for i := range 12 {
		ops = append(ops, fmt.Sprintf(`{"id":"c%d","method":"POST","path":"/things","body":{"n":%d}}`, i, i))
	}
	// "first" is listed last but everything else waits for it.
	ops = append(ops, `{"id":"first","method":"POST","path":"/things","body":{"n":"first"}}`)
	for i := range 12 {
		ops[i] = strings.Replace(ops[i], `"method"`, `"depends_on":["first"],"method"`, 1)
	}
	for _, parallel := range []bool{false, true} {
		tg.seen, tg.bodies = nil, nil
		tg.maxInFly.Store(0)
		rs := results(t, h, fmt.Sprintf(`{"parallel":%t,"operations":[%s]}`, parallel, strings.Join(ops, ",")))
		for _, r := range rs {
			if r.Status != 201 {
				t.Fatalf("parallel %t: %s %d %s", parallel, r.ID, r.Status, r.Body)
			}
		}
		if rs[12].ID != "first" || !strings.Contains(tg.bodies[0], "first") {
			t.Fatalf("parallel %t: first request %s", parallel, tg.bodies[0])
		}
		switch m := tg.maxInFly.Load(); {
		case !parallel && m != 1:
			t.Fatalf("sequential batch ran %d at once", m)
		case parallel && m > 3:
			t.Fatalf("parallel batch ran %d at once with 3 workers", m)
		}
	}
}

func TestAtomic(t *testing.T) {
	t.Run("success commits once; reads are not cached", func(t *testing.T) {
		tg, u := &target{}, &uow{}
		h := newHandler(t, tg, u, nil)
		rs := results(t, h, `{"atomic":true,"parallel":true,"operations":[
			{"id":"a","method":"POST","path":"/things","body":{}},
			{"method":"GET","path":"/things/{a.body.id}"}]}`)
		if codes(rs) != "201 200" || u.commits.Load() != 1 || u.rollbacks.Load() != 0 {
			t.Fatalf("%s, commits %d", codes(rs), u.commits.Load())
		}
		if !strings.Contains(string(rs[1].Body), `"cache":"no-cache, no-store"`) {
			t.Fatalf("an atomic read may use the cache: %s", rs[1].Body)
		}
	})
	t.Run("first failure rolls back: its status, 424 for the others", func(t *testing.T) {
		tg, u := &target{}, &uow{}
		h := newHandler(t, tg, u, nil)
		rs := results(t, h, `{"atomic":true,"operations":[
			{"id":"a","method":"POST","path":"/things","body":{}},
			{"id":"bad","method":"POST","path":"/fail","body":{}},
			{"id":"c","method":"POST","path":"/things","body":{}}]}`)
		if codes(rs) != "424 422 424" || u.rollbacks.Load() != 1 || u.commits.Load() != 0 || len(tg.seen) != 2 {
			t.Fatalf("%s, rollbacks %d, requests %d", codes(rs), u.rollbacks.Load(), len(tg.seen))
		}
		if !strings.Contains(string(rs[0].Body), `"failed_operation":"bad"`) || !strings.Contains(string(rs[2].Body), "did not run") {
			t.Fatalf("424 bodies %s / %s", rs[0].Body, rs[2].Body)
		}
	})
	t.Run("a failed commit fails every operation", func(t *testing.T) {
		tg, u := &target{}, &uow{fail: fmt.Errorf("commit: %w", hubapi.ErrUnavailable)}
		h := newHandler(t, tg, u, nil)
		rs := results(t, h, `{"atomic":true,"operations":[{"method":"POST","path":"/things","body":{}},{"method":"GET","path":"/things/1"}]}`)
		if codes(rs) != "503 503" {
			t.Fatalf("%s", codes(rs))
		}
		u.fail = errors.New("disk full")
		if rs := results(t, h, `{"atomic":true,"operations":[{"method":"GET","path":"/things/1"}]}`); codes(rs) != "500" {
			t.Fatalf("%s", codes(rs))
		}
	})
	t.Run("without a unit of work, atomic batches are refused", func(t *testing.T) {
		h := newHandler(t, &target{}, nil, nil)
		if w := post(t, h, `{"atomic":true,"operations":[{"method":"GET","path":"/things/1"}]}`); w.Code != 400 {
			t.Fatalf("status %d", w.Code)
		}
	})
}

func TestTimeout(t *testing.T) {
	tg := &target{}
	h := newHandler(t, tg, nil, func(c *batch.Config) { c.Timeout = 50 * time.Millisecond })
	rs := results(t, h, `{"operations":[{"method":"GET","path":"/slow"},{"method":"GET","path":"/things/1"}]}`)
	if codes(rs) != "503 504" || !strings.Contains(string(rs[1].Body), "batch-timeout") {
		t.Fatalf("%s %s", codes(rs), rs[1].Body)
	}
}

func TestRequestLimits(t *testing.T) {
	h := newHandler(t, &target{}, nil, nil)
	cases := []struct {
		name, ct, body string
		status         int
	}{
		{"not JSON", "text/plain", `{}`, 415},
		{"too large", "application/json", `{"operations":[{"method":"POST","path":"/things","body":"` + strings.Repeat("x", 65<<10) + `"}]}`, 413},
		{"malformed", "application/json", `{"operations":`, 400},
		{"empty", "application/json", `{"operations":[]}`, 400},
		{"unknown member", "application/json", `{"operations":[],"all_or_none":true}`, 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/api/v1/batch", strings.NewReader(tc.body))
			r.Header.Set("Content-Type", tc.ct)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tc.status || !strings.HasPrefix(w.Header().Get("Content-Type"), "application/problem+json") {
				t.Fatalf("status %d (%s): %s", w.Code, w.Header().Get("Content-Type"), w.Body)
			}
		})
	}
	t.Run("a batch inside a batch operation", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodPost, "/api/v1/batch", strings.NewReader(`{"operations":[{"method":"GET","path":"/things/1"}]}`))
		r = r.WithContext(hubapi.WithBatchOperation(r.Context()))
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != 400 {
			t.Fatalf("status %d", w.Code)
		}
	})
}

// The batch is charged its number of operations through Config.Limit,
// before any operation runs.
func TestCostIsTheNumberOfOperations(t *testing.T) {
	lim, err := ratelimit.New(ratelimit.Config{
		Limits: ratelimit.Limits{Default: []ratelimit.Policy{ratelimit.PerMinute(5)}},
		Key:    func(*http.Request) (string, bool) { return "k", true },
		Route:  func(*http.Request) string { return "/batch (operations)" },
	})
	if err != nil {
		t.Fatal(err)
	}
	tg := &target{}
	h := newHandler(t, tg, nil, func(c *batch.Config) { c.Limit = lim.Middleware })
	three := `{"operations":[{"method":"GET","path":"/things/1"},{"method":"GET","path":"/things/2"},{"method":"GET","path":"/things/3"}]}`
	if w := post(t, h, three); w.Code != 200 || w.Header().Get("X-RateLimit-Remaining") != "2" {
		t.Fatalf("status %d, remaining %q", w.Code, w.Header().Get("X-RateLimit-Remaining"))
	}
	if w := post(t, h, three); w.Code != 429 || len(tg.seen) != 3 {
		t.Fatalf("status %d after 6 operations of 5; %d requests reached the target", w.Code, len(tg.seen))
	}
}

func TestNewNeedsATarget(t *testing.T) {
	if _, err := batch.New(batch.Config{}); err == nil {
		t.Fatal("no error without a target")
	}
}

// v2Target serves /api/v2/... with target (rewritten to /api/v1/...), and
// records the paths the batch sent.
type v2Target struct {
	tg    *target
	mu    sync.Mutex
	paths []string
}

func (v *v2Target) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	v.mu.Lock()
	v.paths = append(v.paths, r.URL.Path)
	v.mu.Unlock()
	if !strings.HasPrefix(r.URL.Path, "/api/v2/") {
		http.NotFound(w, r)
		return
	}
	r2 := r.Clone(r.Context())
	r2.URL.Path = "/api/v1/" + strings.TrimPrefix(r.URL.Path, "/api/v2/")
	v.tg.ServeHTTP(w, r2)
}

func TestCamelCaseBatchOfAnotherPrefix(t *testing.T) {
	v2 := func(c *batch.Config) { c.Prefix, c.Naming = "/api/v2", batch.CamelCase }
	t.Run("dependsOn, bodyEncoding and paths relative to the prefix", func(t *testing.T) {
		vt := &v2Target{tg: &target{}}
		h := newHandler(t, vt, nil, v2)
		w := post(t, h, `{"operations":[
			{"id":"a","method":"POST","path":"/things","body":{"name":"x"}},
			{"method":"GET","path":"/things/{a.body.id}","dependsOn":["a"]},
			{"method":"GET","path":"/bin"}]}`)
		if w.Code != 200 {
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
		body := w.Body.String()
		if !strings.Contains(body, `"bodyEncoding":"base64"`) || strings.Contains(body, "body_encoding") {
			t.Fatalf("results not camelCase: %s", body)
		}
		if fmt.Sprint(vt.paths) != "[/api/v2/things /api/v2/things/1 /api/v2/bin]" {
			t.Fatalf("paths sent %v", vt.paths)
		}
	})
	t.Run("the snake_case spelling is an unknown member", func(t *testing.T) {
		h := newHandler(t, &v2Target{tg: &target{}}, nil, v2)
		w := post(t, h, `{"operations":[{"id":"a","method":"GET","path":"/things/1"},{"method":"GET","path":"/things/2","depends_on":["a"]}]}`)
		if w.Code != 400 || !strings.Contains(w.Body.String(), `unknown member \"depends_on\"`) {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
		w = post(t, newHandler(t, &target{}, nil, nil), `{"operations":[{"method":"GET","path":"/things/2","dependsOn":["op1"]}]}`)
		if w.Code != 400 || !strings.Contains(w.Body.String(), `unknown member \"dependsOn\"`) {
			t.Fatalf("v1 spelling: %d %s", w.Code, w.Body)
		}
	})
	t.Run("a path of another version, or with the prefix, → 400 naming the operation", func(t *testing.T) {
		for _, tc := range []struct {
			edit       func(*batch.Config)
			path, want string
		}{
			{v2, "/api/v1/things/1", "/api/v1/things/1 is not an operation of this API version"},
			{v2, "/API/V2/things/1", "write /chantiers, not /api/v2/chantiers"},
			{nil, "/api/v2/things/1", "/api/v2/things/1 is not an operation of this API version"},
			{nil, "/api/v1/things/1", "write /chantiers, not /api/v1/chantiers"},
		} {
			h := newHandler(t, &v2Target{tg: &target{}}, nil, tc.edit)
			w := post(t, h, `{"operations":[{"id":"ok","method":"GET","path":"/things/1"},{"id":"other","method":"GET","path":"`+tc.path+`"}]}`)
			var d struct {
				Detail    string `json:"detail"`
				Operation string `json:"operation"`
			}
			_ = json.Unmarshal(w.Body.Bytes(), &d)
			if w.Code != 400 || d.Operation != "other" || !strings.HasPrefix(d.Detail, "operation other: ") || !strings.Contains(d.Detail, tc.want) {
				t.Fatalf("%s: %d %s", tc.path, w.Code, w.Body)
			}
		}
	})
	t.Run("a rolled-back operation names the culprit in failedOperation", func(t *testing.T) {
		u := &uow{}
		h := newHandler(t, &v2Target{tg: &target{}}, u, v2)
		rs := results(t, h, `{"atomic":true,"operations":[{"method":"POST","path":"/things","body":{}},{"id":"bad","method":"POST","path":"/fail","body":{}}]}`)
		if codes(rs) != "424 422" || !strings.Contains(string(rs[0].Body), `"failedOperation":"bad"`) || strings.Contains(string(rs[0].Body), "failed_operation") {
			t.Fatalf("%s %s", codes(rs), rs[0].Body)
		}
	})
	t.Run("New refuses a malformed prefix or naming", func(t *testing.T) {
		for _, cfg := range []batch.Config{{Target: &target{}, Prefix: "api/v2"}, {Target: &target{}, Prefix: "/api/v2/"}, {Target: &target{}, Naming: 7}} {
			if _, err := batch.New(cfg); err == nil {
				t.Errorf("New(%+v) accepted", cfg)
			}
		}
	})
}
