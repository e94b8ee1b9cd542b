package server_test

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/hubchantier/hubchantier/internal/apitest"
	"github.com/hubchantier/hubchantier/internal/testenv"
)

// Vendored swagger-ui-dist 5.35.0 files (npm), as published.
const (
	swaggerBundleSHA256 = "e6a898692f2d768e807c3ba4626068a69a2c5dd960dd6c76f3e4d3a3de180af2"
	swaggerCSSSHA256    = "5ed08757e53da3e026d6cbecc61fe5d43585c9560b302d534ad56692519a273d"
)

// rawClient neither asks for nor undoes compression, so the tests see the
// bytes the server sends.
var rawClient = &http.Client{Transport: &http.Transport{DisableCompression: true}}

func fetch(t testing.TB, method, url string, header map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := rawClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, b
}

func gunzip(t testing.TB, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestDocsPage(t *testing.T) {
	env := apitest.Start(t, testenv.SQLite(t), apitest.Config{})
	res, page := fetch(t, "GET", env.URL+"/docs", nil)

	t.Run("served as HTML with a Content-Security-Policy that keeps everything on this origin", func(t *testing.T) {
		if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/html; charset=utf-8" {
			t.Fatalf("status %d, Content-Type %q", res.StatusCode, res.Header.Get("Content-Type"))
		}
		csp := res.Header.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("CSP %q lacks %q", csp, want)
			}
		}
		for _, bad := range []string{"unsafe-inline", "unsafe-eval", "http:", "https:", "*"} {
			if strings.Contains(csp, bad) {
				t.Errorf("CSP %q allows %q", csp, bad)
			}
		}
	})

	t.Run("no inline script or handler, no external reference", func(t *testing.T) {
		if regexp.MustCompile(`(?i)<script(\s[^>]*)?>\s*[^<\s]`).Match(page) || regexp.MustCompile(`(?i)\son[a-z]+=`).Match(page) {
			t.Error("the page has inline script")
		}
		if regexp.MustCompile(`(?i)(src|href)="(https?:)?//`).Match(page) {
			t.Error("the page references another origin")
		}
	})

	t.Run("every script and stylesheet of the page is served", func(t *testing.T) {
		refs := regexp.MustCompile(`(?:src|href)="(docs/assets/[^"]+)"`).FindAllSubmatch(page, -1)
		if len(refs) != 4 {
			t.Fatalf("%d asset references in the page", len(refs))
		}
		for _, m := range refs {
			res, body := fetch(t, "GET", env.URL+"/"+string(m[1]), map[string]string{"Accept-Encoding": "gzip"})
			ct := res.Header.Get("Content-Type")
			if res.StatusCode != 200 || len(body) == 0 || !(strings.HasPrefix(ct, "text/javascript") || strings.HasPrefix(ct, "text/css")) {
				t.Errorf("%s: status %d, Content-Type %q, %d bytes", m[1], res.StatusCode, ct, len(body))
			}
		}
		res, body := fetch(t, "GET", env.URL+"/api/v1/openapi.json", nil)
		if res.StatusCode != 200 || !bytes.HasPrefix(bytes.TrimSpace(body), []byte("{")) {
			t.Errorf("the page's document: status %d", res.StatusCode)
		}
	})

	t.Run("the vendored renderer is the published swagger-ui-dist 5.35.0", func(t *testing.T) {
		for name, want := range map[string]string{"swagger-ui-bundle.js": swaggerBundleSHA256, "swagger-ui.css": swaggerCSSSHA256} {
			res, body := fetch(t, "GET", env.URL+"/docs/assets/"+name, map[string]string{"Accept-Encoding": "gzip"})
			if res.Header.Get("Content-Encoding") != "gzip" {
				t.Fatalf("%s: Content-Encoding %q", name, res.Header.Get("Content-Encoding"))
			}
			if got := sha(gunzip(t, body)); got != want {
				t.Errorf("%s: sha256 %s, want %s", name, got, want)
			}
		}
		res, body := fetch(t, "GET", env.URL+"/docs/assets/swagger-ui-LICENSE.txt", nil)
		if res.StatusCode != 200 || !bytes.Contains(body, []byte("Apache License")) {
			t.Errorf("licence: status %d", res.StatusCode)
		}
	})

	t.Run("content coding follows Accept-Encoding", func(t *testing.T) {
		cases := []struct {
			accept string
			gzip   bool
		}{
			{"gzip", true},
			{"gzip, deflate, br", true},
			{"br;q=1.0, gzip;q=0.5", true},
			{"x-gzip", true},
			{"*", true},
			{"", false},
			{"identity", false},
			{"br", false},
			{"gzip;q=0", false},
			{"gzip;q=0, *", false},
			{"*;q=0", false},
			{"gzip;q=NaN", false},
			{"gzip;q=2", false},
		}
		for _, tc := range cases {
			res, body := fetch(t, "GET", env.URL+"/docs/assets/swagger-ui.css", map[string]string{"Accept-Encoding": tc.accept})
			gz := res.Header.Get("Content-Encoding") == "gzip"
			if gz != tc.gzip || res.StatusCode != 200 || !strings.Contains(res.Header.Get("Vary"), "Accept-Encoding") {
				t.Errorf("Accept-Encoding %q: status %d, Content-Encoding %q, Vary %q", tc.accept, res.StatusCode,
					res.Header.Get("Content-Encoding"), res.Header.Get("Vary"))
				continue
			}
			if gz {
				body = gunzip(t, body)
			}
			if sha(body) != swaggerCSSSHA256 {
				t.Errorf("Accept-Encoding %q: wrong content", tc.accept)
			}
		}
	})

	t.Run("conditional GET: a matching ETag → 304", func(t *testing.T) {
		for _, enc := range []string{"gzip", ""} {
			res, _ := fetch(t, "GET", env.URL+"/docs/assets/swagger-ui-bundle.js", map[string]string{"Accept-Encoding": enc})
			etag := res.Header.Get("ETag")
			if !regexp.MustCompile(`^"[0-9a-f]{32}(-gzip)?"$`).MatchString(etag) {
				t.Fatalf("ETag %q", etag)
			}
			res, body := fetch(t, "GET", env.URL+"/docs/assets/swagger-ui-bundle.js", map[string]string{"Accept-Encoding": enc, "If-None-Match": etag})
			if res.StatusCode != 304 || len(body) != 0 {
				t.Errorf("encoding %q: status %d with %d bytes", enc, res.StatusCode, len(body))
			}
		}
		gz, _ := fetch(t, "GET", env.URL+"/docs/assets/docs.js", map[string]string{"Accept-Encoding": "gzip"})
		res, _ := fetch(t, "GET", env.URL+"/docs/assets/docs.js", map[string]string{"If-None-Match": gz.Header.Get("ETag")})
		if res.StatusCode != 304 {
			t.Errorf("docs.js: %d", res.StatusCode)
		}
	})

	t.Run("HEAD and unknown assets", func(t *testing.T) {
		res, body := fetch(t, "HEAD", env.URL+"/docs", nil)
		if res.StatusCode != 200 || len(body) != 0 {
			t.Errorf("HEAD /docs: %d, %d bytes", res.StatusCode, len(body))
		}
		for _, p := range []string{"/docs/assets/nope.js", "/docs/assets/..%2f..%2fopenapi.json", "/docs/assets/", "/docs/x/y"} {
			res, body := fetch(t, "GET", env.URL+p, nil)
			if res.StatusCode != 404 || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/problem+json") {
				t.Errorf("%s: status %d, %s", p, res.StatusCode, body)
			}
		}
	})
}

