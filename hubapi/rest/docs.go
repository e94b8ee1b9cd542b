package rest

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/hubchantier/hubchantier/problem"
)

// The /docs page renders the document with Swagger UI (swagger-ui-dist,
// Apache-2.0), vendored gzip-compressed under openapi/vendor/swagger-ui so
// the page works offline; see openapi/README.md for its provenance.
//
//go:embed openapi/openapi.json openapi/openapi-v2.json openapi/migration-v1-v2.md openapi/docs.html openapi/docs.js openapi/docs.css
//go:embed openapi/vendor/swagger-ui/swagger-ui-bundle.js.gz openapi/vendor/swagger-ui/swagger-ui.css.gz
//go:embed openapi/vendor/swagger-ui/LICENSE openapi/vendor/swagger-ui/NOTICE openapi/vendor/swagger-ui/swagger-ui-bundle.js.LICENSE.txt
var docsFS embed.FS

// OpenAPIDocument returns the embedded OpenAPI 3.1 document of v1.
func OpenAPIDocument() []byte {
	b, _ := docsFS.ReadFile("openapi/openapi.json")
	return b
}

// OpenAPIDocumentV2 returns the embedded OpenAPI 3.1 document of v2,
// generated from the v1 document and V2Names (see openapi/README.md).
func OpenAPIDocumentV2() []byte {
	b, _ := docsFS.ReadFile("openapi/openapi-v2.json")
	return b
}

// docsCSP is the Content-Security-Policy of the /docs page: every script,
// style and request stays on this origin; no inline script, no eval.
// Swagger UI's CSS inlines its icons as data: images.
const docsCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// docsAsset is one file under /docs/assets/.
type docsAsset struct {
	contentType string
	body        []byte // as embedded: gzip-compressed when gzipped
	gzipped     bool
	etag        string // of the identity representation; "-gzip" is added for the compressed one
}

// docsAssets lists the files served under /docs/assets/ by name.
var docsAssets = []struct {
	name, file, contentType string
}{
	{"swagger-ui-bundle.js", "openapi/vendor/swagger-ui/swagger-ui-bundle.js.gz", "text/javascript; charset=utf-8"},
	{"swagger-ui.css", "openapi/vendor/swagger-ui/swagger-ui.css.gz", "text/css; charset=utf-8"},
	{"docs.js", "openapi/docs.js", "text/javascript; charset=utf-8"},
	{"docs.css", "openapi/docs.css", "text/css; charset=utf-8"},
	{"swagger-ui-LICENSE.txt", "openapi/vendor/swagger-ui/LICENSE", "text/plain; charset=utf-8"},
	{"swagger-ui-NOTICE.txt", "openapi/vendor/swagger-ui/NOTICE", "text/plain; charset=utf-8"},
	{"swagger-ui-bundle.js.LICENSE.txt", "openapi/vendor/swagger-ui/swagger-ui-bundle.js.LICENSE.txt", "text/plain; charset=utf-8"},
}

// loadDocsAssets reads every asset once. A missing or corrupt embedded
// file is a build defect: it panics when the routes are mounted, never
// per request.
func loadDocsAssets() map[string]*docsAsset {
	out := make(map[string]*docsAsset, len(docsAssets))
	for _, a := range docsAssets {
		b, err := docsFS.ReadFile(a.file)
		if err != nil {
			panic("rest: embedded docs asset missing: " + a.file)
		}
		identity := b
		gz := strings.HasSuffix(a.file, ".gz")
		if gz {
			zr, err := gzip.NewReader(bytes.NewReader(b))
			if err != nil {
				panic("rest: embedded docs asset is not gzip: " + a.file)
			}
			if identity, err = io.ReadAll(zr); err != nil {
				panic("rest: embedded docs asset is corrupt: " + a.file)
			}
		}
		sum := sha256.Sum256(identity)
		out[a.name] = &docsAsset{contentType: a.contentType, body: b, gzipped: gz, etag: hex.EncodeToString(sum[:16])}
	}
	return out
}

