package fields

import (
	"errors"
	"fmt"
	"strings"
)

// Field declares one selectable member of a resource: its JSON name, the SQL
// columns it is read from and, for a nested object, the schema of that
// object. Build fields with F and Nested; a Field is an immutable value.
type Field struct {
	name    string
	columns []string
	joins   []string
	nested  *Schema
	always  bool
	isNest  bool // declared with Nested, even if its schema is nil
}

// FieldOption refines a Field (see Join, Columns, Always).
type FieldOption func(*Field)

// F declares a scalar member named name (the JSON member name, matching
// [a-z][a-zA-Z0-9_]*), read from the given SQL columns. A member computed in Go
// needs no column; a member assembled from several columns lists them all.
//
// Columns are trusted strings written by the developer, never derived from
// client input. With bun, give bare column names ("nom"): bun qualifies them
// with the model's table alias, including inside a Relation.
func F(name string, columns ...string) Field {
	return Field{name: name, columns: cloneStrings(columns)}
}

// Nested declares a member whose value is an object (or a list of objects)
// described by s. Selecting name alone, name.*, or name(*) selects the whole
// object; name.x or name(x,y) selects part of it. Options typically add the
// join that loads the object (Join) and the local columns it needs (Columns).
func Nested(name string, s *Schema, opts ...FieldOption) Field {
	return Field{name: name, nested: s, isNest: true}.With(opts...)
}

// With returns a copy of f with the options applied.
func (f Field) With(opts ...FieldOption) Field {
	f.columns = cloneStrings(f.columns)
	f.joins = cloneStrings(f.joins)
	for _, o := range opts {
		if o != nil {
			o(&f)
		}
	}
	return f
}

// Name returns the JSON member name of f.
func (f Field) Name() string { return f.name }

// Join records that selecting the field needs the named joins (for example a
// bun relation name, or a key into the embedder's own table of JOIN clauses).
// Selection.Joins reports them only when the field is selected.
func Join(names ...string) FieldOption {
	return func(f *Field) { f.joins = append(f.joins, names...) }
}

// Columns adds SQL columns read when the field is selected. On a nested field
// they are columns of the parent table (a foreign key, for instance), not of
// the nested object.
func Columns(columns ...string) FieldOption {
	return func(f *Field) { f.columns = append(f.columns, columns...) }
}

// Always makes the field part of every selection at its level, like "id".
func Always() FieldOption {
	return func(f *Field) { f.always = true }
}

// AlwaysName is the member included in every selection of a schema that
// declares it, whether the client asks for it or not.
const AlwaysName = "id"

// Schema is the whitelist of members a client may select on one resource: an
// ordered tree of Fields. Members that are not declared (password hashes, key
// hashes, internal columns) cannot be selected at any depth. A Schema is
// immutable and safe for concurrent use.
type Schema struct {
	fields []Field
	index  map[string]int
	full   *Selection
}

// Errors returned by NewSchema, wrapped with details.
var (
	ErrInvalidSchema = errors.New("fields: invalid schema")
)

// NewSchema builds a schema from its fields, in the order the members appear
// in the full representation. It reports an error for an empty schema, a name
// that does not match [a-z][a-zA-Z0-9_]*, a duplicate name, a nil nested schema,
// or an empty column or join name. A field named "id" is always selected.
func NewSchema(fields ...Field) (*Schema, error) {
	if len(fields) == 0 {
		return nil, fmt.Errorf("%w: no fields", ErrInvalidSchema)
	}
	s := &Schema{fields: make([]Field, len(fields)), index: make(map[string]int, len(fields))}
	for i, f := range fields {
		if !validName(f.name) {
			return nil, fmt.Errorf("%w: field name %q does not match [a-z][a-zA-Z0-9_]*", ErrInvalidSchema, f.name)
		}
		if _, dup := s.index[f.name]; dup {
			return nil, fmt.Errorf("%w: field %q declared twice", ErrInvalidSchema, f.name)
		}
		for _, c := range f.columns {
			if strings.TrimSpace(c) == "" || hasControl(c) {
				return nil, fmt.Errorf("%w: field %q has an empty or invalid column", ErrInvalidSchema, f.name)
			}
		}
		for _, j := range f.joins {
			if strings.TrimSpace(j) == "" || hasControl(j) {
				return nil, fmt.Errorf("%w: field %q has an empty or invalid join", ErrInvalidSchema, f.name)
			}
		}
		if f.isNest && (f.nested == nil || f.nested.full == nil) {
			return nil, fmt.Errorf("%w: nested field %q has a nil or unbuilt schema", ErrInvalidSchema, f.name)
		}
		if f.name == AlwaysName {
			f.always = true
		}
		s.fields[i] = f.With() // deep copy of slices
		s.index[f.name] = i
	}
	s.full = s.buildFull()
	return s, nil
}

// MustSchema is NewSchema for package-level declarations: it panics on a
// declaration error, which is a programming error found at start-up.
func MustSchema(fields ...Field) *Schema {
	s, err := NewSchema(fields...)
	if err != nil {
		panic(err)
	}
	return s
}

// buildFull returns the selection of every member, nested objects whole.
func (s *Schema) buildFull() *Selection {
	sel := &Selection{schema: s, bits: newBits(len(s.fields)), full: true, str: "*"}
	for i, f := range s.fields {
		sel.bits.set(i)
		if f.nested != nil {
			if sel.subs == nil {
				sel.subs = make([]*Selection, len(s.fields))
			}
			sel.subs[i] = f.nested.full
		}
	}
	return sel
}

// All returns the selection of every member of s (the meaning of "*" and of
// an absent fields parameter).
func (s *Schema) All() *Selection { return s.full }

// Names returns the member names of s in declaration order: the names a
// client may use at this level. The slice is a fresh copy.
func (s *Schema) Names() []string {
	names := make([]string, len(s.fields))
	for i, f := range s.fields {
		names[i] = f.name
	}
	return names
}

// Paths returns every selectable dotted path of s, depth first in declaration
// order ("id", "nom", "responsable", "responsable.id", ...). It is meant for
// documentation such as an OpenAPI description of the fields parameter.
func (s *Schema) Paths() []string {
	var out []string
	var walk func(prefix string, s *Schema)
	walk = func(prefix string, s *Schema) {
		for _, f := range s.fields {
			out = append(out, prefix+f.name)
			if f.nested != nil {
				walk(prefix+f.name+".", f.nested)
			}
		}
	}
	walk("", s)
	return out
}

// Nested returns the schema of the nested member name, or nil when name is
// not a nested member of s.
func (s *Schema) Nested(name string) *Schema {
	if i, ok := s.index[name]; ok {
		return s.fields[i].nested
	}
	return nil
}

// validName reports whether name matches [a-z][a-zA-Z0-9_]*: snake_case
// and camelCase names.
func validName(name string) bool {
	if name == "" || name[0] < 'a' || name[0] > 'z' {
		return false
	}
	for i := 1; i < len(name); i++ {
		if !isNameByte(name[i]) {
			return false
		}
	}
	return true
}

func isNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}

func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return true
		}
	}
	return false
}

func cloneStrings(in []string) []string {
	if len(in) == 0 {
		return nil
	}
	return append([]string(nil), in...)
}
