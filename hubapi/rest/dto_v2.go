package rest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"

	"github.com/hubchantier/hubchantier/problem"
)

// API v2 differs from v1 only in its representations: camelCase English
// member and parameter names, and cursor-only pagination. Both versions
// share every handler; a v2 handler encodes the v1 representation and
// renames its members with the mapping below (and the reverse for request
// bodies, form parts, query parameters and field selections).

// V2Names maps each v1 member or query parameter name to its v2 name. It is
// the one place the renaming is defined; names absent here are the same in
// both versions (id, code, date, version, ...). A member of a user (the
// current user, a chantier's responsable) follows V2UserNames instead.
var V2Names = map[string]string{
	// chantiers
	"nom": "name", "adresse": "location", "ville": "city", "code_postal": "postalCode", "statut": "status",
	"client_nom": "clientName", "responsable_id": "managerId", "responsable": "manager", "budget_cents": "budgetCents",
	"date_debut": "startDate", "date_fin": "endDate",
	// shared by every resource
	"created_at": "createdAt", "updated_at": "updatedAt", "user_id": "userId", "chantier_id": "chantierId",
	// pointages
	"commentaire": "comment",
	// documents
	"categorie": "category", "mime_type": "mimeType", "uploaded_by": "uploadedBy",
	// signalements
	"titre": "title", "gravite": "severity", "created_by": "createdBy", "assigned_to": "assignedTo", "resolved_at": "resolvedAt",
	// affectations
	"heure_debut": "startTime", "heure_fin": "endTime",
	// statistics
	"chantiers_par_statut": "chantiersByStatus", "chantiers_total": "chantiersTotal", "heures_semaine": "hoursThisWeek",
	"heures_mois": "hoursThisMonth", "signalements_ouverts_par_gravite": "openSignalementsBySeverity",
	"signalements_ouverts": "openSignalements", "semaine": "week", "mois": "month",
	// API keys
	"last_used_at": "lastUsedAt", "expires_at": "expiresAt", "revoked_at": "revokedAt",
	"ip_allowlist": "ipAllowlist", "auto_rotate": "autoRotate", "rotation_interval_days": "rotationIntervalDays",
	"last_rotated_at": "lastRotatedAt",
	// API key anomalies
	"api_key_id": "apiKeyId", "first_seen_at": "firstSeenAt", "last_seen_at": "lastSeenAt",
	// webhook subscriptions, their deliveries and attempts
	"event_types": "eventTypes", "failing_since": "failingSince", "disabled_reason": "disabledReason",
	"previous_secret_expires_at": "previousSecretExpiresAt", "subscription_id": "subscriptionId", "message_id": "messageId",
	"event_id": "eventId", "event_type": "eventType", "last_attempt_at": "lastAttemptAt", "attempt_log": "attemptLog",
	// OAuth authorizations (client_name: V2AuthorizationNames)
	"client_id":    "clientId",
	"attempted_at": "attemptedAt", "duration_ms": "durationMs", "response_status": "responseStatus", "response_body": "responseBody",
	// pagination and list filters
	"next_cursor": "nextCursor", "prev_cursor": "prevCursor", "has_more": "hasMore", "date_from": "dateFrom", "date_to": "dateTo",
	// GDPR export (the profile's pending e-mail and the sections)
	"pending_email": "pendingEmail", "exported_at": "exportedAt", "api_keys": "apiKeys",
	"oauth_authorizations": "oauthAuthorizations", "webhook_subscriptions": "webhookSubscriptions", "audit_events": "auditEvents",
	// problem details
	"allowed_parameters": "allowedParameters", "required_scope": "requiredScope", "failed_operation": "failedOperation",
	// batches (POST /batch)
	"depends_on": "dependsOn", "body_encoding": "bodyEncoding",
	// clients, factures, dépenses (client_id: above)
	"telephone": "phone", "external_source": "externalSource", "external_id": "externalId",
	"numero": "number", "periode_debut": "periodStart", "periode_fin": "periodEnd", "date_emission": "issueDate",
	"libelle": "label", "montant_ht_cents": "amountExclTaxCents", "tva_cents": "vatCents",
	"montant_ttc_cents": "amountInclTaxCents", "fournisseur": "supplier", "montant_cents": "amountCents",
}

// V2UserNames overrides V2Names for the members of a user.
var V2UserNames = map[string]string{"nom": "lastName", "prenom": "firstName"}

