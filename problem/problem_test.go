package problem_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
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
	if got["type"] != problem.TypeBase+"validation" || got["instance"] != "/api/v1/chantiers" || got["status"].(float64) != 422 {
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
