package seed

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/hubchantier/hubchantier/hubapi/store"
)

// Limits of Options.
const (
	MaxChantiers = 10_000_000
	MaxUsers     = 1_000_000
	// DefaultYears is the default length of the creation window.
	DefaultYears = 6
)

// ErrNotEmpty is returned when the database already holds chantiers and
// Options.Append is false.
var ErrNotEmpty = errors.New("seed: the database already holds chantiers (append to add more)")

// Options configure a seeding run.
type Options struct {
	// Chantiers is the number of chantiers to create (1 to MaxChantiers).
	// Related rows follow: on average 2 pointages, 0.5 signalement,
	// 1 affectation and 0.3 document per chantier.
	Chantiers int
	// Users is the number of users to create. Zero means enough to reach
	// max(50, Chantiers/100) users in the database.
	Users int
	// Seed selects the random stream: the same seed, options and Now give
	// the same rows.
	Seed uint64
	// Append allows seeding a database that already holds chantiers: codes
	// continue after the highest CH-YYYY-NNNNNNN number and creation dates
	// after the newest chantier.
	Append bool
	// Now is the end of the time window (nothing is created after it).
	// Zero means the start of the current UTC day, so runs on one day are
	// reproducible.
	Now time.Time
	// Years is the length of the window over which chantiers are created
	// (DefaultYears when zero).
	Years int
	// Blobs, when set, receives the documents' contents: one small valid
	// file per format (PDF, PNG, JPEG, DOCX, XLSX, a DWG stand-in), which
	// every seeded document of that format shares through a hard link; the
	// rows record its size and SHA-256. Without it the rows are written alone
	// and downloading a seeded document answers 404.
	Blobs ContentStore
	// Progress, when set, is called from the seeding goroutine with the work
	// done so far and the expected total, in rows: one unit per row written,
	// plus, when the tables were empty, half a unit per row for rebuilding
	// the indexes. The total is refined once the chantiers are generated.
	Progress func(done, total int64)
	// Phase, when set, is called when a step starts: "users", "chantiers",
	// "pointages", "signalements", "affectations", "documents", "indexes",
	// "analyze".
	Phase func(name string)
}

// Validate checks the options (Run calls it first).
func (o *Options) Validate() error {
	var errs []string
	if o.Chantiers < 1 || o.Chantiers > MaxChantiers {
		errs = append(errs, fmt.Sprintf("chantiers must be between 1 and %d", MaxChantiers))
	}
	if o.Users < 0 || o.Users > MaxUsers {
		errs = append(errs, fmt.Sprintf("users must be between 0 and %d", MaxUsers))
	}
	if o.Years < 0 || o.Years > 50 {
		errs = append(errs, "years must be between 0 and 50")
	}
	// Codes carry the year in four digits.
	if !o.Now.IsZero() && (o.Now.Year() < 1980 || o.Now.Year() > 9000) {
		errs = append(errs, "now must be between the years 1980 and 9000")
	}
	if len(errs) > 0 {
		return errors.New("seed: " + strings.Join(errs, "; "))
	}
	return nil
}

// Result counts the rows a run created.
type Result struct {
	Users, Chantiers, Pointages, Signalements, Affectations, Documents int64
	// FirstCode and LastCode are the codes of the first and last chantier.
	FirstCode, LastCode string
	// BulkLoad reports that the tables were empty, so the secondary indexes
	// and foreign keys were rebuilt after loading (PostgreSQL) or the
	// secondary indexes were (SQLite).
	BulkLoad bool
	Dialect  string // "pg" or "sqlite"
	Duration time.Duration
}

// Rows is the total number of rows created.
func (r *Result) Rows() int64 {
	return r.Users + r.Chantiers + r.Pointages + r.Signalements + r.Affectations + r.Documents
}

// String is a one-line summary.
func (r *Result) String() string {
	return fmt.Sprintf("%d chantiers, %d pointages, %d signalements, %d affectations, %d documents, %d users (%d rows) in %s",
		r.Chantiers, r.Pointages, r.Signalements, r.Affectations, r.Documents, r.Users, r.Rows(), r.Duration.Round(100*time.Millisecond))
}

