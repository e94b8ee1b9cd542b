package fields

import (
	"slices"
	"strings"
)

// Selection is a validated, normalised set of members of one Schema: the
// result of Parse. Equivalent expressions ("responsable.nom,responsable.prenom"
// and "responsable(prenom,nom)") give equal selections with the same String.
// A Selection is immutable and safe for concurrent use.
//
// A nil *Selection selects nothing for Has, Sub, Columns and Joins; the
// projection functions treat a nil selection as the full representation.
type Selection struct {
	schema *Schema
	bits   bitset
	subs   []*Selection // indexed like schema.fields; set for selected nested members
	full   bool
	str    string
}

// Schema returns the schema the selection was parsed against.
func (s *Selection) Schema() *Schema {
	if s == nil {
		return nil
	}
	return s.schema
}

// String returns the canonical form of the selection: "*" when every member
// is selected; otherwise the selected members in declaration order, "id"
// included, separated by commas, a partly selected nested member written as
// name(sub-selection). It parses back to an equal selection, so it serves in
// cache keys and entity tags: two requests with the same String get the same
// representation.
func (s *Selection) String() string {
	if s == nil {
		return ""
	}
	return s.str
}

// Equal reports whether s and o select the same members of the same schema.
func (s *Selection) Equal(o *Selection) bool {
	if s == nil || o == nil {
		return s == o
	}
	return s.schema == o.schema && s.str == o.str
}

// IsAll reports whether every member is selected, nested objects whole: the
// selection is the full representation ("*", or no fields parameter).
func (s *Selection) IsAll() bool { return s != nil && s.full }

// Has reports whether the member at the dotted path is selected, entirely or
// in part: Has("responsable") is true for "responsable(nom)", and
// Has("responsable.nom") for "responsable".
func (s *Selection) Has(path string) bool {
	for s != nil {
		name, rest, dotted := strings.Cut(path, ".")
		i, ok := s.schema.index[name]
		if !ok || !s.bits.has(i) {
			return false
		}
		if !dotted {
			return true
		}
		s, path = s.sub(i), rest
	}
	return false
}

// Names returns the selected member names at this level, in declaration
// order.
func (s *Selection) Names() []string {
	if s == nil {
		return nil
	}
	var out []string
	for i, f := range s.schema.fields {
		if s.bits.has(i) {
			out = append(out, f.name)
		}
	}
	return out
}

// Sub returns the selection inside the nested member name, or nil when name
// is not selected or not a nested member. A member selected whole yields the
// nested schema's full selection.
func (s *Selection) Sub(name string) *Selection {
	if s == nil {
		return nil
	}
	i, ok := s.schema.index[name]
	if !ok || !s.bits.has(i) {
		return nil
	}
	return s.sub(i)
}

// SubSelection is a selected nested member: its name, the joins declared on
// it and the selection inside it.
type SubSelection struct {
	Name      string
	Joins     []string
	Selection *Selection
}

// Subs returns the selected nested members at this level, in declaration
// order. It lets a query builder add one relation per selected nested member
// with only the columns selected inside it:
//
//	func pushDown(q *bun.SelectQuery, sel *fields.Selection) *bun.SelectQuery {
//		for _, sub := range sel.Subs() {
//			cols := sub.Selection.Columns()
//			for _, rel := range sub.Joins { // bun relation names, e.g. "Responsable"
//				q = q.Relation(rel, func(q *bun.SelectQuery) *bun.SelectQuery { return q.Column(cols...) })
//			}
//			q = pushDown(q, sub.Selection)
//		}
//		return q
//	}
func (s *Selection) Subs() []SubSelection {
	if s == nil || s.subs == nil {
		return nil
	}
	var out []SubSelection
	for i, f := range s.schema.fields {
		if sub := s.subs[i]; sub != nil && s.bits.has(i) {
			out = append(out, SubSelection{Name: f.name, Joins: cloneStrings(f.joins), Selection: sub})
		}
	}
	return out
}

func (s *Selection) sub(i int) *Selection {
	if s.subs == nil {
		return nil
	}
	return s.subs[i]
}

// Columns returns the SQL columns of the members selected at this level, in
// declaration order without duplicates: the columns of selected scalar
// members and the Columns option of selected nested members (not the columns
// of the nested schema; see Sub and AllColumns). With bun:
//
//	q := db.NewSelect().Model(&rows).Column(sel.Columns()...)
//
// The strings come from the schema only, never from the client, so they are
// safe to pass to a query builder.
func (s *Selection) Columns() []string {
	if s == nil {
		return nil
	}
	var out []string
	for i, f := range s.schema.fields {
		if s.bits.has(i) {
			out = appendUnique(out, f.columns...)
		}
	}
	return out
}

// AllColumns returns Columns followed by the columns of every selected nested
// member, depth first: the column list of a single hand-written SQL query
// whose nested schemas name their columns with the join's alias.
func (s *Selection) AllColumns() []string {
	if s == nil {
		return nil
	}
	out := s.Columns()
	for i := range s.schema.fields {
		if sub := s.sub(i); sub != nil && s.bits.has(i) {
			out = appendUnique(out, sub.AllColumns()...)
		}
	}
	return out
}

// Joins returns the joins declared (with Join) on the selected members, at
// this level and below, in declaration order without duplicates. A join is
// listed only when a member needing it is selected, so a query adds the
// responsable join only for selections that include "responsable".
func (s *Selection) Joins() []string {
	if s == nil {
		return nil
	}
	var out []string
	for i, f := range s.schema.fields {
		if !s.bits.has(i) {
			continue
		}
		out = appendUnique(out, f.joins...)
		if sub := s.sub(i); sub != nil {
			out = appendUnique(out, sub.Joins()...)
		}
	}
	return out
}

func appendUnique(dst []string, src ...string) []string {
	for _, v := range src {
		if !slices.Contains(dst, v) {
			dst = append(dst, v)
		}
	}
	return dst
}

// canonical computes the String form of a partial selection.
func (s *Selection) canonical() string {
	n := 0
	for i, f := range s.schema.fields {
		if s.bits.has(i) {
			n += len(f.name) + 1
			if sub := s.sub(i); sub != nil && !sub.full {
				n += len(sub.str) + 2
			}
		}
	}
	var b strings.Builder
	b.Grow(n)
	for i, f := range s.schema.fields {
		if !s.bits.has(i) {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(f.name)
		if sub := s.sub(i); sub != nil && !sub.full {
			b.WriteByte('(')
			b.WriteString(sub.str)
			b.WriteByte(')')
		}
	}
	return b.String()
}

// bitset marks the selected members of a schema by field index.
type bitset []uint64

func newBits(n int) bitset { return make(bitset, (n+63)/64) }

func (b bitset) set(i int)      { b[i/64] |= 1 << (uint(i) % 64) }
func (b bitset) has(i int) bool { return b[i/64]&(1<<(uint(i)%64)) != 0 }
