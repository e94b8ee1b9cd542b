package server_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/internal/apitest"
)

// updateGolden rewrites the golden recordings instead of comparing:
// go test ./hubapi/server -run TestGoldenV1 -update
var updateGolden = flag.Bool("update", false, "rewrite the golden recordings of testdata/golden")

// goldenStep is one recorded exchange: a request sent as written (no
// OpenAPI check: the recording is the contract), and the response compared
// with its recording after normalisation.
type goldenStep struct {
	name   string
	method string
	path   string
	// as is the role whose full-scope key authenticates the request; ""
	// sends no Authorization; "raw:<value>" sends the value itself.
	as     hubapi.Role
	raw    string
	header map[string]string
	body   string // sent as application/json unless header sets Content-Type
	// save stores the response's ETag under this name; {name} in a later
	// path or header value is replaced by it. {cursor} is always the
	// next_cursor of the last response that had one.
	save string
}

// goldenHeaders are the response header fields of the contract. Others
// (Date, Content-Length, X-Request-Id, the version policy's fields added by
// later versions of the server) are not part of a recording.
var goldenHeaders = []string{
	"Accept-Ranges", "Allow", "Cache-Control", "Content-Disposition", "Content-Range", "Content-Security-Policy",
	"Content-Type", "Digest", "ETag", "Last-Modified", "Link", "Location", "Retry-After", "Vary", "WWW-Authenticate",
	"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset",
}

// goldenRecord is the file format of testdata/golden/<version>/<NNN>-<name>.json.
type goldenRecord struct {
	Request struct {
		Method string            `json:"method"`
		Path   string            `json:"path"`
		As     string            `json:"as,omitempty"`
		Header map[string]string `json:"header,omitempty"`
		Body   json.RawMessage   `json:"body,omitempty"`
	} `json:"request"`
	Response struct {
		Status int               `json:"status"`
		Header map[string]string `json:"header"`
		Body   json.RawMessage   `json:"body,omitempty"`
	} `json:"response"`
}

