package fields

import (
	"context"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"net/http"
	"strconv"
	"strings"

	"github.com/hubchantier/hubchantier/problem"
)

// DefaultParam is the query parameter that carries the fields expression.
const DefaultParam = "fields"

// ParseRequest parses the "fields" query parameter of r against s with
// DefaultLimits. An absent or empty parameter selects everything; a repeated
// parameter is an error (ErrRepeated) rather than a guess.
func ParseRequest(r *http.Request, s *Schema) (*Selection, error) {
	return parseRequest(r, DefaultParam, Limits{}, s)
}

func parseRequest(r *http.Request, param string, l Limits, s *Schema) (*Selection, error) {
	values := r.URL.Query()[param]
	switch len(values) {
	case 0:
		return l.Parse("", s)
	case 1:
		return l.Parse(values[0], s)
	}
	return nil, &ParseError{Offset: 0, Reason: fmt.Sprintf("the %s parameter is given more than once", param), Err: ErrRepeated}
}

type contextKey struct{}

// NewContext returns a copy of ctx carrying sel.
func NewContext(ctx context.Context, sel *Selection) context.Context {
	return context.WithValue(ctx, contextKey{}, sel)
}

// FromContext returns the selection stored by Middleware (or NewContext).
func FromContext(ctx context.Context) (*Selection, bool) {
	sel, ok := ctx.Value(contextKey{}).(*Selection)
	return sel, ok && sel != nil
}

// Option configures Middleware.
type Option func(*config)

type config struct {
	param    string
	limits   Limits
	envelope string
}

// WithParam sets the query parameter name (default "fields").
func WithParam(name string) Option { return func(c *config) { c.param = name } }

// WithLimits sets the parse limits (default DefaultLimits).
func WithLimits(l Limits) Option { return func(c *config) { c.limits = l } }

// WithEnvelope sets the list envelope path (default "data"; "" for none). See
// Projector.
func WithEnvelope(path string) Option { return func(c *config) { c.envelope = path } }

// Middleware returns net/http middleware that applies sparse fieldsets to the
// JSON responses of a handler serving resources described by s.
//
// On GET and HEAD it parses the fields parameter; an invalid expression is
// answered with a 400 application/problem+json (RFC 9457, see Problem) and
// the handler is not called. The selection is put in the request context
// (FromContext) so the handler can read only the columns it needs. When the
// selection is partial, a 200 response with a JSON media type
// (application/json or any +json type) is buffered and projected (see
// Projector); its Content-Length is recomputed and an ETag set by the
// handler gets a suffix derived from the selection, since a different
// selection is a different representation (RFC 9110 §8.8.3). Other statuses
// and media types, full selections and other methods pass through unbuffered.
//
// Misconfiguration (a nil schema, an empty parameter name, an invalid
// envelope path, or an envelope member the schema declares) panics when the
// middleware is built.
func Middleware(s *Schema, opts ...Option) func(http.Handler) http.Handler {
	cfg := config{param: DefaultParam, envelope: DefaultEnvelope}
	for _, o := range opts {
		o(&cfg)
	}
	if s == nil || s.full == nil {
		panic("fields: Middleware needs a schema")
	}
	if cfg.param == "" {
		panic("fields: Middleware needs a parameter name")
	}
	proj, err := NewProjector(cfg.envelope)
	if err != nil {
		panic(err)
	}
	if len(proj.envelope) > 0 {
		if _, clash := s.index[proj.envelope[0]]; clash {
			panic(fmt.Sprintf("fields: the schema declares %q, which is also the envelope member", proj.envelope[0]))
		}
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodGet && r.Method != http.MethodHead {
				next.ServeHTTP(w, r)
				return
			}
			sel, err := parseRequest(r, cfg.param, cfg.limits, s)
			if err != nil {
				problem.Write(w, r, Problem(err))
				return
			}
			r = r.WithContext(NewContext(r.Context(), sel))
			if sel.full {
				next.ServeHTTP(w, r)
				return
			}
			pw := &projectingWriter{rw: w}
			defer pw.release()
			next.ServeHTTP(pw, r)
			pw.finish(r, proj, sel)
		})
	}
}

