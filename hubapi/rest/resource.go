package rest

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/problem"
)

// resource is the CRUD surface shared by the five main resources: get,
// create (201 + Location), replace (PUT), merge-patch (PATCH) and delete
// (204), with optimistic concurrency through If-Match.
type resource[T any, In any] struct {
	name    string // collection name in URLs: "chantiers"
	get     func(ctx context.Context, id int64) (*T, error)
	create  func(ctx context.Context, in In) (*T, error)
	update  func(ctx context.Context, id int64, in In, ifVersion int64) (*T, error)
	remove  func(ctx context.Context, id int64, ifVersion int64) error
	id      func(*T) int64
	version func(*T) int64
	input   func(*T) In
}

// versionETag is the strong entity tag of a resource's full v1
// representation: it changes exactly when the stored version changes.
func versionETag(v int64) string { return `"v` + strconv.FormatInt(v, 10) + `"` }

func (res *resource[T, In]) handleGet(a *API) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := pathID(r)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		if err := newQuery(r).err(); err != nil {
			a.writeError(w, r, err)
			return
		}
		m, err := res.get(r.Context(), id)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		w.Header().Set("ETag", versionETag(res.version(m)))
		writeJSON(w, http.StatusOK, m)
	}
}

func (res *resource[T, In]) handleCreate(a *API) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := readBody(w, r)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		var in In
		if err := decodeStrict(body, &in); err != nil {
			a.writeError(w, r, err)
			return
		}
		m, err := res.create(r.Context(), in)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		w.Header().Set("Location", a.base+"/"+res.name+"/"+strconv.FormatInt(res.id(m), 10))
		w.Header().Set("ETag", versionETag(res.version(m)))
		writeJSON(w, http.StatusCreated, m)
	}
}

func (res *resource[T, In]) handlePut(a *API) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := pathID(r)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		body, err := readBody(w, r)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		var in In
		if err := decodeStrict(body, &in); err != nil {
			a.writeError(w, r, err)
			return
		}
		ifVersion, err := res.ifMatch(r, id)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		m, err := res.update(r.Context(), id, in, ifVersion)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		w.Header().Set("ETag", versionETag(res.version(m)))
		writeJSON(w, http.StatusOK, m)
	}
}

// handlePatch applies an RFC 7396 merge patch to the current writable
// fields. Without If-Match the write is still conditional on the version the
// patch was merged onto, retried a few times, so concurrent patches of
// different fields never lose each other's changes.
func (res *resource[T, In]) handlePatch(a *API) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := pathID(r)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		patch, err := readBody(w, r, "application/merge-patch+json", "application/json")
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		ifVersion, err := res.ifMatch(r, id)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		var m *T
		for attempt := 0; ; attempt++ {
			cur, err := res.get(r.Context(), id)
			if err != nil {
				a.writeError(w, r, err)
				return
			}
			if ifVersion != 0 && res.version(cur) != ifVersion {
				a.writeError(w, r, hubapi.Errorf(hubapi.ErrPrecondition, "the resource has changed"))
				return
			}
			base, err := json.Marshal(res.input(cur))
			if err != nil {
				a.writeError(w, r, err)
				return
			}
			merged, err := mergePatch(base, patch)
			if err != nil {
				a.writeError(w, r, err)
				return
			}
			var in In
			if err := decodeStrict(merged, &in); err != nil {
				a.writeError(w, r, err)
				return
			}
			m, err = res.update(r.Context(), id, in, res.version(cur))
			if err == nil {
				break
			}
			if ifVersion != 0 || attempt >= 7 || !errors.Is(err, hubapi.ErrPrecondition) {
				a.writeError(w, r, err)
				return
			}
		}
		w.Header().Set("ETag", versionETag(res.version(m)))
		writeJSON(w, http.StatusOK, m)
	}
}

func (res *resource[T, In]) handleDelete(a *API) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := pathID(r)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		ifVersion, err := res.ifMatch(r, id)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		if err := res.remove(r.Context(), id, ifVersion); err != nil {
			a.writeError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

// ifMatch turns If-Match into the version the write is conditional on
// (0 = unconditional). The comparison is strong (RFC 9110 §13.1.1): weak
// tags never match. "*" matches any existing resource.
func (res *resource[T, In]) ifMatch(r *http.Request, id int64) (int64, error) {
	h := r.Header.Values("If-Match")
	if len(h) == 0 {
		return 0, nil
	}
	versions, star := parseIfMatch(strings.Join(h, ","))
	if star {
		if _, err := res.get(r.Context(), id); err != nil {
			if errors.Is(err, hubapi.ErrNotFound) {
				return 0, problem.New(http.StatusPreconditionFailed, "precondition-failed", "If-Match: * but the resource does not exist.")
			}
			return 0, err
		}
		return 0, nil
	}
	switch len(versions) {
	case 0:
		return 0, problem.New(http.StatusPreconditionFailed, "precondition-failed", "No entity tag in If-Match matches the current representation.")
	case 1:
		return versions[0], nil
	}
	cur, err := res.get(r.Context(), id)
	if err != nil {
		return 0, err
	}
	v := res.version(cur)
	for _, x := range versions {
		if x == v {
			return v, nil
		}
	}
	return 0, problem.New(http.StatusPreconditionFailed, "precondition-failed", "No entity tag in If-Match matches the current representation.")
}

// parseIfMatch extracts the versions of strong "vN" tags; tags of another
// form cannot match and are ignored.
func parseIfMatch(h string) (versions []int64, star bool) {
	for _, t := range strings.Split(h, ",") {
		t = strings.TrimSpace(t)
		if t == "*" {
			return nil, true
		}
		if len(t) < 4 || !strings.HasPrefix(t, `"v`) || !strings.HasSuffix(t, `"`) {
			continue
		}
		v, err := strconv.ParseInt(t[2:len(t)-1], 10, 64)
		if err == nil && v > 0 {
			versions = append(versions, v)
		}
	}
	return versions, false
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		problem.Write(w, nil, problem.New(http.StatusInternalServerError, "internal", "The response could not be encoded."))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// listEnvelope is the legacy list body.
type listEnvelope[T any] struct {
	Data       []T      `json:"data"`
	Pagination pageInfo `json:"pagination"`
}

type pageInfo struct {
	Page       int  `json:"page"`
	Limit      int  `json:"limit"`
	Total      int  `json:"total"`
	TotalPages int  `json:"total_pages"`
	HasMore    bool `json:"has_more"`
}

func newListEnvelope[T any](l *hubapi.List[T], page, limit int) listEnvelope[T] {
	pages := (l.Total + limit - 1) / limit
	return listEnvelope[T]{Data: l.Items, Pagination: pageInfo{Page: page, Limit: limit, Total: l.Total,
		TotalPages: pages, HasMore: page < pages}}
}
