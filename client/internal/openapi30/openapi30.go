// Package openapi30 rewrites an OpenAPI 3.1 document as OpenAPI 3.0.3, for
// code generators that read 3.0 only or read 3.1 schemas imperfectly
// (oapi-codegen turns `"enum": [..., null]` into a bogus constant and only
// knows nullability from `nullable: true`).
//
// The rewrite is schema-aware and narrow: it handles the 3.1 constructs the
// Hub Chantier documents use and refuses the others, so a document that
// starts using a new construct fails generation instead of producing a
// silently wrong client:
//
//   - `"type": [T, "null"]` becomes `"type": T, "nullable": true`; a type
//     array naming every kind of JSON value drops `type` (any value), one
//     naming some becomes `anyOf` of one schema per type;
//   - `null` is removed from `enum` (the schema is already nullable);
//   - `"const": v` becomes `"enum": [v]`;
//   - a schema's `examples` array becomes `example` (its first element);
//   - `contentMediaType` is dropped (3.0 says `format: binary`);
//   - numeric `exclusiveMinimum`/`exclusiveMaximum` become the 3.0 pair;
//   - `info.summary`, `info.license.identifier`, `jsonSchemaDialect` and
//     `webhooks` are dropped.
package openapi30

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// unsupported lists 3.1 (JSON Schema 2020-12) keywords with no 3.0
// equivalent: Convert refuses a schema using one.
var unsupported = []string{"$defs", "$schema", "$dynamicRef", "$anchor", "prefixItems", "if", "then", "else",
	"dependentRequired", "dependentSchemas", "unevaluatedProperties", "unevaluatedItems", "patternProperties",
	"propertyNames", "contains", "minContains", "maxContains", "contentEncoding", "contentSchema"}

// Convert returns the 3.0.3 form of an OpenAPI 3.1 JSON document, indented
// with two spaces and members in sorted order (stable across runs).
func Convert(doc []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var root map[string]any
	if err := dec.Decode(&root); err != nil {
		return nil, fmt.Errorf("openapi30: %w", err)
	}
	v, _ := root["openapi"].(string)
	if !strings.HasPrefix(v, "3.1.") {
		return nil, fmt.Errorf("openapi30: document is OpenAPI %q, want 3.1.x", v)
	}
	root["openapi"] = "3.0.3"
	delete(root, "jsonSchemaDialect")
	delete(root, "webhooks")
	if info, ok := root["info"].(map[string]any); ok {
		delete(info, "summary")
		if lic, ok := info["license"].(map[string]any); ok {
			delete(lic, "identifier")
		}
	}
	c := converter{}
	c.document(root)
	if len(c.errs) > 0 {
		return nil, fmt.Errorf("openapi30: %s", strings.Join(c.errs, "; "))
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(root); err != nil {
		return nil, fmt.Errorf("openapi30: %w", err)
	}
	return out.Bytes(), nil
}

type converter struct{ errs []string }

func (c *converter) fail(path, format string, args ...any) {
	c.errs = append(c.errs, path+": "+fmt.Sprintf(format, args...))
}

// document walks every object of the document that is not literal data and
// converts each schema it meets.
func (c *converter) document(root map[string]any) {
	c.walk(root, "#")
}

// walk visits a non-schema object (paths, operations, responses, ...):
// members named "schema" are schemas, "schemas" maps names to schemas,
// literal data (example, examples[*].value, default) is left alone.
func (c *converter) walk(node any, path string) {
	switch n := node.(type) {
	case map[string]any:
		for k, v := range n {
			p := path + "/" + k
			switch k {
			case "schema":
				c.schema(v, p)
			case "schemas":
				if m, ok := v.(map[string]any); ok {
					for name, s := range m {
						c.schema(s, p+"/"+name)
					}
				}
			case "example", "value", "default":
				// literal data
			default:
				c.walk(v, p)
			}
		}
	case []any:
		for i, v := range n {
			c.walk(v, fmt.Sprintf("%s/%d", path, i))
		}
	}
}

// schema converts one schema object and the schemas inside it.
func (c *converter) schema(node any, path string) {
	s, ok := node.(map[string]any)
	if !ok {
		return
	}
	for _, k := range unsupported {
		if _, ok := s[k]; ok {
			c.fail(path, "keyword %q has no OpenAPI 3.0 equivalent", k)
		}
	}
	nullable := false
	if types, ok := s["type"].([]any); ok {
		var rest []string
		for _, t := range types {
			ts, _ := t.(string)
			if ts == "null" {
				nullable = true
				continue
			}
			rest = append(rest, ts)
		}
		switch {
		case len(rest) == 1:
			s["type"] = rest[0]
		case anyJSON(rest):
			// Every kind of JSON value: 3.0 says so by omitting type.
			delete(s, "type")
		case len(rest) > 1 && s["anyOf"] == nil:
			alts := make([]any, len(rest))
			for i, t := range rest {
				alts[i] = map[string]any{"type": t}
			}
			delete(s, "type")
			s["anyOf"] = alts
		default:
			c.fail(path, "type %v has no OpenAPI 3.0 equivalent here", types)
		}
		if nullable {
			s["nullable"] = true
		}
	} else if t, ok := s["type"].(string); ok && t == "null" {
		c.fail(path, `"type": "null" has no OpenAPI 3.0 equivalent`)
	}
	if enum, ok := s["enum"].([]any); ok {
		kept := enum[:0:0]
		for _, e := range enum {
			if e == nil {
				if !nullable {
					c.fail(path, "null in enum of a schema that is not nullable")
				}
				continue
			}
			kept = append(kept, e)
		}
		s["enum"] = kept
	}
	if v, ok := s["const"]; ok {
		s["enum"] = []any{v}
		delete(s, "const")
	}
	if ex, ok := s["examples"].([]any); ok {
		if len(ex) > 0 {
			s["example"] = ex[0]
		}
		delete(s, "examples")
	}
	delete(s, "contentMediaType")
	for _, bound := range []string{"Minimum", "Maximum"} {
		key := "exclusive" + bound
		if n, ok := s[key].(json.Number); ok {
			s[strings.ToLower(bound)] = n
			s[key] = true
		}
	}
	for _, k := range []string{"items", "additionalProperties", "not"} {
		if sub, ok := s[k].(map[string]any); ok {
			c.schema(sub, path+"/"+k)
		}
	}
	for _, k := range []string{"allOf", "anyOf", "oneOf"} {
		if subs, ok := s[k].([]any); ok {
			for i, sub := range subs {
				c.schema(sub, fmt.Sprintf("%s/%s/%d", path, k, i))
			}
		}
	}
	if props, ok := s["properties"].(map[string]any); ok {
		for name, sub := range props {
			c.schema(sub, path+"/properties/"+name)
		}
	}
}

// anyJSON reports whether types admit every JSON value (null aside).
func anyJSON(types []string) bool {
	has := map[string]bool{}
	for _, t := range types {
		has[t] = true
	}
	return has["object"] && has["array"] && has["string"] && has["boolean"] && has["number"]
}
