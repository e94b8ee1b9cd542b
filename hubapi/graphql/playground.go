package graphql

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/hubchantier/hubchantier/problem"
)

//go:embed playground/index.html playground/playground.js playground/playground.css playground/vendor
var playgroundFS embed.FS

// playgroundCSP keeps every script, style and request on this origin; no
// inline script. GraphiQL's stylesheet inlines its fonts and icons.
const playgroundCSP = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
	"font-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// PlaygroundAssets is the path prefix of the playground's files.
const PlaygroundAssets = "/graphql/assets/"

type asset struct {
	contentType string
	identity    []byte
	gzipped     []byte // nil when not stored compressed
	etag        string
}

var playgroundFiles = map[string]struct{ file, contentType string }{
	"graphiql.min.js":             {"playground/vendor/graphiql.min.js.gz", "text/javascript; charset=utf-8"},
	"graphiql.min.css":            {"playground/vendor/graphiql.min.css.gz", "text/css; charset=utf-8"},
	"react.production.min.js":     {"playground/vendor/react.production.min.js.gz", "text/javascript; charset=utf-8"},
	"react-dom.production.min.js": {"playground/vendor/react-dom.production.min.js.gz", "text/javascript; charset=utf-8"},
	"playground.js":               {"playground/playground.js", "text/javascript; charset=utf-8"},
	"playground.css":              {"playground/playground.css", "text/css; charset=utf-8"},
	"graphiql-LICENSE.txt":        {"playground/vendor/graphiql-LICENSE", "text/plain; charset=utf-8"},
	"react-LICENSE.txt":           {"playground/vendor/react-LICENSE", "text/plain; charset=utf-8"},
	"react-dom-LICENSE.txt":       {"playground/vendor/react-dom-LICENSE", "text/plain; charset=utf-8"},
}

// Playground serves GraphiQL: the page (any path but the assets') and its
// vendored files under PlaygroundAssets. The server mounts it at GET
// /graphql for browsers (Accept: text/html), outside production. The page
// holds no credential: the user types an API key in its Headers tab.
func Playground() http.Handler {
	// The files are decompressed on the first request, not when the
	// server is built: most servers never serve the playground.
	var once sync.Once
	var assets map[string]*asset
	var page *asset
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		once.Do(func() {
			assets = map[string]*asset{}
			for name, f := range playgroundFiles {
				assets[name] = loadAsset(f.file, f.contentType)
			}
			page = loadAsset("playground/index.html", "text/html; charset=utf-8")
		})
		a := page
		if name, ok := strings.CutPrefix(r.URL.Path, PlaygroundAssets); ok {
			if a = assets[name]; a == nil {
				problem.Write(w, r, problem.New(http.StatusNotFound, "not-found", "No such file."))
				return
			}
		}
		h := w.Header()
		h.Set("Content-Type", a.contentType)
		h.Set("Content-Security-Policy", playgroundCSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Vary", "Accept, Accept-Encoding")
		h.Set("Cache-Control", "no-cache")
		body := a.identity
		etag := a.etag
		if a.gzipped != nil && strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			body, etag = a.gzipped, strings.TrimSuffix(a.etag, `"`)+`-gzip"`
			h.Set("Content-Encoding", "gzip")
		}
		h.Set("ETag", etag)
		if r.Header.Get("If-None-Match") == etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		if r.Method == http.MethodHead {
			return
		}
		_, _ = w.Write(body)
	})
}

// loadAsset reads an embedded file; a missing or corrupt one is a build
// defect (a panic, which TestGraphQL's playground request would show).
func loadAsset(file, contentType string) *asset {
	b, err := playgroundFS.ReadFile(file)
	if err != nil {
		panic("graphql: embedded playground file missing: " + file)
	}
	a := &asset{contentType: contentType, identity: b}
	if strings.HasSuffix(file, ".gz") {
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			panic("graphql: embedded playground file is not gzip: " + file)
		}
		if a.identity, err = io.ReadAll(zr); err != nil {
			panic("graphql: embedded playground file is corrupt: " + file)
		}
		a.gzipped = b
	}
	sum := sha256.Sum256(a.identity)
	a.etag = `"` + hex.EncodeToString(sum[:16]) + `"`
	return a
}