// V2AuthorizationNames names the members of an OAuth authorization whose
// v2 name is already the v2 name of another member (clientName is a
// chantier's client_nom): kept out of V2Names, whose reverse mapping stays
// one-to-one. No query parameter or selection names them.
var V2AuthorizationNames = map[string]string{"client_name": "clientName"}

// v2Name returns the v2 name of a v1 member or parameter name.
func v2Name(v1 string) string {
	if n, ok := V2Names[v1]; ok {
		return n
	}
	return v1
}

// v1Names is the reverse of V2Names, users included (field selections and
// sort keys name members of the resource and of its nested responsable).
var v1Names = func() map[string]string {
	m := make(map[string]string, len(V2Names)+len(V2UserNames))
	for k, v := range V2Names {
		m[v] = k
	}
	for k, v := range V2UserNames {
		m[v] = k
	}
	return m
}()

// dto is the shape of a v2 representation: the v2 name of each member of
// the v1 representation, and the shape of the members that hold objects
// or lists of objects (others are copied as they are, such as the maps of
// statistics keyed by state).
type dto struct {
	names    map[string]string // v1 member → v2 member
	v1       map[string]string // v2 member → v1 member
	children map[string]*dto   // v1 member → shape of its value
}

// newDTO builds the shape of a representation with the given v1 members.
func newDTO(members []string, override map[string]string, children map[string]*dto) *dto {
	d := &dto{names: map[string]string{}, v1: map[string]string{}, children: children}
	for _, m := range members {
		n := v2Name(m)
		if o, ok := override[m]; ok {
			n = o
		}
		d.names[m], d.v1[n] = n, m
	}
	return d
}

var (
	timestamps = []string{"created_at", "updated_at", "version"}

	userSummaryDTO = newDTO([]string{"id", "nom", "prenom"}, V2UserNames, nil)
	chantierDTO    = newDTO(append([]string{"id", "code", "nom", "adresse", "ville", "code_postal", "statut", "client_nom",
		"responsable_id", "budget_cents", "date_debut", "date_fin", "latitude", "longitude", "description", "responsable"}, timestamps...),
		nil, map[string]*dto{"responsable": userSummaryDTO})
	pointageDTO    = newDTO(append([]string{"id", "user_id", "chantier_id", "date", "minutes", "type", "statut", "commentaire"}, timestamps...), nil, nil)
	documentDTO    = newDTO(append([]string{"id", "chantier_id", "nom", "categorie", "mime_type", "size", "sha256", "uploaded_by"}, timestamps...), nil, nil)
	signalementDTO = newDTO(append([]string{"id", "chantier_id", "titre", "description", "gravite", "statut", "created_by",
		"assigned_to", "resolved_at"}, timestamps...), nil, nil)
	affectationDTO = newDTO(append([]string{"id", "user_id", "chantier_id", "date", "heure_debut", "heure_fin", "note"}, timestamps...), nil, nil)
	meDTO          = newDTO(append([]string{"id", "email", "nom", "prenom", "role", "scopes"}, timestamps...), V2UserNames, nil)
	statsDTO       = newDTO([]string{"chantiers_par_statut", "chantiers_total", "heures_semaine", "heures_mois",
		"signalements_ouverts_par_gravite", "signalements_ouverts", "semaine", "mois"}, nil, nil)
	apiKeyDTO = newDTO(append([]string{"id", "user_id", "name", "prefix", "scopes", "last_used_at", "expires_at", "revoked_at", "key",
		"ip_allowlist", "auto_rotate", "rotation_interval_days", "last_rotated_at", "previous_secret_expires_at"},
		timestamps...), nil, nil)
	apiKeyInputDTO = newDTO([]string{"user_id", "name", "scopes", "expires_at", "ip_allowlist", "auto_rotate", "rotation_interval_days"}, nil, nil)
	apiKeyPatchDTO = newDTO([]string{"name", "ip_allowlist", "auto_rotate", "rotation_interval_days"}, nil, nil)
	anomalyDTO     = newDTO([]string{"id", "api_key_id", "user_id", "rule", "detail", "observed", "threshold", "occurrences", "action",
		"first_seen_at", "last_seen_at", "resolved_at"}, nil, nil)
	webhookInputDTO = newDTO([]string{"url", "event_types", "description", "enabled"}, nil, nil)
	webhookDTO      = newDTO(append([]string{"id", "user_id", "url", "event_types", "description", "enabled",
		"previous_secret_expires_at", "failing_since", "disabled_reason", "secret"}, timestamps...), nil, nil)
	attemptDTO  = newDTO([]string{"attempt", "attempted_at", "duration_ms", "response_status", "response_body", "error"}, nil, nil)
	deliveryDTO = newDTO([]string{"id", "subscription_id", "message_id", "event_id", "event_type", "payload", "status", "attempts",
		"last_attempt_at", "created_at", "updated_at", "attempt_log"}, nil, map[string]*dto{"attempt_log": attemptDTO})
	authorizationDTO = newDTO([]string{"client_id", "client_name", "scopes", "created_at", "updated_at"}, V2AuthorizationNames, nil)
	planningDTO      = newDTO([]string{"from", "to", "data"}, nil, map[string]*dto{"data": affectationDTO})
	paginationDTO    = newDTO([]string{"next_cursor", "prev_cursor", "has_more"}, nil, nil)
)

