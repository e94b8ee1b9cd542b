package client

import (
	"context"
	"net/http"
	"strconv"

	"github.com/hubchantier/hubchantier/client/apiv1"
)

// V1 is REST API v1 (/api/v1): French snake_case members, the types of
// package apiv1. A server that deprecates v1 says so in the Deprecation and
// Sunset headers of its answers (see WithOnDeprecation).
type V1 struct {
	c *Client

	Chantiers    *Resource[apiv1.Chantier, apiv1.ChantierInput, apiv1.ChantierPatch, apiv1.ListChantiersParams]
	Pointages    *Pointages[apiv1.Pointage, apiv1.PointageInput, apiv1.PointagePatch, apiv1.ListPointagesParams]
	Documents    *Documents[apiv1.Document, apiv1.DocumentInput, apiv1.DocumentPatch, apiv1.ListDocumentsParams, apiv1.DocumentUpload]
	Signalements *Resource[apiv1.Signalement, apiv1.SignalementInput, apiv1.SignalementPatch, apiv1.ListSignalementsParams]
	Affectations *Resource[apiv1.Affectation, apiv1.AffectationInput, apiv1.AffectationPatch, apiv1.ListAffectationsParams]
	APIKeys      *APIKeys[apiv1.ApiKey, apiv1.ApiKeyCreated, apiv1.ApiKeyInput, apiv1.ListApiKeysParams]
}

const v1Prefix = "/api/v1"

func newV1(c *Client) *V1 {
	return &V1{
		c: c,
		Chantiers: newResource[apiv1.Chantier, apiv1.ChantierInput, apiv1.ChantierPatch, apiv1.ListChantiersParams](
			c, v1Prefix+"/chantiers", decodeV1Page[apiv1.Chantier]),
		Pointages: &Pointages[apiv1.Pointage, apiv1.PointageInput, apiv1.PointagePatch, apiv1.ListPointagesParams]{
			newResource[apiv1.Pointage, apiv1.PointageInput, apiv1.PointagePatch, apiv1.ListPointagesParams](
				c, v1Prefix+"/pointages", decodeV1Page[apiv1.Pointage])},
		Documents: &Documents[apiv1.Document, apiv1.DocumentInput, apiv1.DocumentPatch, apiv1.ListDocumentsParams, apiv1.DocumentUpload]{
			Resource: newResource[apiv1.Document, apiv1.DocumentInput, apiv1.DocumentPatch, apiv1.ListDocumentsParams](
				c, v1Prefix+"/documents", decodeV1Page[apiv1.Document]),
			form: func(up *apiv1.DocumentUpload) [][2]string {
				f := [][2]string{{"chantier_id", strconv.FormatInt(up.ChantierId, 10)}}
				if up.Nom != nil {
					f = append(f, [2]string{"nom", *up.Nom})
				}
				if up.Categorie != nil {
					f = append(f, [2]string{"categorie", string(*up.Categorie)})
				}
				return f
			}},
		Signalements: newResource[apiv1.Signalement, apiv1.SignalementInput, apiv1.SignalementPatch, apiv1.ListSignalementsParams](
			c, v1Prefix+"/signalements", decodeV1Page[apiv1.Signalement]),
		Affectations: newResource[apiv1.Affectation, apiv1.AffectationInput, apiv1.AffectationPatch, apiv1.ListAffectationsParams](
			c, v1Prefix+"/affectations", decodeV1Page[apiv1.Affectation]),
		APIKeys: &APIKeys[apiv1.ApiKey, apiv1.ApiKeyCreated, apiv1.ApiKeyInput, apiv1.ListApiKeysParams]{c: c, path: v1Prefix + "/admin/api-keys"},
	}
}

// Me returns the user the credential belongs to, with the key's scopes.
func (v *V1) Me(ctx context.Context, opts ...RequestOption) (*apiv1.CurrentUser, error) {
	return get[apiv1.CurrentUser](ctx, v.c, v1Prefix+"/users/me", nil, opts)
}

// UpdateMe rectifies the caller's names and e-mail (a JSON merge patch;
// a new e-mail waits for VerifyEmail with the code mailed to it). It
// needs the person's own API key: an OAuth token is refused (403).
func (v *V1) UpdateMe(ctx context.Context, patch *apiv1.UserPatch, opts ...RequestOption) (*apiv1.CurrentUser, error) {
	req, err := jsonRequest(http.MethodPatch, v1Prefix+"/users/me", "application/merge-patch+json", patch, opts)
	if err != nil {
		return nil, err
	}
	return call[apiv1.CurrentUser](ctx, v.c, req)
}

// VerifyEmail switches the caller's e-mail to the pending one, given the
// code mailed to it.
func (v *V1) VerifyEmail(ctx context.Context, token string) (*apiv1.CurrentUser, error) {
	req, err := jsonRequest(http.MethodPost, v1Prefix+"/users/me/email/verify", "application/json", apiv1.EmailVerification{Token: token}, nil)
	if err != nil {
		return nil, err
	}
	return call[apiv1.CurrentUser](ctx, v.c, req)
}

// Export returns everything the server holds about the caller (GDPR
// access and portability; docs/PRIVACY.md), decoded in memory.
func (v *V1) Export(ctx context.Context) (*apiv1.Export, error) {
	return get[apiv1.Export](ctx, v.c, v1Prefix+"/users/me/export", nil, nil)
}

// EraseUser anonymises a user (admin scope; GDPR erasure). Erasing an
// erased user again succeeds.
func (v *V1) EraseUser(ctx context.Context, id int64) error {
	_, err := v.c.do(ctx, newRequest(http.MethodDelete, v1Prefix+"/admin/users/"+strconv.FormatInt(id, 10), nil))
	return err
}

// Stats returns the statistics the credential may see.
func (v *V1) Stats(ctx context.Context) (*apiv1.Stats, error) {
	return get[apiv1.Stats](ctx, v.c, v1Prefix+"/stats", nil, nil)
}

// Planning returns the affectations of a date range.
func (v *V1) Planning(ctx context.Context, params apiv1.GetPlanningParams) (*apiv1.Planning, error) {
	return get[apiv1.Planning](ctx, v.c, v1Prefix+"/planning", params, nil)
}

// Batch runs up to 100 operations in one request (POST /api/v1/batch);
// each operation has its own result (status, headers, body), and an atomic
// batch runs in one transaction. As a POST without precondition it is
// retried on 429 only.
func (v *V1) Batch(ctx context.Context, b *apiv1.BatchRequest) (*apiv1.BatchResponse, error) {
	req, err := jsonRequest(http.MethodPost, v1Prefix+"/batch", "application/json", b, nil)
	if err != nil {
		return nil, err
	}
	return call[apiv1.BatchResponse](ctx, v.c, req)
}
