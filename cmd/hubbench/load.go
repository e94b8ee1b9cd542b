package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// listFields is the sparse fieldset of every list request of the mix.
const listFields = "id,code,nom,statut,ville,updated_at"

// maxWalk is how many pages a list walker follows before starting over.
const maxWalk = 50

// target is one server under load.
type target struct {
	name   string // phase name: bare, full, full+cache
	base   string // http://127.0.0.1:port
	prefix string // /api/v1 or /bare
	key    string // API key (empty for bare)
	bare   bool
}

// fixtures are the rows the mix reads and writes, found once per run.
type fixtures struct {
	getIDs   []int64  // single GETs (revalidated)
	writeIDs []int64  // conditional writes (disjoint from getIDs)
	planning []string // "from=…&to=…&user_id=…"
	total    int64    // chantiers
}

// walk is one client's position in a list walked page after page.
type walk struct {
	cursor string
	pages  int
}

// writeSlot is a row written by at most one request at a time, with the
// ETag of its last known version ("" until fetched).
type writeSlot struct {
	id   int64
	etag string
}

// workload is the per-phase state shared by the clients.
type workload struct {
	t        *target
	fx       *fixtures
	client   *http.Client
	raw      *rawClient // http:// targets: the lean client (client is then unused)
	timeout  time.Duration
	first    string   // first page URL
	page2    string   // cursor of the second page, where walks restart
	deep     []string // cursors of far pages
	auth     []string // Authorization field value, shared read-only by every request
	etags    []atomic.Pointer[string]
	walks    chan *walk
	writes   chan *writeSlot
	patchSeq atomic.Int64
	p50      *page50
}

// scenario is one kind of request of the mix.
type scenario struct {
	name   string
	weight int
	do     func(w *workload, ctx context.Context, rng *rand.Rand) (int, error) // a method expression
}

// scenarios are the mixes, weights in per mille. Statistics are a
// dashboard's request, a few per minute per user (the default quota is
// 1000 per hour), and each one aggregates whole tables: 1 ‰ keeps them in
// the mix without letting them set the throughput of everything else.
var scenarios = map[string][]scenario{
	"mix": {
		{"list-first", 200, (*workload).listFirst},
		{"list-next", 200, (*workload).listNext},
		{"list-deep", 150, (*workload).listDeep},
		{"get-revalidate", 290, (*workload).getRevalidate},
		{"planning", 100, (*workload).planning},
		{"stats", 1, (*workload).stats},
		{"patch-if-match", 59, (*workload).patch},
	},
	// keyset is mix without pages requested without a cursor (offset mode:
	// the page and its total), to measure keyset pages alone.
	"keyset": {
		{"list-next", 300, (*workload).listNext},
		{"list-deep", 250, (*workload).listDeep},
		{"get-revalidate", 290, (*workload).getRevalidate},
		{"planning", 100, (*workload).planning},
		{"stats", 1, (*workload).stats},
		{"patch-if-match", 59, (*workload).patch},
	},
	"lists": {
		{"list-first", 400, (*workload).listFirst},
		{"list-next", 350, (*workload).listNext},
		{"list-deep", 250, (*workload).listDeep},
	},
	"keyset-lists": {
		{"list-next", 550, (*workload).listNext},
		{"list-deep", 450, (*workload).listDeep},
	},
	// page50 compares GraphQL with REST on the same page of 50 chantiers
	// (with their responsable), interleaved in one run.
	"page50": {
		{"rest-page50", 500, (*workload).restPage50},
		{"graphql-page50", 500, (*workload).graphqlPage50},
	},
}

// response is what the scenarios look at.
type response struct {
	status int
	etag   string
	body   []byte        // kept body (send with keep), valid until release
	buf    *bytes.Buffer // pooled storage of body
}

// bodyBufs hold kept bodies: a list page is read into a reused buffer
// rather than one grown from scratch per request.
var bodyBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledBody bounds the buffers kept for reuse.
const maxPooledBody = 1 << 20

// release returns the body's storage; r.body must not be used afterwards.
func (r *response) release() {
	if r.buf != nil && r.buf.Cap() <= maxPooledBody {
		r.buf.Reset()
		bodyBufs.Put(r.buf)
	}
	r.buf, r.body = nil, nil
}

// errBadResponse marks a response the mix could not use (counted as an
// error of the scenario, with its status).
var errBadResponse = errors.New("unexpected response")