// pageDTO is the shape of a list page of items.
func pageDTO(item *dto) *dto {
	return newDTO([]string{"data", "pagination"}, nil, map[string]*dto{"data": item, "pagination": paginationDTO})
}

// listDTO is the shape of a list without pagination ({"data": [...]}).
func listDTO(item *dto) *dto {
	return newDTO([]string{"data"}, nil, map[string]*dto{"data": item})
}

// toV2 appends to dst the v2 form of the v1 JSON value src (as
// encoding/json writes it): members renamed, in their order. A member the
// shape does not know is an error (a v1 member without a v2 name would
// otherwise leak into v2). It scans the bytes once, without decoding.
func (d *dto) toV2(dst, src []byte) ([]byte, error) {
	dst, i, err := d.renameValue(dst, src, skipWS(src, 0))
	if err != nil {
		return dst, err
	}
	if skipWS(src, i) != len(src) {
		return dst, errors.New("rest: data after the JSON value")
	}
	return dst, nil
}

var errBadJSON = errors.New("rest: malformed JSON")

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// renameValue renames the value at src[i] and returns the index after it.
func (d *dto) renameValue(dst, src []byte, i int) ([]byte, int, error) {
	if i >= len(src) {
		return dst, i, errBadJSON
	}
	switch src[i] {
	case '{':
		dst = append(dst, '{')
		i = skipWS(src, i+1)
		if i < len(src) && src[i] == '}' {
			return append(dst, '}'), i + 1, nil
		}
		for {
			if i >= len(src) || src[i] != '"' {
				return dst, i, errBadJSON
			}
			end, err := skipString(src, i)
			if err != nil {
				return dst, i, err
			}
			key := src[i+1 : end-1]
			name, ok := d.names[string(key)]
			if !ok {
				return dst, i, fmt.Errorf("rest: member %q has no v2 name", key)
			}
			dst = append(dst, '"')
			dst = append(dst, name...)
			dst = append(dst, '"', ':')
			i = skipWS(src, end)
			if i >= len(src) || src[i] != ':' {
				return dst, i, errBadJSON
			}
			i = skipWS(src, i+1)
			if c := d.children[string(key)]; c != nil {
				if dst, i, err = c.renameValue(dst, src, i); err != nil {
					return dst, i, err
				}
			} else {
				start := i
				if i, err = skipValue(src, i); err != nil {
					return dst, i, err
				}
				dst = append(dst, src[start:i]...)
			}
			i = skipWS(src, i)
			if i >= len(src) {
				return dst, i, errBadJSON
			}
			if src[i] == '}' {
				return append(dst, '}'), i + 1, nil
			}
			if src[i] != ',' {
				return dst, i, errBadJSON
			}
			dst = append(dst, ',')
			i = skipWS(src, i+1)
		}
	case '[':
		dst = append(dst, '[')
		i = skipWS(src, i+1)
		if i < len(src) && src[i] == ']' {
			return append(dst, ']'), i + 1, nil
		}
		for {
			var err error
			if dst, i, err = d.renameValue(dst, src, i); err != nil {
				return dst, i, err
			}
			i = skipWS(src, i)
			if i >= len(src) {
				return dst, i, errBadJSON
			}
			if src[i] == ']' {
				return append(dst, ']'), i + 1, nil
			}
			if src[i] != ',' {
				return dst, i, errBadJSON
			}
			dst = append(dst, ',')
			i = skipWS(src, i+1)
		}
	}
	start := i
	i, err := skipValue(src, i)
	return append(dst, src[start:i]...), i, err
}

