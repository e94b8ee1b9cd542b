package pagination

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// Limits on the page size, as in the product specification.
const (
	DefaultLimit = 20
	MaxLimit     = 100
)

// Column is one sortable column of rows of type T.
type Column[T any] struct {
	// SQL is the column expression used in WHERE and ORDER BY, e.g. "c.nom"
	// or "?TableAlias.nom". It comes from code, never from clients. Named
	// placeholders (bun's ?TableAlias) are allowed, positional ones ("?",
	// "?0") are not: they would take the keyset arguments.
	SQL string
	// Nullable marks a column that may hold NULL: comparisons then use
	// NULL-safe forms and ORDER BY states NULLS FIRST/LAST explicitly.
	Nullable bool
	// Key returns the column's value in row; it is written into cursors.
	// It must return a value the database compares exactly like the stored
	// one: the scanned field itself (string, int64, time.Time, *time.Time,
	// sql.NullString, ...).
	Key func(row *T) any
}

// Spec describes how a resource may be sorted and paged.
type Spec[T any] struct {
	// Resource names the list (e.g. "chantiers"); it is bound into cursors
	// so a cursor of one resource is rejected by another.
	Resource string
	// Columns are the sortable fields, by the name clients use in "sort".
	Columns map[string]Column[T]
	// ID is the unique, non-NULL column (usually the primary key) that ends
	// every order, so that rows with equal sort keys keep a stable order.
	ID Column[T]
	// IDName is the name of ID in "sort" (default "id").
	IDName string
	// Default is the order when the request has no "sort", in the same
	// syntax, e.g. "-created_at" (default: IDName ascending).
	Default string
	// MaxSortFields is the most fields "sort" may list, the id field
	// included when listed (default, 0: the number of sortable fields).
	MaxSortFields int
	// DefaultLimit and MaxLimit bound "limit" (defaults 20 and 100).
	DefaultLimit, MaxLimit int
}

// SortKey is one field of an order.
type SortKey struct {
	Field string
	Desc  bool
}

// Sort is a resolved order: the requested fields, then the id field.
type Sort []SortKey

// String renders s in the "sort" parameter syntax, e.g. "-date_debut,nom,id".
func (s Sort) String() string {
	var b strings.Builder
	for i, k := range s {
		if i > 0 {
			b.WriteByte(',')
		}
		if k.Desc {
			b.WriteByte('-')
		}
		b.WriteString(k.Field)
	}
	return b.String()
}

type column[T any] struct {
	name     string
	sql      string
	nullable bool
	key      func(*T) any
}

// Paginator pages one resource. Build it once with [New]; it is safe for
// concurrent use.
type Paginator[T any] struct {
	codec    *Codec
	resource string
	cols     map[string]*column[T]
	idName   string
	allowed  []string
	def      Sort
	defLimit int
	maxLimit int
	limitMsg string
	maxSort  int
}

// New validates spec and returns its paginator. Every configuration mistake
// (unknown default sort field, missing key func, SQL with a placeholder, ...)
// is reported here, not when serving requests.
func New[T any](codec *Codec, spec Spec[T]) (*Paginator[T], error) {
	if !codec.usable() {
		return nil, errUnusableCodec
	}
	if spec.Resource == "" {
		return nil, errors.New("pagination: Spec.Resource is required")
	}
	p := &Paginator[T]{
		codec:    codec,
		resource: spec.Resource,
		cols:     make(map[string]*column[T], len(spec.Columns)+1),
		idName:   spec.IDName,
		defLimit: spec.DefaultLimit,
		maxLimit: spec.MaxLimit,
	}
	if p.idName == "" {
		p.idName = "id"
	}
	if p.defLimit == 0 {
		p.defLimit = DefaultLimit
	}
	if p.maxLimit == 0 {
		p.maxLimit = MaxLimit
	}
	if p.defLimit < 1 || p.maxLimit < p.defLimit || p.maxLimit > 10000 {
		return nil, fmt.Errorf("pagination: %s: limits must satisfy 1 <= DefaultLimit (%d) <= MaxLimit (%d) <= 10000",
			spec.Resource, p.defLimit, p.maxLimit)
	}
	p.limitMsg = fmt.Sprintf("must be an integer between 1 and %d", p.maxLimit)
	if spec.MaxSortFields < 0 {
		return nil, fmt.Errorf("pagination: %s: MaxSortFields must not be negative", spec.Resource)
	}
	if spec.ID.Nullable {
		return nil, fmt.Errorf("pagination: %s: the ID column must not be nullable", spec.Resource)
	}
	add := func(name string, c Column[T]) error {
		if !validFieldName(name) {
			return fmt.Errorf("pagination: %s: invalid sort field name %q", spec.Resource, name)
		}
		if _, dup := p.cols[name]; dup {
			return fmt.Errorf("pagination: %s: sort field %q is the ID field name", spec.Resource, name)
		}
		if !validSQL(c.SQL) {
			return fmt.Errorf("pagination: %s: field %q: SQL must be a non-empty expression without ';' or positional '?' placeholders", spec.Resource, name)
		}
		if c.Key == nil {
			return fmt.Errorf("pagination: %s: field %q has no Key func", spec.Resource, name)
		}
		if err := checkKey(c.Key); err != nil {
			return fmt.Errorf("pagination: %s: field %q: Key returns an %w", spec.Resource, name, err)
		}
		p.cols[name] = &column[T]{name: name, sql: c.SQL, nullable: c.Nullable, key: c.Key}
		p.allowed = append(p.allowed, name)
		return nil
	}
	if err := add(p.idName, spec.ID); err != nil {
		return nil, err
	}
	for name, c := range spec.Columns {
		if err := add(name, c); err != nil {
			return nil, err
		}
	}
	slices.Sort(p.allowed)
	p.maxSort = spec.MaxSortFields
	if p.maxSort == 0 {
		p.maxSort = len(p.cols)
	}
	def := spec.Default
	if def == "" {
		def = p.idName
	}
	var errs requestErrors
	p.def = p.parseSort(def, &errs)
	if len(errs.fields) > 0 {
		return nil, fmt.Errorf("pagination: %s: invalid Default sort %q: %s", spec.Resource, def, errs.fields[0].Message)
	}
	return p, nil
}

