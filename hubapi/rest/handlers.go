package rest

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"path/filepath"
	"strconv"
	"time"

	"github.com/hubchantier/hubchantier/etag"
	"github.com/hubchantier/hubchantier/fields"
	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/problem"
)

func (a *API) chantierLister() http.HandlerFunc {
	return (&lister[hubapi.Chantier, hubapi.ChantierFilter]{
		schema: chantierSchema, schemaV2: chantierSchemaV2, dto: chantierDTO, filters: []string{"statut", "ville", "responsable_id"},
		filter: func(q *query) hubapi.ChantierFilter {
			return hubapi.ChantierFilter{Statut: enumParam(q, "statut", hubapi.ChantierStatuts), Ville: q.get("ville"),
				ResponsableID: q.int64("responsable_id", true)}
		},
		list: a.o.Chantiers.ListChantiers, view: chantierViews,
		key: func(b []byte, c *hubapi.Chantier, sel *fields.Selection) []byte {
			b = fmt.Appendf(b, "%d:%d;", c.ID, c.Version)
			if u := c.Responsable; u != nil && sel.Has("responsable") {
				b = fmt.Appendf(b, "%d:%q:%q;", u.ID, u.Nom, u.Prenom)
			}
			return b
		},
	}).handle(a)
}

func (a *API) pointageLister() http.HandlerFunc {
	return (&lister[hubapi.Pointage, hubapi.PointageFilter]{
		schema: pointageSchema, schemaV2: pointageSchemaV2, dto: pointageDTO, filters: []string{"chantier_id", "user_id", "statut", "date_from", "date_to"},
		filter: func(q *query) hubapi.PointageFilter {
			return hubapi.PointageFilter{ChantierID: q.int64("chantier_id", true), UserID: q.int64("user_id", true),
				Statut: enumParam(q, "statut", hubapi.PointageStatuts), From: q.date("date_from"), To: q.date("date_to")}
		},
		list: a.o.Pointages.ListPointages,
		key:  versionKey(func(m *hubapi.Pointage) (int64, int64) { return m.ID, m.Version }),
	}).handle(a)
}

func (a *API) documentLister() http.HandlerFunc {
	return (&lister[hubapi.Document, hubapi.DocumentFilter]{
		schema: documentSchema, schemaV2: documentSchemaV2, dto: documentDTO, filters: []string{"chantier_id", "categorie"},
		filter: func(q *query) hubapi.DocumentFilter {
			return hubapi.DocumentFilter{ChantierID: q.int64("chantier_id", true), Categorie: enumParam(q, "categorie", hubapi.DocumentCategories)}
		},
		list: a.o.Documents.ListDocuments,
		key:  versionKey(func(m *hubapi.Document) (int64, int64) { return m.ID, m.Version }),
	}).handle(a)
}

func (a *API) signalementLister() http.HandlerFunc {
	return (&lister[hubapi.Signalement, hubapi.SignalementFilter]{
		schema: signalementSchema, schemaV2: signalementSchemaV2, dto: signalementDTO, filters: []string{"chantier_id", "statut", "gravite"},
		filter: func(q *query) hubapi.SignalementFilter {
			return hubapi.SignalementFilter{ChantierID: q.int64("chantier_id", true), Statut: enumParam(q, "statut", hubapi.SignalementStatuts),
				Gravite: enumParam(q, "gravite", hubapi.Gravites)}
		},
		list: a.o.Signalements.ListSignalements,
		key:  versionKey(func(m *hubapi.Signalement) (int64, int64) { return m.ID, m.Version }),
	}).handle(a)
}

func (a *API) affectationLister() http.HandlerFunc {
	return (&lister[hubapi.Affectation, hubapi.AffectationFilter]{
		schema: affectationSchema, schemaV2: affectationSchemaV2, dto: affectationDTO, filters: []string{"chantier_id", "user_id", "date_from", "date_to"},
		filter: func(q *query) hubapi.AffectationFilter {
			return hubapi.AffectationFilter{ChantierID: q.int64("chantier_id", true), UserID: q.int64("user_id", true),
				From: q.date("date_from"), To: q.date("date_to")}
		},
		list: a.o.Affectations.ListAffectations,
		key:  versionKey(func(m *hubapi.Affectation) (int64, int64) { return m.ID, m.Version }),
	}).handle(a)
}

// chantierView is a chantier with its responsable nested, the
// representation used when a selection names responsable.
type chantierView struct {
	*hubapi.Chantier
	Responsable *hubapi.UserSummary `json:"responsable"`
}

// chantierViews gives chantiers their nested responsable when the
// selection names it (the use case loaded it).
func chantierViews(rows []hubapi.Chantier, sel *fields.Selection) any {
	if !sel.Has("responsable") {
		return rows
	}
	out := make([]chantierView, len(rows))
	for i := range rows {
		out[i] = chantierView{&rows[i], rows[i].Responsable}
	}
	return out
}

