package generated

// Written by hand, not by gqlgen (gqlgen leaves the other files of the
// package alone); the fastlists step of go generate calls it from the list
// marshalers of generated.go.

import (
	"context"
	"io"
	"math"
	"strconv"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/graphql/model"
)

// The fast path of lists. A page of 50 nodes marshaled by gqlgen runs, for
// every field of every node, a field context, a resolver closure, the
// field middleware and a marshaler closure: about a hundred allocations per
// node. The nodes of a page are objects whose fields are all read from the
// Go value (no resolver, nothing that can fail), so their JSON can be
// written in one pass: the selection set is collected once per list (the
// same gqlgen CollectFields, hence the same fields, aliases, fragments,
// @skip/@include and order), compiled to a list of encoders, and run over
// every element.
//
// The fast path answers only when its output is exactly gqlgen's: it gives
// up, and the generic code runs, when the selection names a field with a
// resolver (pointage.chantier, ...), a deferred fragment, or when a value
// would make gqlgen report an error (a nil element, a zero non-null Time, a
// NaN or infinite Float). The handler installs no field middleware (no
// extension intercepts fields), so skipping the per-field middleware
// changes nothing; a test compares both paths on varied selections.

type noFastListsKey struct{}

// WithoutFastLists returns a context under which lists are marshaled by
// gqlgen's generic code only (the reference the fast path is tested and
// measured against).
func WithoutFastLists(ctx context.Context) context.Context {
	return context.WithValue(ctx, noFastListsKey{}, true)
}

func fastListsOff(ctx context.Context) bool {
	off, _ := ctx.Value(noFastListsKey{}).(bool)
	return off
}

// encoder appends the JSON of one field of v; false when only gqlgen's
// generic code can answer for it.
type encoder[T any] func(b []byte, v *T) ([]byte, bool)

// step is one response member: its key ("alias":) and its encoder.
type step[T any] struct {
	key []byte
	enc encoder[T]
}

// objectType describes a GraphQL object type the fast path can write.
type objectType[T any] struct {
	name         string
	implementors []string
	// scalars are the fields read from the Go value with a scalar (or
	// enum) type.
	scalars map[string]encoder[T]
	// objects are the fields read from the Go value with an object type,
	// given the field's selection set.
	objects map[string]func(oc *graphql.OperationContext, sel ast.SelectionSet) (encoder[T], bool)
}

// compile collects sel once and returns its steps, in response order.
func (t *objectType[T]) compile(oc *graphql.OperationContext, sel ast.SelectionSet) ([]step[T], bool) {
	fields := graphql.CollectFields(oc, sel, t.implementors)
	steps := make([]step[T], 0, len(fields))
	for i, f := range fields {
		if len(f.Deferrables) > 0 {
			return nil, false
		}
		if seenKey(fields[:i], f.Alias) {
			continue // as gqlgen writes a response key once
		}
		var enc encoder[T]
		switch {
		case f.Name == "__typename":
			name := appendString(nil, t.name)
			enc = func(b []byte, _ *T) ([]byte, bool) { return append(b, name...), true }
		case t.scalars[f.Name] != nil:
			enc = t.scalars[f.Name]
		case t.objects[f.Name] != nil:
			e, ok := t.objects[f.Name](oc, f.Selections)
			if !ok {
				return nil, false
			}
			enc = e
		default:
			return nil, false // a resolver field, or one not known here
		}
		key := appendString(nil, f.Alias)
		steps = append(steps, step[T]{key: append(key, ':'), enc: enc})
	}
	return steps, true
}

func seenKey(fields []graphql.CollectedField, alias string) bool {
	for _, f := range fields {
		if f.Alias == alias {
			return true
		}
	}
	return false
}

// appendObject writes v as the object of steps.
func appendObject[T any](b []byte, steps []step[T], v *T) ([]byte, bool) {
	b = append(b, '{')
	for i := range steps {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, steps[i].key...)
		var ok bool
		if b, ok = steps[i].enc(b, v); !ok {
			return b, false
		}
	}
	return append(b, '}'), true
}

