package rest

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strconv"
	"time"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/problem"
)

// DefaultRotationLink is the page on key rotation linked from the answers
// to a secret replaced by a rotation.
const DefaultRotationLink = "/docs#/Administration/rotateApiKey"

// rotatedKey answers a secret replaced by a rotation whose grace period is
// over: 401, saying so (the client knows to fetch the new secret rather
// than to suspect a typo).
func rotatedKey(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="hubchantier", error="invalid_token", error_description="the API key was rotated"`)
	problem.Write(w, r, problem.New(http.StatusUnauthorized, "api-key-rotated",
		"This API key secret was replaced by a rotation and its grace period is over: use the key's new secret."))
}

// deprecatedSecret marks the answer to a secret replaced by a rotation,
// still inside its grace period: Deprecation (RFC 9745) is the time of the
// rotation, Sunset (RFC 8594) the end of the grace period, and a Link with
// rel="deprecation" leads to the page on rotation.
func (a *API) deprecatedSecret(w http.ResponseWriter, p *hubapi.Principal) {
	h := w.Header()
	at := time.Now()
	if p.SecretRotatedAt != nil {
		at = *p.SecretRotatedAt
	}
	h.Set("Deprecation", "@"+strconv.FormatInt(at.Unix(), 10))
	h.Set("Sunset", p.SecretExpiresAt.UTC().Format(http.TimeFormat))
	link := a.o.RotationLink
	if link == "" {
		link = DefaultRotationLink
	}
	h.Add("Link", "<"+link+`>; rel="deprecation"; type="text/html"`)
	h.Add("Link", "<"+a.base+"/admin/api-keys?user_id="+strconv.FormatInt(p.UserID, 10)+`>; rel="related"`)
}

// rotateAPIKey answers POST /admin/api-keys/{id}/rotate: 200 with the key
// and its new secret, shown this once.
func (a *API) rotateAPIKey(w http.ResponseWriter, r *http.Request) error {
	if err := newQuery(r).err(); err != nil {
		return err
	}
	id, err := pathID(r)
	if err != nil {
		return err
	}
	rot, err := a.o.KeySecurity.RotateAPIKey(r.Context(), id)
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	a.writeJSON(w, r, http.StatusOK, struct {
		apiKeyView
		Key string `json:"key"`
	}{viewAPIKey(rot.Key), rot.Secret}, apiKeyDTO)
	return nil
}

// collectAPIKeySecret answers POST /admin/api-keys/{id}/secret: 200 with
// the key and the secret drawn by its last automatic rotation, once; 404
// when none waits.
func (a *API) collectAPIKeySecret(w http.ResponseWriter, r *http.Request) error {
	if err := newQuery(r).err(); err != nil {
		return err
	}
	id, err := pathID(r)
	if err != nil {
		return err
	}
	rot, err := a.o.KeySecurity.CollectAPIKeySecret(r.Context(), id)
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	a.writeJSON(w, r, http.StatusOK, struct {
		apiKeyView
		Key string `json:"key"`
	}{viewAPIKey(rot.Key), rot.Secret}, apiKeyDTO)
	return nil
}

// apiKeyPatchBody is a PATCH /admin/api-keys/{id} body before its members
// are told apart: absent, null or a value.
type apiKeyPatchBody struct {
	Name                 json.RawMessage `json:"name"`
	IPAllowlist          json.RawMessage `json:"ip_allowlist"`
	AutoRotate           json.RawMessage `json:"auto_rotate"`
	RotationIntervalDays json.RawMessage `json:"rotation_interval_days"`
}

// parseAPIKeyPatch turns an RFC 7396 merge patch into an APIKeyPatch:
// "ip_allowlist": null lifts the restriction; null is refused elsewhere.
func parseAPIKeyPatch(body []byte) (hubapi.APIKeyPatch, error) {
	var raw apiKeyPatchBody
	var p hubapi.APIKeyPatch
	if err := decodeStrict(body, &raw); err != nil {
		return p, err
	}
	fields := map[string]string{}
	isNull := func(m json.RawMessage) bool { return string(m) == "null" }
	if raw.Name != nil {
		if err := json.Unmarshal(raw.Name, &p.Name); err != nil || p.Name == nil {
			fields["name"] = "must be a string"
		}
	}
	if raw.IPAllowlist != nil {
		p.IPAllowlistSet = true
		if !isNull(raw.IPAllowlist) {
			if err := json.Unmarshal(raw.IPAllowlist, &p.IPAllowlist); err != nil || p.IPAllowlist == nil {
				fields["ip_allowlist"] = "must be an array of IP addresses and CIDR networks, or null"
			}
		}
	}
	if raw.AutoRotate != nil {
		if err := json.Unmarshal(raw.AutoRotate, &p.AutoRotate); err != nil || p.AutoRotate == nil {
			fields["auto_rotate"] = "must be a boolean"
		}
	}
	if raw.RotationIntervalDays != nil {
		if err := json.Unmarshal(raw.RotationIntervalDays, &p.RotationIntervalDays); err != nil || p.RotationIntervalDays == nil {
			fields["rotation_interval_days"] = "must be an integer"
		}
	}
	if len(fields) > 0 {
		return p, &hubapi.ValidationError{Fields: fields}
	}
	return p, p.Validate()
}

// patchAPIKey answers PATCH /admin/api-keys/{id} (RFC 7396 merge patch of
// name, ip_allowlist, auto_rotate, rotation_interval_days).
func (a *API) patchAPIKey(w http.ResponseWriter, r *http.Request) error {
	if err := newQuery(r).err(); err != nil {
		return err
	}
	id, err := pathID(r)
	if err != nil {
		return err
	}
	body, err := readBody(w, r, "application/merge-patch+json", "application/json")
	if err != nil {
		return err
	}
	if a.v2 {
		if body, err = apiKeyPatchDTO.inputToV1(body, jsonNames(reflect.TypeOf(&apiKeyPatchBody{}))); err != nil {
			return err
		}
	}
	patch, err := parseAPIKeyPatch(body)
	if err != nil {
		return err
	}
	k, err := a.o.KeySecurity.PatchAPIKey(r.Context(), id, patch, nil)
	if err != nil {
		return err
	}
	a.writeJSON(w, r, http.StatusOK, viewAPIKey(k), apiKeyDTO)
	return nil
}

// listAnomalies answers GET /admin/anomalies: the last 7 days, newest
// first, filtered by api_key_id, rule and state (open or all).
func (a *API) listAnomalies(w http.ResponseWriter, r *http.Request) error {
	q := newQuery(r, "api_key_id", "rule", "state")
	f := hubapi.AnomalyFilter{APIKeyID: q.int64("api_key_id", true), Rule: q.get("rule")}
	switch st := q.get("state"); st {
	case "", "all":
	case "open":
		f.OpenOnly = true
	default:
		return &hubapi.ValidationError{Fields: map[string]string{"state": "open or all"}}
	}
	if err := q.err(); err != nil {
		return err
	}
	list, err := a.o.KeySecurity.ListAnomalies(r.Context(), f)
	if err != nil {
		return err
	}
	a.writeJSON(w, r, http.StatusOK, map[string]any{"data": list}, listDTO(anomalyDTO))
	return nil
}
