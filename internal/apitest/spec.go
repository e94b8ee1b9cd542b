package apitest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/hubchantier/hubchantier/hubapi/rest"
	"github.com/hubchantier/hubchantier/problem"
)

// Spec is a loaded, validated OpenAPI 3.1 document that checks requests and
// responses. It is safe for concurrent use.
type Spec struct {
	doc     *openapi3.T
	router  routers.Router
	problem *openapi3.Schema
	ops     []Operation
	prefix  string // path of the first server URL, "/api/v1"
}

// Operation names one operation of the document.
type Operation struct {
	ID     string // operationId
	Method string // "GET"
	Path   string // full path template, "/api/v1/chantiers/{id}"
}

func (o Operation) String() string { return o.Method + " " + o.Path }

var (
	v1Once sync.Once
	v1Spec *Spec
	v1Err  error
)

// V1 returns the embedded v1 document (rest.OpenAPIDocument), loaded and
// validated once per process.
func V1() (*Spec, error) {
	v1Once.Do(func() { v1Spec, v1Err = LoadSpec(rest.OpenAPIDocument()) })
	return v1Spec, v1Err
}

var (
	v2Once sync.Once
	v2Spec *Spec
	v2Err  error
)

// V2 returns the embedded v2 document (rest.OpenAPIDocumentV2), loaded and
// validated once per process.
func V2() (*Spec, error) {
	v2Once.Do(func() { v2Spec, v2Err = LoadSpec(rest.OpenAPIDocumentV2()) })
	return v2Spec, v2Err
}

// LoadSpec parses an OpenAPI 3.1 document and validates it (structure,
// references, and examples against their schemas). It fails when the
// document is invalid, is not 3.1, or has no Problem schema.
func LoadSpec(data []byte) (*Spec, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(data)
	if err != nil {
		return nil, fmt.Errorf("apitest: load OpenAPI document: %w", err)
	}
	if !doc.IsOpenAPI31OrLater() {
		return nil, fmt.Errorf("apitest: OpenAPI document is %s, want 3.1", doc.OpenAPI)
	}
	if err := doc.Validate(loader.Context); err != nil {
		return nil, fmt.Errorf("apitest: invalid OpenAPI document: %w", err)
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("apitest: route OpenAPI document: %w", err)
	}
	s := &Spec{doc: doc, router: router}
	if doc.Components == nil || doc.Components.Schemas["Problem"] == nil {
		return nil, errors.New("apitest: OpenAPI document has no components.schemas.Problem")
	}
	s.problem = doc.Components.Schemas["Problem"].Value
	if len(doc.Servers) > 0 {
		if u, err := url.Parse(doc.Servers[0].URL); err == nil {
			s.prefix = strings.TrimSuffix(u.Path, "/")
		}
	}
	for _, p := range doc.Paths.InMatchingOrder() {
		for method, op := range doc.Paths.Value(p).Operations() {
			s.ops = append(s.ops, Operation{ID: op.OperationID, Method: method, Path: s.prefix + p})
		}
	}
	sort.Slice(s.ops, func(i, j int) bool { return s.ops[i].String() < s.ops[j].String() })
	return s, nil
}

func (s *Spec) base() string { return s.prefix }

// Document returns the parsed document.
func (s *Spec) Document() *openapi3.T { return s.doc }

// Operations lists every operation, sorted by path then method.
func (s *Spec) Operations() []Operation { return append([]Operation(nil), s.ops...) }

// ErrNoRoute reports a request whose method and path the document does not
// describe.
var ErrNoRoute = errors.New("apitest: no operation in the OpenAPI document matches the request")

// Match is a request matched to an operation of the document.
type Match struct {
	Operation Operation
	route     *routers.Route
	params    map[string]string
}

// FindOperation matches req (method and path) to an operation. Errors:
// ErrNoRoute.
func (s *Spec) FindOperation(req *http.Request) (*Match, error) {
	route, params, err := s.router.FindRoute(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %s %s (%v)", ErrNoRoute, req.Method, req.URL.Path, err)
	}
	m := &Match{route: route, params: params}
	m.Operation = Operation{ID: route.Operation.OperationID, Method: route.Method, Path: req.URL.Path}
	for _, op := range s.ops {
		if op.ID == m.Operation.ID && op.ID != "" {
			m.Operation = op
			break
		}
	}
	return m, nil
}

// bearerPresent is the document's security check: an Authorization header
// with a non-empty Bearer token (whether the key is valid is the server's
// business, and the tests check it).
func bearerPresent(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	h := in.RequestValidationInput.Request.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return errors.New("no Authorization: Bearer credential")
	}
	return nil
}

// CheckRequest validates a request (its body given separately) against
// the document: route, path, query and header parameters, security, and
// body. On top of OpenAPI, it enforces the API's strict query rule: every
// query parameter must be declared by the operation and a non-array
// parameter may appear once.
func (s *Spec) CheckRequest(req *http.Request, body []byte) (*Match, error) {
	m, err := s.FindOperation(req)
	if err != nil {
		return nil, err
	}
	r := req.Clone(req.Context())
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	r.ContentLength = int64(len(body))
	in := &openapi3filter.RequestValidationInput{
		Request: r, PathParams: m.params, Route: m.route,
		Options: &openapi3filter.Options{AuthenticationFunc: bearerPresent, SkipSettingDefaults: true, MultiError: true},
	}
	if err := openapi3filter.ValidateRequest(req.Context(), in); err != nil {
		return m, fmt.Errorf("request %s: %w", m.Operation, err)
	}
	if err := strictQuery(m.route, req.URL.Query()); err != nil {
		return m, fmt.Errorf("request %s: %w", m.Operation, err)
	}
	return m, nil
}

