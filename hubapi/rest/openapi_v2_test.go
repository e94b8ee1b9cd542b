package rest

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

var updateV2 = flag.Bool("update", false, "regenerate openapi/openapi-v2.json from the v1 document and the v2 names")

// TestOpenAPIV2IsGenerated checks that the embedded v2 document is what
// the v1 document gives once renamed with V2Names (and V2UserNames) and
// without offset pages, so the two documents cannot drift apart. After a
// change of the v1 document or of the names:
//
//	go test ./hubapi/rest -run TestOpenAPIV2IsGenerated -update
func TestOpenAPIV2IsGenerated(t *testing.T) {
	got, err := generateV2Document(OpenAPIDocument())
	if err != nil {
		t.Fatal(err)
	}
	const file = "openapi/openapi-v2.json"
	if *updateV2 {
		if err := os.WriteFile(file, got, 0o600); err != nil {
			t.Fatal(err)
		}
		return
	}
	if !bytes.Equal(got, OpenAPIDocumentV2()) {
		t.Fatalf("%s is not the document generated from the v1 document: go test ./hubapi/rest -run %s -update", file, t.Name())
	}
	// No v1 member name is left in a schema of v2.
	var doc map[string]any
	if err := json.Unmarshal(got, &doc); err != nil {
		t.Fatal(err)
	}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch x := v.(type) {
		case map[string]any:
			if props, ok := x["properties"].(map[string]any); ok && !strings.Contains(path, "chantiersByStatus") && !strings.Contains(path, "BySeverity") {
				for name := range props {
					if _, renamed := V2Names[name]; renamed {
						t.Errorf("%s: v1 member %q left in v2", path, name)
					}
				}
			}
			for k, e := range x {
				walk(path+"/"+k, e)
			}
		case []any:
			for _, e := range x {
				walk(path, e)
			}
		}
	}
	walk("", doc)
}

// userSchemas are the v1 schemas of users: their nom and prenom are
// lastName and firstName in v2.
var userSchemas = map[string]bool{"CurrentUser": true, "CurrentUserSelection": true, "ExportProfile": true, "UserPatch": true}

var backtickRe = regexp.MustCompile("`[^`]+`")

// v2Text renames the v1 names quoted in a description (`nom`, sort
// expressions, field selections).
func v2Text(s string) string {
	s = strings.NewReplacer(
		"responsable(nom,prenom)", "manager(lastName,firstName)",
		"responsable(nom)", "manager(lastName)",
		"responsable.nom", "manager.lastName",
		"offset pagination", "cursor pagination",
		" Not combinable with `page`.", " Without it, the first page.",
		"`/api/v1`", "`/api/v2`",
	).Replace(s)
	return backtickRe.ReplaceAllStringFunc(s, func(q string) string {
		return nameRe.ReplaceAllStringFunc(q, v2Name)
	})
}

