// Package problem writes RFC 9457 "Problem Details for HTTP APIs" responses.
//
// Every reusable package of this module reports client errors through it so
// that an embedding server answers with one consistent error format:
//
//	problem.Write(w, r, problem.New(http.StatusBadRequest, "invalid-cursor", "The cursor is not valid."))
//
// The response has media type application/problem+json and a body such as
//
//	{"type":"https://hubchantier.fr/problems/invalid-cursor","title":"Bad Request",
//	 "status":400,"detail":"The cursor is not valid.","instance":"/api/v1/chantiers"}
package problem

import (
	"encoding/json"
	"errors"
	"net/http"
)

// ContentType is the media type of a problem details document (RFC 9457 §3).
const ContentType = "application/problem+json"

// TypeBase prefixes the short type codes given to New. Embedders may change it
// once at start-up, before serving requests.
var TypeBase = "https://hubchantier.fr/problems/"

// FieldError describes one invalid input member (JSON pointer-like name).
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Details is an RFC 9457 problem details object, with the "errors" extension
// member listing field errors.
type Details struct {
	Type     string       `json:"type"`
	Title    string       `json:"title"`
	Status   int          `json:"status"`
	Detail   string       `json:"detail,omitempty"`
	Instance string       `json:"instance,omitempty"`
	Errors   []FieldError `json:"errors,omitempty"`
	// Extensions are extra members merged into the top-level object
	// (e.g. "allowed" for an unknown field name). Keys must not collide with
	// the standard members.
	Extensions map[string]any `json:"-"`
}

// New returns problem details with the given status, a short type code (the
// last segment of the type URI, e.g. "invalid-cursor") and a human detail.
// The title is the status text.
func New(status int, code, detail string) *Details {
	return &Details{Type: TypeBase + code, Title: http.StatusText(status), Status: status, Detail: detail}
}

// Error implements error so that Details can travel through error returns.
func (d *Details) Error() string {
	if d.Detail != "" {
		return d.Title + ": " + d.Detail
	}
	return d.Title
}

// With adds an extension member and returns d.
func (d *Details) With(key string, value any) *Details {
	if d.Extensions == nil {
		d.Extensions = map[string]any{}
	}
	d.Extensions[key] = value
	return d
}

// MarshalJSON merges extensions into the object.
func (d *Details) MarshalJSON() ([]byte, error) {
	type plain Details
	b, err := json.Marshal((*plain)(d))
	if err != nil || len(d.Extensions) == 0 {
		return b, err
	}
	m := map[string]any{}
	for k, v := range d.Extensions {
		m[k] = v
	}
	var base map[string]any
	if err := json.Unmarshal(b, &base); err != nil {
		return nil, err
	}
	for k, v := range base { // standard members win over extensions
		m[k] = v
	}
	return json.Marshal(m)
}

// As reports whether err is (or wraps) problem details and returns them.
func As(err error) (*Details, bool) {
	var d *Details
	if errors.As(err, &d) {
		return d, true
	}
	return nil, false
}

// Write sends d as the response. The instance member defaults to the request
// path. Headers already set on w (Retry-After, ETag, ...) are kept.
func Write(w http.ResponseWriter, r *http.Request, d *Details) {
	if d.Instance == "" && r != nil && r.URL != nil {
		d.Instance = r.URL.Path
	}
	if d.Title == "" {
		d.Title = http.StatusText(d.Status)
	}
	body, err := json.Marshal(d)
	if err != nil {
		body = []byte(`{"type":"about:blank","title":"Internal Server Error","status":500}`)
		d.Status = http.StatusInternalServerError
	}
	h := w.Header()
	h.Set("Content-Type", ContentType)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Del("Content-Length")
	w.WriteHeader(d.Status)
	_, _ = w.Write(body)
}