// backend is one dialect's way of writing rows. All methods run inside one
// transaction: a failed run leaves the database as it was.
type backend interface {
	dialect() string
	// state reads what the run builds on, after locking out writers.
	state(ctx context.Context) (*dbState, error)
	// prepareBulk readies empty tables for a bulk load (drops secondary
	// indexes and, on PostgreSQL, foreign keys; remembers them).
	prepareBulk(ctx context.Context) error
	// open starts writing rows of t.
	open(ctx context.Context, t *tableSpec) (rowSink, error)
	// finishBulk recreates what prepareBulk dropped, calling step after each
	// of the bulkSteps indexes or constraints.
	finishBulk(ctx context.Context, step func()) error
	bulkSteps() int
	// commit moves id sequences past the given last ids and commits.
	commit(ctx context.Context, lastIDs map[string]int64) error
	// analyze refreshes planner statistics (after commit).
	analyze(ctx context.Context) error
}

// dbState is what the database holds before the run.
type dbState struct {
	hasChantiers bool
	empty        bool                // none of the bulk tables has rows
	lastIDs      map[string]int64    // per table: highest id used (rows or sequence)
	maxCodeSeq   int64               // highest N of the CH-YYYY-N codes
	lastCreated  time.Time           // newest chantier's created_at
	lastRelated  time.Time           // newest created_at of the related tables
	users        []existingUser      // every user (id, role)
	emails       map[string]struct{} // every e-mail
}

// Run seeds db with realistic French data: users of every role, chantiers
// and their pointages, signalements, affectations and documents (with a
// placeholder content when opt.Blobs is set). The run is one transaction
// (document contents are written before it commits; a failed run may leave
// unreferenced contents behind). It refuses a database that
// already holds chantiers unless opt.Append is set (ErrNotEmpty).
// The schema must be migrated.
//
// On PostgreSQL the rows go through binary COPY; when the tables are empty
// the secondary indexes and foreign keys are dropped and rebuilt after the
// load (then checked in one pass), the rows are written frozen and the
// tables analyzed. On SQLite, multi-row prepared INSERTs in one transaction.
func Run(ctx context.Context, db *store.DB, opt Options) (*Result, error) {
	if err := opt.Validate(); err != nil {
		return nil, err
	}
	t0 := time.Now()
	res := &Result{}
	err := withBackend(ctx, db, func(b backend) error {
		res.Dialect = b.dialect()
		return load(ctx, b, opt, res)
	})
	if err != nil {
		return nil, err
	}
	res.Duration = time.Since(t0)
	return res, nil
}

func withBackend(ctx context.Context, db *store.DB, fn func(b backend) error) error {
	pool := db.DB.DB
	conn, err := pool.Conn(ctx)
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	defer func() { _ = conn.Close() }()
	if db.IsPostgres() {
		return withPostgres(ctx, pool, conn, fn)
	}
	return withSQLite(ctx, conn, fn)
}