// nullableObject is the encoder of a nullable object field read from the
// parent's Go value.
func nullableObject[P, T any](t *objectType[T], get func(*P) *T) func(*graphql.OperationContext, ast.SelectionSet) (encoder[P], bool) {
	return func(oc *graphql.OperationContext, sel ast.SelectionSet) (encoder[P], bool) {
		steps, ok := t.compile(oc, sel)
		if !ok {
			return nil, false
		}
		return func(b []byte, p *P) ([]byte, bool) {
			v := get(p)
			if v == nil {
				return append(b, "null"...), true
			}
			return appendObject(b, steps, v)
		}, true
	}
}

// nonNullObject is the encoder of a non-null object field (an edge's node).
func nonNullObject[P, T any](t *objectType[T], get func(*P) *T) func(*graphql.OperationContext, ast.SelectionSet) (encoder[P], bool) {
	return func(oc *graphql.OperationContext, sel ast.SelectionSet) (encoder[P], bool) {
		steps, ok := t.compile(oc, sel)
		if !ok {
			return nil, false
		}
		return func(b []byte, p *P) ([]byte, bool) {
			v := get(p)
			if v == nil {
				return b, false // gqlgen's "must not be null" error
			}
			return appendObject(b, steps, v)
		}, true
	}
}

// fastList marshals the non-null list of non-null elements v in one pass,
// or reports false when gqlgen must.
func fastList[T any](ctx context.Context, oc *graphql.OperationContext, t *objectType[T], sel ast.SelectionSet, v []*T) (graphql.Marshaler, bool) {
	if oc == nil || fastListsOff(ctx) {
		return nil, false
	}
	steps, ok := t.compile(oc, sel)
	if !ok {
		return nil, false
	}
	var b []byte
	for i, e := range v {
		if e == nil {
			return nil, false
		}
		if i == 0 {
			b = append(b, '[')
		} else {
			b = append(b, ',')
		}
		if b, ok = appendObject(b, steps, e); !ok {
			return nil, false
		}
		if i == 0 && len(v) > 1 {
			// the first element tells the size of the others
			nb := make([]byte, len(b), len(b)*len(v)+len(b)/2+16)
			copy(nb, b)
			b = nb
		}
	}
	if len(v) == 0 {
		b = append(b, '[')
	}
	return rawJSON(append(b, ']')), true
}

// rawJSON is JSON written ahead.
type rawJSON []byte

func (r rawJSON) MarshalGQL(w io.Writer) { _, _ = w.Write(r) }

// ---- scalars, written as gqlgen's marshalers write them

const hexDigits = "0123456789ABCDEF"

// appendString is graphql.MarshalString: only control characters, '\\'
// and '"' are escaped (every byte of a multi-byte UTF-8 sequence, and an
// invalid byte, is ≥ 0x80 and copied).
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '\\' && c != '"' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '\t':
			b = append(b, '\\', 't')
		case '\r':
			b = append(b, '\\', 'r')
		case '\n':
			b = append(b, '\\', 'n')
		case '\\':
			b = append(b, '\\', '\\')
		case '"':
			b = append(b, '\\', '"')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendID is model.MarshalInt64ID.
func appendID(b []byte, id int64) []byte {
	b = append(b, '"')
	b = strconv.AppendInt(b, id, 10)
	return append(b, '"')
}

func appendOptID(b []byte, id *int64) []byte {
	if id == nil {
		return append(b, "null"...)
	}
	return appendID(b, *id)
}

// appendTime is graphql.MarshalTime of a non-null Time: RFC 3339 with
// nanoseconds (ASCII, so strconv.Quote adds the quotes only); a zero time
// is gqlgen's "must not be null" error.
func appendTime(b []byte, t time.Time) ([]byte, bool) {
	if t.IsZero() {
		return b, false
	}
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"'), true
}

// appendOptTime is the nullable Time: nil and zero are null.
func appendOptTime(b []byte, t *time.Time) []byte {
	if t == nil || t.IsZero() {
		return append(b, "null"...)
	}
	b, _ = appendTime(b, *t)
	return b
}

// appendDate is model.MarshalDate (null for the zero date, non-null field
// or not, as the marshaler writes it).
func appendDate(b []byte, d hubapi.Date) []byte {
	if d.IsZero() {
		return append(b, "null"...)
	}
	return strconv.AppendQuote(b, d.String())
}

// appendOptFloat is graphql.MarshalFloatContext ("%g", which is
// strconv's shortest 'g'); NaN and infinities are gqlgen's error.
func appendOptFloat(b []byte, f *float64) ([]byte, bool) {
	if f == nil {
		return append(b, "null"...), true
	}
	if math.IsInf(*f, 0) || math.IsNaN(*f) {
		return b, false
	}
	return strconv.AppendFloat(b, *f, 'g', -1, 64), true
}

