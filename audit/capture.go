package audit

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"net"
	"net/http"
	"net/netip"
	"sync"
)

// Recorder receives the events of answered requests (a *Writer).
type Recorder interface {
	Record(e *Event)
}

// CaptureConfig configures Capture.
type CaptureConfig struct {
	// Recorder receives one event per request (required).
	Recorder Recorder
	// Route returns the route template of a request, read after the
	// handler returned ("" when none matched).
	Route func(r *http.Request) string
	// RequestID returns the request's id.
	RequestID func(ctx context.Context) string
	// ClientIP returns the caller's address (default: the host of
	// RemoteAddr). Give the server's one resolver.
	ClientIP func(r *http.Request) netip.Addr
	// Skip, when it returns true, records nothing for the request (health
	// probes).
	Skip func(r *http.Request) bool
	// Nested reports a request dispatched in-process inside another one
	// (an operation of a batch): Middleware lets it through, Operations
	// records it as an event of its own.
	Nested func(r *http.Request) bool
	// MaxBodyDrain is how many unread body bytes are read after the
	// handler to complete the body's hash (default 64 KiB); a longer unread
	// rest leaves BodySHA256 empty.
	MaxBodyDrain int64
}

// Capture records an event for every request it serves, refused ones
// included, with what the use cases attached through the context
// (SetActor, Describe, NewChange).
type Capture struct{ cfg CaptureConfig }

// NewCapture checks cfg.
func NewCapture(cfg CaptureConfig) (*Capture, error) {
	if cfg.Recorder == nil {
		return nil, errors.New("audit: CaptureConfig.Recorder is required")
	}
	if cfg.Route == nil {
		cfg.Route = func(*http.Request) string { return "" }
	}
	if cfg.RequestID == nil {
		cfg.RequestID = func(context.Context) string { return "" }
	}
	if cfg.ClientIP == nil {
		cfg.ClientIP = func(r *http.Request) netip.Addr {
			ap, err := netip.ParseAddrPort(r.RemoteAddr)
			if err != nil {
				return netip.Addr{}
			}
			return ap.Addr()
		}
	}
	if cfg.Nested == nil {
		cfg.Nested = func(*http.Request) bool { return false }
	}
	if cfg.MaxBodyDrain == 0 {
		cfg.MaxBodyDrain = 64 << 10
	}
	return &Capture{cfg: cfg}, nil
}

// Middleware records the requests that are not nested: put it inside the
// request id and the client-IP resolver, outside authentication.
func (c *Capture) Middleware(next http.Handler) http.Handler {
	return c.handler(next, false)
}

// Operations records the nested requests (batch operations) each as an
// event: install it inside the router the operations are dispatched to.
func (c *Capture) Operations(next http.Handler) http.Handler {
	return c.handler(next, true)
}

func (c *Capture) handler(next http.Handler, nested bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c.cfg.Nested(r) != nested || (c.cfg.Skip != nil && c.cfg.Skip(r)) {
			next.ServeHTTP(w, r)
			return
		}
		rec := &record{}
		parent := recordFrom(r.Context())
		if parent != nil {
			rec.actor = parent.snapshotActor()
		}
		e := &rec.ev
		e.Stage, e.Method, e.RequestID = StageResponse, r.Method, c.cfg.RequestID(r.Context())
		if ip := c.cfg.ClientIP(r); ip.IsValid() {
			e.ClientIP = ip.Unmap().WithZone("").String()
		}
		e.UserAgent = r.UserAgent()
		var body *hashingBody
		if r.Body != nil && r.Body != http.NoBody {
			body = &hashingBody{rc: r.Body, h: sha256.New()}
			r.Body = body
		}
		sw := &statusWriter{ResponseWriter: w}
		r = r.WithContext(context.WithValue(r.Context(), recordKey{}, rec))
		defer func() {
			if body != nil {
				e.BodySHA256 = body.finish(c.cfg.MaxBodyDrain)
			}
			e.Route = c.cfg.Route(r)
			e.Status = sw.status
			if e.Status == 0 {
				e.Status = http.StatusOK
			}
			rec.fill(e)
			c.cfg.Recorder.Record(e)
		}()
		next.ServeHTTP(sw, r)
	})
}

// hashingBody hashes the request body as the handler reads it.
type hashingBody struct {
	rc  io.ReadCloser
	h   hash.Hash
	eof bool
	err bool
}

