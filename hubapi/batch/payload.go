package batch

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/textproto"
	"net/url"
	"path"
	"reflect"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/hubchantier/hubchantier/internal/jsonmembers"
	"github.com/hubchantier/hubchantier/problem"
)

// MaxOperations is the most operations one batch may carry.
const MaxOperations = 100

// Request is the body of POST /batch.
type Request struct {
	Operations []Operation `json:"operations"`
	// Atomic runs every operation in one transaction: the first failure
	// rolls them all back.
	Atomic bool `json:"atomic"`
	// Parallel runs independent operations at once (best-effort batches
	// only; an atomic batch runs one operation after the other).
	Parallel bool `json:"parallel"`
}

// Operation is one request of a batch, as a client would send it alone.
type Operation struct {
	// ID names the operation in references, depends_on and results
	// (default: "op" and its position from 1).
	ID string `json:"id,omitempty"`
	// Method is GET, POST, PUT, PATCH or DELETE.
	Method string `json:"method"`
	// Path is relative to Config.Prefix, /api/v1 by default
	// ("/chantiers/12?fields=nom"); it may hold references such as
	// {op1.body.id}.
	Path string `json:"path"`
	// Headers are the operation's own request fields (If-Match, ...); see
	// allowedHeaders.
	Headers map[string]string `json:"headers,omitempty"`
	// Body is the JSON body of POST, PUT and PATCH; an object
	// {"$ref": "op1.body.id"} anywhere in it is replaced by that value.
	Body json.RawMessage `json:"body,omitempty"`
	// DependsOn names operations that must have succeeded first
	// ("dependsOn" in a CamelCase batch).
	DependsOn []string `json:"depends_on,omitempty"`
}

// allowedHeaders are the request fields an operation may set: its
// preconditions and content negotiation. Credentials, cookies, hosts and
// forwarding fields are the batch's own, never an operation's.
var allowedHeaders = map[string]bool{
	"If-Match": true, "If-None-Match": true, "If-Modified-Since": true, "If-Unmodified-Since": true,
	"Accept": true, "Cache-Control": true, "Prefer": true,
}

var methods = map[string]bool{
	http.MethodGet: true, http.MethodPost: true, http.MethodPut: true, http.MethodPatch: true, http.MethodDelete: true,
}

var (
	idPattern  = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	refPattern = regexp.MustCompile(`\{([^{}]*)\}`)
)

// plan is a parsed and checked batch.
type plan struct {
	syn  *syntax
	req  Request
	ops  []*op
	byID map[string]*op
}

// op is an operation with what the checks learnt of it.
type op struct {
	Operation
	syn   *syntax
	index int
	// refs are the references of its path, headers and body; deps the
	// operations it waits for (refs' and depends_on's), by index.
	refs []ref
	deps []int
}

// ref is a reference "<op>.<part>.<member>..." to another operation's
// result.
type ref struct {
	raw    string
	target string
	part   string // "body", "headers" or "status"
	names  []string
}

// invalid is the 400 problem of a malformed batch, naming the operation
// at fault (when one is).
func invalid(o *op, format string, args ...any) *problem.Details {
	d := problem.New(http.StatusBadRequest, "invalid-batch", fmt.Sprintf(format, args...))
	if o != nil {
		d.Detail = "operation " + o.ID + ": " + d.Detail
		d = d.With("operation", o.ID)
	}
	return d
}

