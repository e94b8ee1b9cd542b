package rest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"time"

	"github.com/hubchantier/hubchantier/etag"
	"github.com/hubchantier/hubchantier/fields"
	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/problem"
)

// resource is the CRUD surface shared by the five main resources: get,
// create (201 + Location), replace (PUT), merge-patch (PATCH) and delete
// (204), with optimistic concurrency through If-Match.
type resource[T any, In any] struct {
	name    string // collection name in URLs: "chantiers"
	get     func(ctx context.Context, id int64, sel *fields.Selection) (*T, error)
	create  func(ctx context.Context, in In) (*T, error)
	update  func(ctx context.Context, id int64, in In, ifVersion int64) (*T, error)
	patch   func(ctx context.Context, id int64, change func(In) (In, error), ifVersion int64) (*T, error)
	remove  func(ctx context.Context, id int64, ifVersion int64) error
	id      func(*T) int64
	version func(*T) int64
	updated func(*T) time.Time
	schema  *fields.Schema
	// schemaV2 and dto are the field schema and the shape of the v2
	// representation.
	schemaV2 *fields.Schema
	dto      *dto
	// view gives the representation of m for a selection (nil: m itself).
	view func(m *T, sel *fields.Selection) any
}

// handler adapts a handler that reports failures as errors: every error
// becomes its problem+json response.
func (a *API) handler(f func(w http.ResponseWriter, r *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := f(w, r); err != nil {
			a.writeError(w, r, err)
		}
	}
}

// decodeInput reads and strictly decodes a JSON body; a v2 body is first
// given its v1 member names (d is the shape of its representation).
func decodeInput[In any](w http.ResponseWriter, r *http.Request, d *dto) (In, error) {
	var in In
	body, err := readBody(w, r)
	if err != nil {
		return in, err
	}
	if isV2(r) {
		if body, err = d.inputToV1(body, jsonNames(reflect.TypeOf(&in))); err != nil {
			return in, err
		}
	}
	return in, decodeStrict(body, &in)
}

// selection parses the fields parameter, if any: sel is the selection the
// use case reads (v1 names, the domain's schema), out the one that
// projects the response (the v2 names on v2).
func (a *API) selection(q *query, v1, v2 *fields.Schema, d *dto) (sel, out *fields.Selection, err error) {
	if _, ok := q.v["fields"]; !ok {
		return nil, nil, nil
	}
	expr := q.get("fields")
	if !a.v2 {
		if sel, err = fields.Parse(expr, v1); err != nil {
			return nil, nil, fields.Problem(err)
		}
		return sel, sel, nil
	}
	if out, err = fields.Parse(expr, v2); err != nil {
		return nil, nil, fields.Problem(err)
	}
	if sel, err = fields.Parse(v1Expression(out.String(), d), v1); err != nil {
		return nil, nil, fmt.Errorf("rest: v2 selection %q has no v1 form: %w", out.String(), err)
	}
	return sel, out, nil
}

// writeJSON writes v, in its v2 form (shape d) on v2.
func (a *API) writeJSON(w http.ResponseWriter, r *http.Request, status int, v any, d *dto) {
	if !a.v2 {
		writeJSON(w, status, v)
		return
	}
	b, err := a.v2JSON(v, d)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, status, b)
}

// v2JSON encodes v and renames its members to their v2 names.
func (a *API) v2JSON(v any, d *dto) (json.RawMessage, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return d.toV2(make([]byte, 0, len(b)+len(b)/8), b)
}

func (res *resource[T, In]) handleGet(a *API) http.HandlerFunc {
	return a.handler(func(w http.ResponseWriter, r *http.Request) error {
		id, err := pathID(r)
		if err != nil {
			return err
		}
		q := newQuery(r, "fields")
		sel, out, err := a.selection(q, res.schema, res.schemaV2, res.dto)
		if err != nil {
			return err
		}
		if err := q.err(); err != nil {
			return err
		}
		m, err := res.get(r.Context(), id, sel)
		if err != nil {
			return err
		}
		if sel == nil {
			res.setValidators(w, m)
			a.writeJSON(w, r, http.StatusOK, m, res.dto)
			return nil
		}
		// A selection is another representation: no version ETag (the
		// conditional middleware tags the projected bytes), so a fields
		// variant's tag is never accepted by If-Match.
		w.Header().Set("Last-Modified", res.updated(m).UTC().Format(http.TimeFormat))
		var v any = m
		if res.view != nil {
			v = res.view(m, sel)
		}
		writeSelected(w, r, a, v, out, selfProjector, res.dto)
		return nil
	})
}

func (res *resource[T, In]) handleCreate(a *API) http.HandlerFunc {
	return a.handler(func(w http.ResponseWriter, r *http.Request) error {
		in, err := decodeInput[In](w, r, res.dto)
		if err != nil {
			return err
		}
		m, err := res.create(r.Context(), in)
		if err != nil {
			return err
		}
		w.Header().Set("Location", a.base+"/"+res.name+"/"+strconv.FormatInt(res.id(m), 10))
		res.setValidators(w, m)
		a.writeJSON(w, r, http.StatusCreated, m, res.dto)
		return nil
	})
}

