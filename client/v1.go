package client

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"

	"github.com/hubchantier/hubchantier/client/apiv1"
)

// V1 is REST API v1 (/api/v1): French snake_case members, the types of
// package apiv1.
type V1 struct {
	c *Client

	Chantiers    *Resource[apiv1.Chantier, apiv1.ChantierInput, apiv1.ChantierPatch, apiv1.ListChantiersParams]
	Pointages    *PointagesV1
	Documents    *DocumentsV1
	Signalements *Resource[apiv1.Signalement, apiv1.SignalementInput, apiv1.SignalementPatch, apiv1.ListSignalementsParams]
	Affectations *Resource[apiv1.Affectation, apiv1.AffectationInput, apiv1.AffectationPatch, apiv1.ListAffectationsParams]
	APIKeys      *APIKeysV1
}

const v1Prefix = "/api/v1"

func newV1(c *Client) *V1 {
	return &V1{
		c: c,
		Chantiers: newResource[apiv1.Chantier, apiv1.ChantierInput, apiv1.ChantierPatch, apiv1.ListChantiersParams](
			c, v1Prefix+"/chantiers", decodeV1Page[apiv1.Chantier]),
		Pointages: &PointagesV1{newResource[apiv1.Pointage, apiv1.PointageInput, apiv1.PointagePatch, apiv1.ListPointagesParams](
			c, v1Prefix+"/pointages", decodeV1Page[apiv1.Pointage])},
		Documents: &DocumentsV1{newResource[apiv1.Document, apiv1.DocumentInput, apiv1.DocumentPatch, apiv1.ListDocumentsParams](
			c, v1Prefix+"/documents", decodeV1Page[apiv1.Document])},
		Signalements: newResource[apiv1.Signalement, apiv1.SignalementInput, apiv1.SignalementPatch, apiv1.ListSignalementsParams](
			c, v1Prefix+"/signalements", decodeV1Page[apiv1.Signalement]),
		Affectations: newResource[apiv1.Affectation, apiv1.AffectationInput, apiv1.AffectationPatch, apiv1.ListAffectationsParams](
			c, v1Prefix+"/affectations", decodeV1Page[apiv1.Affectation]),
		APIKeys: &APIKeysV1{c: c},
	}
}

// Me returns the user the credential belongs to, with the key's scopes.
func (v *V1) Me(ctx context.Context, opts ...RequestOption) (*apiv1.CurrentUser, error) {
	return call[apiv1.CurrentUser](ctx, v.c, newRequest(http.MethodGet, v1Prefix+"/users/me", opts))
}

// Stats returns the statistics the credential may see.
func (v *V1) Stats(ctx context.Context) (*apiv1.Stats, error) {
	return call[apiv1.Stats](ctx, v.c, newRequest(http.MethodGet, v1Prefix+"/stats", nil))
}

// Planning returns the affectations of a date range.
func (v *V1) Planning(ctx context.Context, params apiv1.GetPlanningParams) (*apiv1.Planning, error) {
	q, err := encodeQuery(params)
	if err != nil {
		return nil, err
	}
	req := newRequest(http.MethodGet, v1Prefix+"/planning", nil)
	req.query = q.Encode()
	return call[apiv1.Planning](ctx, v.c, req)
}

// PointagesV1 is /api/v1/pointages, with the validate action.
type PointagesV1 struct {
	*Resource[apiv1.Pointage, apiv1.PointageInput, apiv1.PointagePatch, apiv1.ListPointagesParams]
}

// Validate validates a pointage (a validated pointage can no longer be
// modified). With IfVersion it is retried safely on 503.
func (p *PointagesV1) Validate(ctx context.Context, id int64, opts ...RequestOption) (*apiv1.Pointage, error) {
	return call[apiv1.Pointage](ctx, p.c, newRequest(http.MethodPost, p.item(id)+"/validate", opts))
}

// DocumentsV1 is /api/v1/documents: created by upload, read back with
// Content.
type DocumentsV1 struct {
	*Resource[apiv1.Document, apiv1.DocumentInput, apiv1.DocumentPatch, apiv1.ListDocumentsParams]
}

// Create uploads a document (multipart/form-data): its file part named
// fileName with the content type mimeType, its metadata from up (up.File
// is ignored: the content is read from content).
func (d *DocumentsV1) Create(ctx context.Context, up *apiv1.DocumentUpload, fileName, mimeType string, content io.Reader) (*apiv1.Document, error) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	_ = mw.WriteField("chantier_id", strconv.FormatInt(up.ChantierId, 10))
	if up.Nom != nil {
		_ = mw.WriteField("nom", *up.Nom)
	}
	if up.Categorie != nil {
		_ = mw.WriteField("categorie", string(*up.Categorie))
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
	return call[apiv1.Document](ctx, d.c, req)
}

// Content returns the document's bytes and their media type.
func (d *DocumentsV1) Content(ctx context.Context, id int64) ([]byte, string, error) {
	req := newRequest(http.MethodGet, d.item(id)+"/content", nil)
	req.header.Set("Accept", "*/*")
	res, err := d.c.do(ctx, req)
	if err != nil {
		return nil, "", err
	}
	return res.body, res.header.Get("Content-Type"), nil
}

// APIKeysV1 is /api/v1/admin/api-keys (scope admin).
type APIKeysV1 struct{ c *Client }

// List returns the API keys, of one user when params.UserId is set.
func (a *APIKeysV1) List(ctx context.Context, params *apiv1.ListApiKeysParams) ([]apiv1.ApiKey, error) {
	q, err := encodeQuery(params)
	if err != nil {
		return nil, err
	}
	req := newRequest(http.MethodGet, v1Prefix+"/admin/api-keys", nil)
	req.query = q.Encode()
	l, err := call[apiv1.ApiKeyList](ctx, a.c, req)
	if err != nil {
		return nil, err
	}
	return l.Data, nil
}

// Create issues a key; the secret is in the answer only.
func (a *APIKeysV1) Create(ctx context.Context, in *apiv1.ApiKeyInput) (*apiv1.ApiKeyCreated, error) {
	req, err := jsonRequest(http.MethodPost, v1Prefix+"/admin/api-keys", "application/json", in, nil)
	if err != nil {
		return nil, err
	}
	return call[apiv1.ApiKeyCreated](ctx, a.c, req)
}

// Revoke revokes a key.
func (a *APIKeysV1) Revoke(ctx context.Context, id int64) error {
	_, err := a.c.do(ctx, newRequest(http.MethodDelete, v1Prefix+"/admin/api-keys/"+strconv.FormatInt(id, 10), nil))
	return err
}