// parse reads and checks a batch spelt in syn: its shape, its limits,
// every operation's method, path and headers, and the references between
// operations (unknown, cyclic or forward references are refused). Errors
// are *problem.Details with status 400 naming the operation at fault.
func parse(data []byte, syn *syntax) (*plan, error) {
	if !utf8.Valid(data) {
		return nil, invalid(nil, "the body is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	req, err := syn.naming.decodeRequest(dec)
	if err != nil {
		return nil, invalid(nil, "the body is not a batch: %s", jsonReason(err))
	}
	if dec.More() {
		return nil, invalid(nil, "the body must contain a single JSON object")
	}
	if err := checkMembers(data, req, syn.naming); err != nil {
		return nil, err
	}
	if len(req.Operations) == 0 {
		return nil, invalid(nil, "a batch needs at least one operation")
	}
	if len(req.Operations) > MaxOperations {
		o := &op{Operation: Operation{ID: operationID(req.Operations[MaxOperations], MaxOperations)}}
		return nil, invalid(o, "a batch carries at most %d operations, this one %d", MaxOperations, len(req.Operations))
	}
	p := &plan{syn: syn, req: req, byID: make(map[string]*op, len(req.Operations))}
	for i := range req.Operations {
		o := &op{Operation: req.Operations[i], syn: syn, index: i}
		o.ID = operationID(o.Operation, i)
		if !idPattern.MatchString(o.ID) {
			return nil, invalid(&op{Operation: Operation{ID: fmt.Sprintf("op%d", i+1)}}, "id must be 1 to 64 letters, digits, '_' or '-'")
		}
		if p.byID[o.ID] != nil {
			return nil, invalid(o, "the id is used twice")
		}
		p.byID[o.ID] = o
		p.ops = append(p.ops, o)
		if err := o.check(); err != nil {
			return nil, err
		}
	}
	if err := p.link(); err != nil {
		return nil, err
	}
	return p, nil
}

// checkMembers refuses, as the REST bodies do, a member of the batch, of
// an operation or of an operation's headers that appears twice (header
// names compared as HTTP compares them), and a member name that differs
// from a known one in case only (encoding/json would accept it), the
// members spelt in n.
func checkMembers(data []byte, req Request, n Naming) error {
	reqType, opType := reflect.TypeFor[Request](), reflect.TypeFor[Operation]()
	if n == CamelCase {
		reqType, opType = reflect.TypeFor[requestCamel](), reflect.TypeFor[operationCamel]()
	}
	if bad := jsonmembers.Check(data, jsonmembers.Names(reqType), nil); bad != nil {
		return invalid(nil, "%s", memberReason(bad, "the batch"))
	}
	var raw struct {
		Operations []json.RawMessage `json:"operations"`
	}
	if err := json.Unmarshal(data, &raw); err != nil || len(raw.Operations) != len(req.Operations) {
		return invalid(nil, "the body is not a batch: malformed JSON")
	}
	opNames := jsonmembers.Names(opType)
	for i, data := range raw.Operations {
		if i >= MaxOperations {
			break // refused for their number
		}
		// Named by position when its id is what is in doubt.
		o := &op{Operation: Operation{ID: fmt.Sprintf("op%d", i+1)}}
		bad := jsonmembers.Check(data, opNames, nil)
		if bad != nil {
			if bad.Name != "id" && idPattern.MatchString(req.Operations[i].ID) {
				o.ID = req.Operations[i].ID
			}
			return invalid(o, "%s", memberReason(bad, "the operation"))
		}
		o.ID = operationID(req.Operations[i], i)
		if req.Operations[i].Headers == nil {
			continue
		}
		var headers struct {
			Headers json.RawMessage `json:"headers"`
		}
		if err := json.Unmarshal(data, &headers); err != nil {
			return invalid(o, "the operation is malformed")
		}
		if bad := jsonmembers.Check(headers.Headers, nil, textproto.CanonicalMIMEHeaderKey); bad != nil {
			return invalid(o, "header %q appears more than once in headers", shorten(bad.Name))
		}
	}
	return nil
}

// memberReason says what is wrong with a member of where.
func memberReason(bad *jsonmembers.Error, where string) string {
	if bad.Duplicate {
		return fmt.Sprintf("member %q appears more than once in %s", shorten(bad.Name), where)
	}
	return fmt.Sprintf("unknown member %q in %s (member names are case-sensitive)", shorten(bad.Name), where)
}

// shorten keeps a client's name short enough to quote.
func shorten(s string) string {
	s = strings.ToValidUTF8(s, "?")
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return s
}

func operationID(o Operation, i int) string {
	if o.ID != "" {
		return o.ID
	}
	return fmt.Sprintf("op%d", i+1)
}

// jsonReason says what is wrong with a body, without echoing it.
func jsonReason(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("malformed JSON at offset %d", se.Offset)
	case errors.As(err, &te):
		if te.Field != "" {
			return fmt.Sprintf("member %q has the wrong type", te.Field)
		}
		return "wrong type"
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "unknown member " + strings.TrimPrefix(err.Error(), "json: unknown field ")
	default:
		return "malformed JSON"
	}
}

// check validates the operation on its own and collects its references.
func (o *op) check() error {
	if !methods[o.Method] {
		return invalid(o, "method must be GET, POST, PUT, PATCH or DELETE")
	}
	if err := o.checkPath(); err != nil {
		return err
	}
	for name, v := range o.Headers {
		cn := textproto.CanonicalMIMEHeaderKey(name)
		if !allowedHeaders[cn] {
			return invalid(o, "header %q may not be set per operation (allowed: If-Match, If-None-Match, If-Modified-Since, If-Unmodified-Since, Accept, Cache-Control, Prefer)", name)
		}
		if strings.ContainsAny(v, "\r\n\x00") {
			return invalid(o, "header %s holds a control character", cn)
		}
		if err := o.collect(v, "header "+cn); err != nil {
			return err
		}
	}
	switch {
	case isNull(o.Body):
		o.Body = nil
	case o.Method == http.MethodGet || o.Method == http.MethodDelete:
		return invalid(o, "a %s operation has no body", o.Method)
	default:
		if err := o.collectBody(); err != nil {
			return err
		}
	}
	return nil
}

func isNull(b json.RawMessage) bool {
	b = bytes.TrimSpace(b)
	return len(b) == 0 || string(b) == "null"
}

// checkPath checks the path with its references replaced by a plain
// segment; the resolved path is checked again before it is sent.
func (o *op) checkPath() error {
	if err := o.collect(o.Path, "path"); err != nil {
		return err
	}
	return checkPath(o, refPattern.ReplaceAllString(o.Path, "0"))
}

// checkPath accepts a path relative to the batch's prefix (/api/v1):
// absolute, clean (no dot segments, no empty segments), with an optional
// query, never /batch, and never a path of the API with its prefix, this
// version's or another's.
func checkPath(o *op, p string) error {
	prefix := o.syn.prefix
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") {
		return invalid(o, "path must start with a single / and is relative to %s", prefix)
	}
	if strings.ContainsAny(p, "#\\ \x00\r\n\t") {
		return invalid(o, "path holds a character that is not allowed")
	}
	u, err := url.Parse(p)
	if err != nil || u.Scheme != "" || u.Host != "" || u.Opaque != "" {
		return invalid(o, "path is not a valid relative URL path")
	}
	if path.Clean(u.Path) != u.Path || strings.Contains(u.Path, "/./") {
		return invalid(o, "path must be clean (no empty, . or .. segments)")
	}
	if lp := strings.ToLower(u.Path); strings.HasPrefix(lp, "/api/") {
		if lp == prefix || strings.HasPrefix(lp, prefix+"/") {
			return invalid(o, "path is relative to %s: write /chantiers, not %s/chantiers", prefix, prefix)
		}
		return invalid(o, "path is relative to %s, and %s is not an operation of this API version: a batch runs the operations of its own version only",
			prefix, clip(u.Path))
	}
	if lp := strings.ToLower(u.Path); lp == "/batch" || strings.HasPrefix(lp, "/batch/") {
		return invalid(o, "a batch may not contain a batch")
	}
	return nil
}

