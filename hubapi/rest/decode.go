package rest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/hubchantier/hubchantier/internal/jsonmembers"
	"github.com/hubchantier/hubchantier/problem"
)

// maxBody caps JSON request bodies.
const maxBody = 1 << 20

// readBody reads a JSON body of at most maxBody bytes.
func readBody(w http.ResponseWriter, r *http.Request, mediaTypes ...string) ([]byte, error) {
	if len(mediaTypes) == 0 {
		mediaTypes = []string{"application/json"}
	}
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || !contains(mediaTypes, mt) {
		return nil, problem.New(http.StatusUnsupportedMediaType, "unsupported-media-type",
			"Content-Type must be "+strings.Join(mediaTypes, " or ")+".")
	}
	tooLarge := problem.New(http.StatusRequestEntityTooLarge, "body-too-large", fmt.Sprintf("The body exceeds %d bytes.", maxBody))
	if r.ContentLength > maxBody {
		return nil, tooLarge
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, tooLarge
		}
		return nil, badRequest("unreadable-body", "The request body could not be read.")
	}
	// JSON text is UTF-8 (RFC 8259 §8.1); encoding/json would silently
	// replace invalid bytes with U+FFFD and store an altered value.
	if !utf8.Valid(body) {
		return nil, badRequest("malformed-json", "The body is not valid UTF-8.")
	}
	return body, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// decodeStrict decodes exactly one JSON object into dst, rejecting unknown
// fields, wrong types and trailing data with a 400 problem naming the field.
func decodeStrict(body []byte, dst any) error {
	// encoding/json matches member names case-insensitively and keeps the
	// last of duplicate members; a strict API does neither.
	if err := checkMembers(body, dst); err != nil {
		return err
	}
	if err := checkNUL(body); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return jsonProblem(err)
	}
	if dec.More() {
		return badRequest("malformed-json", "The body must contain a single JSON object.")
	}
	if _, err := dec.Token(); err != io.EOF {
		return badRequest("malformed-json", "The body must contain a single JSON object.")
	}
	return nil
}

// checkNUL rejects a body holding NUL (\u0000) in any string, member
// names included, with a 422 naming the top-level member: no text of the
// domain holds NUL, and PostgreSQL cannot store it. Raw control bytes are
// already JSON syntax errors, so NUL can only come escaped.
func checkNUL(body []byte) error {
	if !bytes.Contains(body, []byte(`\u0000`)) {
		return nil
	}
	var doc map[string]any
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil // not an object: the decoder reports it
	}
	names := make([]string, 0, len(doc))
	for k := range doc {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if strings.ContainsRune(k, 0) || holdsNUL(doc[k]) {
			field := sanitize(strings.ReplaceAll(k, "\x00", `\u0000`))
			d := problem.New(http.StatusUnprocessableEntity, "validation-error", "The request body has invalid fields.")
			d.Errors = []problem.FieldError{{Field: field, Message: "must not contain NUL (U+0000)"}}
			return d
		}
	}
	return nil
}

func holdsNUL(v any) bool {
	switch v := v.(type) {
	case string:
		return strings.ContainsRune(v, 0)
	case []any:
		for _, x := range v {
			if holdsNUL(x) {
				return true
			}
		}
	case map[string]any:
		for k, x := range v {
			if strings.ContainsRune(k, 0) || holdsNUL(x) {
				return true
			}
		}
	}
	return false
}

func jsonProblem(err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return badRequest("malformed-json", fmt.Sprintf("Malformed JSON at byte %d.", se.Offset))
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			return badRequest("malformed-json", "The body must be a JSON object.")
		}
		d := badRequest("invalid-type", fmt.Sprintf("Field %q must be of type %s.", field, jsonType(te.Type.Kind().String())))
		d.Errors = []problem.FieldError{{Field: field, Message: "must be " + jsonType(te.Type.Kind().String())}}
		return d
	case errors.Is(err, io.EOF):
		return badRequest("malformed-json", "The request body is empty.")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("malformed-json", "The JSON body is truncated.")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		d := badRequest("unknown-field", fmt.Sprintf("Unknown field %q.", name))
		d.Errors = []problem.FieldError{{Field: name, Message: "unknown field"}}
		return d
	default:
		// errors from custom UnmarshalJSON (dates, ...)
		return badRequest("invalid-value", "Invalid value: "+sanitize(err.Error()))
	}
}

func jsonType(kind string) string {
	switch kind {
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "integer"
	case "float32", "float64":
		return "number"
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "slice", "array":
		return "array"
	case "struct", "map", "ptr":
		return "object"
	}
	return kind
}

// sanitize bounds a message echoed to the client.
func sanitize(s string) string {
	s = strings.ToValidUTF8(s, "?")
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}

// mergePatch applies an RFC 7396 JSON merge patch to doc.
func mergePatch(doc, patch []byte) ([]byte, error) {
	var p any
	if err := json.Unmarshal(patch, &p); err != nil {
		return nil, jsonProblem(err)
	}
	pm, ok := p.(map[string]any)
	if !ok {
		return nil, badRequest("malformed-json", "A merge patch must be a JSON object.")
	}
	var d map[string]any
	if err := json.Unmarshal(doc, &d); err != nil {
		return nil, err
	}
	return json.Marshal(mergeObject(d, pm))
}

func mergeObject(target, patch map[string]any) map[string]any {
	if target == nil {
		target = map[string]any{}
	}
	for k, v := range patch {
		if v == nil {
			delete(target, k)
			continue
		}
		if pv, ok := v.(map[string]any); ok {
			tv, _ := target[k].(map[string]any)
			target[k] = mergeObject(tv, pv)
			continue
		}
		target[k] = v
	}
	return target
}

// checkMembers rejects top-level members whose name is not exactly a JSON
// field name of dst (a struct pointer), and duplicate members. Malformed
// JSON is left to the decoder, which reports it precisely.
func checkMembers(body []byte, dst any) error {
	names := jsonNames(reflect.TypeOf(dst))
	if names == nil {
		return nil
	}
	bad := jsonmembers.Check(body, names, nil)
	switch {
	case bad == nil:
		return nil
	case bad.Duplicate:
		d := badRequest("duplicate-field", fmt.Sprintf("Field %q appears more than once.", bad.Name))
		d.Errors = []problem.FieldError{{Field: bad.Name, Message: "duplicate member"}}
		return d
	default:
		d := badRequest("unknown-field", fmt.Sprintf("Unknown field %q (member names are case-sensitive).", sanitize(bad.Name)))
		d.Errors = []problem.FieldError{{Field: sanitize(bad.Name), Message: "unknown field"}}
		return d
	}
}

// jsonNames returns the exact member names a struct type decodes, or nil
// for non-struct types.
func jsonNames(t reflect.Type) map[string]bool { return jsonmembers.Names(t) }