func (a *API) validatePointage(pt *resource[hubapi.Pointage, hubapi.PointageInput]) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := pathID(r)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		ifVersion, err := pt.precondition(r, id)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		p, err := a.o.Pointages.ValidatePointage(r.Context(), id, ifVersion)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		pt.setValidators(w, p)
		a.writeJSON(w, r, http.StatusOK, p, pointageDTO)
	}
}

// uploadDocument handles POST /documents as multipart/form-data with the
// parts chantier_id, nom (defaults to the file name), categorie and file.
func (a *API) uploadDocument(w http.ResponseWriter, r *http.Request) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" {
		a.writeError(w, r, problem.New(http.StatusUnsupportedMediaType, "unsupported-media-type", "Content-Type must be multipart/form-data."))
		return
	}
	// The file part may hold MaxUpload bytes; the other parts and the
	// multipart framing get 64 KiB. Whatever the size of the excess and
	// however the body comes (Content-Length or chunked), an oversized
	// upload is a 413.
	tooLarge := problem.New(http.StatusRequestEntityTooLarge, "body-too-large", fmt.Sprintf("The upload exceeds %d bytes.", a.o.Documents.MaxUpload()))
	limit := a.o.Documents.MaxUpload() + 64<<10
	if r.ContentLength > limit {
		a.writeError(w, r, tooLarge)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	if err := r.ParseMultipartForm(8 << 20); err != nil { // #nosec G120 -- body capped by MaxBytesReader above
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) || errors.Is(err, multipart.ErrMessageTooLarge) {
			a.writeError(w, r, tooLarge)
			return
		}
		a.writeError(w, r, badRequest("malformed-multipart", "The multipart body could not be parsed."))
		return
	}
	defer func() { _ = r.MultipartForm.RemoveAll() }()
	form := r.MultipartForm
	// part names: v1's, or their v2 names
	part := func(v1 string) string { return pick(a, v1, v2Name(v1)) }
	for k := range form.Value {
		if k != part("chantier_id") && k != part("nom") && k != part("categorie") {
			a.writeError(w, r, badRequest("unknown-field", fmt.Sprintf("Unknown form field %q.", sanitize(k))))
			return
		}
	}
	files := form.File["file"]
	if len(files) != 1 || len(form.File) != 1 {
		a.writeError(w, r, &hubapi.ValidationError{Fields: map[string]string{"file": "exactly one file part named file is required"}})
		return
	}
	// Parts are text in UTF-8 without NUL (the domain checks the rest).
	for _, k := range []string{"chantier_id", "nom", "categorie"} {
		for _, v := range form.Value[part(k)] {
			if msg := rawTextProblem(v); msg != "" {
				a.writeError(w, r, &hubapi.ValidationError{Fields: map[string]string{k: msg}})
				return
			}
		}
	}
	// The file name becomes the document's name when no nom is given: it
	// follows the rules of single-line text.
	if msg := hubapi.TextProblem(files[0].Filename); msg != "" {
		a.writeError(w, r, &hubapi.ValidationError{Fields: map[string]string{"file": "file name " + msg}})
		return
	}
	val := func(k string) string {
		if v := form.Value[part(k)]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	in := hubapi.DocumentInput{Nom: val("nom"), Categorie: val("categorie")}
	if s := val("chantier_id"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 {
			a.writeError(w, r, &hubapi.ValidationError{Fields: map[string]string{"chantier_id": "must be a positive integer"}})
			return
		}
		in.ChantierID = n
	}
	fh := files[0]
	if in.Nom == "" {
		in.Nom = filepath.Base(fh.Filename)
	}
	f, err := fh.Open()
	if err != nil {
		a.writeError(w, r, badRequest("malformed-multipart", "The file part could not be read."))
		return
	}
	defer f.Close()
	d, err := a.o.Documents.CreateDocument(r.Context(), in, hubapi.Upload{MimeType: fh.Header.Get("Content-Type"), Body: f})
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", a.base+"/documents/"+strconv.FormatInt(d.ID, 10))
	w.Header().Set("ETag", etag.VersionTag(d.Version).String())
	a.writeJSON(w, r, http.StatusCreated, d, documentDTO)
}

// documentContent serves the file as an attachment, with Range support.
func (a *API) documentContent(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	d, rc, err := a.o.Documents.OpenDocument(r.Context(), id)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	defer rc.Close()
	h := w.Header()
	h.Set("Content-Type", d.MimeType)
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": d.Nom}))
	h.Set("Content-Security-Policy", "sandbox; default-src 'none'")
	h.Set("ETag", `"`+d.SHA256+`"`)
	h.Set("Digest", "sha-256="+d.SHA256)
	http.ServeContent(&problemOnFailure{ResponseWriter: w, r: r}, r, "", d.UpdatedAt, io.ReadSeeker(rc))
}

// problemOnFailure turns the plain-text 412 and 416 answers of
// http.ServeContent into problem+json, without the headers that describe
// the content (its encoding, disposition, digest and caching).
type problemOnFailure struct {
	http.ResponseWriter
	r       *http.Request
	swallow bool
}

