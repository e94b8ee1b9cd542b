package fields

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// Projector applies selections to JSON documents. It knows the list envelope
// of the API: the member of a top-level object that holds the items of a
// list, as in {"data":[...],"pagination":{...}}. A Projector is immutable and
// safe for concurrent use.
//
// A document is projected as follows:
//   - a top-level array is a list: each element is projected;
//   - a top-level object that has the envelope member, and whose schema does
//     not declare a member of that name, is an envelope: its members are
//     copied as they are, except the envelope member whose items (or single
//     object) are projected;
//   - any other top-level object is one resource.
//
// Projecting a resource keeps exactly the selected members (in the order of
// the document) and drops the others; nested members are projected with
// their sub-selection, element by element for a list of objects. Values are
// copied byte for byte, never decoded. A full selection (IsAll, or nil)
// returns the document unchanged: the schema must describe the whole
// representation, which Schema.Check verifies in tests.
type Projector struct {
	envelope []string
}

// DefaultEnvelope is the envelope member of DefaultProjector.
const DefaultEnvelope = "data"

// DefaultProjector is the projector used by the package-level Project, Append
// and Write: its envelope member is "data".
var DefaultProjector = MustProjector(DefaultEnvelope)

// NewProjector returns a projector whose list envelope is found at the
// dotted member path envelope ("data", or "result.items" for
// {"result":{"items":[...]}}). The empty string disables envelopes: every
// top-level object is then a resource. A path with an empty segment is an
// error.
func NewProjector(envelope string) (*Projector, error) {
	if envelope == "" {
		return &Projector{}, nil
	}
	segs := strings.Split(envelope, ".")
	for _, s := range segs {
		if s == "" {
			return nil, fmt.Errorf("fields: envelope path %q has an empty segment", envelope)
		}
	}
	return &Projector{envelope: segs}, nil
}

// MustProjector is NewProjector that panics on an invalid path, for
// package-level declarations.
func MustProjector(envelope string) *Projector {
	p, err := NewProjector(envelope)
	if err != nil {
		panic(err)
	}
	return p
}

// Envelope returns the envelope path of p ("" when it has none).
func (p *Projector) Envelope() string { return strings.Join(p.envelope, ".") }

// errEnvelopeFound restarts a top-level object in envelope mode.
var errEnvelopeFound = errors.New("fields: envelope member found")

// Project appends to dst the projection of the JSON document src and returns
// the extended buffer. It reports an error wrapping ErrInvalidJSON when src
// is not one valid JSON document (a full selection copies src unchecked).
func (p *Projector) Project(dst, src []byte, sel *Selection) ([]byte, error) {
	if sel == nil || sel.full {
		return append(dst, src...), nil
	}
	sc := scanner{src: src}
	mark := len(dst)
	i := sc.ws(0)
	if i == len(src) {
		return dst, sc.fail(i, "empty document")
	}
	var err error
	switch src[i] {
	case '[':
		dst, i, err = projectArray(dst, &sc, i, sel)
	case '{':
		watch := ""
		if len(p.envelope) > 0 {
			if _, declared := sel.schema.index[p.envelope[0]]; !declared {
				watch = p.envelope[0]
			}
		}
		start := i
		dst, i, err = projectObject(dst, &sc, i, sel, watch)
		if errors.Is(err, errEnvelopeFound) {
			// Usually the envelope member comes first and little is lost.
			dst = dst[:mark]
			sc.depth = 0
			dst, i, err = p.envelopeObject(dst, &sc, start, p.envelope, sel)
		}
	default:
		var end int
		end, err = sc.skipValue(i)
		dst, i = append(dst, src[i:end]...), end
	}
	if err != nil {
		return dst[:mark], err
	}
	if i = sc.ws(i); i != len(src) {
		return dst[:mark], sc.fail(i, "data after the top-level value")
	}
	return dst, nil
}

// Append appends the JSON encoding of v, projected with sel, to dst. A
// json.RawMessage is projected as it is; any other value is encoded with
// encoding/json once and the encoding projected without decoding it.
func (p *Projector) Append(dst []byte, v any, sel *Selection) ([]byte, error) {
	if raw, ok := v.(json.RawMessage); ok {
		return p.Project(dst, raw, sel)
	}
	buf := encodeBuffers.Get().(*bytes.Buffer)
	defer putEncodeBuffer(buf)
	buf.Reset()
	if err := json.NewEncoder(buf).Encode(v); err != nil {
		return dst, err
	}
	b := buf.Bytes()
	b = b[:len(b)-1] // Encode's trailing newline
	return p.Project(dst, b, sel)
}

// Write sends v, encoded and projected with sel, as the response body with
// the given status. It sets Content-Type to application/json unless the
// handler already set one, and Content-Length. Encoding errors are returned
// before anything is written, so the caller can still answer with a problem
// (see Problem); an error from writing the body is returned as well.
func (p *Projector) Write(w http.ResponseWriter, status int, v any, sel *Selection) error {
	bp := outputBuffers.Get().(*[]byte)
	defer putOutputBuffer(bp)
	out, err := p.Append((*bp)[:0], v, sel)
	*bp = out
	if err != nil {
		return err
	}
	h := w.Header()
	if h.Get("Content-Type") == "" {
		h.Set("Content-Type", "application/json")
	}
	h.Set("Content-Length", strconv.Itoa(len(out)))
	w.WriteHeader(status)
	_, err = w.Write(out)
	return err
}

// Project is DefaultProjector.Project.
func Project(dst, src []byte, sel *Selection) ([]byte, error) {
	return DefaultProjector.Project(dst, src, sel)
}

