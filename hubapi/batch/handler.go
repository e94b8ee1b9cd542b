package batch

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/route"
	"github.com/hubchantier/hubchantier/problem"
	"github.com/hubchantier/hubchantier/ratelimit"
)

// Defaults of Config.
const (
	DefaultMaxBodyBytes     = 4 << 20
	DefaultTimeout          = 60 * time.Second
	DefaultWorkers          = 4
	DefaultMaxResponseBytes = 1 << 20
	DefaultPrefix           = "/api/v1"
)

// Config configures the batch endpoint.
type Config struct {
	// Target serves the operations: the router of the API, with its
	// authorization, validation, preconditions, fields and cache, inside
	// authentication (required). Each operation reaches it as a request of
	// its own, with the batch caller's principal.
	Target http.Handler
	// UnitOfWork runs atomic batches in one transaction; without it,
	// atomic batches are refused (400).
	UnitOfWork hubapi.UnitOfWork
	// Prefix is what operation paths are relative to (DefaultPrefix):
	// the API version the batch runs. A path under another /api/ prefix
	// is refused (400).
	Prefix string
	// Naming spells the envelope's members like the API of Prefix does:
	// SnakeCase (the default, API v1) or CamelCase (API v2).
	Naming Naming
	// MaxBodyBytes caps the batch request body (DefaultMaxBodyBytes).
	MaxBodyBytes int64
	// MaxResponseBytes caps the response of one operation
	// (DefaultMaxResponseBytes): a larger one is replaced by a 413 problem.
	MaxResponseBytes int
	// Timeout bounds the whole batch (DefaultTimeout): operations not
	// started by then answer 504.
	Timeout time.Duration
	// Workers bounds the operations of a parallel batch that run at once
	// (DefaultWorkers).
	Workers int
	// Limit, when set, charges each checked batch before it runs: the
	// batch's run is served through it with ratelimit.WithCost set to the
	// number of operations, so a ratelimit.Limiter's Middleware charges a
	// quota of operations (and answers 429 itself when it is spent).
	// Without it, a batch costs what its route's limiter charged.
	Limit func(http.Handler) http.Handler
}

// Handler serves POST /batch.
type Handler struct {
	cfg Config
	syn *syntax
}

// New returns the batch handler. Errors are configuration errors.
func New(cfg Config) (*Handler, error) {
	if cfg.Target == nil {
		return nil, errors.New("batch: Config.Target is required")
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	if !strings.HasPrefix(cfg.Prefix, "/") || strings.HasSuffix(cfg.Prefix, "/") {
		return nil, fmt.Errorf("batch: Config.Prefix %q must start with / and not end with one", cfg.Prefix)
	}
	if cfg.Naming != SnakeCase && cfg.Naming != CamelCase {
		return nil, fmt.Errorf("batch: Config.Naming %d is neither SnakeCase nor CamelCase", cfg.Naming)
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.MaxResponseBytes <= 0 {
		cfg.MaxResponseBytes = DefaultMaxResponseBytes
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Workers <= 0 {
		cfg.Workers = DefaultWorkers
	}
	return &Handler{cfg: cfg, syn: &syntax{prefix: strings.ToLower(cfg.Prefix), naming: cfg.Naming}}, nil
}

// Response is the body of a batch's answer: one result per operation, in
// request order (as SnakeCase spells it; CamelCase writes Result's
// body_encoding bodyEncoding).
type Response struct {
	Results []*Result `json:"results"`
}

// ServeHTTP reads, checks and runs a batch. The caller must be
// authenticated (the principal in the request context is every
// operation's). With Config.Limit, the batch costs its number of
// operations, charged before any operation runs.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if hubapi.IsBatchOperation(r.Context()) {
		problem.Write(w, r, invalid(nil, "a batch may not contain a batch"))
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		problem.Write(w, r, problem.New(http.StatusUnsupportedMediaType, "unsupported-media-type", "Content-Type must be application/json."))
		return
	}
	tooLarge := problem.New(http.StatusRequestEntityTooLarge, "body-too-large", fmt.Sprintf("The batch exceeds %d bytes.", h.cfg.MaxBodyBytes))
	if r.ContentLength > h.cfg.MaxBodyBytes {
		problem.Write(w, r, tooLarge)
		return
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.cfg.MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			problem.Write(w, r, tooLarge)
			return
		}
		problem.Write(w, r, problem.New(http.StatusBadRequest, "unreadable-body", "The request body could not be read."))
		return
	}
	p, err := parse(data, h.syn)
	if err != nil {
		d, _ := problem.As(err)
		problem.Write(w, r, d)
		return
	}
	if p.req.Atomic && h.cfg.UnitOfWork == nil {
		problem.Write(w, r, invalid(nil, "this server does not run atomic batches"))
		return
	}
	execute := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.execute(w, r, p) })
	if h.cfg.Limit == nil {
		execute(w, r)
		return
	}
	h.cfg.Limit(execute).ServeHTTP(w, r.WithContext(ratelimit.WithCost(r.Context(), int64(len(p.ops)))))
}