// FuzzDocsAcceptEncoding: any Accept-Encoding yields the asset, compressed
// or not, never an error.
func FuzzDocsAcceptEncoding(f *testing.F) {
	for _, s := range []string{"gzip", "", "gzip;q=0", "*;q=0.1", "gzip;q=", ";;,,", "GZIP;Q=1", "x-gzip;q=1e-3", "gzip;q=0.0000001"} {
		f.Add(s)
	}
	env := apitest.Start(f, testenv.SQLite(f), apitest.Config{})
	f.Fuzz(func(t *testing.T, accept string) {
		if strings.ContainsAny(accept, "\r\n\x00") || !isPrintableASCII(accept) {
			t.Skip("not a header value")
		}
		if res, _ := fetch(t, "GET", env.URL+"/docs/assets/docs.css", map[string]string{"Accept-Encoding": accept}); res.StatusCode != 200 {
			t.Fatalf("status %d", res.StatusCode)
		}
		res, body := fetch(t, "GET", env.URL+"/docs/assets/swagger-ui.css", map[string]string{"Accept-Encoding": accept})
		if res.Header.Get("Content-Encoding") == "gzip" {
			body = gunzip(t, body)
		}
		if res.StatusCode != 200 || sha(body) != swaggerCSSSHA256 {
			t.Fatalf("status %d, encoding %q", res.StatusCode, res.Header.Get("Content-Encoding"))
		}
	})
}

func isPrintableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// A failed precondition or an unsatisfiable range on a docs asset is a
// problem like every other error, without the asset's encoding (found by
// FuzzHandler: http.ServeContent answered 412 in text/css, and gzip-encoded
// for the bundle).
func TestDocsAssetFailuresAreProblems(t *testing.T) {
	env := apitest.Start(t, testenv.SQLite(t), apitest.Config{})
	for _, tc := range []struct {
		path   string
		header map[string]string
		status int
	}{
		{"/docs/assets/docs.css", map[string]string{"If-Match": `"0"`}, 412},
		{"/docs/assets/swagger-ui.css", map[string]string{"If-Match": `"0"`, "Accept-Encoding": "gzip"}, 412},
		{"/docs/assets/docs.js", map[string]string{"Range": "bytes=99999999-"}, 416},
	} {
		res, body := fetch(t, "GET", env.URL+tc.path, tc.header)
		if res.StatusCode != tc.status || res.Header.Get("Content-Type") != "application/problem+json" ||
			res.Header.Get("Content-Encoding") != "" || !json.Valid(body) {
			t.Errorf("GET %s with %v: %d, Content-Type %q, Content-Encoding %q: %s", tc.path, tc.header,
				res.StatusCode, res.Header.Get("Content-Type"), res.Header.Get("Content-Encoding"), body)
		}
	}
}