// MustNew is like [New] but panics on a configuration error; for
// package-level variables built from constant specs.
func MustNew[T any](codec *Codec, spec Spec[T]) *Paginator[T] {
	p, err := New(codec, spec)
	if err != nil {
		panic(err)
	}
	return p
}

// checkKey calls key on a zero row to catch unsupported value types when the
// paginator is built. A key func that cannot handle a zero row is left to be
// checked on real rows.
func checkKey[T any](key func(*T) any) (err error) {
	defer func() {
		if recover() != nil {
			err = nil
		}
	}()
	var zero T
	if _, err := normalizeValue(key(&zero)); err != nil {
		return err
	}
	return nil
}

// validSQL accepts a column expression that may use bun's named
// placeholders (?TableAlias.nom) but no positional ones (?, ?0), which would
// take the keyset arguments.
func validSQL(s string) bool {
	if strings.TrimSpace(s) == "" || strings.ContainsRune(s, ';') {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] != '?' {
			continue
		}
		if i+1 == len(s) {
			return false
		}
		c := s[i+1]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_') {
			return false
		}
	}
	return true
}

func validFieldName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case i > 0 && (c >= '0' && c <= '9' || c == '_' || c == '.'):
		default:
			return false
		}
	}
	return true
}

// Allowed returns the sortable field names, sorted.
func (p *Paginator[T]) Allowed() []string { return slices.Clone(p.allowed) }

// Request is a validated page request. It is immutable and only usable with
// the paginator that built it.
type Request struct {
	owner  any
	limit  int
	sort   Sort
	fp     Fingerprint
	cursor *Cursor
}

// Limit is the page size.
func (r *Request) Limit() int { return r.limit }

// Sort is the resolved order, id field last.
func (r *Request) Sort() Sort { return slices.Clone(r.sort) }

// HasCursor reports whether the request continues from a cursor (otherwise
// it asks for the first page).
func (r *Request) HasCursor() bool { return r.cursor != nil }

// LogValue logs the page size and order, never the cursor.
func (r *Request) LogValue() slog.Value {
	return slog.GroupValue(
		slog.Int("limit", r.limit),
		slog.String("sort", r.sort.String()),
		slog.Bool("cursor", r.cursor != nil),
	)
}

// ParseRequest reads the "cursor", "limit" and "sort" query parameters.
//
// filters identify the rest of the query: pass every value that changes
// the set of rows (the canonical filter parameters, e.g. url.Values.Encode()
// of the parsed filters, the parent id of a nested route, the tenant). A
// cursor is only accepted with the same resource, filters and sort it was
// issued for.
//
// An absent or empty "cursor" asks for the first page; "limit" must be an
// integer from 1 to MaxLimit (default DefaultLimit); "sort" is a
// comma-separated list of allowed fields, each optionally prefixed by "-"
// (descending), with no spaces, no "+" prefix (a query string decodes "+"
// to a space) and no repeated field, at most [Spec.MaxSortFields] of them.
// Each parameter may appear once. On invalid input the error is a
// [*RequestError] (problem.As finds its 400 problem).
func (p *Paginator[T]) ParseRequest(q url.Values, filters ...string) (*Request, error) {
	var errs requestErrors
	limit := 0
	if v, ok := single(q, "limit", &errs); ok && q.Has("limit") {
		n, ok := parseLimit(v, p.maxLimit)
		if !ok {
			errs.add("limit", p.limitMsg)
		} else {
			limit = n
		}
	}
	sort, _ := single(q, "sort", &errs)
	cursor, _ := single(q, "cursor", &errs)
	return p.build(&errs, sort, limit, cursor, filters)
}

