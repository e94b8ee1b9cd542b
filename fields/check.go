package fields

import (
	"encoding/json"
	"errors"
	"fmt"
)

// ErrUndeclared is returned by Check when a representation has a member that
// its schema does not declare.
var ErrUndeclared = errors.New("fields: member not declared in the schema")

// Check encodes v and reports an error wrapping ErrUndeclared naming the
// first member, at any depth, that s does not declare. The top level is read
// as DefaultProjector reads it (a resource, a list, or a "data" envelope).
//
// A full selection is sent as the handler encoded it, so a test per resource
// should check a fully populated representation:
//
//	if err := ChantierSchema.Check(sampleChantier); err != nil {
//		t.Fatal(err) // the DTO exposes a member clients cannot select
//	}
func (s *Schema) Check(v any) error { return DefaultProjector.Check(v, s) }

// Check is Schema.Check with the envelope of p.
func (p *Projector) Check(v any, s *Schema) error {
	if s == nil || s.full == nil {
		return fmt.Errorf("%w: nil schema", ErrInvalidSchema)
	}
	src, ok := v.(json.RawMessage)
	if !ok {
		var err error
		if src, err = json.Marshal(v); err != nil {
			return err
		}
	}
	sc := scanner{src: src}
	i := sc.ws(0)
	if i == len(src) {
		return sc.fail(i, "empty document")
	}
	if src[i] == '{' && len(p.envelope) > 0 {
		if _, declared := s.index[p.envelope[0]]; !declared {
			if v, found, err := findMember(&sc, i, p.envelope); err != nil || found {
				if err != nil {
					return err
				}
				return checkValue(&sc, v, s, "")
			}
		}
	}
	return checkValue(&sc, i, s, "")
}

// findMember returns the offset of the value at the member path segs inside
// the object at src[i], and whether it exists.
func findMember(sc *scanner, i int, segs []string) (int, bool, error) {
	for _, seg := range segs {
		if i >= len(sc.src) || sc.src[i] != '{' {
			return i, false, nil
		}
		found := false
		err := eachMember(sc, i, func(name []byte, v int) (bool, error) {
			if string(name) == seg {
				i, found = v, true
				return false, nil
			}
			return true, nil
		})
		if err != nil || !found {
			return i, false, err
		}
	}
	return i, true, nil
}

// eachMember calls fn with the name and value offset of each member of the
// object at src[i] until fn returns false.
func eachMember(sc *scanner, i int, fn func(name []byte, v int) (bool, error)) error {
	i = sc.ws(i + 1)
	if i < len(sc.src) && sc.src[i] == '}' {
		return nil
	}
	for {
		_, _, name, v, err := sc.member(i)
		if err != nil {
			return err
		}
		if goOn, err := fn(name, v); err != nil || !goOn {
			return err
		}
		if i, err = sc.skipValue(v); err != nil {
			return err
		}
		var more bool
		if i, more, err = sc.next(sc.ws(i), '}'); err != nil || !more {
			return err
		}
	}
}

func checkValue(sc *scanner, i int, s *Schema, path string) error {
	if i >= len(sc.src) {
		return sc.fail(i, "expected a value, found end of input")
	}
	switch sc.src[i] {
	case '[':
		if err := sc.enter(i); err != nil {
			return err
		}
		defer func() { sc.depth-- }()
		i = sc.ws(i + 1)
		if i < len(sc.src) && sc.src[i] == ']' {
			return nil
		}
		for {
			if err := checkValue(sc, i, s, path); err != nil {
				return err
			}
			end, err := sc.skipValue(i)
			if err != nil {
				return err
			}
			var more bool
			if i, more, err = sc.next(sc.ws(end), ']'); err != nil || !more {
				return err
			}
		}
	case '{':
		return eachMember(sc, i, func(name []byte, v int) (bool, error) {
			idx, declared := s.index[string(name)]
			if !declared {
				return false, fmt.Errorf("%w: %q", ErrUndeclared, path+string(name))
			}
			if nested := s.fields[idx].nested; nested != nil {
				if err := checkValue(sc, v, nested, path+string(name)+"."); err != nil {
					return false, err
				}
			}
			return true, nil
		})
	}
	return nil
}