// The encoders of the field kinds.
func str[T any](get func(*T) string) encoder[T] {
	return func(b []byte, v *T) ([]byte, bool) { return appendString(b, get(v)), true }
}

func id[T any](get func(*T) int64) encoder[T] {
	return func(b []byte, v *T) ([]byte, bool) { return appendID(b, get(v)), true }
}

func optID[T any](get func(*T) *int64) encoder[T] {
	return func(b []byte, v *T) ([]byte, bool) { return appendOptID(b, get(v)), true }
}

func integer[T any](get func(*T) int64) encoder[T] {
	return func(b []byte, v *T) ([]byte, bool) { return strconv.AppendInt(b, get(v), 10), true }
}

func timestamp[T any](get func(*T) time.Time) encoder[T] {
	return func(b []byte, v *T) ([]byte, bool) { return appendTime(b, get(v)) }
}

func optTimestamp[T any](get func(*T) *time.Time) encoder[T] {
	return func(b []byte, v *T) ([]byte, bool) { return appendOptTime(b, get(v)), true }
}

func date[T any](get func(*T) hubapi.Date) encoder[T] {
	return func(b []byte, v *T) ([]byte, bool) { return appendDate(b, get(v)), true }
}

func optFloat[T any](get func(*T) *float64) encoder[T] {
	return func(b []byte, v *T) ([]byte, bool) { return appendOptFloat(b, get(v)) }
}

// enum writes the GraphQL name of an enum value from gqlgen's table (an
// unknown value is "", as gqlgen writes it).
func enum[T any, E comparable](names map[E]string, get func(*T) E) encoder[T] {
	return func(b []byte, v *T) ([]byte, bool) { return appendString(b, names[get(v)]), true }
}

// ---- the types

var fastUser = &objectType[hubapi.UserSummary]{
	name: "User", implementors: userImplementors,
	scalars: map[string]encoder[hubapi.UserSummary]{
		"id":     id(func(u *hubapi.UserSummary) int64 { return u.ID }),
		"nom":    str(func(u *hubapi.UserSummary) string { return u.Nom }),
		"prenom": str(func(u *hubapi.UserSummary) string { return u.Prenom }),
	},
}

type chantier = hubapi.Chantier

var fastChantier = &objectType[chantier]{
	name: "Chantier", implementors: chantierImplementors,
	scalars: map[string]encoder[chantier]{
		"id":            id(func(c *chantier) int64 { return c.ID }),
		"code":          str(func(c *chantier) string { return c.Code }),
		"nom":           str(func(c *chantier) string { return c.Nom }),
		"adresse":       str(func(c *chantier) string { return c.Adresse }),
		"ville":         str(func(c *chantier) string { return c.Ville }),
		"codePostal":    str(func(c *chantier) string { return c.CodePostal }),
		"statut":        enum(marshalNStatutChantier2githubᚗcomᚋhubchantierᚋhubchantierᚋhubapiᚐChantierStatut, func(c *chantier) hubapi.ChantierStatut { return c.Statut }),
		"clientNom":     str(func(c *chantier) string { return c.ClientNom }),
		"responsableId": optID(func(c *chantier) *int64 { return c.ResponsableID }),
		"budgetCents":   integer(func(c *chantier) int64 { return c.BudgetCents }),
		"dateDebut":     date(func(c *chantier) hubapi.Date { return c.DateDebut }),
		"dateFin":       date(func(c *chantier) hubapi.Date { return c.DateFin }),
		"latitude":      optFloat(func(c *chantier) *float64 { return c.Latitude }),
		"longitude":     optFloat(func(c *chantier) *float64 { return c.Longitude }),
		"description":   str(func(c *chantier) string { return c.Description }),
		"createdAt":     timestamp(func(c *chantier) time.Time { return c.CreatedAt }),
		"updatedAt":     timestamp(func(c *chantier) time.Time { return c.UpdatedAt }),
		"version":       integer(func(c *chantier) int64 { return c.Version }),
	},
	objects: map[string]func(*graphql.OperationContext, ast.SelectionSet) (encoder[chantier], bool){
		"responsable": nullableObject(fastUser, func(c *chantier) *hubapi.UserSummary { return c.Responsable }),
	},
}