func (p *problemOnFailure) WriteHeader(code int) {
	if code == http.StatusPreconditionFailed || code == http.StatusRequestedRangeNotSatisfiable {
		h := p.ResponseWriter.Header()
		for _, k := range []string{"Content-Encoding", "Content-Disposition", "Digest", "Cache-Control"} {
			h.Del(k)
		}
	}
	switch code {
	case http.StatusPreconditionFailed:
		p.swallow = true
		problem.Write(p.ResponseWriter, p.r, problem.New(code, "precondition-failed", "The representation has changed (If-Match or If-Unmodified-Since)."))
	case http.StatusRequestedRangeNotSatisfiable:
		p.swallow = true
		problem.Write(p.ResponseWriter, p.r, problem.New(code, "range-not-satisfiable", "The requested range is outside the representation."))
	default:
		p.ResponseWriter.WriteHeader(code)
	}
}

func (p *problemOnFailure) Write(b []byte) (int, error) {
	if p.swallow {
		return len(b), nil
	}
	return p.ResponseWriter.Write(b)
}

func (a *API) planning(w http.ResponseWriter, r *http.Request) {
	q := newQuery(r, "from", "to", "user_id")
	from, to, userID := q.date("from"), q.date("to"), q.int64("user_id", true)
	if err := q.err(); err != nil {
		a.writeError(w, r, err)
		return
	}
	items, err := a.o.Affectations.Planning(r.Context(), from, to, userID)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	a.writeJSON(w, r, http.StatusOK, map[string]any{"from": from, "to": to, "data": items}, planningDTO)
}

func (a *API) stats(w http.ResponseWriter, r *http.Request) {
	if err := newQuery(r).err(); err != nil {
		a.writeError(w, r, err)
		return
	}
	st, err := a.o.Stats.Stats(r.Context())
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	a.writeJSON(w, r, http.StatusOK, st, statsDTO)
}

func (a *API) me(w http.ResponseWriter, r *http.Request) {
	q := newQuery(r, "fields")
	_, sel, err := a.selection(q, meSchema, meSchemaV2, meDTO)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if err := q.err(); err != nil {
		a.writeError(w, r, err)
		return
	}
	u, err := a.o.Users.Me(r.Context())
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	p := hubapi.PrincipalFrom(r.Context())
	writeSelected(w, r, a, struct {
		*hubapi.User
		Scopes []hubapi.Scope `json:"scopes"`
	}{u, p.Scopes}, sel, selfProjector, meDTO)
}

// apiKeyView is an API key as listed (never the secret or its hash). Its
// security settings are shown only on keys that use them, so the v1
// representation of the other keys is unchanged.
type apiKeyView struct {
	*hubapi.APIKey
	Scopes []hubapi.Scope `json:"scopes"`
	*apiKeySecurityView
}

// apiKeySecurityView is the allow-list and rotation state of a key.
type apiKeySecurityView struct {
	IPAllowlist             []string   `json:"ip_allowlist"`
	AutoRotate              bool       `json:"auto_rotate"`
	RotationIntervalDays    int        `json:"rotation_interval_days"`
	LastRotatedAt           *time.Time `json:"last_rotated_at"`
	PreviousSecretExpiresAt *time.Time `json:"previous_secret_expires_at"`
}

// viewAPIKey is the representation of k.
func viewAPIKey(k *hubapi.APIKey) apiKeyView {
	v := apiKeyView{APIKey: k, Scopes: k.ScopeList()}
	if k.IPAllowlist != nil || k.AutoRotate || k.LastRotatedAt != nil {
		v.apiKeySecurityView = &apiKeySecurityView{IPAllowlist: k.IPAllowlist, AutoRotate: k.AutoRotate,
			RotationIntervalDays: k.RotationIntervalDays, LastRotatedAt: k.LastRotatedAt, PreviousSecretExpiresAt: k.PreviousExpiresAt}
	}
	return v
}

func (a *API) listAPIKeys(w http.ResponseWriter, r *http.Request) {
	q := newQuery(r, "user_id")
	userID := q.int64("user_id", true)
	if err := q.err(); err != nil {
		a.writeError(w, r, err)
		return
	}
	keys, err := a.o.APIKeys.ListAPIKeys(r.Context(), userID)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	out := make([]apiKeyView, len(keys))
	for i := range keys {
		out[i] = viewAPIKey(&keys[i])
	}
	a.writeJSON(w, r, http.StatusOK, map[string]any{"data": out}, listDTO(apiKeyDTO))
}

func (a *API) createAPIKey(w http.ResponseWriter, r *http.Request) {
	in, err := decodeInput[hubapi.APIKeyInput](w, r, apiKeyInputDTO)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	k, secret, err := a.o.APIKeys.CreateAPIKey(r.Context(), in)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", a.base+"/admin/api-keys/"+strconv.FormatInt(k.ID, 10))
	w.Header().Set("Cache-Control", "no-store")
	a.writeJSON(w, r, http.StatusCreated, struct {
		apiKeyView
		Key string `json:"key"`
	}{viewAPIKey(k), secret}, apiKeyDTO)
}

func (a *API) revokeAPIKey(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if err := a.o.APIKeys.RevokeAPIKey(r.Context(), id); err != nil {
		a.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
