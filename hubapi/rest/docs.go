package rest

import (
	"embed"
	"net/http"

	"github.com/gorilla/mux"
)

//go:embed openapi/openapi.json openapi/docs.html
var docsFS embed.FS

// OpenAPIDocument returns the embedded OpenAPI 3.1 document of v1.
func OpenAPIDocument() []byte {
	b, _ := docsFS.ReadFile("openapi/openapi.json")
	return b
}

// MountDocs serves /api/v1/openapi.json and the /docs page (no
// authentication: the document describes the API, it holds no data).
func MountDocs(r *mux.Router) {
	r.HandleFunc("/api/v1/openapi.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "public, max-age=300")
		_, _ = w.Write(OpenAPIDocument())
	}).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/docs", func(w http.ResponseWriter, _ *http.Request) {
		b, _ := docsFS.ReadFile("openapi/docs.html")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data:")
		_, _ = w.Write(b)
	}).Methods(http.MethodGet, http.MethodHead)
}