// skipString returns the index after the string starting at b[i] ('"').
func skipString(b []byte, i int) (int, error) {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1, nil
		}
	}
	return len(b), errBadJSON
}

// skipValue returns the index after the JSON value starting at b[i].
func skipValue(b []byte, i int) (int, error) {
	if i >= len(b) {
		return i, errBadJSON
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				end, err := skipString(b, j)
				if err != nil {
					return end, err
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1, nil
				}
			}
		}
		return len(b), errBadJSON
	}
	j := i
	for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\n' && b[j] != '\t' && b[j] != '\r' {
		j++
	}
	if j == i {
		return i, errBadJSON
	}
	return j, nil
}

// inputToV1 renames the top-level members of a v2 request body (an object)
// to their v1 names. A member without a v1 counterpart is the 400
// unknown-field problem, as in v1; anything that is not an object is left
// to the strict decoder, which reports it.
func (d *dto) inputToV1(body []byte, writable map[string]bool) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return body, nil
	}
	out := []byte{'{'}
	for n := 0; dec.More(); n++ {
		t, err := dec.Token()
		if err != nil {
			return body, nil
		}
		k, _ := t.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return body, nil
		}
		name, ok := d.v1[k]
		if !ok || (writable != nil && !writable[name]) {
			d := badRequest("unknown-field", fmt.Sprintf("Unknown field %q (member names are case-sensitive).", sanitize(k)))
			d.Errors = []problem.FieldError{{Field: sanitize(k), Message: "unknown field"}}
			return nil, d
		}
		if n > 0 {
			out = append(out, ',')
		}
		out = append(out, '"')
		out = append(out, name...)
		out = append(out, '"', ':')
		out = append(out, v...)
	}
	// The closing brace, then nothing: trailing data is left to the strict
	// decoder of the original body, which reports it.
	if _, err := dec.Token(); err != nil {
		return body, nil
	}
	if _, err := dec.Token(); err != io.EOF {
		return body, nil
	}
	return append(out, '}'), nil
}

// renameFieldErrors gives the field errors of a v1 problem their v2 names.
// An unknown field or parameter is named as the client sent it.
func renameFieldErrors(d *problem.Details) *problem.Details {
	if len(d.Errors) == 0 {
		return d
	}
	c := *d
	c.Errors = make([]problem.FieldError, len(d.Errors))
	for i, fe := range d.Errors {
		if fe.Message != "unknown field" && fe.Message != "unknown query parameter" {
			fe.Field = v2Name(fe.Field)
		}
		c.Errors[i] = fe
	}
	return &c
}

// nameRe matches the names in a field selection or sort expression.
var nameRe = regexp.MustCompile(`[A-Za-z_][A-Za-z0-9_]*`)

// v1Expression renames the names of a v2 selection (canonical form) or
// sort expression to v1 names; unknown names are kept (the v1 parser
// rejects them). The members of d, when given, take precedence: a member
// named alike in both versions (a delivery's status) keeps its name.
func v1Expression(expr string, d *dto) string {
	return nameRe.ReplaceAllStringFunc(expr, func(n string) string {
		if v1, ok := d.v1Name(n); ok {
			return v1
		}
		if v1, ok := v1Names[n]; ok {
			return v1
		}
		return n
	})
}

// v1Name returns the v1 name of the v2 member n of d or of its children.
func (d *dto) v1Name(n string) (string, bool) {
	if d == nil {
		return "", false
	}
	if v1, ok := d.v1[n]; ok {
		return v1, true
	}
	for _, c := range d.children {
		if v1, ok := c.v1Name(n); ok {
			return v1, true
		}
	}
	return "", false
}

// v1SortExpression renames the keys of a v2 sort expression to v1 names.
// A v1 name that v2 renamed is not a v2 sort key: it is marked so that the
// sort parser rejects it (400 naming sort).
func v1SortExpression(expr string) string {
	return nameRe.ReplaceAllStringFunc(expr, func(n string) string {
		if v1, ok := v1Names[n]; ok {
			return v1
		}
		if _, renamed := V2Names[n]; renamed {
			return n + "?"
		}
		return n
	})
}

// v2Expression is the reverse of v1Expression for the names of one
// resource's sort whitelist (not users).
func v2Expression(expr string) string {
	return nameRe.ReplaceAllStringFunc(expr, v2Name)
}

// isV2 reports whether r was routed under /api/v2.
func isV2(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/api/v2/") }