// send issues one request. The body is read to the end (and kept only when
// keep is set) so that the connection is reused.
func (w *workload) send(ctx context.Context, method, path string, hdr http.Header, body []byte, keep bool) (response, error) {
	if w.raw != nil {
		var r response
		var keepBuf *bytes.Buffer
		if keep {
			r.buf = bodyBufs.Get().(*bytes.Buffer)
			keepBuf = r.buf
		}
		var err error
		r.status, r.etag, err = w.raw.do(ctx, method, path, hdr, w.auth, body, keepBuf)
		if keep {
			r.body = r.buf.Bytes()
		}
		return r, err
	}
	ctx, cancel := context.WithTimeout(ctx, w.timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	// The base is the in-process loopback server or --url, which must be
	// loopback unless the operator passes --allow-remote.
	req, err := http.NewRequestWithContext(ctx, method, w.t.base+path, rd) // #nosec G704 -- checked target, see checkTarget
	if err != nil {
		return response{}, err
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	if w.auth != nil {
		req.Header["Authorization"] = w.auth
	}
	resp, err := w.client.Do(req) // #nosec G704 -- checked target, see checkTarget
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	r := response{status: resp.StatusCode}
	if v := resp.Header["Etag"]; len(v) > 0 {
		r.etag = v[0]
	}
	if keep {
		r.buf = bodyBufs.Get().(*bytes.Buffer)
		_, err = r.buf.ReadFrom(io.LimitReader(resp.Body, 64<<20))
		r.body = r.buf.Bytes()
	} else {
		_, err = io.Copy(io.Discard, resp.Body)
	}
	return r, err
}

func (w *workload) listURL(q string) string {
	if w.t.bare {
		return w.t.prefix + "/chantiers?limit=20" + q
	}
	return w.t.prefix + "/chantiers?limit=20&fields=" + listFields + q
}

// nextCursor sends a list request and returns its next_cursor.
func (w *workload) nextCursor(ctx context.Context, path string) (int, string, error) {
	r, err := w.send(ctx, http.MethodGet, path, nil, nil, true)
	defer r.release()
	if err != nil {
		return 0, "", err
	}
	if r.status != http.StatusOK {
		return r.status, "", fmt.Errorf("%w: %s answered %d", errBadResponse, redactQuery(path), r.status)
	}
	next, err := findNextCursor(r.body)
	if err != nil {
		return r.status, "", fmt.Errorf("%w: %v", errBadResponse, err)
	}
	return r.status, next, nil
}

// findNextCursor returns pagination.next_cursor of a list page ("" when
// null). Both servers write the pagination object after the data, so the
// last "next_cursor" member is it; only that member is decoded: decoding
// the whole page would make the load generator, which shares the machine,
// cost more than a cached answer.
func findNextCursor(body []byte) (string, error) {
	const member = `"next_cursor":`
	i := bytes.LastIndex(body, []byte(member))
	if i < 0 {
		return "", errors.New("no next_cursor in the page")
	}
	rest := bytes.TrimLeft(body[i+len(member):], " \t\r\n")
	if bytes.HasPrefix(rest, []byte("null")) {
		return "", nil
	}
	end := bytes.IndexByte(rest, ',')
	if e := bytes.IndexByte(rest, '}'); end < 0 || (e >= 0 && e < end) {
		end = e
	}
	if end < 0 {
		return "", errors.New("truncated next_cursor")
	}
	var next string
	if err := json.Unmarshal(rest[:end], &next); err != nil {
		return "", err
	}
	return next, nil
}

// redactQuery keeps cursors out of error messages.
func redactQuery(path string) string {
	u, err := url.Parse(path)
	if err != nil {
		return "(request)"
	}
	return u.Path
}

func (w *workload) listFirst(ctx context.Context, _ *rand.Rand) (int, error) {
	r, err := w.send(ctx, http.MethodGet, w.first, nil, nil, false)
	if err != nil {
		return 0, err
	}
	return r.status, nil
}

func (w *workload) listNext(ctx context.Context, _ *rand.Rand) (int, error) {
	var wk *walk
	select {
	case wk = <-w.walks:
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	defer func() { w.walks <- wk }()
	status, next, err := w.nextCursor(ctx, w.listURL("&cursor="+url.QueryEscape(wk.cursor)))
	wk.pages++
	if err != nil || next == "" || wk.pages >= maxWalk {
		wk.cursor, wk.pages = w.page2, 0
	} else {
		wk.cursor = next
	}
	return status, err
}

func (w *workload) listDeep(ctx context.Context, rng *rand.Rand) (int, error) {
	c := w.deep[rng.IntN(len(w.deep))]
	r, err := w.send(ctx, http.MethodGet, w.listURL("&cursor="+url.QueryEscape(c)), nil, nil, false)
	if err != nil {
		return 0, err
	}
	return r.status, nil
}

// getRevalidate asks for a row with the ETag it got last time: mostly 304.
func (w *workload) getRevalidate(ctx context.Context, rng *rand.Rand) (int, error) {
	i := rng.IntN(len(w.fx.getIDs))
	var hdr http.Header
	if tag := w.etags[i].Load(); tag != nil {
		hdr = http.Header{"If-None-Match": {*tag}}
	}
	r, err := w.send(ctx, http.MethodGet, w.t.prefix+"/chantiers/"+strconv.FormatInt(w.fx.getIDs[i], 10), hdr, nil, false)
	if err != nil {
		return 0, err
	}
	if tag := r.etag; r.status == http.StatusOK && tag != "" {
		w.etags[i].Store(&tag)
	}
	return r.status, nil
}

func (w *workload) planning(ctx context.Context, rng *rand.Rand) (int, error) {
	q := w.fx.planning[rng.IntN(len(w.fx.planning))]
	r, err := w.send(ctx, http.MethodGet, w.t.prefix+"/planning?"+q, nil, nil, false)
	if err != nil {
		return 0, err
	}
	return r.status, nil
}

func (w *workload) stats(ctx context.Context, _ *rand.Rand) (int, error) {
	r, err := w.send(ctx, http.MethodGet, w.t.prefix+"/stats", nil, nil, false)
	if err != nil {
		return 0, err
	}
	return r.status, nil
}

// patch changes a row's description under If-Match. A slot is used by one
// request at a time, so a 412 means someone else wrote the row.
func (w *workload) patch(ctx context.Context, _ *rand.Rand) (int, error) {
	var s *writeSlot
	select {
	case s = <-w.writes:
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	defer func() { w.writes <- s }()
	path := w.t.prefix + "/chantiers/" + strconv.FormatInt(s.id, 10)
	if s.etag == "" {
		if err := w.refreshSlot(ctx, s, path); err != nil {
			return 0, err
		}
	}
	body := []byte(`{"description":"hubbench write ` + strconv.FormatInt(w.patchSeq.Add(1), 10) + `"}`)
	hdr := http.Header{"If-Match": {s.etag}, "Content-Type": {"application/merge-patch+json"}}
	r, err := w.send(ctx, http.MethodPatch, path, hdr, body, false)
	if err != nil {
		s.etag = ""
		return 0, err
	}
	s.etag = ""
	if r.status == http.StatusOK {
		s.etag = r.etag
	}
	return r.status, nil
}

// refreshSlot reads the current ETag of a write slot's row (not measured:
// the mix's revalidating reads are measured by getRevalidate).
func (w *workload) refreshSlot(ctx context.Context, s *writeSlot, path string) error {
	r, err := w.send(ctx, http.MethodGet, path, nil, nil, false)
	if err != nil {
		return err
	}
	if r.status != http.StatusOK || r.etag == "" {
		return fmt.Errorf("%w: GET of a write row answered %d", errBadResponse, r.status)
	}
	s.etag = r.etag
	return nil
}

// newWorkload returns the workload of t without fixtures or cursors.
func newWorkload(t *target, client *http.Client, timeout time.Duration, conns int) *workload {
	w := &workload{t: t, client: client, timeout: timeout}
	if t.key != "" {
		w.auth = []string{"Bearer " + t.key}
	}
	if strings.HasPrefix(t.base, "http://") {
		if raw, err := newRawClient(t.base, conns, timeout); err == nil {
			w.raw = raw
		}
	}
	return w
}

// close releases the workload's idle connections.
func (w *workload) close() {
	if w.raw != nil {
		w.raw.close()
	}
	w.client.CloseIdleConnections()
}

// prepareWorkload finds the cursors of the target: the second page (where
// walks restart) and pages at 10 %, 30 %, 50 %, 70 % and 90 % of the table,
// reached once with an offset and then served by keyset.
func prepareWorkload(ctx context.Context, t *target, fx *fixtures, c *config, client *http.Client) (*workload, error) {
	w := newWorkload(t, client, c.Timeout, c.Concurrency+16)
	w.fx = fx
	w.first = w.listURL("")
	w.etags = make([]atomic.Pointer[string], len(fx.getIDs))
	pctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	var err error
	if _, w.page2, err = w.nextCursor(pctx, w.first); err != nil {
		return nil, fmt.Errorf("%s: first page: %w", t.name, err)
	}
	if w.page2 == "" {
		return nil, fmt.Errorf("%s: the table has a single page; seed more chantiers", t.name)
	}
	for _, frac := range []float64{0.1, 0.3, 0.5, 0.7, 0.9} {
		off := int64(frac * float64(fx.total))
		var q string
		if t.bare {
			q = "&offset=" + strconv.FormatInt(off, 10)
		} else {
			q = "&page=" + strconv.FormatInt(min(off/20+1, 1_000_000), 10)
		}
		_, cur, err := w.nextCursor(pctx, w.listURL(q))
		if err != nil {
			return nil, fmt.Errorf("%s: deep page: %w", t.name, err)
		}
		if cur != "" {
			w.deep = append(w.deep, cur)
		}
	}
	if len(w.deep) == 0 {
		w.deep = []string{w.page2}
	}
	nw := max(c.Concurrency, 1)
	w.walks = make(chan *walk, nw)
	for range nw {
		w.walks <- &walk{cursor: w.page2}
	}
	w.writes = make(chan *writeSlot, len(fx.writeIDs))
	for _, id := range fx.writeIDs {
		w.writes <- &writeSlot{id: id}
	}
	w.preparePage50(nw)
	return w, nil
}

// stats of one scenario, local to a client until merged.
type scenarioStats struct {
	hist      histogram
	statuses  map[int]int64
	transport int64 // requests that got no HTTP response
}

func (s *scenarioStats) add(status int, err error, d time.Duration) {
	s.hist.record(d)
	if err != nil && status == 0 {
		s.transport++
		return
	}
	if s.statuses == nil {
		s.statuses = map[int]int64{}
	}
	s.statuses[status]++
}

func (s *scenarioStats) merge(o *scenarioStats) {
	s.hist.merge(&o.hist)
	s.transport += o.transport
	for k, v := range o.statuses {
		if s.statuses == nil {
			s.statuses = map[int]int64{}
		}
		s.statuses[k] += v
	}
}

// runResult is one load run: stats per scenario, in the mix's order.
type runResult struct {
	stats   []scenarioStats
	elapsed time.Duration
	total   int64
	unsent  int64 // open loop: due requests never answered within --timeout after the end
	// cpu is the process's CPU time during the run (client and in-process
	// server), when the system reports it.
	cpu      time.Duration
	cpuKnown bool
}

// schedule lays the mix out over 1,000 slots (weights are per mille):
// every scenario once first, so that even a short run sends each of them,
// then the rest shuffled. Requests take the slots in turn, so the
// proportions are exact over every 1,000 requests.
func schedule(mix []scenario, seed uint64) []int {
	var first, rest []int
	for i, s := range mix {
		first = append(first, i)
		for range s.weight - 1 {
			rest = append(rest, i)
		}
	}
	rng := rand.New(rand.NewPCG(seed, 0x5c4ed)) // #nosec G404 -- a reproducible request mix, not a secret
	rng.Shuffle(len(rest), func(a, b int) { rest[a], rest[b] = rest[b], rest[a] })
	return append(first, rest...)
}

// endAfterMinimum ends a closed-loop run (cancel) once d has passed, at
// least minimum requests were measured and every scenario of the mix has
// one: a short run on a slow machine still covers the whole mix.
func endAfterMinimum(ctx context.Context, cancel context.CancelFunc, d time.Duration, minimum int64, done []atomic.Int64) {
	select {
	case <-time.After(d):
	case <-ctx.Done():
		return
	}
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		var total int64
		covered := true
		for i := range done {
			n := done[i].Load()
			total += n
			covered = covered && n > 0
		}
		if covered && total >= minimum {
			cancel()
			return
		}
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
	}
}

// runLoad drives the mix for d: a closed loop of c.Concurrency clients, or
// an open loop at c.Rate requests per second when it is set. Latency is
// measured from the send time (closed) or the scheduled send time (open).
func runLoad(ctx context.Context, w *workload, mix []scenario, c *config, d time.Duration, seed uint64, progress func(n int64)) *runResult {
	var cancel context.CancelFunc
	done := make([]atomic.Int64, len(mix)) // measured requests per scenario
	if c.Rate == 0 && c.MinRequests > 0 {
		ctx, cancel = context.WithCancel(ctx)
		go endAfterMinimum(ctx, cancel, d, c.MinRequests, done)
	} else {
		ctx, cancel = context.WithTimeout(ctx, d)
	}
	defer cancel()
	sched := schedule(mix, seed)
	var next atomic.Uint64
	pick := func(*rand.Rand) int { return sched[(next.Add(1)-1)%uint64(len(sched))] }
	var count, unsent atomic.Int64
	locals := make([][]scenarioStats, c.Concurrency)
	var wg sync.WaitGroup
	cpu0, cpuKnown := processCPU()
	start := time.Now()
	// measure records a request unless the run's count bound is reached.
	measure := func(ctx context.Context, local []scenarioStats, i int, scheduled time.Time, rng *rand.Rand) bool {
		if count.Add(1) > c.MaxRequests {
			cancel()
			return false
		}
		status, err := mix[i].do(w, ctx, rng)
		if ctx.Err() != nil && status == 0 {
			// Cut off by the end of the run, not by the server.
			count.Add(-1)
			return false
		}
		local[i].add(status, err, time.Since(scheduled))
		done[i].Add(1)
		return true
	}
	stop := make(chan struct{})
	if progress != nil {
		go func() {
			t := time.NewTicker(time.Second)
			defer t.Stop()
			for {
				select {
				case <-t.C:
					progress(count.Load())
				case <-stop:
					return
				}
			}
		}()
	}
	if c.Rate == 0 {
		for g := range c.Concurrency {
			locals[g] = make([]scenarioStats, len(mix))
			rng := rand.New(rand.NewPCG(seed, uint64(g))) // #nosec G404 G115 -- reproducible choice of rows; g ≥ 0
			wg.Add(1)
			go func() {
				defer wg.Done()
				for ctx.Err() == nil {
					if !measure(ctx, locals[g], pick(rng), time.Now(), rng) {
						return
					}
				}
			}()
		}
	} else {
		// Open loop: request k is due at start + k/rate whatever happened
		// before; a late send still counts from its due time.
		type job struct {
			due time.Time
			i   int
		}
		// Requests due before the end are all sent and measured, however
		// late: the run ends at most --timeout after the schedule does;
		// what is still queued then is counted as unsent.
		rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), d+c.Timeout)
		defer rcancel()
		// The schedule never waits for the clients: every request due
		// during the run is queued at its due time.
		jobs := make(chan job, min(int64(c.Rate)*int64(d/time.Second+1), c.MaxRequests, 1<<20))
		for g := range c.Concurrency {
			locals[g] = make([]scenarioStats, len(mix))
			rng := rand.New(rand.NewPCG(seed, uint64(g))) // #nosec G404 G115 -- reproducible choice of rows; g ≥ 0
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := range jobs {
					if rctx.Err() != nil || (!measure(rctx, locals[g], j.i, j.due, rng) && rctx.Err() != nil) {
						unsent.Add(1)
					}
				}
			}()
		}
		rng := rand.New(rand.NewPCG(seed, 1<<32)) // #nosec G404 -- reproducible choice of scenarios
		interval := time.Second / time.Duration(c.Rate)
		end := start.Add(d)
	schedule:
		for k := int64(0); ; k++ {
			due := start.Add(time.Duration(k) * interval)
			if due.After(end) {
				// The schedule ends by itself, whenever the run's timer
				// fires (late on a loaded machine).
				break schedule
			}
			if wait := time.Until(due); wait > 0 {
				select {
				case <-time.After(wait):
				case <-ctx.Done():
					break schedule
				}
			}
			if ctx.Err() != nil {
				break schedule
			}
			select {
			case jobs <- job{due: due, i: pick(rng)}:
			default:
				// The queue holds the whole run: only a run cut short by
				// --max-requests gets here.
				unsent.Add(1)
			}
		}
		close(jobs)
	}
	wg.Wait()
	close(stop)
	res := &runResult{stats: make([]scenarioStats, len(mix)), elapsed: time.Since(start), unsent: unsent.Load()}
	if cpu1, ok := processCPU(); ok && cpuKnown {
		res.cpu, res.cpuKnown = cpu1-cpu0, true
	}
	for _, l := range locals {
		for i := range l {
			res.stats[i].merge(&l[i])
		}
	}
	for i := range res.stats {
		res.total += int64(res.stats[i].hist.n) // #nosec G115 -- bounded by --max-requests (1e8)
	}
	return res
}