// NewRequest builds a request from already extracted values (for GraphQL,
// batch jobs or legacy handlers): sort in the "sort" syntax ("" for the
// default), limit (0 for the default), cursor ("" for the first page).
func (p *Paginator[T]) NewRequest(sort string, limit int, cursor string, filters ...string) (*Request, error) {
	var errs requestErrors
	if limit < 0 || limit > p.maxLimit {
		errs.add("limit", p.limitMsg)
		limit = 0
	}
	return p.build(&errs, sort, limit, cursor, filters)
}

// ParseLimit reads the "limit" query parameter for callers that page without
// a [Paginator]: absent means [DefaultLimit]; otherwise it must be an integer
// from 1 to [MaxLimit]. The error is a [*RequestError].
func ParseLimit(q url.Values) (int, error) {
	var errs requestErrors
	v, ok := single(q, "limit", &errs)
	if !ok {
		return 0, errs.err()
	}
	if !q.Has("limit") {
		return DefaultLimit, nil
	}
	n, ok := parseLimit(v, MaxLimit)
	if !ok {
		errs.add("limit", fmt.Sprintf("must be an integer between 1 and %d", MaxLimit))
		return 0, errs.err()
	}
	return n, nil
}

func (p *Paginator[T]) build(errs *requestErrors, sortParam string, limit int, token string, filters []string) (*Request, error) {
	if limit == 0 {
		limit = p.defLimit
	}
	sort := p.def
	if sortParam != "" {
		sort = p.parseSort(sortParam, errs)
	}
	req := &Request{owner: p, limit: limit, sort: sort}
	if sort != nil {
		parts := make([]string, 0, 2+len(filters))
		parts = append(parts, p.resource, sort.String())
		req.fp = NewFingerprint(append(parts, filters...)...)
	}
	if token != "" && sort != nil {
		cur, err := p.codec.Decode(token, req.fp)
		if err == nil {
			err = p.checkCursor(sort, cur)
		}
		if err != nil {
			errs.cursor = err
			errs.add("cursor", invalidCursorMessage)
		} else {
			req.cursor = &cur
		}
	}
	if err := errs.err(); err != nil {
		return nil, err
	}
	return req, nil
}

// checkCursor guards against cursors that authenticate but do not fit the
// order (e.g. a column was made NOT NULL since the cursor was issued).
func (p *Paginator[T]) checkCursor(sort Sort, cur Cursor) error {
	if len(cur.Values) != len(sort) {
		return cursorError(ReasonMalformed)
	}
	for i, k := range sort {
		if cur.Values[i] == nil && !p.cols[k.Field].nullable {
			return cursorError(ReasonMalformed)
		}
	}
	return nil
}

// single returns the only value of a query parameter; a repeated parameter is
// an error (ok false).
func single(q url.Values, name string, errs *requestErrors) (string, bool) {
	v := q[name]
	switch len(v) {
	case 0:
		return "", true
	case 1:
		return v[0], true
	}
	errs.add(name, "must be given at most once")
	return "", false
}

// parseLimit accepts only plain decimal digits ("+5", "1e2", " 5" are
// refused) in [1, max].
func parseLimit(s string, max int) (int, bool) {
	if s == "" || len(s) > 6 {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > max {
		return 0, false
	}
	return n, true
}

// parseSort resolves a "sort" value: fields separated by ",", each
// optionally prefixed by "-". Nothing is trimmed, so " nom" and "+nom" are
// unknown fields. It returns nil after adding errors.
func (p *Paginator[T]) parseSort(s string, errs *requestErrors) Sort {
	if strings.Count(s, ",") >= p.maxSort {
		errs.add("sort", fmt.Sprintf("must list at most %d fields", p.maxSort))
		errs.allowed = p.allowed
		return nil
	}
	sort := make(Sort, 0, strings.Count(s, ",")+2)
	seen := make(map[string]bool, len(p.cols))
	hasID := false
	bad := false
	for item := range strings.SplitSeq(s, ",") {
		desc := false
		if strings.HasPrefix(item, "-") {
			desc, item = true, item[1:]
		}
		switch {
		case item == "":
			errs.add("sort", "has an empty field")
			bad = true
			continue
		case p.cols[item] == nil:
			errs.add("sort", "unknown field "+quote(item))
			errs.allowed = p.allowed
			bad = true
			continue
		case seen[item]:
			errs.add("sort", "repeats field "+quote(item))
			bad = true
			continue
		}
		seen[item] = true
		if !hasID { // fields after the unique id cannot change the order
			sort = append(sort, SortKey{Field: item, Desc: desc})
		}
		hasID = hasID || item == p.idName
	}
	if bad {
		return nil
	}
	if !hasID {
		// The tie-breaker follows the last field's direction, so that one
		// index (a DESC, id DESC), or (a, id) scanned backward, serves it.
		sort = append(sort, SortKey{Field: p.idName, Desc: sort[len(sort)-1].Desc})
	}
	return sort
}