// generateV2Document derives the v2 document from the v1 document.
func generateV2Document(v1 []byte) ([]byte, error) {
	var doc map[string]any
	if err := json.Unmarshal(v1, &doc); err != nil {
		return nil, err
	}
	info := doc["info"].(map[string]any)
	info["title"] = "Hub Chantier API v2"
	info["version"] = "2.0.0"
	desc := info["description"].(string)
	desc = strings.Replace(desc, "The public REST API of Hub Chantier, version 1:", "The public REST API of Hub Chantier, version 2:", 1)
	// v1's deprecation notice, and its operations' deprecated flags, are v1's.
	desc = regexp.MustCompile(`(?s)\n\n\*\*Version 1 is deprecated\*\*.*?\n\n`).ReplaceAllString(desc, "\n\n")
	desc = regexp.MustCompile(`(?s)## Lists\n.*?\n\n## `).ReplaceAllString(desc,
		"## Lists\nLists accept filters, `sort` (a per-resource whitelist, `-` for descending), `limit` (1 to 100, default 20) "+
			"and keyset pagination only: they answer `{\"data\": [...], \"pagination\": {\"nextCursor\", \"prevCursor\", \"hasMore\"}}`; "+
			"pass `cursor` (from `nextCursor` or `prevCursor`) for the next or previous page, also given in the `Link` header. "+
			"There are no offset pages (`page`) in v2. `fields` (on lists, single resources and `/users/me`) returns only the members "+
			"named, e.g. `fields=id,name,manager(lastName,firstName)`.\n\n## ")
	desc = strings.Replace(desc, "JSON members are French snake_case.",
		"JSON members, query parameters and form parts are English camelCase (v1 used French snake_case: see the migration guide, "+
			"/docs/migration-v1-v2). Enumerated values (states, categories, severities, roles, scopes) are the same as in v1.", 1)
	info["description"] = v2Text(desc)
	doc["servers"] = []any{map[string]any{"url": "/api/v2", "description": "This server"}}

	// The audit trail is read in v1 only (an administration route); so
	// are connectors (/integrations, v1 only for now).
	delete(doc["paths"].(map[string]any), "/admin/audit-logs")
	for path := range doc["paths"].(map[string]any) {
		if strings.HasPrefix(path, "/integrations/") {
			delete(doc["paths"].(map[string]any), path)
		}
	}
	comps := doc["components"].(map[string]any)
	for name := range comps["schemas"].(map[string]any) {
		if strings.HasPrefix(name, "AuditEvent") || strings.HasPrefix(name, "Connector") {
			delete(comps["schemas"].(map[string]any), name)
		}
	}
	if tags, ok := doc["tags"].([]any); ok {
		doc["tags"] = slices.DeleteFunc(tags, func(t any) bool { m, _ := t.(map[string]any); return m["name"] == "Integrations" })
	}
	delete(comps["parameters"].(map[string]any), "Page")
	schemas := comps["schemas"].(map[string]any)
	delete(schemas, "OffsetPagination")
	schemas["Pagination"] = map[string]any{"$ref": "#/components/schemas/CursorPagination"}
	for name, s := range schemas {
		schemas[name] = v2Schema(s, userSchemas[name])
	}
	for name, p := range comps["parameters"].(map[string]any) {
		comps["parameters"].(map[string]any)[name] = v2Value(p)
	}
	if h, ok := comps["headers"].(map[string]any); ok {
		for name, v := range h {
			h[name] = v2Value(v)
		}
	}
	if r, ok := comps["responses"].(map[string]any); ok {
		for name, v := range r {
			r[name] = v2Value(v)
		}
	}
	paths := doc["paths"].(map[string]any)
	for p, item := range paths {
		for _, op := range item.(map[string]any) {
			if m, ok := op.(map[string]any); ok {
				delete(m, "deprecated")
				delete(m, "x-deprecated-reason")
			}
		}
		paths[p] = v2Value(item)
	}
	// The shared fields example names chantier members: /users/me gets
	// its own, which Swagger UI fills in when the operation is tried.
	me := paths["/users/me"].(map[string]any)["get"].(map[string]any)
	for i, p := range me["parameters"].([]any) {
		if m, ok := p.(map[string]any); ok && m["$ref"] == "#/components/parameters/Fields" {
			var own map[string]any
			b, _ := json.Marshal(comps["parameters"].(map[string]any)["Fields"])
			_ = json.Unmarshal(b, &own)
			own["examples"] = map[string]any{"summary": map[string]any{"value": "id,lastName,firstName,scopes"}}
			me["parameters"].([]any)[i] = own
		}
	}
	var b bytes.Buffer
	e := json.NewEncoder(&b)
	e.SetEscapeHTML(false)
	e.SetIndent("", "  ")
	if err := e.Encode(doc); err != nil {
		return nil, err
	}
	// Location patterns, links and examples name v2's own paths.
	return bytes.ReplaceAll(b.Bytes(), []byte("/api/v1/"), []byte("/api/v2/")), nil
}

// v2Schema renames the members of a schema (properties, required,
// examples), recursively; user selects the names of users.
func v2Schema(v any, user bool) any {
	s, ok := v.(map[string]any)
	if !ok {
		if l, ok := v.([]any); ok {
			for i := range l {
				l[i] = v2Schema(l[i], user)
			}
		}
		return v
	}
	name := func(n string) string {
		if u, ok := V2UserNames[n]; ok && user {
			return u
		}
		if a, ok := V2AuthorizationNames[n]; ok {
			return a
		}
		return v2Name(n)
	}
	for k, e := range s {
		switch k {
		case "properties":
			props := e.(map[string]any)
			out := make(map[string]any, len(props))
			for pn, ps := range props {
				if strings.HasSuffix(pn, "_par_statut") || strings.HasSuffix(pn, "_par_gravite") {
					out[name(pn)] = ps // keyed by enumerated values
					continue
				}
				out[name(pn)] = v2Schema(ps, user || pn == "responsable")
			}
			s[k] = out
		case "required":
			l := e.([]any)
			for i := range l {
				l[i] = name(l[i].(string))
			}
		case "description", "title":
			if str, ok := e.(string); ok {
				s[k] = v2Text(str)
			}
		case "pattern": // sort expressions name members
			if str, ok := e.(string); ok {
				s[k] = v2Expression(str)
			}
		case "example", "examples", "default", "const", "enum":
			if k == "example" || k == "examples" {
				s[k] = v2Example(e, user)
			}
		default:
			s[k] = v2Schema(e, user)
		}
	}
	return s
}

