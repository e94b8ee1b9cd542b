package rest

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/hubchantier/hubchantier/etag"
	"github.com/hubchantier/hubchantier/hubapi"
)

// The GDPR rights (docs/PRIVACY.md): GET /users/me/export, PATCH /users/me,
// POST /users/me/email/verify and DELETE /admin/users/{id}.

// ExportFormat names the layout of an export archive.
const ExportFormat = "hubchantier-export/1"

// profileView is the caller's profile in an export: the account, and an
// e-mail change waiting for its verification.
type profileView struct {
	*hubapi.User
	PendingEmail *string `json:"pending_email"`
}

var profileDTO = newDTO(append([]string{"id", "email", "nom", "prenom", "role", "pending_email"}, timestamps...), V2UserNames, nil)

// exportWriter streams an export as one JSON object:
//
//	{"format": ..., "exported_at": ..., "profile": {...}, "pointages": [...], ..., "audit_events": [...]}
//
// Each item is encoded as it comes (one store batch at a time), so the
// memory does not grow with the history.
type exportWriter struct {
	a     *API
	w     *bufio.Writer
	items int // in the current section
}

func (e *exportWriter) name(v1 string) string {
	if e.a.v2 {
		return v2Name(v1)
	}
	return v1
}

func (e *exportWriter) value(v any, d *dto) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if e.a.v2 && d != nil {
		if b, err = d.toV2(make([]byte, 0, len(b)+len(b)/8), b); err != nil {
			return err
		}
	}
	_, err = e.w.Write(b)
	return err
}

func (e *exportWriter) Profile(u *hubapi.User) error {
	var pending *string
	if u.PendingEmail != "" {
		pending = &u.PendingEmail
	}
	fmt.Fprintf(e.w, `{%q:%q,%q:%q,%q:`, "format", ExportFormat, e.name("exported_at"), time.Now().UTC().Format(time.RFC3339), "profile")
	return e.value(profileView{u, pending}, profileDTO)
}

func (e *exportWriter) Begin(section string) error {
	e.items = 0
	_, err := fmt.Fprintf(e.w, `,%q:[`, e.name(section))
	return err
}

func (e *exportWriter) Item(v any) error {
	if e.items > 0 {
		if err := e.w.WriteByte(','); err != nil {
			return err
		}
	}
	e.items++
	switch x := v.(type) {
	case *hubapi.Pointage:
		return e.value(x, pointageDTO)
	case *hubapi.Affectation:
		return e.value(x, affectationDTO)
	case *hubapi.Document:
		return e.value(x, documentDTO)
	case *hubapi.Signalement:
		return e.value(x, signalementDTO)
	case *hubapi.APIKey:
		return e.value(viewAPIKey(x), apiKeyDTO)
	case *hubapi.OAuthAuthorization:
		return e.value(x, authorizationDTO)
	case *hubapi.WebhookSubscription:
		return e.value(viewWebhook(x), webhookDTO)
	case json.RawMessage: // an audit event, in the audit trail's own form
		if !json.Valid(x) {
			return errors.New("rest: an audit event is not valid JSON")
		}
		_, err := e.w.Write(x)
		return err
	}
	return fmt.Errorf("rest: export item of type %T", v)
}

func (e *exportWriter) End() error { return e.w.WriteByte(']') }

// exportMe answers GET /users/me/export: a JSON archive of everything held
// about the caller, as a download. The body is streamed: a failure after
// the first byte aborts the connection, so that a client never takes a
// truncated archive for a complete one.
func (a *API) exportMe(w http.ResponseWriter, r *http.Request) {
	if err := newQuery(r).err(); err != nil {
		a.writeError(w, r, err)
		return
	}
	started := false
	sink := &startGuard{before: func() {
		started = true
		p := hubapi.PrincipalFrom(r.Context())
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Disposition", `attachment; filename="hubchantier-export-`+strconv.FormatInt(p.UserID, 10)+`.json"`)
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
	}}
	bw := bufio.NewWriterSize(w, 32<<10)
	sink.exportWriter = exportWriter{a: a, w: bw}
	err := a.o.Privacy.ExportMe(r.Context(), sink)
	if err == nil {
		if err = bw.WriteByte('}'); err == nil {
			err = bw.Flush()
		}
	}
	if err == nil {
		return
	}
	if !started {
		a.writeError(w, r, err)
		return
	}
	a.log.WarnContext(r.Context(), "export aborted", "error", err.Error())
	panic(http.ErrAbortHandler)
}

