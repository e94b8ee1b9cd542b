package rest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"path/filepath"
	"strconv"

	"github.com/hubchantier/hubchantier/etag"
	"github.com/hubchantier/hubchantier/fields"
	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/store"
	"github.com/hubchantier/hubchantier/problem"
)

var defaultSort = []hubapi.SortField{{Field: "created_at", Desc: true}}

func (a *API) mountLists(p *paginators) {
	a.listChantiers = (&lister[hubapi.Chantier, hubapi.ChantierFilter]{
		pager: p.chantiers, schema: chantierSchema, sort: store.ChantierSort,
		filters: []string{"statut", "ville", "responsable_id"},
		filter: func(q *query) hubapi.ChantierFilter {
			return hubapi.ChantierFilter{Statut: enumParam(q, "statut", hubapi.ChantierStatuts), Ville: q.get("ville"),
				ResponsableID: q.int64("responsable_id", true)}
		},
		query: a.svc.ChantierQuery, count: a.svc.CountChantiers, view: a.chantierViews,
	}).handle(a)
	a.listPointages = (&lister[hubapi.Pointage, hubapi.PointageFilter]{
		pager: p.pointages, schema: pointageSchema, sort: store.PointageSort,
		filters: []string{"chantier_id", "user_id", "statut", "date_from", "date_to"},
		filter: func(q *query) hubapi.PointageFilter {
			return hubapi.PointageFilter{ChantierID: q.int64("chantier_id", true), UserID: q.int64("user_id", true),
				Statut: enumParam(q, "statut", hubapi.PointageStatuts), From: q.date("date_from"), To: q.date("date_to")}
		},
		query: a.svc.PointageQuery, count: a.svc.CountPointages,
	}).handle(a)
	a.listDocuments = (&lister[hubapi.Document, hubapi.DocumentFilter]{
		pager: p.documents, schema: documentSchema, sort: store.DocumentSort,
		filters: []string{"chantier_id", "categorie"},
		filter: func(q *query) hubapi.DocumentFilter {
			return hubapi.DocumentFilter{ChantierID: q.int64("chantier_id", true), Categorie: enumParam(q, "categorie", hubapi.DocumentCategories)}
		},
		query: a.svc.DocumentQuery, count: a.svc.CountDocuments,
	}).handle(a)
	a.listSignalements = (&lister[hubapi.Signalement, hubapi.SignalementFilter]{
		pager: p.signalements, schema: signalementSchema, sort: store.SignalementSort,
		filters: []string{"chantier_id", "statut", "gravite"},
		filter: func(q *query) hubapi.SignalementFilter {
			return hubapi.SignalementFilter{ChantierID: q.int64("chantier_id", true), Statut: enumParam(q, "statut", hubapi.SignalementStatuts),
				Gravite: enumParam(q, "gravite", hubapi.Gravites)}
		},
		query: a.svc.SignalementQuery, count: a.svc.CountSignalements,
	}).handle(a)
	a.listAffectations = (&lister[hubapi.Affectation, hubapi.AffectationFilter]{
		pager: p.affectations, schema: affectationSchema, sort: store.AffectationSort,
		filters: []string{"chantier_id", "user_id", "date_from", "date_to"},
		filter: func(q *query) hubapi.AffectationFilter {
			return hubapi.AffectationFilter{ChantierID: q.int64("chantier_id", true), UserID: q.int64("user_id", true),
				From: q.date("date_from"), To: q.date("date_to")}
		},
		query: a.svc.AffectationQuery, count: a.svc.CountAffectations,
	}).handle(a)
}

// chantierView is a chantier with its responsable nested, the
// representation used when a selection names responsable.
type chantierView struct {
	*hubapi.Chantier
	Responsable *hubapi.UserSummary `json:"responsable"`
}