// Normalisation (documented in testdata/golden/README.md): only what
// differs from one run to the next is replaced by a placeholder.
var (
	timestampRe = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$`)
	cursorRe    = regexp.MustCompile(`cursor=[A-Za-z0-9_\-.~%]+`)
	retryInRe   = regexp.MustCompile(`retry in \d+ s`)
	// a version ETag, "v3"; a body hash may also start with v
	versionTagRe = regexp.MustCompile(`^"v[0-9]+"$`)
	// members whose value is drawn at random or from the clock
	variableMembers = map[string]string{
		"next_cursor": "<cursor>", "prev_cursor": "<cursor>", "key": "<api-key>", "prefix": "<api-key-prefix>",
		"semaine": "<current-week>", "mois": "<current-month>", "nextCursor": "<cursor>", "prevCursor": "<cursor>",
	}
)

// normaliseJSON replaces the variable values of a JSON document and
// reports whether it replaced any (then a hash ETag of the body varies).
func normaliseJSON(b []byte) ([]byte, bool, error) {
	var v any
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		return nil, false, err
	}
	changed := false
	var walk func(v any) any
	walk = func(v any) any {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				if arr, isArr := e.([]any); isArr && k == "audit_events" && len(arr) > 0 {
					// a user's export: the audit events of the run (hashes,
					// times, request ids; read events are written
					// asynchronously, so even their number varies)
					x[k], changed = "<audit-events>", true
					continue
				}
				if ph, ok := variableMembers[k]; ok {
					if s, isStr := e.(string); isStr && s != "" {
						x[k], changed = ph, true
						continue
					}
				}
				x[k] = walk(e)
			}
		case []any:
			for i := range x {
				x[i] = walk(x[i])
			}
		case string:
			if timestampRe.MatchString(x) {
				changed = true
				return "<timestamp>"
			}
			if _, err := time.Parse(http.TimeFormat, x); err == nil { // a batch result's Last-Modified
				changed = true
				return "<http-date>"
			}
			if retryInRe.MatchString(x) {
				return retryInRe.ReplaceAllString(x, "retry in <window> s")
			}
		}
		return v
	}
	v = walk(v)
	out, err := marshalIndent(v)
	return out, changed, err
}

// goldenRunner replays steps against a server and records or compares.
type goldenRunner struct {
	env   *apitest.Env
	dir   string
	vars  map[string]string
	n     int
	files map[string]bool
}

func (g *goldenRunner) subst(s string) string {
	for k, v := range g.vars {
		s = strings.ReplaceAll(s, "{"+k+"}", v)
	}
	return s
}

func (g *goldenRunner) run(t *testing.T, st goldenStep) {
	t.Helper()
	g.n++
	file := fmt.Sprintf("%03d-%s.json", g.n, st.name)
	g.files[file] = true
	path := g.subst(st.path)
	req, err := http.NewRequest(st.method, g.env.URL+path, strings.NewReader(st.body))
	if err != nil {
		t.Fatal(err)
	}
	if st.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range st.header {
		req.Header.Set(k, g.subst(v))
	}
	switch {
	case st.raw != "":
		req.Header.Set("Authorization", st.raw)
	case st.as != "":
		req.Header.Set("Authorization", "Bearer "+g.env.Key(st.as))
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	body, err := io.ReadAll(res.Body)
	_ = res.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if st.save != "" {
		g.vars[st.save] = res.Header.Get("ETag")
	}
	var rec goldenRecord
	rec.Request.Method, rec.Request.As = st.method, string(st.as)
	rec.Request.Path = cursorRe.ReplaceAllString(st.path, "cursor=<cursor>")
	if st.raw != "" {
		rec.Request.As = "raw: " + st.raw
	}
	if len(st.header) > 0 {
		rec.Request.Header = st.header
	}
	if st.body != "" {
		if json.Valid([]byte(st.body)) {
			rec.Request.Body = json.RawMessage(st.body)
		} else {
			rec.Request.Body, _ = json.Marshal(st.body)
		}
	}
	rec.Response.Status = res.StatusCode
	rec.Response.Header = map[string]string{}
	varies := false
	if len(body) > 0 {
		if json.Valid(body) {
			var nb []byte
			if nb, varies, err = normaliseJSON(body); err != nil {
				t.Fatal(err)
			}
			rec.Response.Body = nb
			var page struct {
				Pagination struct {
					NextCursor *string `json:"next_cursor"`
				} `json:"pagination"`
			}
			if json.Unmarshal(body, &page) == nil && page.Pagination.NextCursor != nil {
				g.vars["cursor"] = *page.Pagination.NextCursor
			}
		} else {
			rec.Response.Body, _ = json.Marshal(string(body))
		}
	}
	for _, k := range goldenHeaders {
		vs := res.Header.Values(k)
		if len(vs) == 0 {
			continue
		}
		v := strings.Join(vs, ", ")
		switch k {
		case "Last-Modified":
			v = "<http-date>"
		case "X-RateLimit-Remaining", "X-RateLimit-Reset", "Retry-After":
			// fixed windows: what remains and when the window ends depend
			// on the clock
			if k != "Retry-After" || res.StatusCode == http.StatusTooManyRequests {
				v = "<window>"
			}
		case "Link":
			v = stripVersionPolicyLinks(cursorRe.ReplaceAllString(v, "cursor=<cursor>"))
			if v == "" {
				continue
			}
		case "ETag":
			// A version tag ("v3") is stable; a hash of a body that held a
			// timestamp or a cursor is not.
			if varies && !versionTagRe.MatchString(v) {
				v = "<body-hash>"
			}
		}
		rec.Response.Header[k] = v
	}
	got, err := marshalIndent(rec)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(g.dir, file)
	if *updateGolden {
		if err := os.WriteFile(p, got, 0o600); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p) // #nosec G304 -- a file of the test's own testdata
	if err != nil {
		t.Fatalf("%s: %v (go test ./hubapi/server -run %s -update records it)", file, err, t.Name())
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s: the response differs from its recording\n--- recorded\n%s\n--- now\n%s", file, want, got)
	}
}

// stripVersionPolicyLinks drops the deprecation and sunset links of the
// version policy (RFC 9745, RFC 8594), which are tested on their own: the
// recorded Link is the pagination's.
func stripVersionPolicyLinks(v string) string {
	var keep []string
	for _, l := range strings.Split(v, ", <") {
		if !strings.HasPrefix(l, "<") {
			l = "<" + l
		}
		if strings.Contains(l, `rel="deprecation"`) || strings.Contains(l, `rel="sunset"`) {
			continue
		}
		keep = append(keep, l)
	}
	return strings.Join(keep, ", ")
}

// finish checks that no recording is left without its step.
func (g *goldenRunner) finish(t *testing.T) {
	entries, err := os.ReadDir(g.dir)
	if err != nil {
		t.Fatal(err)
	}
	var stale []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".json") && !g.files[e.Name()] {
			if *updateGolden {
				_ = os.Remove(filepath.Join(g.dir, e.Name()))
				continue
			}
			stale = append(stale, e.Name())
		}
	}
	sort.Strings(stale)
	if len(stale) > 0 {
		t.Errorf("recordings without a step: %v", stale)
	}
}

func newGoldenRunner(t *testing.T, env *apitest.Env, version string) *goldenRunner {
	dir := filepath.Join("testdata", "golden", version)
	if *updateGolden {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			t.Fatal(err)
		}
	}
	return &goldenRunner{env: env, dir: dir, vars: map[string]string{}, files: map[string]bool{}}
}

// multipartBody is a multipart/form-data body with a fixed boundary, so
// that the recording is stable.
func goldenMultipart(parts [][3]string) string {
	var b strings.Builder
	for _, p := range parts { // name, filename, content
		b.WriteString("--golden\r\n")
		if p[1] != "" {
			fmt.Fprintf(&b, "Content-Disposition: form-data; name=%q; filename=%q\r\nContent-Type: text/plain\r\n\r\n%s\r\n", p[0], p[1], p[2])
		} else {
			fmt.Fprintf(&b, "Content-Disposition: form-data; name=%q\r\n\r\n%s\r\n", p[0], p[2])
		}
	}
	b.WriteString("--golden--\r\n")
	return b.String()
}

// marshalIndent encodes v indented, without escaping <, > and &.
func marshalIndent(v any) ([]byte, error) {
	var b bytes.Buffer
	e := json.NewEncoder(&b)
	e.SetEscapeHTML(false)
	e.SetIndent("", "  ")
	err := e.Encode(v)
	return b.Bytes(), err
}
