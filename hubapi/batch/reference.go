package batch

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"

	"github.com/hubchantier/hubchantier/problem"
)

// Result is the outcome of one operation.
type Result struct {
	ID      string            `json:"id"`
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers"`
	// Body is the operation's JSON response (null when it had none).
	Body json.RawMessage `json:"body"`
	// BodyEncoding is "base64" when Body is a string holding a response
	// that was not JSON.
	BodyEncoding string `json:"body_encoding,omitempty"`
}

// ok reports a successful operation (2xx or 304).
func (r *Result) ok() bool {
	return r != nil && (r.Status/100 == 2 || r.Status == 304)
}

// lookup returns the JSON value a reference names in a result.
func (r ref) lookup(res *Result) (json.RawMessage, error) {
	switch r.part {
	case "status":
		return json.RawMessage(strconv.Itoa(res.Status)), nil
	case "headers":
		v, ok := "", false
		for k, x := range res.Headers {
			if textproto.CanonicalMIMEHeaderKey(k) == r.names[0] {
				v, ok = x, true
			}
		}
		if !ok {
			return nil, fmt.Errorf("reference %q: the operation's response has no %s header", clip(r.raw), r.names[0])
		}
		b, _ := json.Marshal(v) // a string always marshals
		return b, nil
	}
	if res.BodyEncoding != "" || isNull(res.Body) {
		return nil, fmt.Errorf("reference %q: the operation's response has no JSON body", clip(r.raw))
	}
	cur := []byte(res.Body)
	for _, name := range r.names {
		next, ok := member(cur, name)
		if !ok {
			return nil, fmt.Errorf("reference %q: the operation's response has no member %s", clip(r.raw), name)
		}
		cur = next
	}
	return cur, nil
}

// member returns the member name of a JSON object, or element name (an
// index) of an array.
func member(doc []byte, name string) ([]byte, bool) {
	doc = bytes.TrimSpace(doc)
	if len(doc) == 0 {
		return nil, false
	}
	switch doc[0] {
	case '{':
		var m map[string]json.RawMessage
		if json.Unmarshal(doc, &m) != nil {
			return nil, false
		}
		v, ok := m[name]
		return v, ok
	case '[':
		i, err := strconv.Atoi(name)
		if err != nil || i < 0 {
			return nil, false
		}
		var a []json.RawMessage
		if json.Unmarshal(doc, &a) != nil || i >= len(a) {
			return nil, false
		}
		return a[i], true
	}
	return nil, false
}

// scalar renders a resolved value for a path or header: a string as is, a
// number or boolean as written; objects, arrays and null are refused.
func scalar(raw json.RawMessage, r ref) (string, error) {
	raw = bytes.TrimSpace(raw)
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return "", fmt.Errorf("reference %q does not resolve to a value", clip(r.raw))
	}
	switch t := v.(type) {
	case string:
		return t, nil
	case json.Number:
		return t.String(), nil
	case bool:
		return strconv.FormatBool(t), nil
	}
	return "", fmt.Errorf("reference %q resolves to an object, an array or null, not a single value", clip(r.raw))
}

// resolved is an operation with its references replaced.
type resolved struct {
	path    string
	headers map[string]string
	body    []byte
}

// resolve replaces the references of o by the values they name in results
// (indexed like the operations). The resolved path is checked like a path
// in the request; a value put in a path is escaped as one segment, so it
// can never add segments. Errors are 400 problems naming o.
func (o *op) resolve(results []*Result, byID map[string]*op) (*resolved, error) {
	var fail error
	value := func(s string) (json.RawMessage, bool) {
		r, err := parseRef(s)
		if err == nil {
			t := byID[r.target]
			if t == nil || results[t.index] == nil {
				err = fmt.Errorf("reference %q names an operation that has not run", clip(s))
			} else {
				var v json.RawMessage
				if v, err = r.lookup(results[t.index]); err == nil {
					return v, true
				}
			}
		}
		if fail == nil {
			fail = invalid(o, "%s", err)
		}
		return nil, false
	}
	text := func(s string, escape func(string) string) string {
		return refPattern.ReplaceAllStringFunc(s, func(m string) string {
			inner := m[1 : len(m)-1]
			v, ok := value(inner)
			if !ok {
				return "0"
			}
			r, _ := parseRef(inner)
			str, err := scalar(v, r)
			if err != nil {
				if fail == nil {
					fail = invalid(o, "%s", err)
				}
				return "0"
			}
			return escape(str)
		})
	}
	out := &resolved{}
	out.path = text(o.Path, url.PathEscape)
	if fail != nil {
		return nil, fail
	}
	if err := checkPath(o, out.path); err != nil {
		return nil, err
	}
	if len(o.Headers) > 0 {
		out.headers = make(map[string]string, len(o.Headers))
		for name, v := range o.Headers {
			out.headers[name] = text(v, func(s string) string { return s })
			if strings.ContainsAny(out.headers[name], "\r\n\x00") {
				return nil, invalid(o, "a reference put a control character in header %s", name)
			}
		}
		if fail != nil {
			return nil, fail
		}
	}
	if o.Body != nil {
		if len(o.refs) == 0 {
			out.body = o.Body
			return out, nil
		}
		v, err := decodeValue(o.Body)
		if err != nil {
			return nil, invalid(o, "body: %s", jsonReason(err))
		}
		v = replaceRefs(v, value)
		if fail != nil {
			return nil, fail
		}
		b, err := json.Marshal(v)
		if err != nil {
			return nil, invalid(o, "body: the resolved body is not valid JSON")
		}
		out.body = b
	}
	return out, nil
}

// replaceRefs returns v with every reference object replaced by its value.
func replaceRefs(v any, value func(string) (json.RawMessage, bool)) any {
	if s, ok := refObject(v); ok {
		if raw, ok := value(s); ok {
			return raw
		}
		return nil
	}
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			t[k] = replaceRefs(x, value)
		}
	case []any:
		for i, x := range t {
			t[i] = replaceRefs(x, value)
		}
	}
	return v
}

// failedDependency is the result of an operation that did not run because
// one it depends on failed or did not run.
func failedDependency(o *op, on string) *problem.Details {
	return problem.New(424, "failed-dependency", "operation "+o.ID+" did not run: operation "+on+" did not succeed").
		With("operation", o.ID)
}