// startGuard sends the response's header just before the first byte of
// the archive: an error before it (authorization, the profile's read) is
// still a problem response.
type startGuard struct {
	exportWriter
	before func()
}

func (g *startGuard) Profile(u *hubapi.User) error {
	g.before()
	return g.exportWriter.Profile(u)
}

// userUpdateDTO is the shape of a PATCH /users/me body.
var userUpdateDTO = newDTO([]string{"nom", "prenom", "email"}, V2UserNames, nil)

// patchMe answers PATCH /users/me: an RFC 7396 merge patch of nom, prenom
// and email; If-Match takes "v<version>" (the version of /users/me).
func (a *API) patchMe(w http.ResponseWriter, r *http.Request) {
	err := func() error {
		if err := newQuery(r).err(); err != nil {
			return err
		}
		patch, err := readBody(w, r, "application/merge-patch+json", "application/json")
		if err != nil {
			return err
		}
		if a.v2 {
			if patch, err = userUpdateDTO.inputToV1(patch, map[string]bool{"nom": true, "prenom": true, "email": true}); err != nil {
				return err
			}
		}
		var ifVersion int64
		if hasPrecondition(r) {
			me, err := a.o.Users.Me(r.Context())
			if err != nil {
				return err
			}
			if err := etag.CheckPreconditions(r, etag.VersionTag(me.Version), me.UpdatedAt, true); err != nil {
				return err
			}
			ifVersion = me.Version
		}
		u, err := a.o.Privacy.UpdateMe(r.Context(), mergeInto[hubapi.UserUpdate](patch), ifVersion)
		if err != nil {
			return err
		}
		a.writeMe(w, r, u)
		return nil
	}()
	if err != nil {
		a.writeError(w, r, err)
	}
}

// verifyEmail answers POST /users/me/email/verify {"token": "..."}.
func (a *API) verifyEmail(w http.ResponseWriter, r *http.Request) {
	err := func() error {
		if err := newQuery(r).err(); err != nil {
			return err
		}
		body, err := readBody(w, r)
		if err != nil {
			return err
		}
		var in struct {
			Token string `json:"token"`
		}
		if err := decodeStrict(body, &in); err != nil {
			return err
		}
		u, err := a.o.Privacy.VerifyMyEmail(r.Context(), in.Token)
		if err != nil {
			return err
		}
		a.writeMe(w, r, u)
		return nil
	}()
	if err != nil {
		a.writeError(w, r, err)
	}
}

// writeMe writes the caller's representation (as GET /users/me) with its
// version validators.
func (a *API) writeMe(w http.ResponseWriter, r *http.Request, u *hubapi.User) {
	p := hubapi.PrincipalFrom(r.Context())
	w.Header().Set("ETag", etag.VersionTag(u.Version).String())
	w.Header().Set("Last-Modified", u.UpdatedAt.UTC().Format(http.TimeFormat))
	a.writeJSON(w, r, http.StatusOK, struct {
		*hubapi.User
		Scopes []hubapi.Scope `json:"scopes"`
	}{u, p.Scopes}, meDTO)
}

// eraseUser answers DELETE /admin/users/{id}: 204, again for an erased
// user; 404 for an unknown one.
func (a *API) eraseUser(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err == nil {
		err = newQuery(r).err()
	}
	if err == nil {
		err = a.o.Privacy.EraseUser(r.Context(), id)
	}
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