// Append is DefaultProjector.Append.
func Append(dst []byte, v any, sel *Selection) ([]byte, error) {
	return DefaultProjector.Append(dst, v, sel)
}

// Write is DefaultProjector.Write: the handler helper.
//
//	if err := fields.Write(w, http.StatusOK, page, sel); err != nil {
//		problem.Write(w, r, fields.Problem(err))
//	}
func Write(w http.ResponseWriter, status int, v any, sel *Selection) error {
	return DefaultProjector.Write(w, status, v, sel)
}

// projectValue projects a nested value: objects and lists of objects get sel,
// anything else is copied.
func projectValue(dst []byte, sc *scanner, i int, sel *Selection) ([]byte, int, error) {
	switch sc.src[i] {
	case '{':
		return projectObject(dst, sc, i, sel, "")
	case '[':
		return projectArray(dst, sc, i, sel)
	}
	end, err := sc.skipValue(i)
	if err != nil {
		return dst, end, err
	}
	return append(dst, sc.src[i:end]...), end, nil
}

func projectArray(dst []byte, sc *scanner, i int, sel *Selection) ([]byte, int, error) {
	if err := sc.enter(i); err != nil {
		return dst, i, err
	}
	defer func() { sc.depth-- }()
	dst = append(dst, '[')
	i = sc.ws(i + 1)
	if i < len(sc.src) && sc.src[i] == ']' {
		return append(dst, ']'), i + 1, nil
	}
	for first := true; ; first = false {
		if i >= len(sc.src) {
			return dst, i, sc.fail(i, "expected a value, found end of input")
		}
		if !first {
			dst = append(dst, ',')
		}
		var err error
		if dst, i, err = projectValue(dst, sc, i, sel); err != nil {
			return dst, i, err
		}
		var more bool
		if i, more, err = sc.next(sc.ws(i), ']'); err != nil {
			return dst, i, err
		}
		if !more {
			return append(dst, ']'), i, nil
		}
	}
}

// projectObject projects the resource object at src[i]. When watch is not
// empty and a member of that name is met, it stops with errEnvelopeFound.
func projectObject(dst []byte, sc *scanner, i int, sel *Selection, watch string) ([]byte, int, error) {
	if err := sc.enter(i); err != nil {
		return dst, i, err
	}
	defer func() { sc.depth-- }()
	dst = append(dst, '{')
	i = sc.ws(i + 1)
	if i < len(sc.src) && sc.src[i] == '}' {
		return append(dst, '}'), i + 1, nil
	}
	schema := sel.schema
	first := true
	for {
		start, end, name, v, err := sc.member(i)
		if err != nil {
			return dst, v, err
		}
		if watch != "" && string(name) == watch {
			return dst, v, errEnvelopeFound
		}
		idx, declared := schema.index[string(name)]
		switch {
		case !declared || !sel.bits.has(idx):
			if i, err = sc.skipValue(v); err != nil {
				return dst, i, err
			}
		default:
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = append(dst, sc.src[start:end]...)
			dst = append(dst, ':')
			if sub := sel.sub(idx); sub != nil && !sub.full {
				if dst, i, err = projectValue(dst, sc, v, sub); err != nil {
					return dst, i, err
				}
			} else {
				if i, err = sc.skipValue(v); err != nil {
					return dst, i, err
				}
				dst = append(dst, sc.src[v:i]...)
			}
		}
		var more bool
		if i, more, err = sc.next(sc.ws(i), '}'); err != nil {
			return dst, i, err
		}
		if !more {
			return append(dst, '}'), i, nil
		}
	}
}

// envelopeObject copies the object at src[i], projecting the value found at
// the member path segs.
func (p *Projector) envelopeObject(dst []byte, sc *scanner, i int, segs []string, sel *Selection) ([]byte, int, error) {
	if sc.src[i] != '{' {
		end, err := sc.skipValue(i)
		if err != nil {
			return dst, end, err
		}
		return append(dst, sc.src[i:end]...), end, nil
	}
	if err := sc.enter(i); err != nil {
		return dst, i, err
	}
	defer func() { sc.depth-- }()
	dst = append(dst, '{')
	i = sc.ws(i + 1)
	if i < len(sc.src) && sc.src[i] == '}' {
		return append(dst, '}'), i + 1, nil
	}
	for first := true; ; first = false {
		start, end, name, v, err := sc.member(i)
		if err != nil {
			return dst, v, err
		}
		if !first {
			dst = append(dst, ',')
		}
		dst = append(dst, sc.src[start:end]...)
		dst = append(dst, ':')
		switch {
		case string(name) != segs[0]:
			if i, err = sc.skipValue(v); err != nil {
				return dst, i, err
			}
			dst = append(dst, sc.src[v:i]...)
		case len(segs) == 1:
			if dst, i, err = projectValue(dst, sc, v, sel); err != nil {
				return dst, i, err
			}
		default:
			if dst, i, err = p.envelopeObject(dst, sc, v, segs[1:], sel); err != nil {
				return dst, i, err
			}
		}
		var more bool
		if i, more, err = sc.next(sc.ws(i), '}'); err != nil {
			return dst, i, err
		}
		if !more {
			return append(dst, '}'), i, nil
		}
	}
}

// Buffers are pooled; oversized ones are dropped so that one huge response
// does not pin memory.
const maxPooledBuffer = 1 << 20

var (
	encodeBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}
	outputBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}
)

func putEncodeBuffer(b *bytes.Buffer) {
	if b.Cap() <= maxPooledBuffer {
		encodeBuffers.Put(b)
	}
}

func putOutputBuffer(b *[]byte) {
	if cap(*b) <= maxPooledBuffer {
		*b = (*b)[:0]
		outputBuffers.Put(b)
	}
}