// load is the dialect-independent part of a run.
func load(ctx context.Context, b backend, opt Options, res *Result) error {
	phase := func(string) {}
	if opt.Phase != nil {
		phase = opt.Phase
	}
	st, err := b.state(ctx)
	if err != nil {
		return err
	}
	if st.hasChantiers && !opt.Append {
		return ErrNotEmpty
	}

	now := opt.Now
	if now.IsZero() {
		now = time.Now().UTC().Truncate(24 * time.Hour)
	}
	now = now.UTC().Truncate(time.Microsecond)
	years := opt.Years
	if years == 0 {
		years = DefaultYears
	}
	start := now.AddDate(-years, 0, 0)
	if !st.lastCreated.IsZero() && !st.lastCreated.Before(start) {
		// Appending: keep ids in created_at order after the existing rows.
		start = st.lastCreated.Add(time.Second)
		if !now.After(start.Add(time.Hour)) {
			now = start.Add(time.Hour)
		}
	}

	var floor time.Time
	if st.hasChantiers {
		// Appended related rows come after those already there.
		floor = st.lastRelated.Add(time.Microsecond)
		if !now.After(floor.Add(time.Hour)) {
			now = floor.Add(time.Hour)
		}
	}

	nUsers := opt.Users
	if nUsers == 0 {
		nUsers = max(50, opt.Chantiers/100) - len(st.users)
	}
	nUsers = max(nUsers, 0)
	users := genUsers(opt.Seed, nUsers, st.lastIDs["users"], start.AddDate(-1, 0, 0).UnixMicro(), start.UnixMicro(), st.emails)
	all := slices.Clone(st.users)
	for i := range users {
		all = append(all, existingUser{users[i].ID, users[i].Role})
	}
	if len(all) == 0 {
		return errors.New("seed: no users to refer to")
	}
	g := newGenerator(opt.Seed, opt.Chantiers, st.maxCodeSeq, start, now, buildPools(all))
	if st.hasChantiers {
		g.backfill, g.floorUS = true, floor.UnixMicro()
	}

	rows := int64(nUsers) + int64(float64(opt.Chantiers)*(1+pointagesPerChantier+
		signalementsPerChantier+affectationsPerChantier+documentsPerChantier))
	res.BulkLoad = st.empty
	if st.empty {
		if err := b.prepareBulk(ctx); err != nil {
			return err
		}
	}
	prog := newProgress(opt.Progress, rows+rebuildWork(st.empty, rows))

	phase("users")
	if err := writeAll(ctx, b, usersTable, len(users), prog, func(w rowSink, i int) error { return writeUser(w, &users[i]) }); err != nil {
		return err
	}
	res.Users = int64(len(users))

	phase("chantiers")
	rel, first, last, err := writeChantiers(ctx, b, g, st.lastIDs["chantiers"], prog)
	if err != nil {
		return err
	}
	res.Chantiers, res.FirstCode, res.LastCode = int64(opt.Chantiers), first, last
	rows = prog.done + int64(len(rel.pointages)+len(rel.signalements)+len(rel.affectations)+len(rel.documents))
	prog.setTotal(rows + rebuildWork(st.empty, rows))

	sortRowsParallel(rel)
	type step struct {
		t     *tableSpec
		n     int
		write func(w rowSink, id int64, i int) error
		count *int64
	}
	steps := []step{
		{pointagesTable, len(rel.pointages), func(w rowSink, id int64, i int) error { return writePointage(w, id, &rel.pointages[i]) }, &res.Pointages},
		{signalementsTable, len(rel.signalements), func(w rowSink, id int64, i int) error { return writeSignalement(w, id, &rel.signalements[i]) }, &res.Signalements},
		{affectationsTable, len(rel.affectations), func(w rowSink, id int64, i int) error { return writeAffectation(w, id, &rel.affectations[i]) }, &res.Affectations},
		{documentsTable, len(rel.documents), func(w rowSink, id int64, i int) error { return writeDocument(w, id, &rel.documents[i]) }, &res.Documents},
	}
	lastIDs := map[string]int64{"users": st.lastIDs["users"] + res.Users, "chantiers": st.lastIDs["chantiers"] + res.Chantiers}
	for _, s := range steps {
		phase(s.t.name)
		base := st.lastIDs[s.t.name]
		if err := writeAll(ctx, b, s.t, s.n, prog, func(w rowSink, i int) error { return s.write(w, base+int64(i)+1, i) }); err != nil {
			return err
		}
		*s.count = int64(s.n)
		lastIDs[s.t.name] = base + int64(s.n)
	}
	if opt.Blobs != nil {
		if err := storeContents(ctx, opt.Blobs, rel.documents, st.lastIDs[documentsTable.name]); err != nil {
			return err
		}
	}
	// The compact rows are no longer needed; let the collector reclaim them
	// before the index builds.
	*rel = chunk{}

	if st.empty {
		phase("indexes")
		work, n := rebuildWork(true, rows), int64(max(b.bulkSteps(), 1))
		var i int64
		err := b.finishBulk(ctx, func() {
			i++
			prog.set(rows + work*i/n)
		})
		if err != nil {
			return err
		}
	}
	if err := b.commit(ctx, lastIDs); err != nil {
		return err
	}
	phase("analyze")
	if err := b.analyze(ctx); err != nil {
		return err
	}
	prog.finish()
	return nil
}

// writeAll writes n rows of t through fn.
func writeAll(ctx context.Context, b backend, t *tableSpec, n int, prog *progress, fn func(w rowSink, i int) error) error {
	if n == 0 {
		return nil
	}
	w, err := b.open(ctx, t)
	if err != nil {
		return err
	}
	for i := range n {
		if err := fn(w, i); err != nil {
			w.abort(err)
			return fmt.Errorf("seed: writing %s: %w", t.name, err)
		}
		if i&0x3fff == 0x3fff {
			prog.add(0x4000)
		}
	}
	written, err := w.close()
	if err != nil {
		return fmt.Errorf("seed: writing %s: %w", t.name, err)
	}
	if written != int64(n) {
		return fmt.Errorf("seed: writing %s: %d rows written, %d expected", t.name, written, n)
	}
	prog.add(int64(n & 0x3fff))
	return nil
}

