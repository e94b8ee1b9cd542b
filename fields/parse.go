package fields

import (
	"fmt"
	"unicode/utf8"
)

// Limits bounds a fields expression. A zero member takes its default from
// DefaultLimits.
type Limits struct {
	// MaxLength is the longest accepted expression, in bytes.
	MaxLength int
	// MaxNames is the largest number of names (and "*") in an expression.
	MaxNames int
	// MaxDepth is the deepest nesting: "nom" is depth 1, "responsable.nom"
	// and "responsable(nom)" are depth 2.
	MaxDepth int
}

// DefaultLimits are the limits used by Parse and by zero Limits members.
// Embedders may change them once at start-up, before serving requests.
var DefaultLimits = Limits{MaxLength: 1024, MaxNames: 100, MaxDepth: 5}

func (l Limits) withDefaults() Limits {
	if l.MaxLength <= 0 {
		l.MaxLength = DefaultLimits.MaxLength
	}
	if l.MaxNames <= 0 {
		l.MaxNames = DefaultLimits.MaxNames
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultLimits.MaxDepth
	}
	return l
}

// Parse validates a fields expression against a schema with DefaultLimits and
// returns the normalised selection. The grammar is
//
//	selection = item *( "," item )
//	item      = "*" / name [ "." item ] / name "(" selection ")"
//	name      = %x61-7A *( ALPHA / DIGIT / "_" )   ; [a-z][a-zA-Z0-9_]*
//
// so "id,nom,responsable.nom", "id,nom,responsable(nom)" and
// "nom,responsable(nom,id)" all select the same members. A nested member named
// alone ("responsable"), with ".*" or with "(*)" is selected whole. "*"
// selects every member of its level. The members named "id" (and those
// declared with Always) are always selected. Selections are unions: naming a
// member twice, or a member and its sub-members, is not an error.
//
// The empty expression selects everything, like "*". Errors are
// *ParseError (syntax or limits) or *UnknownFieldError, both giving the byte
// offset of the problem; Problem turns them into a 400 response.
func Parse(expr string, s *Schema) (*Selection, error) {
	return Limits{}.Parse(expr, s)
}

// Parse is the package-level Parse with the limits l.
func (l Limits) Parse(expr string, s *Schema) (*Selection, error) {
	if s == nil || s.full == nil {
		return nil, fmt.Errorf("%w: nil schema", ErrInvalidSchema)
	}
	l = l.withDefaults()
	if len(expr) > l.MaxLength {
		return nil, &ParseError{Offset: l.MaxLength, Reason: fmt.Sprintf("the expression is longer than %d bytes", l.MaxLength), Err: ErrTooLong}
	}
	if expr == "" {
		return s.full, nil
	}
	p := parser{in: expr, lim: l}
	root := newBuilder(s)
	if err := p.list(root, 1, false, nil); err != nil {
		return nil, err
	}
	return root.finish(), nil
}

type parser struct {
	in    string
	pos   int
	names int
	lim   Limits
}

func (p *parser) list(b *builder, depth int, inGroup bool, at *pathNode) error {
	for {
		if err := p.item(b, depth, at); err != nil {
			return err
		}
		if p.pos == len(p.in) {
			if inGroup {
				return p.fail(p.pos, ErrSyntax, "missing ')' at end of input")
			}
			return nil
		}
		switch p.in[p.pos] {
		case ',':
			p.pos++
		case ')':
			if inGroup {
				return nil
			}
			return p.fail(p.pos, ErrSyntax, "unexpected ')' without a matching '('")
		default:
			return p.unexpected()
		}
	}
}

func (p *parser) item(b *builder, depth int, at *pathNode) error {
	start := p.pos
	if p.pos < len(p.in) && p.in[p.pos] == '*' {
		if err := p.count(start); err != nil {
			return err
		}
		p.pos++
		if p.pos < len(p.in) && (p.in[p.pos] == '.' || p.in[p.pos] == '(') {
			return p.fail(p.pos, ErrSyntax, "'*' cannot have sub-fields")
		}
		b.star()
		return nil
	}
	name, err := p.name()
	if err != nil {
		return err
	}
	if err := p.count(start); err != nil {
		return err
	}
	i, ok := b.schema.index[name]
	if !ok {
		return p.unknown(start, name, b.schema, at)
	}
	if p.pos == len(p.in) || p.in[p.pos] != '.' && p.in[p.pos] != '(' {
		b.selectWhole(i)
		return nil
	}
	f := &b.schema.fields[i]
	if f.nested == nil {
		return p.fail(p.pos, ErrNotNested, fmt.Sprintf("field %q has no sub-fields", name))
	}
	if depth+1 > p.lim.MaxDepth {
		return p.fail(p.pos, ErrTooDeep, fmt.Sprintf("fields are nested deeper than %d levels", p.lim.MaxDepth))
	}
	child := b.child(i)
	here := &pathNode{name: name, parent: at}
	open := p.in[p.pos]
	p.pos++
	if open == '.' {
		return p.item(child, depth+1, here)
	}
	if p.pos < len(p.in) && p.in[p.pos] == ')' {
		return p.fail(p.pos, ErrSyntax, fmt.Sprintf("empty group after %q", name))
	}
	if err := p.list(child, depth+1, true, here); err != nil {
		return err
	}
	p.pos++ // the ')' that ended the list
	return nil
}

