package problem

import (
	"encoding/json"
	"errors"
	"net/http"
)

// ContentType is the media type of a problem details document (RFC 9457 §3).
const ContentType = "application/problem+json"

// FieldError describes one invalid input member (JSON pointer-like name).
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Details is an RFC 9457 problem details object, with the "errors" extension
// member listing field errors.
type Details struct {
	// Type is a short type code ("invalid-cursor"), resolved against the
	// type base when written (see the package documentation), or a URI
	// reference written as is.
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
	return &Details{Type: code, Title: http.StatusText(status), Status: status, Detail: detail}
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

// MarshalJSON merges extensions into the object. The type is marshalled as
// it is in d, unresolved: Write resolves it.
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

// Write sends d as the response, with its type resolved against the type
// base of r's context (see [WithTypeBase]; r may be nil, then
// [DefaultTypeBase] applies). The instance member defaults to the request
// path. Headers already set on w (Retry-After, ETag, ...) are kept. d itself
// is not modified, so one Details may be written by concurrent requests.
func Write(w http.ResponseWriter, r *http.Request, d *Details) {
	out := *d
	base := DefaultTypeBase
	if r != nil {
		base = TypeBaseFrom(r.Context())
		if out.Instance == "" && r.URL != nil {
			out.Instance = r.URL.Path
		}
	}
	out.Type = resolve(base, out.Type)
	if out.Title == "" {
		out.Title = http.StatusText(out.Status)
	}
	body, err := json.Marshal(&out)
	if err != nil {
		body = []byte(`{"type":"about:blank","title":"Internal Server Error","status":500}`)
		out.Status = http.StatusInternalServerError
	}
	h := w.Header()
	h.Set("Content-Type", ContentType)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Del("Content-Length")
	w.WriteHeader(out.Status)
	_, _ = w.Write(body)
}
