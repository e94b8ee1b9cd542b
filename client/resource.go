package client

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// RequestOption adds to one request: a precondition of a write (IfVersion,
// IfMatch, IfUnmodifiedSince) or a sparse fieldset of a read (Fields).
type RequestOption func(*request)

// IfVersion makes a write conditional on the version read before
// (`If-Match: "v<version>"`): if someone else wrote in between, the server
// answers 412 and nothing is written (errors.Is(err, ErrPreconditionFailed)).
func IfVersion(version int64) RequestOption {
	return IfMatch(`"v` + strconv.FormatInt(version, 10) + `"`)
}

// IfMatch sets If-Match to an ETag from a previous response (or "*").
func IfMatch(etag string) RequestOption {
	return func(r *request) { r.header.Set("If-Match", etag) }
}

// IfUnmodifiedSince makes a write conditional on the resource not having
// changed after t (RFC 9110 §13.1.4).
func IfUnmodifiedSince(t time.Time) RequestOption {
	return func(r *request) { r.header.Set("If-Unmodified-Since", t.UTC().Format(http.TimeFormat)) }
}

// Fields asks a read for a sparse fieldset ("id,nom,statut"); members not
// selected are left at their zero value.
func Fields(expr string) RequestOption {
	return func(r *request) {
		q, _ := url.ParseQuery(r.query)
		q.Set("fields", expr)
		r.query = q.Encode()
	}
}

// Resource is a collection of the API (/chantiers, ...) with its element
// type T, its create/replace body In, its merge-patch body Patch and its
// list parameters P.
type Resource[T, In, Patch, P any] struct {
	c    *Client
	path string
	page pageDecoder[T]
}

func newResource[T, In, Patch, P any](c *Client, path string, page pageDecoder[T]) *Resource[T, In, Patch, P] {
	return &Resource[T, In, Patch, P]{c: c, path: path, page: page}
}

// List iterates over every element matching params (nil: all), following
// the pages' cursors. Stop early with break; an error ends the iteration.
//
//	for ch, err := range c.V1.Chantiers.List(ctx, nil) { ... }
func (r *Resource[T, In, Patch, P]) List(ctx context.Context, params *P) iter.Seq2[T, error] {
	return items(r.Pages(ctx, params))
}

// Pages iterates over the pages of the list, for callers that want the
// page boundaries (Total, cursors to resume from).
func (r *Resource[T, In, Patch, P]) Pages(ctx context.Context, params *P) iter.Seq2[*Page[T], error] {
	q, err := encodeQuery(params)
	if err != nil {
		return func(yield func(*Page[T], error) bool) { yield(nil, err) }
	}
	return pages(ctx, r.c, r.path, q, r.page)
}

// Get reads one element. A repeated Get is a conditional request: a 304
// returns the cached copy.
func (r *Resource[T, In, Patch, P]) Get(ctx context.Context, id int64, opts ...RequestOption) (*T, error) {
	return call[T](ctx, r.c, r.newRequest(http.MethodGet, r.item(id), opts))
}

// Create creates an element (201) and returns it.
func (r *Resource[T, In, Patch, P]) Create(ctx context.Context, in *In, opts ...RequestOption) (*T, error) {
	req, err := jsonRequest(http.MethodPost, r.path, "application/json", in, opts)
	if err != nil {
		return nil, err
	}
	return call[T](ctx, r.c, req)
}

// Replace replaces every writable member of the element (PUT). Pass
// IfVersion to make it conditional.
func (r *Resource[T, In, Patch, P]) Replace(ctx context.Context, id int64, in *In, opts ...RequestOption) (*T, error) {
	req, err := jsonRequest(http.MethodPut, r.item(id), "application/json", in, opts)
	if err != nil {
		return nil, err
	}
	return call[T](ctx, r.c, req)
}

// Update applies a JSON merge patch (RFC 7396) and returns the element.
// Pass IfVersion(v) with the version read before so that a concurrent
// write makes it fail with 412 instead of being overwritten.
func (r *Resource[T, In, Patch, P]) Update(ctx context.Context, id int64, patch *Patch, opts ...RequestOption) (*T, error) {
	req, err := jsonRequest(http.MethodPatch, r.item(id), "application/merge-patch+json", patch, opts)
	if err != nil {
		return nil, err
	}
	return call[T](ctx, r.c, req)
}

// Delete deletes the element (204).
func (r *Resource[T, In, Patch, P]) Delete(ctx context.Context, id int64, opts ...RequestOption) error {
	_, err := r.c.do(ctx, r.newRequest(http.MethodDelete, r.item(id), opts))
	return err
}

func (r *Resource[T, In, Patch, P]) item(id int64) string {
	return r.path + "/" + strconv.FormatInt(id, 10)
}

func (r *Resource[T, In, Patch, P]) newRequest(method, path string, opts []RequestOption) *request {
	return newRequest(method, path, opts)
}

func newRequest(method, path string, opts []RequestOption) *request {
	req := &request{method: method, path: path, header: http.Header{}}
	for _, o := range opts {
		o(req)
	}
	return req
}

func jsonRequest(method, path, contentType string, body any, opts []RequestOption) (*request, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("hubchantier: %s %s: encoding the body: %w", method, path, err)
	}
	req := &request{method: method, path: path, body: b, contentType: contentType, header: http.Header{}}
	for _, o := range opts {
		o(req)
	}
	return req, nil
}

// call sends req and decodes the JSON answer into a T.
func call[T any](ctx context.Context, c *Client, req *request) (*T, error) {
	res, err := c.do(ctx, req)
	if err != nil {
		return nil, err
	}
	v := new(T)
	if err := json.Unmarshal(res.body, v); err != nil {
		return nil, fmt.Errorf("hubchantier: %s %s: decoding the answer: %w", req.method, req.path, err)
	}
	return v, nil
}