type pointage = hubapi.Pointage

// Pointage.chantier has a resolver: a selection that names it takes the
// generic path.
var fastPointage = &objectType[pointage]{
	name: "Pointage", implementors: pointageImplementors,
	scalars: map[string]encoder[pointage]{
		"id":          id(func(p *pointage) int64 { return p.ID }),
		"userId":      id(func(p *pointage) int64 { return p.UserID }),
		"chantierId":  id(func(p *pointage) int64 { return p.ChantierID }),
		"date":        date(func(p *pointage) hubapi.Date { return p.Date }),
		"minutes":     integer(func(p *pointage) int64 { return int64(p.Minutes) }),
		"type":        enum(marshalNTypePointage2githubᚗcomᚋhubchantierᚋhubchantierᚋhubapiᚐPointageType, func(p *pointage) hubapi.PointageType { return p.Type }),
		"statut":      enum(marshalNStatutPointage2githubᚗcomᚋhubchantierᚋhubchantierᚋhubapiᚐPointageStatut, func(p *pointage) hubapi.PointageStatut { return p.Statut }),
		"commentaire": str(func(p *pointage) string { return p.Commentaire }),
		"createdAt":   timestamp(func(p *pointage) time.Time { return p.CreatedAt }),
		"updatedAt":   timestamp(func(p *pointage) time.Time { return p.UpdatedAt }),
		"version":     integer(func(p *pointage) int64 { return p.Version }),
	},
}

type document = hubapi.Document

var fastDocument = &objectType[document]{
	name: "Document", implementors: documentImplementors,
	scalars: map[string]encoder[document]{
		"id":         id(func(d *document) int64 { return d.ID }),
		"chantierId": id(func(d *document) int64 { return d.ChantierID }),
		"nom":        str(func(d *document) string { return d.Nom }),
		"categorie":  str(func(d *document) string { return d.Categorie }),
		"mimeType":   str(func(d *document) string { return d.MimeType }),
		"size":       integer(func(d *document) int64 { return d.Size }),
		"sha256":     str(func(d *document) string { return d.SHA256 }),
		"uploadedBy": id(func(d *document) int64 { return d.UploadedBy }),
		"createdAt":  timestamp(func(d *document) time.Time { return d.CreatedAt }),
		"updatedAt":  timestamp(func(d *document) time.Time { return d.UpdatedAt }),
		"version":    integer(func(d *document) int64 { return d.Version }),
	},
}

type signalement = hubapi.Signalement

var fastSignalement = &objectType[signalement]{
	name: "Signalement", implementors: signalementImplementors,
	scalars: map[string]encoder[signalement]{
		"id":          id(func(s *signalement) int64 { return s.ID }),
		"chantierId":  id(func(s *signalement) int64 { return s.ChantierID }),
		"titre":       str(func(s *signalement) string { return s.Titre }),
		"description": str(func(s *signalement) string { return s.Description }),
		"gravite":     enum(marshalNGravite2githubᚗcomᚋhubchantierᚋhubchantierᚋhubapiᚐGravite, func(s *signalement) hubapi.Gravite { return s.Gravite }),
		"statut":      enum(marshalNStatutSignalement2githubᚗcomᚋhubchantierᚋhubchantierᚋhubapiᚐSignalementStatut, func(s *signalement) hubapi.SignalementStatut { return s.Statut }),
		"createdBy":   id(func(s *signalement) int64 { return s.CreatedBy }),
		"assignedTo":  optID(func(s *signalement) *int64 { return s.AssignedTo }),
		"resolvedAt":  optTimestamp(func(s *signalement) *time.Time { return s.ResolvedAt }),
		"createdAt":   timestamp(func(s *signalement) time.Time { return s.CreatedAt }),
		"updatedAt":   timestamp(func(s *signalement) time.Time { return s.UpdatedAt }),
		"version":     integer(func(s *signalement) int64 { return s.Version }),
	},
}

type affectation = hubapi.Affectation