// v2Example renames the members of an example value.
func v2Example(v any, user bool) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		if _, ok := x["prenom"]; ok { // a user: nom is the last name
			user = true
		}
		for k, e := range x {
			n := v2Name(k)
			if u, ok := V2UserNames[k]; ok && user {
				n = u
			}
			if a, ok := V2AuthorizationNames[k]; ok {
				n = a
			}
			switch k {
			case "pagination": // keyset only
				out[n] = map[string]any{"nextCursor": nil, "prevCursor": nil, "hasMore": false}
				if m, ok := e.(map[string]any); ok {
					if c, ok := m["next_cursor"]; ok {
						out[n].(map[string]any)["nextCursor"] = c
					}
					if h, ok := m["has_more"]; ok {
						out[n].(map[string]any)["hasMore"] = h
					}
				}
			case "path": // a batch operation's, with a field selection
				if str, ok := e.(string); ok {
					p, sel, found := strings.Cut(str, "?fields=")
					if found {
						str = p + "?fields=" + v2Expression(sel)
					}
					out[n] = str
					continue
				}
				out[n] = e
			case "field": // a problem's field error
				if str, ok := e.(string); ok {
					out[n] = v2Name(str)
					continue
				}
				out[n] = e
			case "allowed_parameters":
				var names []any
				for _, p := range e.([]any) {
					if p != "page" {
						names = append(names, v2Name(p.(string)))
					}
				}
				sort.Slice(names, func(i, j int) bool { return names[i].(string) < names[j].(string) })
				out[n] = names
			default:
				out[n] = v2Example(e, user || k == "responsable")
			}
		}
		return out
	case []any:
		for i := range x {
			x[i] = v2Example(x[i], user)
		}
	}
	return v
}

// v2Value renames what a path item, parameter, header or response holds:
// query parameter names, schemas, examples and descriptions; the legacy
// page parameter goes.
func v2Value(v any) any {
	switch x := v.(type) {
	case map[string]any:
		if x["in"] == "query" {
			if n, ok := x["name"].(string); ok {
				x["name"] = v2Name(n)
			}
			// sort and fields examples are expressions of member names
			if ex, ok := x["examples"].(map[string]any); ok {
				for _, e := range ex {
					if m, ok := e.(map[string]any); ok {
						if str, ok := m["value"].(string); ok {
							m["value"] = v2Expression(str)
						}
					}
				}
			}
			if str, ok := x["example"].(string); ok {
				x["example"] = v2Expression(str)
			}
		}
		for k, e := range x {
			switch k {
			case "schema":
				x[k] = v2Schema(e, false)
			case "example", "examples":
				x[k] = v2Example(e, false)
			case "description", "summary":
				if str, ok := e.(string); ok {
					x[k] = v2Text(str)
				}
			case "parameters":
				keep := []any{}
				for _, p := range e.([]any) {
					if m, ok := p.(map[string]any); ok && m["$ref"] == "#/components/parameters/Page" {
						continue
					}
					keep = append(keep, v2Value(p))
				}
				x[k] = keep
			default:
				x[k] = v2Value(e)
			}
		}
	case []any:
		for i := range x {
			x[i] = v2Value(x[i])
		}
	}
	return v
}

// Every operation of the v1 document is marked deprecated (v1 is, as its
// responses' Deprecation header says), and none of v2's.
func TestV1OperationsAreDeprecated(t *testing.T) {
	for _, tc := range []struct {
		name string
		doc  []byte
		want bool
	}{{"v1", OpenAPIDocument(), true}, {"v2", OpenAPIDocumentV2(), false}} {
		var doc struct {
			Paths map[string]map[string]json.RawMessage `json:"paths"`
		}
		if err := json.Unmarshal(tc.doc, &doc); err != nil {
			t.Fatal(err)
		}
		n := 0
		for p, item := range doc.Paths {
			for method, raw := range item {
				var op struct {
					Deprecated bool `json:"deprecated"`
				}
				if err := json.Unmarshal(raw, &op); err != nil {
					continue // path-level parameters
				}
				n++
				if op.Deprecated != tc.want {
					t.Errorf("%s: %s %s deprecated = %t", tc.name, method, p, op.Deprecated)
				}
			}
		}
		if n < 40 {
			t.Fatalf("%s: only %d operations", tc.name, n)
		}
	}
}