func strictQuery(route *routers.Route, q url.Values) error {
	declared := map[string]*openapi3.Parameter{}
	for _, params := range []openapi3.Parameters{route.PathItem.Parameters, route.Operation.Parameters} {
		for _, p := range params {
			if p.Value != nil && p.Value.In == openapi3.ParameterInQuery {
				declared[p.Value.Name] = p.Value
			}
		}
	}
	names := make([]string, 0, len(q))
	for k := range q {
		names = append(names, k)
	}
	sort.Strings(names)
	var errs []error
	for _, k := range names {
		p, ok := declared[k]
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("query parameter %q is not declared", k))
		case len(q[k]) > 1 && (p.Schema == nil || p.Schema.Value == nil || !p.Schema.Value.Type.Is("array")):
			errs = append(errs, fmt.Errorf("query parameter %q appears %d times", k, len(q[k])))
		}
	}
	return errors.Join(errs...)
}

// CheckResponse validates a response to a request matched by CheckRequest
// or FindOperation: the status must be documented for the operation, the
// documented headers must be present and valid, and the body must have a
// documented media type and match its schema. A response documented
// without content must have an empty body.
func (s *Spec) CheckResponse(req *http.Request, m *Match, status int, header http.Header, body []byte) error {
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: m.params, Route: m.route},
		Status:                 status,
		Header:                 header,
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	in.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(req.Context(), in); err != nil {
		return fmt.Errorf("response %d to %s: %w", status, m.Operation, err)
	}
	if ref := m.route.Operation.Responses.Status(status); ref != nil && ref.Value != nil &&
		len(ref.Value.Content) == 0 && len(body) > 0 && req.Method != http.MethodHead {
		return fmt.Errorf("response %d to %s: documented without content but has a %d-byte body", status, m.Operation, len(body))
	}
	if err := fullWithoutFields(req, m, status, header, body); err != nil {
		return fmt.Errorf("response %d to %s: %w", status, m.Operation, err)
	}
	if mt, _, _ := mime.ParseMediaType(header.Get("Content-Type")); mt == problem.ContentType {
		var p struct{ Status int }
		if err := json.Unmarshal(body, &p); err != nil || p.Status != status {
			return fmt.Errorf("response %d to %s: problem status member is %d", status, m.Operation, p.Status)
		}
	}
	return nil
}

// CheckProblem validates a response outside any documented operation (an
// unknown path, a method not allowed): it must be an RFC 9457 problem that
// matches the document's Problem schema and carries the response status.
func (s *Spec) CheckProblem(status int, header http.Header, body []byte) error {
	mt, _, err := mime.ParseMediaType(header.Get("Content-Type"))
	if err != nil || mt != problem.ContentType {
		return fmt.Errorf("response %d: Content-Type %q, want %s", status, header.Get("Content-Type"), problem.ContentType)
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return fmt.Errorf("response %d: problem body is not JSON: %w", status, err)
	}
	if err := s.problem.VisitJSON(v, openapi3.EnableJSONSchema2020(), openapi3.MultiErrors()); err != nil {
		return fmt.Errorf("response %d: problem does not match the Problem schema: %w", status, err)
	}
	if obj, _ := v.(map[string]any); obj["status"] != float64(status) {
		return fmt.Errorf("response %d: problem status member is %v", status, obj["status"])
	}
	return nil
}

// fullWithoutFields enforces the document's convention for sparse
// fieldsets: an operation with a "fields" parameter describes its body as
// anyOf [full representation, selection]. The selection branch accepts a
// representation with members missing, so without "fields" the body must
// match the first branch: a member dropped or renamed by the code is caught.
func fullWithoutFields(req *http.Request, m *Match, status int, header http.Header, body []byte) error {
	if req.URL.Query().Has("fields") || !declaresQuery(m.route, "fields") {
		return nil
	}
	ref := m.route.Operation.Responses.Status(status)
	if ref == nil || ref.Value == nil {
		return nil
	}
	mt := ref.Value.Content.Get(header.Get("Content-Type"))
	if mt == nil || mt.Schema == nil || mt.Schema.Value == nil || len(mt.Schema.Value.AnyOf) == 0 {
		return nil
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return err
	}
	if err := mt.Schema.Value.AnyOf[0].Value.VisitJSON(v, openapi3.EnableJSONSchema2020(), openapi3.MultiErrors()); err != nil {
		return fmt.Errorf("without fields the body must be the full representation (first anyOf branch): %w", err)
	}
	return nil
}

func declaresQuery(route *routers.Route, name string) bool {
	for _, params := range []openapi3.Parameters{route.PathItem.Parameters, route.Operation.Parameters} {
		for _, p := range params {
			if p.Value != nil && p.Value.In == openapi3.ParameterInQuery && p.Value.Name == name {
				return true
			}
		}
	}
	return false
}
