package fields

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// ErrInvalidJSON is returned (wrapped, with a byte offset) when a document
// to project or check is not valid JSON (RFC 8259).
var ErrInvalidJSON = errors.New("fields: invalid JSON")

// maxJSONDepth bounds the nesting of documents, like encoding/json.
const maxJSONDepth = 10000

// scanner walks a JSON document held in memory without decoding it: values
// that are copied are copied as raw bytes. It validates what it walks over
// with the grammar of RFC 8259 (UTF-8 is not checked, as in encoding/json's
// Valid for raw bytes).
type scanner struct {
	src   []byte
	depth int
}

func (s *scanner) fail(i int, what string) error {
	return fmt.Errorf("%w at byte %d: %s", ErrInvalidJSON, i, what)
}

func (s *scanner) ws(i int) int {
	for i < len(s.src) {
		switch s.src[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// expect checks that src[i] is c (after no whitespace) and returns i+1.
func (s *scanner) expect(i int, c byte) (int, error) {
	if i >= len(s.src) {
		return i, s.fail(i, fmt.Sprintf("expected '%c', found end of input", c))
	}
	if s.src[i] != c {
		return i, s.fail(i, fmt.Sprintf("expected '%c'", c))
	}
	return i + 1, nil
}

func (s *scanner) enter(i int) error {
	s.depth++
	if s.depth > maxJSONDepth {
		return s.fail(i, "nested too deep")
	}
	return nil
}

// skipValue validates the value starting at src[i] and returns the offset
// just after it.
func (s *scanner) skipValue(i int) (int, error) {
	if i >= len(s.src) {
		return i, s.fail(i, "expected a value, found end of input")
	}
	switch c := s.src[i]; {
	case c == '"':
		end, _, err := s.skipString(i)
		return end, err
	case c == '{':
		return s.skipObject(i)
	case c == '[':
		return s.skipArray(i)
	case c == 't':
		return s.literal(i, "true")
	case c == 'f':
		return s.literal(i, "false")
	case c == 'n':
		return s.literal(i, "null")
	case c == '-' || c >= '0' && c <= '9':
		return s.skipNumber(i)
	default:
		return i, s.fail(i, "expected a value")
	}
}

func (s *scanner) literal(i int, lit string) (int, error) {
	if len(s.src)-i < len(lit) || string(s.src[i:i+len(lit)]) != lit {
		return i, s.fail(i, "invalid literal")
	}
	return i + len(lit), nil
}

// skipString returns the offset after the closing quote of the string at
// src[i] and whether it contains escapes.
func (s *scanner) skipString(i int) (end int, escaped bool, err error) {
	j := i + 1
	// Fast path: no escape and no control character before the next quote.
	if q := bytes.IndexByte(s.src[j:], '"'); q >= 0 {
		plain := true
		for _, c := range s.src[j : j+q] {
			if c < 0x20 || c == '\\' {
				plain = false
				break
			}
		}
		if plain {
			return j + q + 1, false, nil
		}
	}
	for j < len(s.src) {
		c := s.src[j]
		switch {
		case c == '"':
			return j + 1, escaped, nil
		case c == '\\':
			escaped = true
			if j+1 >= len(s.src) {
				return j, escaped, s.fail(j, "unterminated escape")
			}
			switch s.src[j+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j += 2
			case 'u':
				if j+6 > len(s.src) || !isHex(s.src[j+2]) || !isHex(s.src[j+3]) || !isHex(s.src[j+4]) || !isHex(s.src[j+5]) {
					return j, escaped, s.fail(j, "invalid \\u escape")
				}
				j += 6
			default:
				return j, escaped, s.fail(j, "invalid escape")
			}
		case c < 0x20:
			return j, escaped, s.fail(j, "control character in string")
		default:
			j++
		}
	}
	return j, escaped, s.fail(i, "unterminated string")
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func (s *scanner) skipNumber(i int) (int, error) {
	j := i
	if s.src[j] == '-' {
		j++
	}
	switch {
	case j < len(s.src) && s.src[j] == '0':
		j++
	case j < len(s.src) && s.src[j] >= '1' && s.src[j] <= '9':
		for j < len(s.src) && isDigit(s.src[j]) {
			j++
		}
	default:
		return j, s.fail(j, "invalid number")
	}
	if j < len(s.src) && s.src[j] == '.' {
		j++
		if j >= len(s.src) || !isDigit(s.src[j]) {
			return j, s.fail(j, "invalid number")
		}
		for j < len(s.src) && isDigit(s.src[j]) {
			j++
		}
	}
	if j < len(s.src) && (s.src[j] == 'e' || s.src[j] == 'E') {
		j++
		if j < len(s.src) && (s.src[j] == '+' || s.src[j] == '-') {
			j++
		}
		if j >= len(s.src) || !isDigit(s.src[j]) {
			return j, s.fail(j, "invalid number")
		}
		for j < len(s.src) && isDigit(s.src[j]) {
			j++
		}
	}
	return j, nil
}

func (s *scanner) skipObject(i int) (int, error) {
	if err := s.enter(i); err != nil {
		return i, err
	}
	defer func() { s.depth-- }()
	i = s.ws(i + 1)
	if i < len(s.src) && s.src[i] == '}' {
		return i + 1, nil
	}
	for {
		if i >= len(s.src) || s.src[i] != '"' {
			return i, s.fail(i, "expected a member name")
		}
		end, _, err := s.skipString(i)
		if err != nil {
			return end, err
		}
		if i, err = s.expect(s.ws(end), ':'); err != nil {
			return i, err
		}
		if i, err = s.skipValue(s.ws(i)); err != nil {
			return i, err
		}
		var more bool
		if i, more, err = s.next(s.ws(i), '}'); err != nil || !more {
			return i, err
		}
	}
}

func (s *scanner) skipArray(i int) (int, error) {
	if err := s.enter(i); err != nil {
		return i, err
	}
	defer func() { s.depth-- }()
	i = s.ws(i + 1)
	if i < len(s.src) && s.src[i] == ']' {
		return i + 1, nil
	}
	for {
		var err error
		if i, err = s.skipValue(i); err != nil {
			return i, err
		}
		var more bool
		if i, more, err = s.next(s.ws(i), ']'); err != nil || !more {
			return i, err
		}
	}
}

// next consumes the ',' between members or elements (more is true; the
// returned offset is at the next token) or the closing byte (more is false;
// the returned offset is just after it).
func (s *scanner) next(i int, closing byte) (int, bool, error) {
	if i >= len(s.src) {
		return i, false, s.fail(i, fmt.Sprintf("expected ',' or '%c', found end of input", closing))
	}
	switch s.src[i] {
	case ',':
		return s.ws(i + 1), true, nil
	case closing:
		return i + 1, false, nil
	}
	return i, false, s.fail(i, fmt.Sprintf("expected ',' or '%c'", closing))
}

// key returns the member name of the string token src[start:end]. Names
// without escapes are returned as a view of src (no copy); escaped names are
// decoded.
func (s *scanner) key(start, end int, escaped bool) ([]byte, error) {
	if !escaped {
		return s.src[start+1 : end-1], nil
	}
	var name string
	if err := json.Unmarshal(s.src[start:end], &name); err != nil {
		return nil, s.fail(start, "invalid member name")
	}
	return []byte(name), nil
}

// member scans a member name and its ':' at src[i]; it returns the raw name
// token bounds, the decoded name and the offset of the value.
func (s *scanner) member(i int) (start, end int, name []byte, value int, err error) {
	if i >= len(s.src) || s.src[i] != '"' {
		return i, i, nil, i, s.fail(i, "expected a member name")
	}
	end, escaped, err := s.skipString(i)
	if err != nil {
		return i, end, nil, end, err
	}
	if name, err = s.key(i, end, escaped); err != nil {
		return i, end, nil, end, err
	}
	value, err = s.expect(s.ws(end), ':')
	if err != nil {
		return i, end, nil, value, err
	}
	value = s.ws(value)
	if value >= len(s.src) {
		return i, end, nil, value, s.fail(value, "expected a value, found end of input")
	}
	return i, end, name, value, nil
}