func (res *resource[T, In]) handlePut(a *API) http.HandlerFunc {
	return a.handler(func(w http.ResponseWriter, r *http.Request) error {
		id, err := pathID(r)
		if err != nil {
			return err
		}
		in, err := decodeInput[In](w, r, res.dto)
		if err != nil {
			return err
		}
		ifVersion, err := res.precondition(r, id)
		if err != nil {
			return err
		}
		m, err := res.update(r.Context(), id, in, ifVersion)
		if err != nil {
			return err
		}
		res.setValidators(w, m)
		a.writeJSON(w, r, http.StatusOK, m, res.dto)
		return nil
	})
}

// handlePatch applies an RFC 7396 merge patch to the current writable
// fields. The use case merges it under the row lock, so concurrent patches
// without If-Match all succeed one after the other and never lose each
// other's changes; with If-Match, the write is conditional on the version
// the client saw.
func (res *resource[T, In]) handlePatch(a *API) http.HandlerFunc {
	return a.handler(func(w http.ResponseWriter, r *http.Request) error {
		id, err := pathID(r)
		if err != nil {
			return err
		}
		patch, err := readBody(w, r, "application/merge-patch+json", "application/json")
		if err != nil {
			return err
		}
		if a.v2 {
			var in In
			if patch, err = res.dto.inputToV1(patch, jsonNames(reflect.TypeOf(&in))); err != nil {
				return err
			}
		}
		ifVersion, err := res.precondition(r, id)
		if err != nil {
			return err
		}
		m, err := res.patch(r.Context(), id, mergeInto[In](patch), ifVersion)
		if err != nil {
			return err
		}
		res.setValidators(w, m)
		a.writeJSON(w, r, http.StatusOK, m, res.dto)
		return nil
	})
}

// mergeInto returns the change that applies a merge patch to the current
// writable fields: their JSON, merged, decoded strictly.
func mergeInto[In any](patch []byte) func(In) (In, error) {
	return func(cur In) (In, error) {
		var in In
		base, err := json.Marshal(cur)
		if err != nil {
			return in, err
		}
		merged, err := mergePatch(base, patch)
		if err != nil {
			return in, err
		}
		return in, decodeStrict(merged, &in)
	}
}

func (res *resource[T, In]) handleDelete(a *API) http.HandlerFunc {
	return a.handler(func(w http.ResponseWriter, r *http.Request) error {
		id, err := pathID(r)
		if err != nil {
			return err
		}
		ifVersion, err := res.precondition(r, id)
		if err != nil {
			return err
		}
		if err := res.remove(r.Context(), id, ifVersion); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}

// precondition evaluates If-Match, If-Unmodified-Since and If-None-Match
// (RFC 9110 §13.2.2) against the current resource and returns the version
// the write must be conditional on: the stored version when the request
// carried a precondition (so the check and the UPDATE ... WHERE version = ?
// are one atomic step), 0 for an unconditional write.
func (res *resource[T, In]) precondition(r *http.Request, id int64) (int64, error) {
	if !hasPrecondition(r) {
		return 0, nil
	}
	cur, err := res.get(r.Context(), id, nil)
	exists := err == nil
	if err != nil && !errors.Is(err, hubapi.ErrNotFound) {
		return 0, err
	}
	var tag etag.Tag
	var modified time.Time
	if exists {
		tag, modified = etag.VersionTag(res.version(cur)), res.updated(cur)
	}
	if err := etag.CheckPreconditions(r, tag, modified, exists); err != nil {
		return 0, err
	}
	if !exists {
		return 0, hubapi.ErrNotFound
	}
	return res.version(cur), nil
}

func hasPrecondition(r *http.Request) bool {
	h := r.Header
	return len(h["If-Match"]) > 0 || len(h["If-Unmodified-Since"]) > 0 || len(h["If-None-Match"]) > 0
}

// setValidators sets the ETag and Last-Modified of a full representation.
func (res *resource[T, In]) setValidators(w http.ResponseWriter, m *T) {
	w.Header().Set("ETag", etag.VersionTag(res.version(m)).String())
	w.Header().Set("Last-Modified", res.updated(m).UTC().Format(http.TimeFormat))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		// No request here to carry the type base: the type is made absolute.
		d := problem.New(http.StatusInternalServerError, "internal", "The response could not be encoded.")
		d.Type = hubapi.ProblemTypeBase + "internal"
		problem.Write(w, nil, d)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

type pageInfo struct {
	Page       int  `json:"page"`
	Limit      int  `json:"limit"`
	Total      int  `json:"total"`
	TotalPages int  `json:"total_pages"`
	HasMore    bool `json:"has_more"`
}
