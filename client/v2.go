package client

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/hubchantier/hubchantier/client/apiv2"
)

// V2 is REST API v2 (/api/v2): camelCase English members, the types of
// package apiv2, cursor pagination only.
type V2 struct {
	c *Client

	Chantiers    *Resource[apiv2.Chantier, apiv2.ChantierInput, apiv2.ChantierPatch, apiv2.ListChantiersParams]
	Pointages    *Pointages[apiv2.Pointage, apiv2.PointageInput, apiv2.PointagePatch, apiv2.ListPointagesParams]
	Documents    *Documents[apiv2.Document, apiv2.DocumentInput, apiv2.DocumentPatch, apiv2.ListDocumentsParams, apiv2.DocumentUpload]
	Signalements *Resource[apiv2.Signalement, apiv2.SignalementInput, apiv2.SignalementPatch, apiv2.ListSignalementsParams]
	Affectations *Resource[apiv2.Affectation, apiv2.AffectationInput, apiv2.AffectationPatch, apiv2.ListAffectationsParams]
	APIKeys      *APIKeys[apiv2.ApiKey, apiv2.ApiKeyCreated, apiv2.ApiKeyInput, apiv2.ListApiKeysParams]
}

const v2Prefix = "/api/v2"

// v2Page is REST v2's list envelope: {"data": [...], "pagination":
// {"nextCursor": ..., "prevCursor": ..., "hasMore": ...}}.
type v2Page[T any] struct {
	Data       []T `json:"data"`
	Pagination struct {
		NextCursor *string `json:"nextCursor"`
	} `json:"pagination"`
}

func decodeV2Page[T any](body []byte) (*Page[T], error) {
	var p v2Page[T]
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, err
	}
	pg := &Page[T]{Items: p.Data, Total: -1}
	if p.Pagination.NextCursor != nil {
		pg.NextCursor = *p.Pagination.NextCursor
	}
	return pg, nil
}

func newV2(c *Client) *V2 {
	return &V2{
		c: c,
		Chantiers: newResource[apiv2.Chantier, apiv2.ChantierInput, apiv2.ChantierPatch, apiv2.ListChantiersParams](
			c, v2Prefix+"/chantiers", decodeV2Page[apiv2.Chantier]),
		Pointages: &Pointages[apiv2.Pointage, apiv2.PointageInput, apiv2.PointagePatch, apiv2.ListPointagesParams]{
			newResource[apiv2.Pointage, apiv2.PointageInput, apiv2.PointagePatch, apiv2.ListPointagesParams](
				c, v2Prefix+"/pointages", decodeV2Page[apiv2.Pointage])},
		Documents: &Documents[apiv2.Document, apiv2.DocumentInput, apiv2.DocumentPatch, apiv2.ListDocumentsParams, apiv2.DocumentUpload]{
			Resource: newResource[apiv2.Document, apiv2.DocumentInput, apiv2.DocumentPatch, apiv2.ListDocumentsParams](
				c, v2Prefix+"/documents", decodeV2Page[apiv2.Document]),
			form: func(up *apiv2.DocumentUpload) [][2]string {
				f := [][2]string{{"chantierId", strconv.FormatInt(up.ChantierId, 10)}}
				if up.Name != nil {
					f = append(f, [2]string{"name", *up.Name})
				}
				if up.Category != nil {
					f = append(f, [2]string{"category", string(*up.Category)})
				}
				return f
			}},
		Signalements: newResource[apiv2.Signalement, apiv2.SignalementInput, apiv2.SignalementPatch, apiv2.ListSignalementsParams](
			c, v2Prefix+"/signalements", decodeV2Page[apiv2.Signalement]),
		Affectations: newResource[apiv2.Affectation, apiv2.AffectationInput, apiv2.AffectationPatch, apiv2.ListAffectationsParams](
			c, v2Prefix+"/affectations", decodeV2Page[apiv2.Affectation]),
		APIKeys: &APIKeys[apiv2.ApiKey, apiv2.ApiKeyCreated, apiv2.ApiKeyInput, apiv2.ListApiKeysParams]{c: c, path: v2Prefix + "/admin/api-keys"},
	}
}

// Me returns the user the credential belongs to, with the key's scopes.
func (v *V2) Me(ctx context.Context, opts ...RequestOption) (*apiv2.CurrentUser, error) {
	return get[apiv2.CurrentUser](ctx, v.c, v2Prefix+"/users/me", nil, opts)
}

// UpdateMe rectifies the caller's names and e-mail (a JSON merge patch;
// a new e-mail waits for VerifyEmail with the code mailed to it). It
// needs the person's own API key: an OAuth token is refused (403).
func (v *V2) UpdateMe(ctx context.Context, patch *apiv2.UserPatch, opts ...RequestOption) (*apiv2.CurrentUser, error) {
	req, err := jsonRequest(http.MethodPatch, v2Prefix+"/users/me", "application/merge-patch+json", patch, opts)
	if err != nil {
		return nil, err
	}
	return call[apiv2.CurrentUser](ctx, v.c, req)
}

// VerifyEmail switches the caller's e-mail to the pending one, given the
// code mailed to it.
func (v *V2) VerifyEmail(ctx context.Context, token string) (*apiv2.CurrentUser, error) {
	req, err := jsonRequest(http.MethodPost, v2Prefix+"/users/me/email/verify", "application/json", apiv2.EmailVerification{Token: token}, nil)
	if err != nil {
		return nil, err
	}
	return call[apiv2.CurrentUser](ctx, v.c, req)
}

// Export returns everything the server holds about the caller (GDPR
// access and portability; docs/PRIVACY.md), decoded in memory.
func (v *V2) Export(ctx context.Context) (*apiv2.Export, error) {
	return get[apiv2.Export](ctx, v.c, v2Prefix+"/users/me/export", nil, nil)
}

// EraseUser anonymises a user (admin scope; GDPR erasure). Erasing an
// erased user again succeeds.
func (v *V2) EraseUser(ctx context.Context, id int64) error {
	_, err := v.c.do(ctx, newRequest(http.MethodDelete, v2Prefix+"/admin/users/"+strconv.FormatInt(id, 10), nil))
	return err
}

// Stats returns the statistics the credential may see.
func (v *V2) Stats(ctx context.Context) (*apiv2.Stats, error) {
	return get[apiv2.Stats](ctx, v.c, v2Prefix+"/stats", nil, nil)
}

// Planning returns the affectations of a date range.
func (v *V2) Planning(ctx context.Context, params apiv2.GetPlanningParams) (*apiv2.Planning, error) {
	return get[apiv2.Planning](ctx, v.c, v2Prefix+"/planning", params, nil)
}