// collect adds the {op.part.member} references of s (a path or header).
func (o *op) collect(s, where string) error {
	if strings.Count(s, "{") != strings.Count(s, "}") {
		return invalid(o, "%s has an unbalanced { or }", where)
	}
	for _, m := range refPattern.FindAllStringSubmatch(s, -1) {
		r, err := parseRef(m[1])
		if err != nil {
			return invalid(o, "%s: %s", where, err)
		}
		o.refs = append(o.refs, r)
	}
	return nil
}

// collectBody adds the {"$ref": "..."} references of the body.
func (o *op) collectBody() error {
	v, err := decodeValue(o.Body)
	if err != nil {
		return invalid(o, "body: %s", jsonReason(err))
	}
	return walkRefs(v, func(s string) error {
		r, err := parseRef(s)
		if err != nil {
			return invalid(o, "body: %s", err)
		}
		o.refs = append(o.refs, r)
		return nil
	})
}

// decodeValue decodes one JSON value, keeping numbers as written.
func decodeValue(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("trailing data")
	}
	return v, nil
}

// refObject reports whether v is a reference object {"$ref": "..."}.
func refObject(v any) (string, bool) {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return "", false
	}
	s, ok := m["$ref"].(string)
	return s, ok
}

// walkRefs calls f with every reference object of v.
func walkRefs(v any, f func(string) error) error {
	if s, ok := refObject(v); ok {
		return f(s)
	}
	switch t := v.(type) {
	case map[string]any:
		for _, x := range t {
			if err := walkRefs(x, f); err != nil {
				return err
			}
		}
	case []any:
		for _, x := range t {
			if err := walkRefs(x, f); err != nil {
				return err
			}
		}
	}
	return nil
}

