package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/store"
)

// run is the whole command; main only wires signals and the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c, err := parseConfig(args, stderr)
	if err != nil {
		return err
	}
	logf := func(format string, a ...any) { fmt.Fprintf(stderr, format+"\n", a...) }
	rep := newReport()
	rep.Settings = settings{Concurrency: c.Concurrency, Rate: c.Rate, DurationS: c.Duration.Seconds(), WarmupS: c.Warmup.Seconds(),
		Mix: c.Mix, Skip: c.Skip, Cache: c.Cache, Load: fmt.Sprintf("closed loop, %d clients", c.Concurrency)}
	if c.Rate > 0 {
		rep.Settings.Load = fmt.Sprintf("open loop, %d req/s (latency from the scheduled send time, %d connections)", c.Rate, c.Concurrency)
	}
	var mix []scenario
	for _, sc := range scenarios[c.Mix] {
		if !slices.Contains(c.Skip, sc.name) {
			mix = append(mix, sc)
		}
	}

	var db *database
	var fx *fixtures
	if c.URL == "" {
		if db, err = prepareDB(ctx, c, logf); err != nil {
			return err
		}
		defer db.close()
		rep.Database = dbInfo{URL: db.url, Chantiers: db.chantiers, Reused: db.seeded == nil}
		if fx, err = fixturesFromDB(ctx, db.db, db.chantiers); err != nil {
			return err
		}
		rep.Settings.RateLimits = benchRateLimits()
		rep.Notes = append(rep.Notes, "the in-process server runs with HUB_RATE_LIMITS="+benchRateLimits()+
			" so that it measures throughput, not 429s (the limiter still counts every request)",
			"access logs are formatted (JSON) and discarded",
			"process CPU is the hubbench process's during the measured run (load generator and in-process server, not PostgreSQL)")
	} else {
		rep.Database = dbInfo{URL: "(behind " + c.URL + ")"}
		probe := newWorkload(&target{name: "remote", base: c.URL, prefix: "/api/v1", key: c.Key}, newClient(c), c.Timeout, 4)
		defer probe.close()
		if fx, err = fixturesFromAPI(ctx, probe); err != nil {
			return err
		}
		rep.Database.Chantiers = fx.total
		rep.Notes = append(rep.Notes, "remote server: its rate limits apply; 429s are reported as errors")
	}

	if c.CPUProfile != "" {
		f, err := os.Create(filepath.Clean(c.CPUProfile))
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}

	type phase struct {
		name  string
		bare  bool
		cache bool
		mix   []scenario // nil: the run's mix
	}
	var phases []phase
	if c.Bare {
		phases = append(phases, phase{name: "bare", bare: true})
	}
	if c.Cache == "off" || c.Cache == "both" {
		phases = append(phases, phase{name: "full"})
	}
	if c.Cache == "on" || c.Cache == "both" {
		phases = append(phases, phase{name: "full+cache", cache: true})
	}
	if c.Mix == "page50" {
		// one phase per API on the same server settings, so that each
		// gets the whole closed loop: req/s and CPU per request compare
		var split []phase
		for _, ph := range phases {
			for _, sc := range mix {
				split = append(split, phase{name: ph.name + "/" + strings.TrimSuffix(sc.name, "-page50"), cache: ph.cache, mix: []scenario{sc}})
			}
		}
		phases = split
	}
	blobDir, err := os.MkdirTemp("", "hubbench-blobs-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(blobDir)

	for i, ph := range phases {
		if ctx.Err() != nil {
			break
		}
		t := &target{name: ph.name}
		var stopServer func()
		var desc string
		switch {
		case c.URL != "":
			t.base, t.prefix, t.key, desc = c.URL, "/api/v1", c.Key, "server at "+c.URL
		case ph.bare:
			t.prefix, t.bare, desc = barePrefix, true, "plain net/http + bun handler, no middleware"
			if t.base, stopServer, err = listen(newBareHandler(db.db)); err != nil {
				return err
			}
		default:
			srv, err := newFullServer(ctx, db.db, ph.cache, blobDir, !c.NoAudit)
			if err != nil {
				return fmt.Errorf("server: %w", err)
			}
			key, revoke, err := issueKey(ctx, srv)
			if err != nil {
				srv.Close()
				return err
			}
			base, stop, err := listen(srv.Handler)
			if err != nil {
				revoke()
				srv.Close()
				return err
			}
			t.base, t.prefix, t.key = base, "/api/v1", key
			stopServer = func() { stop(); revoke(); srv.Close() }
			desc = "full pipeline, response cache off"
			if ph.cache {
				desc = "full pipeline, response cache on"
			}
		}
		phMix := mix
		if ph.mix != nil {
			phMix = ph.mix
		}
		res, before, after, err := runPhase(ctx, c, t, fx, phMix, uint64(i)+c.Seed, stderr)
		if stopServer != nil {
			stopServer()
		}
		if err != nil {
			return err
		}
		rep.addPhase(ph.name, desc, phMix, res, before, after)
	}
	rep.compare()
	rep.print(stdout)
	if c.JSON != "" {
		return rep.writeJSON(c.JSON, stdout)
	}
	return nil
}