func (b *hashingBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	b.h.Write(p[:n])
	if err == io.EOF {
		b.eof = true
	} else if err != nil {
		b.err = true
	}
	return n, err
}

func (b *hashingBody) Close() error { return b.rc.Close() }

// finish reads at most max unread bytes to complete the hash; it returns
// "" when the body was not read to its end.
func (b *hashingBody) finish(max int64) string {
	if !b.eof && !b.err {
		n, _ := io.Copy(b.h, io.LimitReader(readerFunc(b.rc.Read), max+1))
		if n <= max {
			var one [1]byte
			if _, err := b.rc.Read(one[:]); err == io.EOF {
				b.eof = true
			}
		}
	}
	if !b.eof {
		return ""
	}
	return hex.EncodeToString(b.h.Sum(nil))
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

// statusWriter notes the status of the response.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush implements http.Flusher.
func (w *statusWriter) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Hijack implements http.Hijacker.
func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

// record is what a request's handlers attach to its event.
type record struct {
	mu           sync.Mutex
	ev           Event
	actor        Actor
	action       string
	resourceType string
	resourceID   string
}

type recordKey struct{}

func recordFrom(ctx context.Context) *record {
	r, _ := ctx.Value(recordKey{}).(*record)
	return r
}

func (r *record) snapshotActor() Actor {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.actor
}

func (r *record) fill(e *Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e.setActor(r.actor)
	if r.action != "" {
		e.Action, e.ResourceType, e.ResourceID = r.action, r.resourceType, r.resourceID
	}
}

// SetActor notes who makes the request of ctx (the authentication calls
// it). Without a capturing middleware it does nothing.
func SetActor(ctx context.Context, a Actor) {
	if r := recordFrom(ctx); r != nil {
		r.mu.Lock()
		r.actor = a
		r.mu.Unlock()
	}
}

// Describe names what the request of ctx does ("read_audit_logs",
// "read_api_keys"), on which resource (id "" for a collection). The last
// call wins.
func Describe(ctx context.Context, action, resourceType, resourceID string) {
	if r := recordFrom(ctx); r != nil {
		r.mu.Lock()
		r.action, r.resourceType, r.resourceID = action, resourceType, resourceID
		r.mu.Unlock()
	}
}

// NewChange returns the event of a change made by the request of ctx: the
// request's metadata (when a capturing middleware records it), action and
// resource, and changes {before, after} (either may be nil) with secrets
// redacted (see Redact). Append it in the transaction of the change. The
// request's own event is described with the same action and resource.
func NewChange(ctx context.Context, action, resourceType, resourceID string, before, after any) *Event {
	e := &Event{Stage: StageChange, Action: action, ResourceType: resourceType, ResourceID: resourceID}
	e.Changes = changesJSON(before, after)
	if r := recordFrom(ctx); r != nil {
		r.mu.Lock()
		e.RequestID, e.Method, e.ClientIP, e.UserAgent = r.ev.RequestID, r.ev.Method, r.ev.ClientIP, r.ev.UserAgent
		e.setActor(r.actor)
		if r.action == "" {
			r.action, r.resourceType, r.resourceID = action, resourceType, resourceID
		}
		r.mu.Unlock()
	}
	return e
}

// NewAccess returns the event of a sensitive read by the request of ctx
// (reading the audit trail itself, keys' metadata, a connector's
// configuration), stage StageAccess, with detail (the filter, say) as the
// "after" of its Changes. Append it before answering, for a durable
// record of the read.
func NewAccess(ctx context.Context, action, resourceType, resourceID string, detail any) *Event {
	e := NewChange(ctx, action, resourceType, resourceID, nil, detail)
	e.Stage = StageAccess
	return e
}

// Detached returns ctx carrying the record of work done outside an HTTP
// request (a command-line operation): the change events made with it
// (NewChange) carry requestID, method ("CLI") and agent (the command, in
// the user-agent field) and, once noted with SetActor, the actor. No
// response event is recorded for it.
func Detached(ctx context.Context, requestID, method, agent string) context.Context {
	rec := &record{}
	rec.ev.Stage, rec.ev.RequestID, rec.ev.Method, rec.ev.UserAgent = StageResponse, requestID, method, agent
	return context.WithValue(ctx, recordKey{}, rec)
}

// ActorFrom returns the actor noted for the request of ctx.
func ActorFrom(ctx context.Context) Actor {
	if r := recordFrom(ctx); r != nil {
		return r.snapshotActor()
	}
	return Actor{}
}
