package rest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/pagination"
	"github.com/hubchantier/hubchantier/problem"
)

func TestDecodeStrict(t *testing.T) {
	tests := []struct {
		name, body, code string
	}{
		{"valid", `{"code":"C","nom":"n","adresse":"a"}`, ""},
		{"unknown field", `{"code":"C","bogus":1}`, "unknown-field"},
		{"wrong type", `{"code":12}`, "invalid-type"},
		{"malformed", `{"code":`, "malformed-json"},
		{"syntax", `{"code" "x"}`, "malformed-json"},
		{"empty", ``, "malformed-json"},
		{"array", `[]`, "malformed-json"},
		{"two objects", `{"code":"a"}{"code":"b"}`, "malformed-json"},
		{"trailing garbage", `{"code":"a"} x`, "malformed-json"},
		{"bad date", `{"date_debut":"2026-13-01"}`, "invalid-value"},
		{"null ok", `{"latitude":null}`, ""},
		{"member names are case-sensitive", `{"NOM":"x"}`, "unknown-field"},
		{"duplicate member", `{"nom":"x","nom":"y"}`, "duplicate-field"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var in hubapi.ChantierInput
			err := decodeStrict([]byte(tt.body), &in)
			if tt.code == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			d, ok := problem.As(err)
			if !ok || d.Status != 400 || d.Type != tt.code {
				t.Fatalf("got %v", err)
			}
		})
	}
}

func TestMergePatch(t *testing.T) {
	base := `{"a":1,"b":{"c":2,"d":3},"e":"x"}`
	got, err := mergePatch([]byte(base), []byte(`{"a":null,"b":{"c":null,"f":4},"e":"y","g":[1]}`))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	_ = json.Unmarshal(got, &m)
	want := `{"b":{"d":3,"f":4},"e":"y","g":[1]}`
	w, _ := json.Marshal(mustMap(want))
	g, _ := json.Marshal(m)
	if string(w) != string(g) {
		t.Fatalf("got %s want %s", g, w)
	}
	for _, bad := range []string{`[1]`, `"x"`, `{`, `null`} {
		if _, err := mergePatch([]byte(base), []byte(bad)); err == nil {
			t.Errorf("patch %s accepted", bad)
		}
	}
}

func mustMap(s string) map[string]any {
	var m map[string]any
	_ = json.Unmarshal([]byte(s), &m)
	return m
}

func TestQueryParsing(t *testing.T) {
	parse := func(raw string) (f hubapi.PointageFilter, page, limit int, err error) {
		r := httptest.NewRequest(http.MethodGet, "/x?"+raw, nil)
		q := newQuery(r, params("chantier_id", "statut", "date_from")...)
		f = hubapi.PointageFilter{ChantierID: q.int64("chantier_id", true), Statut: enumParam(q, "statut", hubapi.PointageStatuts), From: q.date("date_from")}
		page, limit = q.page()
		_ = q.get("sort")
		return f, page, limit, q.err()
	}
	f, page, limit, err := parse("chantier_id=3&statut=soumis&date_from=2026-01-02&page=2&limit=10&sort=-date,id")
	if err != nil || f.ChantierID != 3 || f.Statut != "soumis" || f.From.String() != "2026-01-02" || page != 2 || limit != 10 {
		t.Fatalf("%+v %d %d %v", f, page, limit, err)
	}
	// The sort is checked by the list use case against its resource's
	// pagination.Spec (see TestListOverFakeService).
	for _, bad := range []string{
		"limit=0", "limit=101", "limit=abc", "page=0", "page=-1", "chantier_id=0", "chantier_id=x", "chantier_id=1&chantier_id=2",
		"statut=fini", "date_from=2026-02-30", "unknown=1", "sort=a&sort=b",
	} {
		if _, _, _, err := parse(bad); err == nil {
			t.Errorf("%s accepted", bad)
		} else if d, ok := problem.As(err); !ok || d.Status != 400 {
			t.Errorf("%s: %v", bad, err)
		}
	}
}

func FuzzDecodeStrict(f *testing.F) {
	for _, s := range []string{`{"code":"C","nom":"n","adresse":"a"}`, `{"latitude":1e400}`, `{"date_debut":"2026-01-01"}`, `[`, `{"responsable_id":-1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var in hubapi.ChantierInput
		err := decodeStrict(b, &in)
		if err != nil {
			if d, ok := problem.As(err); !ok || d.Status != 400 {
				t.Fatalf("non-400 error %v", err)
			}
			return
		}
		in.Normalize()
		_ = in.Validate()
	})
}

func FuzzMergePatch(f *testing.F) {
	f.Add([]byte(`{"nom":"x","latitude":null}`))
	f.Add([]byte(`{"a":{"b":null}}`))
	f.Fuzz(func(t *testing.T, patch []byte) {
		base, _ := json.Marshal(hubapi.ChantierInput{Code: "C", Nom: "n", Adresse: "a"})
		out, err := mergePatch(base, patch)
		if err != nil {
			if d, ok := problem.As(err); !ok || d.Status != 400 {
				t.Fatalf("non-400 error %v", err)
			}
			return
		}
		var in hubapi.ChantierInput
		if err := decodeStrict(out, &in); err != nil {
			if d, ok := problem.As(err); !ok || d.Status != 400 {
				t.Fatalf("non-400 error %v", err)
			}
		}
	})
}

func FuzzQuery(f *testing.F) {
	f.Add("chantier_id=3&statut=soumis&page=2&limit=10&sort=-date,id")
	f.Add("limit=%ff&sort=,,-")
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		r := httptest.NewRequest(http.MethodGet, "/x", nil)
		r.URL.RawQuery = v.Encode()
		q := newQuery(r, params("chantier_id", "statut", "date_from", "date_to")...)
		_ = q.int64("chantier_id", true)
		_ = enumParam(q, "statut", hubapi.PointageStatuts)
		_, _ = q.date("date_from"), q.date("date_to")
		page, limit := q.page()
		_ = q.get("sort")
		if err := q.err(); err != nil {
			if d, ok := problem.As(err); !ok || d.Status != 400 {
				t.Fatalf("non-400 error %v", err)
			}
			return
		}
		if limit < 1 || limit > pagination.MaxLimit || page < 1 || page > maxPage {
			t.Fatalf("out of range accepted: page %d limit %d", page, limit)
		}
	})
}

var listParamNames = []string{"page", "limit", "sort"}

func params(names ...string) []string { return append(names, listParamNames...) }