func newClient(c *config) *http.Client {
	tr := &http.Transport{
		MaxIdleConns:        c.Concurrency + 16,
		MaxIdleConnsPerHost: c.Concurrency + 16,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
		// A list page with its header fields (about 4.5 KB) in one read
		// rather than net/http's default 4 KiB and a second read.
		ReadBufferSize: 64 << 10,
	}
	return &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// runPhase prepares the workload of t, warms up, then measures.
func runPhase(ctx context.Context, c *config, t *target, fx *fixtures, mix []scenario, seed uint64, stderr io.Writer) (*runResult, string, string, error) {
	client := newClient(c)
	defer client.CloseIdleConnections()
	w, err := prepareWorkload(ctx, t, fx, c, client)
	if err != nil {
		return nil, "", "", err
	}
	defer w.close()
	if c.Warmup > 0 {
		warm := *c
		warm.MinRequests = 0 // the minimum is the measured phase's
		runLoad(ctx, w, mix, &warm, c.Warmup, seed^0x5eed, nil)
	}
	before := loadAvg()
	var progress func(int64)
	finish := func() {}
	if !c.Quiet {
		progress, finish = newProgress(stderr, t.name, c.Duration)
	}
	res := runLoad(ctx, w, mix, c, c.Duration, seed, progress)
	finish()
	return res, before, loadAvg(), nil
}

// newProgress returns the progress reporter of a phase: one line redrawn
// every second on a terminal, one line every five seconds otherwise; finish
// ends the redrawn line.
func newProgress(w io.Writer, name string, d time.Duration) (progress func(int64), finish func()) {
	tty := false
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	start := time.Now()
	ticks := 0
	finish = func() {
		if tty && ticks > 0 {
			fmt.Fprintln(w)
		}
	}
	return func(n int64) {
		ticks++
		el := time.Since(start)
		line := fmt.Sprintf("[%s] %3.0fs/%s  %d requests  %.0f req/s", name, el.Seconds(), d, n, float64(n)/el.Seconds())
		switch {
		case tty:
			fmt.Fprintf(w, "\r%-70s", line)
		case ticks%5 == 0:
			fmt.Fprintln(w, line)
		}
	}, finish
}

// fixturesFromDB samples rows across the whole table: 1,000 chantiers for
// revalidated GETs, 200 others for writes, 100 (user, week) planning views.
func fixturesFromDB(ctx context.Context, db *store.DB, total int64) (*fixtures, error) {
	fx := &fixtures{total: total}
	if total < 4 {
		return nil, fmt.Errorf("the database holds %d chantiers; the mix needs at least 4", total)
	}
	var ids []int64
	if err := db.NewSelect().Table("chantiers").Column("id").OrderExpr("random()").Limit(1200).Scan(ctx, &ids); err != nil {
		return nil, fmt.Errorf("sample chantiers: %w", err)
	}
	split := len(ids) * 5 / 6
	fx.getIDs, fx.writeIDs = ids[:split], ids[split:]
	var rows []struct {
		UserID int64       `bun:"user_id"`
		Date   hubapi.Date `bun:"date"`
	}
	if err := db.NewSelect().Table("affectations").Column("user_id", "date").OrderExpr("random()").Limit(100).Scan(ctx, &rows); err != nil {
		return nil, fmt.Errorf("sample affectations: %w", err)
	}
	for _, r := range rows {
		fx.planning = append(fx.planning, planningQuery(r.UserID, r.Date))
	}
	if len(fx.planning) == 0 {
		fx.planning = []string{planningQuery(1, hubapi.DateOf(time.Now()))}
	}
	return fx, nil
}

// planningQuery is one user's week around d.
func planningQuery(user int64, d hubapi.Date) string {
	return "from=" + d.AddDays(-3).String() + "&to=" + d.AddDays(3).String() + "&user_id=" + strconv.FormatInt(user, 10)
}

// fixturesFromAPI finds the same rows through the API of a running server:
// the newest 1,200 chantiers (shuffled) and 100 affectations.
func fixturesFromAPI(ctx context.Context, w *workload) (*fixtures, error) {
	fx := &fixtures{}
	var page struct {
		Data []struct {
			ID     int64       `json:"id"`
			UserID int64       `json:"user_id"`
			Date   hubapi.Date `json:"date"`
		} `json:"data"`
		Pagination struct {
			Total      int64   `json:"total"`
			NextCursor *string `json:"next_cursor"`
		} `json:"pagination"`
	}
	get := func(path string) error {
		r, err := w.send(ctx, http.MethodGet, path, nil, nil, true)
		if err != nil {
			return err
		}
		if r.status != http.StatusOK {
			return fmt.Errorf("%w: %s answered %d", errBadResponse, redactQuery(path), r.status)
		}
		page.Data, page.Pagination.NextCursor = nil, nil
		return json.Unmarshal(r.body, &page)
	}
	if err := get("/api/v1/chantiers?limit=100&page=1&fields=id"); err != nil {
		return nil, err
	}
	fx.total = page.Pagination.Total
	var ids []int64
	for len(ids) < 1200 {
		for _, d := range page.Data {
			ids = append(ids, d.ID)
		}
		if page.Pagination.NextCursor == nil {
			break
		}
		if err := get("/api/v1/chantiers?limit=100&fields=id&cursor=" + *page.Pagination.NextCursor); err != nil {
			return nil, err
		}
	}
	if len(ids) < 4 {
		return nil, fmt.Errorf("the server lists %d chantiers; the mix needs at least 4", len(ids))
	}
	rand.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	split := len(ids) * 5 / 6
	fx.getIDs, fx.writeIDs = ids[:split], ids[split:]
	if err := get("/api/v1/affectations?limit=100&fields=user_id,date"); err != nil {
		return nil, err
	}
	for _, d := range page.Data {
		fx.planning = append(fx.planning, planningQuery(d.UserID, d.Date))
	}
	if len(fx.planning) == 0 {
		fx.planning = []string{planningQuery(1, hubapi.DateOf(time.Now()))}
	}
	return fx, nil
}
