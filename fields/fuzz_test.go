package fields_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/hubchantier/hubchantier/fields"
)

// FuzzParse checks that Parse never panics, that every error says where it
// is and maps to a 400, and that the canonical form of a selection parses
// back to the same selection.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"", "*", "id,nom", "responsable.nom", "responsable(nom,prenom)", "responsable(entreprise(*)),taches.titre",
		"id,,nom", "(", ")", "a..b", "a(", "a()", "responsable()", "nOm", "*.x", "responsable.*", "taches(*,titre)",
		"responsable(entreprise.siret,nom),responsable.email", "nom.x", "\xff", "password_hash",
	} {
		f.Add(seed)
	}
	limits := fields.Limits{MaxLength: 200, MaxNames: 20, MaxDepth: 3}
	f.Fuzz(func(t *testing.T, expr string) {
		sel, err := limits.Parse(expr, chantierSchema)
		if err != nil {
			var pe *fields.ParseError
			var ue *fields.UnknownFieldError
			switch {
			case errors.As(err, &pe):
				if pe.Offset < 0 || pe.Offset > len(expr) || pe.Reason == "" {
					t.Fatalf("Parse(%q): bad ParseError %+v", expr, pe)
				}
			case errors.As(err, &ue):
				if ue.Offset < 0 || ue.Offset >= len(expr) || expr[ue.Offset:ue.Offset+len(ue.Name)] != ue.Name || len(ue.Allowed) == 0 {
					t.Fatalf("Parse(%q): bad UnknownFieldError %+v", expr, ue)
				}
			default:
				t.Fatalf("Parse(%q): unexpected error type %T", expr, err)
			}
			if p := fields.Problem(err); p.Status != 400 {
				t.Fatalf("Parse(%q): problem status %d", expr, p.Status)
			}
			return
		}
		canonical := sel.String()
		again, err := fields.Parse(canonical, chantierSchema)
		if err != nil {
			t.Fatalf("String() %q of %q does not parse: %v", canonical, expr, err)
		}
		if !again.Equal(sel) || again.String() != canonical {
			t.Fatalf("%q → %q → %q", expr, canonical, again.String())
		}
		if !sel.Has("id") {
			t.Fatalf("%q: id not selected", expr)
		}
		for _, name := range sel.Names() {
			if !sel.Has(name) {
				t.Fatalf("%q: Names has %q but Has does not", expr, name)
			}
		}
		_ = sel.AllColumns()
		_ = sel.Joins()
	})
}

// FuzzProject checks that projection never panics, accepts exactly the valid
// JSON documents and agrees with a naive decode-filter-encode projection.
func FuzzProject(f *testing.F) {
	page, _ := json.Marshal(samplePage(2))
	one, _ := json.Marshal(sampleChantier(1))
	for _, seed := range []struct{ doc, expr string }{
		{string(page), "nom"},
		{string(one), "responsable(entreprise.siret)"},
		{string(one), "taches.titre,url"},
		{`[{"id":1,"nom":"x","statut":"y"},null,3,"s",[{"nom":1}]]`, "nom"},
		{`{"pagination":{},"data":[{"id":1,"responsable":{"id":2,"nom":"n","x":1}}]}`, "responsable.nom"},
		{`{"n\u006fm":"\ud83d\ude00","id":-1.5e-3,"statut":true}`, "nom"},
		{`{"id":1,"id":2,"nom":[],"nom":{}}`, "nom"},
		{`{"data":{"id":1,"nom":2}}`, "statut"},
		{`  {"id" : 1 }  `, "nom"},
		{`{"id":1,}`, "nom"},
	} {
		f.Add([]byte(seed.doc), seed.expr)
	}
	f.Fuzz(func(t *testing.T, doc []byte, expr string) {
		sel, err := fields.Parse(expr, chantierSchema)
		if err != nil || sel.IsAll() {
			return
		}
		out, err := fields.Project([]byte{}, doc, sel)
		valid := json.Valid(doc)
		if (err == nil) != valid {
			t.Fatalf("Project(%q): err %v but json.Valid = %v", doc, err, valid)
		}
		if err != nil {
			if len(out) != 0 {
				t.Fatalf("output left on error: %q", out)
			}
			return
		}
		if !json.Valid(out) {
			t.Fatalf("Project(%q, %q) produced invalid JSON %q", doc, expr, out)
		}
		want := referenceDocument(t, doc, sel)
		got := decodeNumbers(t, out)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("Project(%q, %q)\n got %#v\nwant %#v", doc, expr, got, want)
		}
	})
}

func decodeNumbers(t *testing.T, b []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decode %q: %v", b, err)
	}
	return v
}

// referenceDocument applies the Projector's top-level rules to a decoded
// document: an array is a list, an object with "data" is an envelope.
func referenceDocument(t *testing.T, doc []byte, sel *fields.Selection) any {
	v := decodeNumbers(t, doc)
	if m, ok := v.(map[string]any); ok {
		if _, env := m["data"]; env {
			return referencePage(m, sel)
		}
	}
	return reference(v, sel)
}