func (a *API) chantierViews(ctx context.Context, rows []hubapi.Chantier, sel *fields.Selection) (any, error) {
	if !sel.Has("responsable") {
		return rows, nil
	}
	var ids []int64
	for _, c := range rows {
		if c.ResponsableID != nil {
			ids = append(ids, *c.ResponsableID)
		}
	}
	users, err := a.svc.UserSummaries(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make([]chantierView, len(rows))
	for i := range rows {
		out[i].Chantier = &rows[i]
		if id := rows[i].ResponsableID; id != nil {
			if u, ok := users[*id]; ok {
				out[i].Responsable = &u
			}
		}
	}
	return out, nil
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
		p, err := a.svc.ValidatePointage(r.Context(), id, ifVersion)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		pt.setValidators(w, p)
		writeJSON(w, http.StatusOK, p)
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
	r.Body = http.MaxBytesReader(w, r.Body, a.svc.MaxUpload()+64<<10)
	if err := r.ParseMultipartForm(8 << 20); err != nil { // #nosec G120 -- body capped by MaxBytesReader above
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			a.writeError(w, r, problem.New(http.StatusRequestEntityTooLarge, "body-too-large", fmt.Sprintf("The upload exceeds %d bytes.", a.svc.MaxUpload())))
			return
		}
		a.writeError(w, r, badRequest("malformed-multipart", "The multipart body could not be parsed."))
		return
	}
	defer func() { _ = r.MultipartForm.RemoveAll() }()
	form := r.MultipartForm
	for k := range form.Value {
		if k != "chantier_id" && k != "nom" && k != "categorie" {
			a.writeError(w, r, badRequest("unknown-field", fmt.Sprintf("Unknown form field %q.", sanitize(k))))
			return
		}
	}
	files := form.File["file"]
	if len(files) != 1 || len(form.File) != 1 {
		a.writeError(w, r, &hubapi.ValidationError{Fields: map[string]string{"file": "exactly one file part named file is required"}})
		return
	}
	val := func(k string) string {
		if v := form.Value[k]; len(v) > 0 {
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
	d, err := a.svc.CreateDocument(r.Context(), in, hubapi.Upload{MimeType: fh.Header.Get("Content-Type"), Body: f})
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", a.base+"/documents/"+strconv.FormatInt(d.ID, 10))
	w.Header().Set("ETag", etag.VersionTag(d.Version).String())
	writeJSON(w, http.StatusCreated, d)
}

// documentContent serves the file as an attachment, with Range support.
func (a *API) documentContent(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	d, rc, err := a.svc.OpenDocument(r.Context(), id)
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
// http.ServeContent into problem+json.
type problemOnFailure struct {
	http.ResponseWriter
	r       *http.Request
	swallow bool
}

func (p *problemOnFailure) WriteHeader(code int) {
	switch code {
	case http.StatusPreconditionFailed:
		p.swallow = true
		problem.Write(p.ResponseWriter, p.r, problem.New(code, "precondition-failed", "The document has changed (If-Match or If-Unmodified-Since)."))
	case http.StatusRequestedRangeNotSatisfiable:
		p.swallow = true
		problem.Write(p.ResponseWriter, p.r, problem.New(code, "range-not-satisfiable", "The requested range is outside the document."))
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
	items, err := a.svc.Planning(r.Context(), from, to, userID)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"from": from, "to": to, "data": items})
}

func (a *API) stats(w http.ResponseWriter, r *http.Request) {
	if err := newQuery(r).err(); err != nil {
		a.writeError(w, r, err)
		return
	}
	st, err := a.svc.Stats(r.Context())
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (a *API) me(w http.ResponseWriter, r *http.Request) {
	q := newQuery(r, "fields")
	var sel *fields.Selection
	if _, ok := q.v["fields"]; ok {
		var err error
		if sel, err = fields.Parse(q.get("fields"), meSchema); err != nil {
			a.writeError(w, r, fields.Problem(err))
			return
		}
	}
	if err := q.err(); err != nil {
		a.writeError(w, r, err)
		return
	}
	u, err := a.svc.Me(r.Context())
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	p := hubapi.PrincipalFrom(r.Context())
	writeSelected(w, r, a, struct {
		*hubapi.User
		Scopes []hubapi.Scope `json:"scopes"`
	}{u, p.Scopes}, sel, selfProjector)
}

// apiKeyView is an API key as listed (never the secret or its hash).
type apiKeyView struct {
	*hubapi.APIKey
	Scopes []hubapi.Scope `json:"scopes"`
}

func (a *API) listAPIKeys(w http.ResponseWriter, r *http.Request) {
	q := newQuery(r, "user_id")
	userID := q.int64("user_id", true)
	if err := q.err(); err != nil {
		a.writeError(w, r, err)
		return
	}
	keys, err := a.svc.ListAPIKeys(r.Context(), userID)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	out := make([]apiKeyView, len(keys))
	for i := range keys {
		out[i] = apiKeyView{&keys[i], keys[i].ScopeList()}
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": out})
}

func (a *API) createAPIKey(w http.ResponseWriter, r *http.Request) {
	in, err := decodeInput[hubapi.APIKeyInput](w, r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	k, secret, err := a.svc.CreateAPIKey(r.Context(), in)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", a.base+"/admin/api-keys/"+strconv.FormatInt(k.ID, 10))
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, struct {
		apiKeyView
		Key string `json:"key"`
	}{apiKeyView{k, k.ScopeList()}, secret})
}

func (a *API) revokeAPIKey(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if err := a.svc.RevokeAPIKey(r.Context(), id); err != nil {
		a.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