// name scans [a-z][a-zA-Z0-9_]* at p.pos.
func (p *parser) name() (string, error) {
	start := p.pos
	if start == len(p.in) {
		return "", p.fail(start, ErrSyntax, "expected a field name, found end of input")
	}
	switch c := p.in[start]; {
	case c >= 'a' && c <= 'z':
	case c == ',' || c == '.':
		return "", p.fail(start, ErrSyntax, "empty field name")
	case c >= '0' && c <= '9' || c == '_':
		return "", p.fail(start, ErrSyntax, "field names start with a letter a-z")
	default:
		return "", p.unexpected()
	}
	p.pos++
	for p.pos < len(p.in) && isNameByte(p.in[p.pos]) {
		p.pos++
	}
	if p.pos < len(p.in) {
		switch p.in[p.pos] {
		case ',', '.', '(', ')':
		default: // report "n-om" as a bad character, not as the unknown "n"
			return "", p.unexpected()
		}
	}
	return p.in[start:p.pos], nil
}

func (p *parser) count(at int) error {
	p.names++
	if p.names > p.lim.MaxNames {
		return p.fail(at, ErrTooMany, fmt.Sprintf("more than %d field names", p.lim.MaxNames))
	}
	return nil
}

func (p *parser) unexpected() error {
	c := p.in[p.pos]
	switch {
	case c >= 'A' && c <= 'Z':
		return p.fail(p.pos, ErrSyntax, "field names are lowercase")
	case c == '(' || c == ')':
		return p.fail(p.pos, ErrSyntax, fmt.Sprintf("expected a field name, found '%c'", c))
	}
	r, _ := utf8.DecodeRuneInString(p.in[p.pos:])
	return p.fail(p.pos, ErrSyntax, fmt.Sprintf("unexpected character %q", r))
}

func (p *parser) fail(at int, kind error, reason string) error {
	return &ParseError{Offset: at, Reason: reason, Err: kind}
}

func (p *parser) unknown(at int, name string, s *Schema, parent *pathNode) error {
	path := name
	for n := parent; n != nil; n = n.parent {
		path = n.name + "." + path
	}
	allowed := s.Names()
	return &UnknownFieldError{Offset: at, Path: path, Name: name, Allowed: allowed, Suggestion: closest(name, allowed)}
}

// pathNode links the enclosing nested members of a name, for error messages;
// the nodes live on the parser's stack.
type pathNode struct {
	name   string
	parent *pathNode
}

// builder accumulates the union of the items of one level.
type builder struct {
	schema *Schema
	bits   bitset
	whole  bitset // nested members selected whole
	subs   []*builder
}

func newBuilder(s *Schema) *builder {
	n := (len(s.fields) + 63) / 64
	words := make(bitset, 2*n) // one allocation for bits and whole
	return &builder{schema: s, bits: words[:n:n], whole: words[n:]}
}

func (b *builder) star() {
	for i := range b.schema.fields {
		b.selectWhole(i)
	}
}

func (b *builder) selectWhole(i int) {
	b.bits.set(i)
	if b.schema.fields[i].nested != nil {
		b.whole.set(i)
	}
}

func (b *builder) child(i int) *builder {
	b.bits.set(i)
	if b.subs == nil {
		b.subs = make([]*builder, len(b.schema.fields))
	}
	if b.subs[i] == nil {
		b.subs[i] = newBuilder(b.schema.fields[i].nested)
	}
	return b.subs[i]
}

// finish adds the always-selected members, resolves nested members and
// returns the schema's shared full selection when everything is selected.
func (b *builder) finish() *Selection {
	s := b.schema
	full := true
	var subs []*Selection
	for i, f := range s.fields {
		if f.always {
			b.bits.set(i)
		}
		if !b.bits.has(i) {
			full = false
			continue
		}
		if f.nested == nil {
			continue
		}
		sub := f.nested.full
		if !b.whole.has(i) && b.subs != nil && b.subs[i] != nil {
			sub = b.subs[i].finish()
		}
		if !sub.full {
			full = false
		}
		if subs == nil {
			subs = make([]*Selection, len(s.fields))
		}
		subs[i] = sub
	}
	if full {
		return s.full
	}
	sel := &Selection{schema: s, bits: b.bits, subs: subs}
	sel.str = sel.canonical()
	return sel
}
