package metrics

import (
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	vm "github.com/VictoriaMetrics/metrics"

	"github.com/hubchantier/hubchantier/hubapi/route"
)

// RouteFunc returns the route template that served r, such as
// "/api/v1/chantiers/{id}", or "" when no route matched. It is called after
// the wrapped handler returned, so it may read a value the router stored
// while matching. It must never return a raw path.
type RouteFunc func(r *http.Request) string

// MuxRoute is the RouteFunc for gorilla/mux when the middleware is installed
// with router.Use (the route is in r's context only inside the router). Note
// that mux runs router.Use middleware only for matched routes: 404 and 405
// answers are then not measured. To measure them, install the middleware in
// front of the router with a RouteFunc that reads a holder filled by a
// router.Use middleware (see README.md).
func MuxRoute(r *http.Request) string { return route.Template(r) }

// Method label values. Any method outside the HTTP methods of RFC 9110 §9
// and PATCH (RFC 5789) is recorded as "OTHER", so clients cannot create
// series at will.
const methodOther = "OTHER"

var methodNames = [...]string{
	http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
	http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace, methodOther,
}

const numMethods = len(methodNames)

func methodIndex(method string) int {
	switch method {
	case http.MethodGet:
		return 0
	case http.MethodHead:
		return 1
	case http.MethodPost:
		return 2
	case http.MethodPut:
		return 3
	case http.MethodPatch:
		return 4
	case http.MethodDelete:
		return 5
	case http.MethodOptions:
		return 6
	case http.MethodConnect:
		return 7
	case http.MethodTrace:
		return 8
	}
	return numMethods - 1
}

// routeSeries holds the series of one route label value.
type routeSeries struct {
	label   string // escaped label value
	methods [numMethods]atomic.Pointer[methodSeries]
}

// methodSeries holds the series of one (route, method) pair.
type methodSeries struct {
	duration *vm.PrometheusHistogram
	statuses atomic.Pointer[map[int]*vm.Counter] // copy-on-write
}

// Middleware records, for every request it wraps:
//
//	api_requests_total{method,route,status}      counter
//	api_request_duration_seconds{method,route}   histogram (le buckets)
//	api_requests_in_flight                       gauge
//
// route comes from route (nil means MuxRoute) and is RouteUnmatched when it
// returns "". status is the code sent; a handler that wrote nothing counts
// as 200, and one that panicked before writing counts as 500 (the panic
// goes on to the outer recoverer). The duration runs until the handler
// returns. After the first request of a (method, route, status) the hot path
// only loads atomics and looks up two maps: no allocation but the response
// writer wrapper, which is pooled.
func (m *Metrics) Middleware(route RouteFunc) func(http.Handler) http.Handler {
	if route == nil {
		route = MuxRoute
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Since(epoch) // monotonic clock only: cheaper than time.Now
			m.inFlight.Inc()
			rec := recorderPool.Get().(*recorder)
			rec.ResponseWriter = w
			completed := false
			defer func() {
				status := rec.status
				switch {
				case status != 0:
				case completed:
					status = http.StatusOK
				default: // panicking or runtime.Goexit
					status = http.StatusInternalServerError
				}
				rec.ResponseWriter, rec.status = nil, 0
				recorderPool.Put(rec)
				m.observe(r.Method, route(r), status, time.Since(epoch)-start)
				m.inFlight.Dec()
			}()
			next.ServeHTTP(rec, r)
			completed = true
		})
	}
}

// observe records one finished request.
func (m *Metrics) observe(method, route string, status int, d time.Duration) {
	routes := *m.routes.Load()
	rs := routes[route]
	if rs == nil {
		if len(routes) >= m.maxRoutes {
			rs = m.otherRoute // no lock for overflowing routes
		} else {
			rs = m.newRoute(route)
		}
	}
	mi := methodIndex(method)
	ms := rs.methods[mi].Load()
	if ms == nil {
		ms = m.newMethod(rs, mi)
	}
	c := (*ms.statuses.Load())[status]
	if c == nil {
		c = m.newStatus(rs, mi, ms, status)
	}
	c.Inc()
	ms.duration.Update(d.Seconds())
}

func (m *Metrics) newRoute(route string) *routeSeries {
	m.mu.Lock()
	defer m.mu.Unlock()
	old := *m.routes.Load()
	if rs := old[route]; rs != nil {
		return rs
	}
	if len(old) >= m.maxRoutes {
		return m.otherRoute
	}
	rs := m.otherRoute
	if len(route) <= maxRouteLen {
		rs = &routeSeries{label: routeLabel(route)}
	}
	next := make(map[string]*routeSeries, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	next[route] = rs
	m.routes.Store(&next)
	return rs
}

func (m *Metrics) newMethod(rs *routeSeries, mi int) *methodSeries {
	m.mu.Lock()
	defer m.mu.Unlock()
	if ms := rs.methods[mi].Load(); ms != nil {
		return ms
	}
	ms := &methodSeries{
		duration: m.set.GetOrCreatePrometheusHistogramExt(
			`api_request_duration_seconds{method="`+methodNames[mi]+`",route="`+rs.label+`"}`, m.buckets),
	}
	statuses := map[int]*vm.Counter{}
	ms.statuses.Store(&statuses)
	rs.methods[mi].Store(ms)
	return ms
}

func (m *Metrics) newStatus(rs *routeSeries, mi int, ms *methodSeries, status int) *vm.Counter {
	m.mu.Lock()
	defer m.mu.Unlock()
	old := *ms.statuses.Load()
	if c := old[status]; c != nil {
		return c
	}
	c := m.set.GetOrCreateCounter(
		`api_requests_total{method="` + methodNames[mi] + `",route="` + rs.label + `",status="` + statusLabel(status) + `"}`)
	next := make(map[int]*vm.Counter, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	next[status] = c
	ms.statuses.Store(&next)
	return c
}

// epoch is the origin of request timings, read from the monotonic clock.
var epoch = time.Now()

var recorderPool = sync.Pool{New: func() any { return new(recorder) }}

// recorder captures the status code of a response. It keeps the optional
// interfaces net/http's writers offer that matter to the API: Flusher,
// io.ReaderFrom (sendfile for downloads) and Unwrap for
// http.ResponseController (Hijack, deadlines).
type recorder struct {
	http.ResponseWriter
	status int
}

// WriteHeader records the first final status (1xx informational answers,
// such as 103 Early Hints, are not final; 101 is).
func (w *recorder) WriteHeader(code int) {
	if w.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols || code < 100) {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// ReadFrom lets io.Copy use the underlying writer's ReadFrom (sendfile).
func (w *recorder) ReadFrom(src io.Reader) (int64, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		return rf.ReadFrom(src)
	}
	return io.Copy(writerOnly{w.ResponseWriter}, src)
}

// Flush sends buffered data to the client (http.Flusher).
func (w *recorder) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap returns the wrapped writer, for http.ResponseController.
func (w *recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// writerOnly hides ReadFrom so that io.Copy does not recurse.
type writerOnly struct{ io.Writer }