var fastAffectation = &objectType[affectation]{
	name: "Affectation", implementors: affectationImplementors,
	scalars: map[string]encoder[affectation]{
		"id":         id(func(a *affectation) int64 { return a.ID }),
		"userId":     id(func(a *affectation) int64 { return a.UserID }),
		"chantierId": id(func(a *affectation) int64 { return a.ChantierID }),
		"date":       date(func(a *affectation) hubapi.Date { return a.Date }),
		"heureDebut": str(func(a *affectation) string { return a.HeureDebut }),
		"heureFin":   str(func(a *affectation) string { return a.HeureFin }),
		"note":       str(func(a *affectation) string { return a.Note }),
		"createdAt":  timestamp(func(a *affectation) time.Time { return a.CreatedAt }),
		"updatedAt":  timestamp(func(a *affectation) time.Time { return a.UpdatedAt }),
		"version":    integer(func(a *affectation) int64 { return a.Version }),
	},
}

// edgeType is the type of the edges of a connection: a node, nothing else.
func edgeType[E, T any](name string, implementors []string, node *objectType[T], get func(*E) *T) *objectType[E] {
	return &objectType[E]{
		name: name, implementors: implementors,
		objects: map[string]func(*graphql.OperationContext, ast.SelectionSet) (encoder[E], bool){
			"node": nonNullObject(node, get),
		},
	}
}

var (
	fastChantierEdge    = edgeType(`ChantierEdge`, chantierEdgeImplementors, fastChantier, func(e *model.ChantierEdge) *chantier { return e.Node })
	fastPointageEdge    = edgeType(`PointageEdge`, pointageEdgeImplementors, fastPointage, func(e *model.PointageEdge) *pointage { return e.Node })
	fastDocumentEdge    = edgeType(`DocumentEdge`, documentEdgeImplementors, fastDocument, func(e *model.DocumentEdge) *document { return e.Node })
	fastSignalementEdge = edgeType(`SignalementEdge`, signalementEdgeImplementors, fastSignalement, func(e *model.SignalementEdge) *signalement { return e.Node })
	fastAffectationEdge = edgeType(`AffectationEdge`, affectationEdgeImplementors, fastAffectation, func(e *model.AffectationEdge) *affectation { return e.Node })
)

// The entry points called from the list marshalers of generated.go.

func (ec *executionContext) fastListChantier(ctx context.Context, sel ast.SelectionSet, v []*chantier) (graphql.Marshaler, bool) {
	return fastList(ctx, ec.OperationContext, fastChantier, sel, v)
}

func (ec *executionContext) fastListChantierEdge(ctx context.Context, sel ast.SelectionSet, v []*model.ChantierEdge) (graphql.Marshaler, bool) {
	return fastList(ctx, ec.OperationContext, fastChantierEdge, sel, v)
}

func (ec *executionContext) fastListPointage(ctx context.Context, sel ast.SelectionSet, v []*pointage) (graphql.Marshaler, bool) {
	return fastList(ctx, ec.OperationContext, fastPointage, sel, v)
}

func (ec *executionContext) fastListPointageEdge(ctx context.Context, sel ast.SelectionSet, v []*model.PointageEdge) (graphql.Marshaler, bool) {
	return fastList(ctx, ec.OperationContext, fastPointageEdge, sel, v)
}

func (ec *executionContext) fastListDocument(ctx context.Context, sel ast.SelectionSet, v []*document) (graphql.Marshaler, bool) {
	return fastList(ctx, ec.OperationContext, fastDocument, sel, v)
}

func (ec *executionContext) fastListDocumentEdge(ctx context.Context, sel ast.SelectionSet, v []*model.DocumentEdge) (graphql.Marshaler, bool) {
	return fastList(ctx, ec.OperationContext, fastDocumentEdge, sel, v)
}

func (ec *executionContext) fastListSignalement(ctx context.Context, sel ast.SelectionSet, v []*signalement) (graphql.Marshaler, bool) {
	return fastList(ctx, ec.OperationContext, fastSignalement, sel, v)
}

func (ec *executionContext) fastListSignalementEdge(ctx context.Context, sel ast.SelectionSet, v []*model.SignalementEdge) (graphql.Marshaler, bool) {
	return fastList(ctx, ec.OperationContext, fastSignalementEdge, sel, v)
}

func (ec *executionContext) fastListAffectation(ctx context.Context, sel ast.SelectionSet, v []*affectation) (graphql.Marshaler, bool) {
	return fastList(ctx, ec.OperationContext, fastAffectation, sel, v)
}

func (ec *executionContext) fastListAffectationEdge(ctx context.Context, sel ast.SelectionSet, v []*model.AffectationEdge) (graphql.Marshaler, bool) {
	return fastList(ctx, ec.OperationContext, fastAffectationEdge, sel, v)
}
