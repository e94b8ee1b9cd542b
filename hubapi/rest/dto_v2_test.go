package rest

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/problem"
)

func TestV2RenamingRoundTrip(t *testing.T) {
	v1 := []byte(`{"id":1,"nom":"T","adresse":"A","responsable":{"id":2,"nom":"Martin","prenom":"Claire"},"code_postal":"69001"}`)
	v2, err := chantierDTO.toV2(nil, v1)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"id":1,"name":"T","location":"A","manager":{"id":2,"lastName":"Martin","firstName":"Claire"},"postalCode":"69001"}`; string(v2) != want {
		t.Errorf("toV2 = %s, want %s (order kept)", v2, want)
	}
	if _, err := chantierDTO.toV2(nil, []byte(`{"unmapped":1}`)); err == nil {
		t.Error("a member without a v2 name passes")
	}
	back, err := chantierDTO.inputToV1([]byte(`{"name":"T","location":"A","postalCode":"69001"}`), nil)
	if err != nil || string(back) != `{"nom":"T","adresse":"A","code_postal":"69001"}` {
		t.Errorf("inputToV1 = %s, %v", back, err)
	}
	var in hubapi.ChantierInput
	writable := jsonNames(reflect.TypeOf(&in))
	for _, body := range []string{`{"nom":"T"}`, `{"createdAt":"x"}`, `{"manager":null}`} {
		_, err := chantierDTO.inputToV1([]byte(body), writable)
		d, ok := problem.As(err)
		if !ok || d.Status != 400 || len(d.Errors) != 1 || !strings.Contains(body, d.Errors[0].Field) {
			t.Errorf("%s: %v, want 400 unknown-field naming the member as sent", body, err)
		}
	}
	if got := v1SortExpression("-name,createdAt,nom"); got != "-nom,created_at,nom?" {
		t.Errorf("sort %q", got)
	}
	if got := v1Expression("id,name,manager(lastName,firstName)", nil); got != "id,nom,responsable(nom,prenom)" {
		t.Errorf("selection %q", got)
	}
	// A member named alike in both versions keeps its name in its resource
	// (a delivery's status), while a chantier's status is its statut.
	if got := v1Expression("id,status,eventType,attemptLog", deliveryDTO); got != "id,status,event_type,attempt_log" {
		t.Errorf("delivery selection %q", got)
	}
	if got := v1Expression("status,manager(lastName)", chantierDTO); got != "statut,responsable(nom)" {
		t.Errorf("chantier selection %q", got)
	}
}

// FuzzV2Body renames arbitrary v2 bodies: never a panic; a body that is
// renamed is still one JSON value when it was one.
func FuzzV2Body(f *testing.F) {
	for _, s := range []string{`{"name":"a","location":"b"}`, `{"name":1,"name":2}`, `{"nom":"x"}`, `[]`, `{`, `{"a":{}} x`, `null`,
		`{"postalCode":"\u0000"}`, `{"name":"a"}{"b":1}`, ``} {
		f.Add([]byte(s))
	}
	var in hubapi.ChantierInput
	writable := jsonNames(reflect.TypeOf(&in))
	f.Fuzz(func(t *testing.T, body []byte) {
		out, err := chantierDTO.inputToV1(body, writable)
		if err != nil {
			if _, ok := problem.As(err); !ok {
				t.Fatalf("error %v is not a problem", err)
			}
			return
		}
		if json.Valid(body) && !json.Valid(out) {
			t.Fatalf("%q renamed to invalid JSON %q", body, out)
		}
		_ = v1SortExpression(string(body))
	})
}

// FuzzV2Rename renames arbitrary JSON with the chantier page shape: never a
// panic; from valid JSON, either an error or valid JSON.
func FuzzV2Rename(f *testing.F) {
	for _, s := range []string{`{"data":[{"id":1,"nom":"a\"}","responsable":{"nom":"x","prenom":"y"}}],"pagination":{"has_more":true}}`,
		`{"data":[]}`, `[{"nom":1},{"adresse":[1,{"a":"]"}]}]`, `{"nom":"x"} `, `{"nom"}`, `{"x":1}`, `"s"`, `1e5`, `{`, `[1,`, ``} {
		f.Add([]byte(s))
	}
	d := pageDTO(chantierDTO)
	f.Fuzz(func(t *testing.T, src []byte) {
		out, err := d.toV2(nil, src)
		if err == nil && json.Valid(src) && !json.Valid(out) {
			t.Fatalf("%q renamed to invalid JSON %q", src, out)
		}
	})
}