// execute runs a checked batch and answers with its results.
func (h *Handler) execute(w http.ResponseWriter, r *http.Request, p *plan) {
	ctx, cancel := context.WithTimeout(r.Context(), h.cfg.Timeout)
	defer cancel()
	run := &run{h: h, p: p, outer: r, results: make([]*Result, len(p.ops))}
	switch {
	case p.req.Atomic:
		run.atomic(ctx)
	case p.req.Parallel:
		run.parallel(ctx)
	default:
		run.sequential(ctx)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_ = json.NewEncoder(w).Encode(h.cfg.Naming.response(run.results))
}

// run is one batch being executed.
type run struct {
	h       *Handler
	p       *plan
	outer   *http.Request
	mu      sync.Mutex // results, in parallel batches
	results []*Result
}

func (x *run) set(i int, res *Result) {
	x.mu.Lock()
	x.results[i] = res
	x.mu.Unlock()
}

// blocked returns the first dependency of o that did not succeed, or "".
func (x *run) blocked(o *op) string {
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, d := range o.deps {
		if !x.results[d].ok() {
			return x.p.ops[d].ID
		}
	}
	return ""
}

// problemResult is a result that carries problem details.
func problemResult(ctx context.Context, id string, d *problem.Details) *Result {
	out := *d
	out.Type = problem.TypeURI(ctx, out.Type)
	if out.Title == "" {
		out.Title = http.StatusText(out.Status)
	}
	b, err := json.Marshal(&out)
	if err != nil {
		b = []byte(`{"type":"about:blank","title":"Internal Server Error","status":500}`)
	}
	return &Result{ID: id, Status: d.Status, Headers: map[string]string{"Content-Type": problem.ContentType}, Body: b}
}

func timedOut(o *op) *problem.Details {
	return problem.New(http.StatusGatewayTimeout, "batch-timeout", "operation "+o.ID+" did not run: the batch ran out of time").With("operation", o.ID)
}

// step runs operation o unless a dependency failed or time is up.
func (x *run) step(ctx context.Context, o *op) *Result {
	if ctx.Err() != nil {
		return problemResult(ctx, o.ID, timedOut(o))
	}
	if on := x.blocked(o); on != "" {
		return problemResult(ctx, o.ID, failedDependency(o, on))
	}
	x.mu.Lock()
	res, err := o.resolve(x.results, x.p.byID)
	x.mu.Unlock()
	if err != nil {
		d, _ := problem.As(err)
		return problemResult(ctx, o.ID, d)
	}
	return x.dispatch(ctx, o, res)
}

// sequential runs the operations one after the other, each committing on
// its own.
func (x *run) sequential(ctx context.Context) {
	for _, i := range x.p.order() {
		x.set(i, x.step(ctx, x.p.ops[i]))
	}
}

// parallel runs the operations on at most Workers goroutines, each as soon
// as the operations it depends on are done.
func (x *run) parallel(ctx context.Context) {
	n := len(x.p.ops)
	indeg := make([]int, n)
	users := make([][]int, n)
	for _, o := range x.p.ops {
		indeg[o.index] = len(o.deps)
		for _, d := range o.deps {
			users[d] = append(users[d], o.index)
		}
	}
	var ready []int
	for i := range indeg {
		if indeg[i] == 0 {
			ready = append(ready, i)
		}
	}
	done := make(chan int)
	running, finished := 0, 0
	for finished < n {
		for len(ready) > 0 && running < x.h.cfg.Workers {
			i := ready[0]
			ready = ready[1:]
			running++
			go func() {
				x.set(i, x.step(ctx, x.p.ops[i]))
				done <- i
			}()
		}
		i := <-done
		running--
		finished++
		for _, u := range users[i] {
			if indeg[u]--; indeg[u] == 0 {
				ready = append(ready, u)
			}
		}
	}
}

// errRolledBack ends the unit of work of an atomic batch whose operation
// failed.
var errRolledBack = errors.New("batch: an operation failed")

// atomic runs the operations one after the other in one unit of work
// (one transaction, one connection, so one statement at a time, parallel
// or not). The first failure rolls back: it keeps its own result, and
// every other operation answers 424.
func (x *run) atomic(ctx context.Context) {
	failed := -1
	creates := 0
	for _, o := range x.p.ops {
		if o.Method == http.MethodPost {
			creates++
		}
	}
	ctx = hubapi.WithExpectedCreates(ctx, creates)
	err := x.h.cfg.UnitOfWork.Atomically(ctx, func(ctx context.Context) error {
		// The unit of work may call this again after a rollback (see
		// service.Atomically): each call starts afresh.
		failed = -1
		clear(x.results)
		for _, i := range x.p.order() {
			res := x.step(ctx, x.p.ops[i])
			x.set(i, res)
			if !res.ok() {
				failed = i
				return errRolledBack
			}
		}
		return nil
	})
	switch {
	case err == nil:
		return
	case failed < 0:
		// The commit itself failed: nothing of the batch was kept.
		d := problem.New(http.StatusInternalServerError, "batch-not-committed", "The batch could not be committed; none of its operations was kept.")
		if errors.Is(err, hubapi.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) {
			d = problem.New(http.StatusServiceUnavailable, "batch-not-committed", "The batch could not be committed in time; none of its operations was kept.")
		}
		for i, o := range x.p.ops {
			x.results[i] = problemResult(ctx, o.ID, d)
		}
		return
	}
	bad := x.p.ops[failed]
	for i, o := range x.p.ops {
		if i == failed {
			continue
		}
		verb := "was rolled back"
		if x.results[i] == nil {
			verb = "did not run"
		}
		d := problem.New(424, "rolled-back", fmt.Sprintf("operation %s %s: operation %s of the atomic batch failed", o.ID, verb, bad.ID)).
			With("operation", o.ID).With(x.p.syn.naming.failedOperation(), bad.ID)
		x.results[i] = problemResult(ctx, o.ID, d)
	}
}

// resultHeaders are the response fields an operation's result keeps.
var resultHeaders = []string{"Content-Type", "Etag", "Location", "Last-Modified", "Allow", "Www-Authenticate",
	"Retry-After", "Deprecation", "Sunset", "Link", "Cache-Status"}

// dispatch sends o to the target as a request of its own, with the
// principal, client address and request id of the batch, and records its
// answer. A panic in the target is that operation's 500.
func (x *run) dispatch(ctx context.Context, o *op, res *resolved) (out *Result) {
	ctx = route.Detach(hubapi.WithBatchOperation(ctx))
	var body io.Reader = http.NoBody
	if res.body != nil {
		body = bytes.NewReader(res.body)
	}
	req, err := http.NewRequestWithContext(ctx, o.Method, x.h.cfg.Prefix+res.path, body)
	if err != nil {
		return problemResult(ctx, o.ID, invalid(o, "path is not a valid relative URL path"))
	}
	req.RemoteAddr, req.Host, req.TLS = x.outer.RemoteAddr, x.outer.Host, x.outer.TLS
	for name, v := range res.headers {
		req.Header.Set(name, v)
	}
	if res.body != nil {
		req.Header.Set("Content-Type", "application/json")
		req.ContentLength = int64(len(res.body))
	}
	if x.p.req.Atomic {
		// Uncommitted data: neither served from nor stored in the
		// response cache.
		req.Header.Set("Cache-Control", "no-cache, no-store")
	}
	rec := &recorder{header: http.Header{}, max: x.h.cfg.MaxResponseBytes}
	defer func() {
		if v := recover(); v != nil {
			out = problemResult(ctx, o.ID, problem.New(http.StatusInternalServerError, "internal", "operation "+o.ID+" failed unexpectedly.").With("operation", o.ID))
		}
	}()
	x.h.cfg.Target.ServeHTTP(rec, req)
	if rec.overflow {
		return problemResult(ctx, o.ID, problem.New(http.StatusRequestEntityTooLarge, "response-too-large",
			fmt.Sprintf("The response of operation %s exceeds %d bytes: send it on its own.", o.ID, x.h.cfg.MaxResponseBytes)).With("operation", o.ID))
	}
	return rec.result(o.ID)
}

// recorder keeps an operation's response.
type recorder struct {
	header   http.Header
	status   int
	body     bytes.Buffer
	max      int
	overflow bool
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	if r.body.Len()+len(b) > r.max {
		r.overflow = true
		return 0, errors.New("batch: operation response too large")
	}
	return r.body.Write(b)
}

// Flush is a no-op: the response is sent with the batch's.
func (r *recorder) Flush() {}

func (r *recorder) result(id string) *Result {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	res := &Result{ID: id, Status: r.status, Headers: map[string]string{}}
	for _, name := range resultHeaders {
		if v := r.header.Get(name); v != "" {
			res.Headers[canonicalName(name)] = v
		}
	}
	b := r.body.Bytes()
	mt, _, _ := mime.ParseMediaType(r.header.Get("Content-Type"))
	switch {
	case len(bytes.TrimSpace(b)) == 0:
		res.Body = json.RawMessage("null")
	case (mt == "application/json" || strings.HasSuffix(mt, "+json")) && json.Valid(b):
		res.Body = json.RawMessage(bytes.TrimSpace(b))
	default:
		enc, _ := json.Marshal(base64.StdEncoding.EncodeToString(b))
		res.Body, res.BodyEncoding = enc, "base64"
	}
	return res
}

// canonicalName spells a field as clients know it (ETag, not Etag).
func canonicalName(name string) string {
	switch name {
	case "Etag":
		return "ETag"
	case "Www-Authenticate":
		return "WWW-Authenticate"
	}
	return name
}
