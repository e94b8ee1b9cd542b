package etag

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/hubchantier/hubchantier/problem"
)

// DefaultMaxBody is the largest response body [ConditionalGET] buffers to
// compute an entity tag when no [MaxBody] option is given (1 MiB).
const DefaultMaxBody = 1 << 20

// Option configures [ConditionalGET].
type Option func(*config)

type config struct {
	maxBody int
}

// MaxBody sets the largest response body, in bytes, that [ConditionalGET]
// holds in memory to compute its entity tag. A larger response is sent on as
// soon as it exceeds the limit, unmodified and without an ETag. n must be
// positive: ConditionalGET panics otherwise, when the middleware is built.
func MaxBody(n int) Option {
	return func(c *config) { c.maxBody = n }
}

// ConditionalGET returns middleware that makes GET and HEAD requests
// conditional (RFC 9110 §13) without any help from the handler:
//
//   - A 200 response whose handler set no ETag gets a strong one, [Of] the
//     body (SHA-256), plus an exact Content-Length. The body is buffered for
//     this, up to [MaxBody] bytes.
//   - A handler that set an ETag itself (for example a [VersionTag]) is
//     trusted: its tag is used as is and the body is not buffered or hashed.
//   - If-None-Match (weak comparison, lists, "*") and, without it,
//     If-Modified-Since against the handler's Last-Modified are answered with
//     304 Not Modified: no body, the ETag, Cache-Control, Content-Location,
//     Date, Expires and Vary of the 200, no Content-Type or Content-Length
//     (RFC 9110 §15.4.5). If-Match and If-Unmodified-Since that fail on a GET
//     are answered 412 with problem details.
//   - Everything else passes through unmodified and unbuffered: other
//     methods, responses other than 200 (preconditions do not apply to them,
//     RFC 9110 §13.2.1), bodies over the limit, streams (the body is sent as
//     soon as the handler flushes), hijacked connections and 101 Switching
//     Protocols.
//
// The handler still runs for a 304; to skip its work too, compare versions
// first with [Evaluate] or [CheckPreconditions]. Place ConditionalGET inside
// (nearer the handler than) any compression middleware, or have that
// middleware change or weaken the tag: a strong tag belongs to one encoding
// of a representation.
func ConditionalGET(opts ...Option) func(http.Handler) http.Handler {
	c := config{maxBody: DefaultMaxBody}
	for _, o := range opts {
		if o == nil {
			panic("etag: ConditionalGET: nil Option")
		}
		o(&c)
	}
	if c.maxBody <= 0 {
		panic(fmt.Sprintf("etag: ConditionalGET: MaxBody must be positive, got %d", c.maxBody))
	}
	return func(next http.Handler) http.Handler {
		if next == nil {
			panic("etag: ConditionalGET: nil handler")
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodGet && r.Method != http.MethodHead {
				next.ServeHTTP(w, r)
				return
			}
			cw := &conditionalWriter{rw: w, r: r, max: c.maxBody}
			next.ServeHTTP(cw, r)
			cw.finish()
		})
	}
}

type writerState uint8

const (
	stateInit        writerState = iota // no status yet
	stateBuffering                      // 200, body held in buf
	statePassthrough                    // writes go straight to rw
	stateDiscard                        // 304 or 412 already written; body dropped
	stateHijacked                       // connection taken over by the handler
)

// conditionalWriter holds a 200 response until its body is complete, so that
// the ETag can be computed and the preconditions evaluated before anything is
// sent.
type conditionalWriter struct {
	rw     http.ResponseWriter
	r      *http.Request
	max    int
	state  writerState
	status int
	buf    *bytes.Buffer
}

func (cw *conditionalWriter) Header() http.Header { return cw.rw.Header() }

func (cw *conditionalWriter) WriteHeader(code int) {
	if cw.state != stateInit {
		return // superfluous, as net/http
	}
	if code >= 100 && code <= 199 && code != http.StatusSwitchingProtocols {
		cw.rw.WriteHeader(code) // informational (103 Early Hints): more to come
		return
	}
	cw.status = code
	if code != http.StatusOK {
		cw.passthrough()
		return
	}
	h := cw.rw.Header()
	if first(h, hdrETag) != "" {
		cw.decideNow(h)
		return
	}
	if cl := first(h, hdrContentLength); cl != "" {
		if n, err := strconv.ParseInt(cl, 10, 64); err == nil && n > int64(cw.max) {
			cw.passthrough()
			return
		}
	}
	cw.state = stateBuffering
	cw.buf = getBuffer()
}

// decideNow handles a 200 whose handler set the ETag: the preconditions can be
// evaluated before the body is written, so nothing is buffered.
func (cw *conditionalWriter) decideNow(h http.Header) {
	tag, ok := handlerTag(h)
	if !ok {
		cw.passthrough()
		return
	}
	res, why := evaluate(cw.r, tag, lastModified(h), true)
	switch res {
	case NotModified:
		WriteNotModified(cw.rw, tag)
		cw.state = stateDiscard
	case PreconditionFailed:
		cw.writeFailed(why)
		cw.state = stateDiscard
	default:
		cw.passthrough()
	}
}

