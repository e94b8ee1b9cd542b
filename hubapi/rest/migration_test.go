package rest

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/gorilla/mux"
)

// The migration guide served at /docs/migration-v1-v2 is docs/MIGRATION-V1-V2.md,
// and its table gives every renaming of V2Names, V2UserNames and V2AuthorizationNames.
func TestMigrationGuide(t *testing.T) {
	doc, err := os.ReadFile("../../docs/MIGRATION-V1-V2.md")
	if err != nil {
		t.Fatal(err)
	}
	served, _ := docsFS.ReadFile("openapi/migration-v1-v2.md")
	if !bytes.Equal(doc, served) {
		t.Fatal("openapi/migration-v1-v2.md differs from docs/MIGRATION-V1-V2.md: cp docs/MIGRATION-V1-V2.md hubapi/rest/openapi/migration-v1-v2.md")
	}
	for _, m := range []map[string]string{V2Names, V2UserNames, V2AuthorizationNames} {
		for v1, v2 := range m {
			if !bytes.Contains(doc, []byte("`"+v1+"`")) || !bytes.Contains(doc, []byte("| `"+v2+"` |")) {
				t.Errorf("the guide's table lacks %s → %s", v1, v2)
			}
		}
	}
	r := mux.NewRouter()
	MountDocs(r)
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/docs/migration-v1-v2", nil))
	if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/markdown") || !bytes.Equal(rec.Body.Bytes(), doc) {
		t.Errorf("GET /docs/migration-v1-v2: %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
}