// writeChantiers generates the chunks on every core, in parallel, and
// writes their chantiers in order; it returns the related rows of all
// chunks.
func writeChantiers(ctx context.Context, b backend, g *generator, idBase int64, prog *progress) (*chunk, string, string, error) {
	w, err := b.open(ctx, chantiersTable)
	if err != nil {
		return nil, "", "", err
	}
	gctx, cancel := context.WithCancel(ctx)
	defer cancel()
	workers := max(runtime.GOMAXPROCS(0), 1)
	order := make(chan chan *chunk, 2*workers)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(order)
		sem := make(chan struct{}, workers)
		for k := range g.chunks() {
			out := make(chan *chunk, 1)
			select {
			case order <- out:
			case <-gctx.Done():
				return
			}
			select {
			case sem <- struct{}{}:
			case <-gctx.Done():
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				out <- g.chunk(k, idBase)
				<-sem
			}()
		}
	}()
	defer wg.Wait()

	// Sized for the expected counts (plus a margin) so that appending never
	// doubles the largest slices.
	expect := func(mean float64) int { return int(float64(g.n)*mean*1.02) + 4*chunkSize }
	rel := &chunk{
		pointages:    make([]pointageRow, 0, expect(pointagesPerChantier)),
		signalements: make([]signalementRow, 0, expect(signalementsPerChantier)),
		affectations: make([]affectationRow, 0, expect(affectationsPerChantier)),
		documents:    make([]documentRow, 0, expect(documentsPerChantier)),
	}
	var first, last string
	fail := func(err error) (*chunk, string, string, error) {
		cancel()
		w.abort(err)
		return nil, "", "", fmt.Errorf("seed: writing chantiers: %w", err)
	}
	for out := range order {
		var c *chunk
		select {
		case c = <-out:
		case <-ctx.Done():
			return fail(ctx.Err())
		}
		for i := range c.chantiers {
			if err := writeChantier(w, &c.chantiers[i]); err != nil {
				return fail(err)
			}
		}
		if first == "" {
			first = c.chantiers[0].Code
		}
		last = c.chantiers[len(c.chantiers)-1].Code
		rel.pointages = append(rel.pointages, c.pointages...)
		rel.signalements = append(rel.signalements, c.signalements...)
		rel.affectations = append(rel.affectations, c.affectations...)
		rel.documents = append(rel.documents, c.documents...)
		prog.add(int64(len(c.chantiers)))
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	n, err := w.close()
	if err != nil {
		return nil, "", "", fmt.Errorf("seed: writing chantiers: %w", err)
	}
	if n != int64(g.n) {
		return nil, "", "", fmt.Errorf("seed: writing chantiers: %d rows written, %d expected", n, g.n)
	}
	return rel, first, last, nil
}

// sortRowsParallel is sortRows with one goroutine per table.
func sortRowsParallel(c *chunk) {
	var eg errgroup.Group
	eg.Go(func() error { sortRows(&chunk{pointages: c.pointages}); return nil })
	eg.Go(func() error { sortRows(&chunk{signalements: c.signalements}); return nil })
	eg.Go(func() error { sortRows(&chunk{affectations: c.affectations}); return nil })
	eg.Go(func() error { sortRows(&chunk{documents: c.documents}); return nil })
	_ = eg.Wait()
}

// progress reports rows written.
type progress struct {
	fn          func(done, total int64)
	done, total int64
}

func newProgress(fn func(done, total int64), total int64) *progress {
	p := &progress{fn: fn, total: total}
	p.report()
	return p
}

func (p *progress) add(n int64) {
	p.done += n
	p.report()
}

func (p *progress) set(done int64) {
	p.done = done
	p.report()
}

// rebuildWork is the progress weight of rebuilding the indexes after a
// bulk load of rows rows: about half the time of writing them.
func rebuildWork(bulk bool, rows int64) int64 {
	if !bulk {
		return 0
	}
	return rows / 2
}

func (p *progress) setTotal(t int64) {
	p.total = t
	p.report()
}

func (p *progress) finish() {
	p.total = p.done
	p.report()
}

func (p *progress) report() {
	if p.fn != nil {
		p.fn(p.done, max(p.total, p.done))
	}
}

// parseCodeSeq returns N of a code CH-YYYY-N, or false.
func parseCodeSeq(code string) (int64, bool) {
	if len(code) < 9 || !strings.HasPrefix(code, "CH-") || code[7] != '-' {
		return 0, false
	}
	for _, c := range code[3:7] {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	digits := code[8:]
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil {
		return 0, false
	}
	return n, true
}