type writerMode int

const (
	undecided writerMode = iota
	buffering
	passing
)

// projectingWriter buffers a 200 JSON response and passes anything else
// through.
type projectingWriter struct {
	rw   http.ResponseWriter
	mode writerMode
	buf  *[]byte
}

func (pw *projectingWriter) Header() http.Header { return pw.rw.Header() }

func (pw *projectingWriter) WriteHeader(code int) {
	if pw.mode != undecided {
		return
	}
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		pw.rw.WriteHeader(code) // informational responses (103 Early Hints) go out at once
		return
	}
	if code == http.StatusOK && isJSON(pw.rw.Header().Get("Content-Type")) {
		pw.mode = buffering
		pw.buf = outputBuffers.Get().(*[]byte)
		return
	}
	pw.mode = passing
	pw.rw.WriteHeader(code)
}

func (pw *projectingWriter) Write(b []byte) (int, error) {
	if pw.mode == undecided {
		pw.WriteHeader(http.StatusOK)
	}
	if pw.mode == passing {
		return pw.rw.Write(b)
	}
	*pw.buf = append(*pw.buf, b...)
	return len(b), nil
}

// Flush flushes a response that passes through; a buffered one is sent when
// the handler returns.
func (pw *projectingWriter) Flush() {
	if pw.mode == passing {
		_ = http.NewResponseController(pw.rw).Flush()
	}
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (pw *projectingWriter) Unwrap() http.ResponseWriter { return pw.rw }

func (pw *projectingWriter) finish(r *http.Request, proj *Projector, sel *Selection) {
	if pw.mode != buffering {
		return
	}
	h := pw.rw.Header()
	h.Del("Content-Length")
	body := *pw.buf
	if len(body) == 0 { // HEAD, or an empty body
		pw.rw.WriteHeader(http.StatusOK)
		return
	}
	out := outputBuffers.Get().(*[]byte)
	defer putOutputBuffer(out)
	projected, err := proj.Project((*out)[:0], body, sel)
	*out = projected
	if err != nil {
		h.Del("ETag")
		h.Del("Last-Modified")
		problem.Write(pw.rw, r, Problem(err))
		return
	}
	if etag := h.Get("ETag"); etag != "" {
		if tagged, ok := selectionETag(etag, sel); ok {
			h.Set("ETag", tagged)
		} else {
			h.Del("ETag")
		}
	}
	h.Set("Content-Length", strconv.Itoa(len(projected)))
	pw.rw.WriteHeader(http.StatusOK)
	_, _ = pw.rw.Write(projected) // #nosec G705 -- the wrapped handler's own JSON body, served with its JSON media type
}

func (pw *projectingWriter) release() {
	if pw.buf != nil {
		putOutputBuffer(pw.buf)
		pw.buf = nil
	}
}

// isJSON reports whether a Content-Type value is application/json or a
// structured syntax suffix +json type (RFC 6839).
func isJSON(contentType string) bool {
	mt, _, _ := strings.Cut(contentType, ";")
	mt = strings.ToLower(strings.TrimSpace(mt))
	return mt == "application/json" || strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json")
}

// selectionETag derives the entity tag of a projected representation from
// the tag of the full one (RFC 9110 §8.8.3: entity-tag = [ "W/" ] DQUOTE
// *etagc DQUOTE): the opaque part gets "-f" and a hash of the selection's
// canonical form, keeping the weak flag.
func selectionETag(etag string, sel *Selection) (string, bool) {
	weak := strings.HasPrefix(etag, "W/")
	opaque := strings.TrimPrefix(etag, "W/")
	if len(opaque) < 2 || opaque[0] != '"' || opaque[len(opaque)-1] != '"' || strings.Contains(opaque[1:len(opaque)-1], `"`) {
		return "", false
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte(sel.String()))
	var sum [8]byte
	tag := opaque[:len(opaque)-1] + "-f" + hex.EncodeToString(h.Sum(sum[:0])) + `"`
	if weak {
		tag = "W/" + tag
	}
	return tag, true
}
