package client

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strings"
)

// Pointages is the pointages collection, with the validate action.
type Pointages[T, In, Patch, P any] struct {
	*Resource[T, In, Patch, P]
}

// Validate validates a pointage (a validated pointage can no longer be
// modified). With IfVersion it is also retried safely on 503.
func (p *Pointages[T, In, Patch, P]) Validate(ctx context.Context, id int64, opts ...RequestOption) (*T, error) {
	return call[T](ctx, p.c, newRequest(http.MethodPost, p.item(id)+"/validate", opts))
}

// Documents is the documents collection: created by upload, read back
// with Content.
type Documents[T, In, Patch, P, U any] struct {
	*Resource[T, In, Patch, P]
	form func(*U) [][2]string // the upload's form fields, in order
}

// Create uploads a document (multipart/form-data): its metadata from up
// (up's file member is ignored), its file part named fileName with the
// media type mimeType and the bytes of content.
func (d *Documents[T, In, Patch, P, U]) Create(ctx context.Context, up *U, fileName, mimeType string, content io.Reader) (*T, error) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, f := range d.form(up) {
		if err := mw.WriteField(f[0], f[1]); err != nil {
			return nil, err
		}
	}
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename=%q`, strings.ReplaceAll(fileName, `"`, "")))
	h.Set("Content-Type", mimeType)
	part, err := mw.CreatePart(h)
	if err != nil {
		return nil, err
	}
	if _, err := io.Copy(part, content); err != nil {
		return nil, fmt.Errorf("hubchantier: POST %s: reading the content: %w", d.path, err)
	}
	if err := mw.Close(); err != nil {
		return nil, err
	}
	req := &request{method: http.MethodPost, path: d.path, body: buf.Bytes(), contentType: mw.FormDataContentType(), header: http.Header{}}
	return call[T](ctx, d.c, req)
}

// Content returns the document's bytes and their media type.
func (d *Documents[T, In, Patch, P, U]) Content(ctx context.Context, id int64) ([]byte, string, error) {
	req := newRequest(http.MethodGet, d.item(id)+"/content", nil)
	req.header.Set("Accept", "*/*")
	res, err := d.c.do(ctx, req)
	if err != nil {
		return nil, "", err
	}
	return res.body, res.header.Get("Content-Type"), nil
}

// APIKeys is the API keys of the admin API (scope admin): K a key, C a
// created key (with its secret), In the creation body, P the list
// parameters.
type APIKeys[K, C, In, P any] struct {
	c    *Client
	path string
}

// List returns the API keys (of one user when the parameters say so).
func (a *APIKeys[K, C, In, P]) List(ctx context.Context, params *P) ([]K, error) {
	q, err := encodeQuery(params)
	if err != nil {
		return nil, err
	}
	req := newRequest(http.MethodGet, a.path, nil)
	req.query = q.Encode()
	l, err := call[struct {
		Data []K `json:"data"`
	}](ctx, a.c, req)
	if err != nil {
		return nil, err
	}
	return l.Data, nil
}

// Create issues a key; its secret is in the answer only.
func (a *APIKeys[K, C, In, P]) Create(ctx context.Context, in *In) (*C, error) {
	req, err := jsonRequest(http.MethodPost, a.path, "application/json", in, nil)
	if err != nil {
		return nil, err
	}
	return call[C](ctx, a.c, req)
}

// Revoke revokes a key.
func (a *APIKeys[K, C, In, P]) Revoke(ctx context.Context, id int64) error {
	_, err := a.c.do(ctx, newRequest(http.MethodDelete, fmt.Sprintf("%s/%d", a.path, id), nil))
	return err
}

// get reads a single JSON document at path with the query of params.
func get[T any](ctx context.Context, c *Client, path string, params any, opts []RequestOption) (*T, error) {
	q, err := encodeQuery(params)
	if err != nil {
		return nil, err
	}
	req := newRequest(http.MethodGet, path, nil)
	req.query = q.Encode()
	for _, o := range opts {
		o(req)
	}
	return call[T](ctx, c, req)
}
