package apitest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strings"
	"testing"

	"github.com/hubchantier/hubchantier/problem"
)

// Client sends requests to an Env's server. Every request is checked
// against the OpenAPI document before it is sent, and every response after
// it is received; a mismatch fails the test. A test that sends a
// deliberately invalid request says so with Invalid(), and then the document
// must reject the request too, so the document stays as strict as the
// server.
type Client struct {
	env  *Env
	auth string // Authorization header value, "" for none
}

// mode says how a request is checked against the document.
type mode int

const (
	modeValid        mode = iota // the document must accept the request
	modeInvalid                  // the document must reject the request
	modeUnchecked                // the document cannot express the rule under test
	modeUndocumented             // the path is not in the document: the response must be a problem
)

type request struct {
	header http.Header
	body   []byte
	mode   mode
	reason string
}

// Option adjusts one request.
type Option func(*request)

// Header sets a request header.
func Header(key, value string) Option { return func(r *request) { r.header.Set(key, value) } }

// ContentType sets the Content-Type header.
func ContentType(ct string) Option { return Header("Content-Type", ct) }

// IfMatch sets If-Match.
func IfMatch(etag string) Option { return Header("If-Match", etag) }

// Invalid marks a deliberately malformed request: the document must reject
// it (the test fails otherwise), and the response is still validated.
func Invalid() Option { return func(r *request) { r.mode = modeInvalid } }

// Unchecked skips request validation, for rules the document cannot
// express (say which in reason). The response is still validated.
func Unchecked(reason string) Option {
	return func(r *request) { r.mode, r.reason = modeUnchecked, reason }
}

// Undocumented sends a request to a path or method the document does not
// describe; the response must be an RFC 9457 problem.
func Undocumented() Option { return func(r *request) { r.mode = modeUndocumented } }

// Raw sends body as is (no JSON encoding) with the given Content-Type.
func Raw(contentType string, body []byte) Option {
	return func(r *request) {
		r.body = body
		r.header.Set("Content-Type", contentType)
	}
}

// Get sends GET path.
func (c *Client) Get(t testing.TB, path string, opts ...Option) *Response {
	t.Helper()
	return c.Do(t, http.MethodGet, path, nil, opts...)
}

// Post sends body as JSON (application/json) to path.
func (c *Client) Post(t testing.TB, path string, body any, opts ...Option) *Response {
	t.Helper()
	return c.Do(t, http.MethodPost, path, body, opts...)
}

// Put sends body as JSON to path.
func (c *Client) Put(t testing.TB, path string, body any, opts ...Option) *Response {
	t.Helper()
	return c.Do(t, http.MethodPut, path, body, opts...)
}

// Patch sends body as a JSON merge patch (application/merge-patch+json).
func (c *Client) Patch(t testing.TB, path string, body any, opts ...Option) *Response {
	t.Helper()
	return c.Do(t, http.MethodPatch, path, body, append([]Option{ContentType("application/merge-patch+json")}, opts...)...)
}

// Delete sends DELETE path.
func (c *Client) Delete(t testing.TB, path string, opts ...Option) *Response {
	t.Helper()
	return c.Do(t, http.MethodDelete, path, nil, opts...)
}

// Part is one part of a multipart/form-data body.
type Part struct {
	Name        string
	FileName    string // set for a file part
	ContentType string // part Content-Type (file parts)
	Body        []byte
}

