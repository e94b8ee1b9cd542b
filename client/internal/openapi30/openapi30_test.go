package openapi30_test

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/hubchantier/hubchantier/client/internal/openapi30"
)

// TestGeneratedCopyIsCurrent fails when the 3.0.3 copy the client types
// are generated from differs from the conversion of the API's document:
// run `go generate ./client/...`.
func TestGeneratedCopyIsCurrent(t *testing.T) {
	for src, dst := range map[string]string{
		"../../../hubapi/rest/openapi/openapi.json":    "../../apiv1/openapi30.json",
		"../../../hubapi/rest/openapi/openapi-v2.json": "../../apiv2/openapi30.json",
	} {
		doc, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		want, err := openapi30.Convert(doc)
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(dst)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is not the conversion of %s: run go generate ./client/...", dst, src)
		}
	}
}

func convert(t *testing.T, doc string) map[string]any {
	t.Helper()
	out, err := openapi30.Convert([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestConvert(t *testing.T) {
	m := convert(t, `{
	  "openapi": "3.1.0",
	  "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
	  "info": {"title": "t", "version": "1", "summary": "s", "license": {"name": "MIT", "identifier": "MIT"}},
	  "paths": {"/a": {"get": {"parameters": [{"name": "q", "in": "query", "schema": {"type": ["integer", "null"]}}],
	    "responses": {"200": {"description": "ok", "headers": {"X": {"schema": {"type": "string", "const": "bytes"}}},
	      "content": {"application/json": {"schema": {"$ref": "#/components/schemas/S"},
	        "examples": {"e": {"value": {"type": ["kept", "null"], "const": 1}}}}}}}}}},
	  "components": {"schemas": {"S": {"type": "object", "properties": {
	    "type": {"type": ["string", "null"], "enum": ["a", null], "examples": ["a"]},
	    "n": {"type": "number", "exclusiveMinimum": 0},
	    "o": {"type": ["object", "null"], "properties": {"d": {"type": ["string", "null"], "format": "date"}}},
	    "l": {"type": "array", "items": {"anyOf": [{"type": ["integer", "null"]}]}},
	    "f": {"type": "string", "format": "binary", "contentMediaType": "application/octet-stream"},
	    "any": {"type": ["object", "array", "string", "number", "boolean", "null"], "description": "d"},
	    "some": {"type": ["string", "integer"]}
	  }}}}
	}`)
	get := func(path ...string) any {
		var v any = m
		for _, p := range path {
			v = v.(map[string]any)[p]
		}
		return v
	}
	check := func(got, want any, what string) {
		t.Helper()
		gb, _ := json.Marshal(got)
		wb, _ := json.Marshal(want)
		if !bytes.Equal(gb, wb) {
			t.Errorf("%s = %s, want %s", what, gb, wb)
		}
	}
	props := []string{"components", "schemas", "S", "properties"}
	check(get("openapi"), "3.0.3", "openapi")
	check(m["jsonSchemaDialect"], nil, "jsonSchemaDialect")
	check(get("info"), map[string]any{"title": "t", "version": "1", "license": map[string]any{"name": "MIT"}}, "info")
	check(get(append(props, "type")...), map[string]any{"type": "string", "nullable": true, "enum": []any{"a"}, "example": "a"}, "nullable enum")
	check(get(append(props, "n")...), map[string]any{"type": "number", "minimum": 0, "exclusiveMinimum": true}, "exclusiveMinimum")
	check(get(append(props, "o", "nullable")...), true, "nullable object")
	check(get(append(props, "o", "properties", "d")...), map[string]any{"type": "string", "format": "date", "nullable": true}, "nested")
	check(get(append(props, "l", "items", "anyOf")...), []any{map[string]any{"type": "integer", "nullable": true}}, "anyOf")
	check(get(append(props, "f")...), map[string]any{"type": "string", "format": "binary"}, "contentMediaType")
	check(get(append(props, "any")...), map[string]any{"description": "d", "nullable": true}, "any JSON value")
	check(get(append(props, "some")...), map[string]any{"anyOf": []any{map[string]any{"type": "string"}, map[string]any{"type": "integer"}}}, "some types")
	resp := []string{"paths", "/a", "get", "responses", "200"}
	check(get(append(resp, "headers", "X", "schema")...), map[string]any{"type": "string", "enum": []any{"bytes"}}, "const")
	check(get(append(resp, "content", "application/json", "examples", "e", "value")...),
		map[string]any{"type": []any{"kept", "null"}, "const": 1}, "example data left alone")
	params := get("paths", "/a", "get", "parameters").([]any)
	check(params[0].(map[string]any)["schema"], map[string]any{"type": "integer", "nullable": true}, "parameter schema")
}

func TestConvertRefuses(t *testing.T) {
	for name, doc := range map[string]string{
		"not JSON":               `{`,
		"3.0 input":              `{"openapi": "3.0.3"}`,
		"types beside anyOf":     `{"openapi": "3.1.0", "components": {"schemas": {"S": {"type": ["string", "integer"], "anyOf": []}}}}`,
		"only null":              `{"openapi": "3.1.0", "components": {"schemas": {"S": {"type": ["null"]}}}}`,
		"type null":              `{"openapi": "3.1.0", "components": {"schemas": {"S": {"type": "null"}}}}`,
		"prefixItems":            `{"openapi": "3.1.0", "components": {"schemas": {"S": {"type": "array", "prefixItems": []}}}}`,
		"null enum not nullable": `{"openapi": "3.1.0", "components": {"schemas": {"S": {"type": "string", "enum": ["a", null]}}}}`,
		"deep unsupported":       `{"openapi": "3.1.0", "paths": {"/a": {"get": {"responses": {"200": {"description": "d", "content": {"application/json": {"schema": {"properties": {"p": {"patternProperties": {}}}}}}}}}}}}`,
	} {
		if _, err := openapi30.Convert([]byte(doc)); err == nil || !strings.HasPrefix(err.Error(), "openapi30:") {
			t.Errorf("%s: error = %v, want a refusal", name, err)
		}
	}
}