// parseRef parses "<op>.body.<member>...", "<op>.headers.<Name>" or
// "<op>.status".
func parseRef(s string) (ref, error) {
	parts := strings.Split(s, ".")
	r := ref{raw: s, target: parts[0]}
	if !idPattern.MatchString(r.target) || len(parts) < 2 {
		return r, fmt.Errorf("reference %q must read <operation>.body.<member>, <operation>.headers.<Name> or <operation>.status", clip(s))
	}
	r.part, r.names = parts[1], parts[2:]
	for _, n := range r.names {
		if n == "" || len(n) > 64 {
			return r, fmt.Errorf("reference %q has an empty or overlong member name", clip(s))
		}
	}
	switch {
	case r.part == "body" && len(r.names) <= 16:
	case r.part == "headers" && len(r.names) == 1:
		r.names[0] = textproto.CanonicalMIMEHeaderKey(r.names[0])
	case r.part == "status" && len(r.names) == 0:
	default:
		return r, fmt.Errorf("reference %q must read <operation>.body.<member>, <operation>.headers.<Name> or <operation>.status", clip(s))
	}
	return r, nil
}

// clip shortens what a problem quotes of the client's input.
func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

// link resolves the operation names of references and depends_on to
// operations, then refuses unknown names, cycles and references to later
// operations, in that order.
func (p *plan) link() error {
	for _, o := range p.ops {
		seen := map[int]bool{}
		add := func(t *op) {
			if !seen[t.index] {
				seen[t.index] = true
				o.deps = append(o.deps, t.index)
			}
		}
		for _, r := range o.refs {
			t := p.byID[r.target]
			if t == nil {
				return invalid(o, "reference %q names no operation of this batch", clip(r.raw))
			}
			add(t)
		}
		for _, name := range o.DependsOn {
			t := p.byID[name]
			if t == nil {
				return invalid(o, "%s names %q, no operation of this batch", p.syn.naming.dependsOn(), clip(name))
			}
			add(t)
		}
	}
	if cyc := p.cycle(); cyc != nil {
		names := make([]string, len(cyc))
		for i, ix := range cyc {
			names[i] = p.ops[ix].ID
		}
		return invalid(p.ops[cyc[0]], "the operations depend on each other in a cycle: %s", strings.Join(names, " → "))
	}
	for _, o := range p.ops {
		for _, r := range o.refs {
			if t := p.byID[r.target]; t.index > o.index {
				return invalid(o, "reference %q names a later operation: an operation may only use the results of operations before it", clip(r.raw))
			}
		}
	}
	return nil
}

// cycle returns the operations of a dependency cycle, the first one
// repeated at the end, or nil.
func (p *plan) cycle() []int {
	const (
		white = iota
		grey
		black
	)
	color := make([]int, len(p.ops))
	var stack []int
	var found []int
	var visit func(i int) bool
	visit = func(i int) bool {
		color[i] = grey
		stack = append(stack, i)
		for _, d := range p.ops[i].deps {
			switch color[d] {
			case grey:
				for k, s := range stack {
					if s == d {
						found = append(append([]int{}, stack[k:]...), d)
						return true
					}
				}
			case white:
				if visit(d) {
					return true
				}
			}
		}
		stack = stack[:len(stack)-1]
		color[i] = black
		return false
	}
	for i := range p.ops {
		if color[i] == white && visit(i) {
			return found
		}
	}
	return nil
}

// order is a topological order of the operations that keeps the request
// order wherever the dependencies allow (the plan has no cycle).
func (p *plan) order() []int {
	n := len(p.ops)
	indeg := make([]int, n)
	users := make([][]int, n)
	for _, o := range p.ops {
		indeg[o.index] = len(o.deps)
		for _, d := range o.deps {
			users[d] = append(users[d], o.index)
		}
	}
	out := make([]int, 0, n)
	done := make([]bool, n)
	for len(out) < n {
		picked := false
		for i := 0; i < n && !picked; i++ {
			if !done[i] && indeg[i] == 0 {
				done[i] = true
				out = append(out, i)
				for _, u := range users[i] {
					indeg[u]--
				}
				picked = true
			}
		}
		if !picked { // a cycle, which link refuses
			break
		}
	}
	return out
}