// Upload posts parts as multipart/form-data.
func (c *Client) Upload(t testing.TB, path string, parts []Part, opts ...Option) *Response {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, p := range parts {
		h := textproto.MIMEHeader{}
		cd := mime.FormatMediaType("form-data", map[string]string{"name": p.Name})
		if p.FileName != "" {
			cd = mime.FormatMediaType("form-data", map[string]string{"name": p.Name, "filename": p.FileName})
		}
		h.Set("Content-Disposition", cd)
		if p.ContentType != "" {
			h.Set("Content-Type", p.ContentType)
		}
		w, err := mw.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = w.Write(p.Body)
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return c.Do(t, http.MethodPost, path, nil, append([]Option{Raw(mw.FormDataContentType(), buf.Bytes())}, opts...)...)
}

// Do sends a request. body, when not nil, is encoded as JSON with
// Content-Type application/json (unless an option sets the body or the
// Content-Type). The request and the response are checked against the
// document as described on Client.
func (c *Client) Do(t testing.TB, method, path string, body any, opts ...Option) *Response {
	t.Helper()
	rq := &request{header: http.Header{}}
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatalf("encode request body: %v", err)
		}
		rq.body = b
		rq.header.Set("Content-Type", "application/json")
	}
	for _, o := range opts {
		o(rq)
	}
	if c.auth != "" {
		rq.header.Set("Authorization", c.auth)
	}
	req, err := http.NewRequest(method, c.env.URL+path, bytes.NewReader(rq.body))
	if err != nil {
		t.Fatalf("build request %s %s: %v", method, path, err)
	}
	req.Header = rq.header
	name := method + " " + path
	spec, coverage := c.env.Spec, c.env.coverage
	if strings.HasPrefix(path, "/api/v2/") {
		spec, coverage = c.env.SpecV2, c.env.coverageV2
	}

	var match *Match
	switch rq.mode {
	case modeValid:
		if match, err = spec.CheckRequest(req, rq.body); err != nil {
			t.Fatalf("%s: the OpenAPI document rejects this request (mark deliberately invalid requests with apitest.Invalid()):\n%v", name, err)
		}
	case modeInvalid:
		if match, err = spec.CheckRequest(req, rq.body); err == nil {
			t.Errorf("%s: the request is marked Invalid() but the OpenAPI document accepts it: the document is less strict than the server", name)
		} else if errors.Is(err, ErrNoRoute) {
			t.Fatalf("%s: %v", name, err)
		}
	case modeUnchecked:
		if match, err = spec.FindOperation(req); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	case modeUndocumented:
		if _, err := spec.FindOperation(req); err == nil {
			t.Fatalf("%s: marked Undocumented() but the document describes it", name)
		}
	}

	res, err := c.env.http.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	defer res.Body.Close()
	rb, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s: read response: %v", name, err)
	}
	r := &Response{Status: res.StatusCode, Header: res.Header, Body: rb, t: t, name: name}

	if match == nil {
		if err := spec.CheckProblem(res.StatusCode, res.Header, rb); err != nil {
			t.Errorf("%s: %v\n%s", name, err, r.excerpt())
		}
		return r
	}
	coverage.record(match.Operation, res.StatusCode, rq.mode == modeValid)
	if err := spec.CheckResponse(req, match, res.StatusCode, res.Header, rb); err != nil {
		t.Errorf("%s: the response does not match the OpenAPI document:\n%v\n%s", name, err, r.excerpt())
	}
	return r
}

// Response is a received response, already validated against the document.
type Response struct {
	Status int
	Header http.Header
	Body   []byte

	t    testing.TB
	name string
}

func (r *Response) excerpt() string {
	b := r.Body
	if len(b) > 2000 {
		b = b[:2000]
	}
	return fmt.Sprintf("status %d, Content-Type %q, body: %s", r.Status, r.Header.Get("Content-Type"), b)
}

// Expect fails the test unless the status is want.
func (r *Response) Expect(want int) *Response {
	r.t.Helper()
	if r.Status != want {
		r.t.Fatalf("%s: status %d, want %d\n%s", r.name, r.Status, want, r.excerpt())
	}
	return r
}

// JSON decodes the body into v.
func (r *Response) JSON(v any) *Response {
	r.t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		r.t.Fatalf("%s: decode body: %v\n%s", r.name, err, r.excerpt())
	}
	return r
}

// ETag returns the ETag header.
func (r *Response) ETag() string { return r.Header.Get("ETag") }

// Problem is a decoded RFC 9457 problem response.
type Problem struct {
	Type              string               `json:"type"`
	Title             string               `json:"title"`
	Status            int                  `json:"status"`
	Detail            string               `json:"detail"`
	Instance          string               `json:"instance"`
	Errors            []problem.FieldError `json:"errors"`
	RequiredScope     string               `json:"required_scope"`
	AllowedParameters []string             `json:"allowed_parameters"`
	Precondition      string               `json:"precondition"`
}

// Code is the last segment of the type URI ("validation-error").
func (p Problem) Code() string { return p.Type[strings.LastIndexByte(p.Type, '/')+1:] }

// Field returns the message of the field error on field, and whether there
// is one.
func (p Problem) Field(field string) (string, bool) {
	for _, e := range p.Errors {
		if e.Field == field {
			return e.Message, true
		}
	}
	return "", false
}

// Problem asserts that the response is a problem with the status and the
// type code, and returns it.
func (r *Response) Problem(status int, code string) Problem {
	r.t.Helper()
	r.Expect(status)
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != problem.ContentType {
		r.t.Fatalf("%s: Content-Type %q, want %s", r.name, r.Header.Get("Content-Type"), problem.ContentType)
	}
	var p Problem
	r.JSON(&p)
	if p.Code() != code {
		r.t.Fatalf("%s: problem type %q, want code %q\n%s", r.name, p.Type, code, r.excerpt())
	}
	return p
}

// FieldProblem asserts a problem with the status and code whose errors
// name each of fields, and returns it.
func (r *Response) FieldProblem(status int, code string, fields ...string) Problem {
	r.t.Helper()
	p := r.Problem(status, code)
	for _, f := range fields {
		if _, ok := p.Field(f); !ok {
			r.t.Fatalf("%s: no field error on %q\n%s", r.name, f, r.excerpt())
		}
	}
	return p
}