func (cw *conditionalWriter) Write(p []byte) (int, error) {
	if cw.state == stateInit {
		cw.WriteHeader(http.StatusOK)
	}
	switch cw.state {
	case stateBuffering:
		if cw.buf.Len()+len(p) <= cw.max {
			return cw.buf.Write(p)
		}
		if err := cw.spill(); err != nil {
			return 0, err
		}
		return cw.rw.Write(p)
	case statePassthrough:
		return cw.rw.Write(p)
	case stateHijacked:
		return 0, http.ErrHijacked
	default: // stateDiscard
		return len(p), nil
	}
}

// passthrough sends the status now; later writes go straight through.
func (cw *conditionalWriter) passthrough() {
	cw.state = statePassthrough
	cw.rw.WriteHeader(cw.status)
}

// spill gives up on an ETag: it sends the status and the buffered bytes.
func (cw *conditionalWriter) spill() error {
	buf := cw.buf
	cw.buf = nil
	cw.passthrough()
	_, err := cw.rw.Write(buf.Bytes())
	putBuffer(buf)
	return err
}

// Flush sends what is buffered and switches to streaming: a flushed response
// is a stream, whose ETag cannot be known in advance.
func (cw *conditionalWriter) Flush() { _ = cw.FlushError() }

// FlushError is Flush for http.ResponseController, reporting errors.
func (cw *conditionalWriter) FlushError() error {
	switch cw.state {
	case stateInit:
		cw.status = http.StatusOK
		cw.passthrough()
	case stateBuffering:
		if err := cw.spill(); err != nil {
			return err
		}
	case stateDiscard, stateHijacked:
		return nil
	}
	return http.NewResponseController(cw.rw).Flush()
}

// Hijack lets the handler take over the connection (http.Hijacker); nothing
// is written by the middleware afterwards.
func (cw *conditionalWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if cw.state != stateInit {
		return nil, nil, fmt.Errorf("etag: Hijack after the response was started: %w", http.ErrNotSupported)
	}
	c, rw, err := http.NewResponseController(cw.rw).Hijack()
	if err == nil {
		cw.state = stateHijacked
	}
	return c, rw, err
}

// Unwrap gives http.ResponseController access to the underlying writer
// (deadlines, full duplex).
func (cw *conditionalWriter) Unwrap() http.ResponseWriter { return cw.rw }

// finish runs after the handler: a buffered 200 is tagged, then answered as
// 304, 412 or 200 with its body.
func (cw *conditionalWriter) finish() {
	if cw.state == stateInit {
		cw.WriteHeader(http.StatusOK) // the handler wrote nothing: an empty 200
	}
	if cw.state != stateBuffering {
		return
	}
	buf := cw.buf
	cw.buf = nil
	defer putBuffer(buf)
	h := cw.rw.Header()

	if cw.r.Method == http.MethodHead && buf.Len() == 0 {
		// A HEAD handler that wrote no body: the representation is unknown,
		// so no tag can be computed. Send its headers unchanged.
		cw.rw.WriteHeader(cw.status)
		return
	}
	tag, ok := handlerTag(h) // set after WriteHeader but before any byte left
	if !ok {
		if first(h, hdrETag) != "" {
			cw.passthroughBuffered(buf)
			return
		}
		tag = Of(buf.Bytes())
		h[hdrETag] = []string{tag.String()}
	}
	res, why := evaluate(cw.r, tag, lastModified(h), true)
	switch res {
	case NotModified:
		WriteNotModified(cw.rw, tag)
	case PreconditionFailed:
		cw.writeFailed(why)
	default:
		h[hdrContentLength] = []string{strconv.Itoa(buf.Len())}
		cw.passthroughBuffered(buf)
	}
}

func (cw *conditionalWriter) passthroughBuffered(buf *bytes.Buffer) {
	cw.passthrough()
	if cw.r.Method != http.MethodHead {
		_, _ = cw.rw.Write(buf.Bytes()) // the client went away: nothing to do
	}
}

// writeFailed answers 412 to a GET or HEAD whose If-Match or
// If-Unmodified-Since is false. The caching metadata of the 200 is removed so
// that the error cannot be stored in its place.
func (cw *conditionalWriter) writeFailed(why reason) {
	h := cw.rw.Header()
	for _, k := range [...]string{"Cache-Control", "Expires", "Last-Modified", "Content-Encoding",
		"Content-Language", "Content-Location", "Content-Range", "Content-Disposition"} {
		delete(h, k)
	}
	problem.Write(cw.rw, cw.r, failed(why))
}

// handlerTag returns the ETag a handler set, when it set exactly one valid one.
func handlerTag(h http.Header) (Tag, bool) {
	v := h[hdrETag]
	if len(v) != 1 {
		return Tag{}, false
	}
	t, err := ParseTag(v[0])
	return t, err == nil
}

func lastModified(h http.Header) time.Time {
	v := first(h, hdrLastModified)
	if v == "" {
		return time.Time{}
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return time.Time{}
	}
	return t
}

// Buffers up to maxPooled bytes are reused; larger ones are left to the GC so
// that one large response does not pin memory.
const maxPooled = 256 << 10

var bufferPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func getBuffer() *bytes.Buffer {
	b, _ := bufferPool.Get().(*bytes.Buffer)
	if b == nil {
		b = new(bytes.Buffer)
	}
	return b
}

func putBuffer(b *bytes.Buffer) {
	if b == nil || b.Cap() > maxPooled {
		return
	}
	b.Reset()
	bufferPool.Put(b)
}