// MountDocs serves /api/v1/openapi.json, /api/v2/openapi.json, the /docs
// page (both versions, with a version switcher), the migration guide at
// /docs/migration-v1-v2 (the target of v1's deprecation links) and its assets
// under /docs/assets/ (no authentication: the document describes the API,
// it holds no data).
func MountDocs(r *mux.Router) {
	assets := loadDocsAssets()
	page, err := docsFS.ReadFile("openapi/docs.html")
	if err != nil {
		panic("rest: embedded docs page missing")
	}
	for path, doc := range map[string][]byte{"/api/v1/openapi.json": OpenAPIDocument(), "/api/v2/openapi.json": OpenAPIDocumentV2()} {
		r.HandleFunc(path, func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Cache-Control", "public, max-age=300")
			_, _ = w.Write(doc)
		}).Methods(http.MethodGet, http.MethodHead)
	}
	r.HandleFunc("/docs", func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Content-Security-Policy", docsCSP)
		h.Set("Cache-Control", "no-cache")
		_, _ = w.Write(page)
	}).Methods(http.MethodGet, http.MethodHead)
	guide, err := docsFS.ReadFile("openapi/migration-v1-v2.md")
	if err != nil {
		panic("rest: embedded migration guide missing")
	}
	r.HandleFunc("/docs/migration-v1-v2", func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "text/markdown; charset=utf-8")
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		h.Set("Cache-Control", "public, max-age=300")
		_, _ = w.Write(guide)
	}).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/docs/assets/{name}", func(w http.ResponseWriter, req *http.Request) {
		a := assets[mux.Vars(req)["name"]]
		if a == nil {
			problem.Write(w, req, problem.New(http.StatusNotFound, "not-found", "No such documentation asset."))
			return
		}
		a.serve(w, req)
	}).Methods(http.MethodGet, http.MethodHead)
}

// serve sends the asset, gzip-encoded to clients that accept it (the
// vendored bundle is stored compressed), with a strong ETag per encoding
// (RFC 9110 §8.8.3) and conditional GET through http.ServeContent.
func (a *docsAsset) serve(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", a.contentType)
	h.Set("Cache-Control", "public, max-age=86400")
	h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
	if !a.gzipped {
		h.Set("ETag", `"`+a.etag+`"`)
		http.ServeContent(&problemOnFailure{ResponseWriter: w, r: r}, r, "", time.Time{}, bytes.NewReader(a.body))
		return
	}
	h.Add("Vary", "Accept-Encoding")
	if acceptsGzip(r.Header.Values("Accept-Encoding")) {
		h.Set("Content-Encoding", "gzip")
		h.Set("ETag", `"`+a.etag+`-gzip"`)
		http.ServeContent(&problemOnFailure{ResponseWriter: w, r: r}, r, "", time.Time{}, bytes.NewReader(a.body))
		return
	}
	// Rare: a client without gzip gets the file decompressed on the fly.
	h.Set("ETag", `"`+a.etag+`"`)
	if match := r.Header.Get("If-None-Match"); match != "" && strings.Contains(match, `"`+a.etag+`"`) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	zr, err := gzip.NewReader(bytes.NewReader(a.body))
	if err != nil {
		problem.Write(w, r, problem.New(http.StatusInternalServerError, "internal", "An internal error occurred."))
		return
	}
	if r.Method == http.MethodHead {
		return
	}
	_, _ = io.Copy(w, zr) // #nosec G110 -- embedded, trusted content of known size
}

// acceptsGzip reports whether Accept-Encoding (RFC 9110 §12.5.3) allows
// gzip: listed with a non-zero weight, or, when not listed, covered by "*"
// with a non-zero weight.
func acceptsGzip(values []string) bool {
	gzipQ, starQ := -1.0, -1.0
	for _, v := range values {
		for _, part := range strings.Split(v, ",") {
			coding, params, _ := strings.Cut(part, ";")
			q := 1.0
			for _, p := range strings.Split(params, ";") {
				k, val, ok := strings.Cut(p, "=")
				if ok && strings.EqualFold(strings.TrimSpace(k), "q") {
					f, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
					if err != nil || !(f >= 0 && f <= 1) { // NaN too
						f = 0
					}
					q = f
				}
			}
			switch strings.ToLower(strings.TrimSpace(coding)) {
			case "gzip", "x-gzip":
				gzipQ = max(gzipQ, q)
			case "*":
				starQ = max(starQ, q)
			}
		}
	}
	if gzipQ >= 0 {
		return gzipQ > 0
	}
	return starQ > 0
}
