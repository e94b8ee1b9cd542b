package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/seed"
)

// parseSeedArgs reads the flags of
//
//	seed --chantiers N [--users U] [--seed-value S] [--append] [--now YYYY-MM-DD] [--years Y]
func parseSeedArgs(args []string) (seed.Options, error) {
	fs := newFlags("seed")
	chantiers := fs.Int("chantiers", 0, "number of chantiers to create (required)")
	users := fs.Int("users", 0, "users to create (default: enough for max(50, chantiers/100) in total)")
	seedValue := fs.Uint64("seed-value", 1, "random seed: the same seed, flags and --now give the same data")
	appendRows := fs.Bool("append", false, "add to a database that already holds chantiers")
	now := fs.String("now", "", "end of the time window, YYYY-MM-DD (default: today, UTC)")
	years := fs.Int("years", seed.DefaultYears, "length of the window over which chantiers are created")
	if err := parse(fs, args); err != nil {
		return seed.Options{}, err
	}
	opt := seed.Options{Chantiers: *chantiers, Users: *users, Seed: *seedValue, Append: *appendRows, Years: *years}
	if *now != "" {
		d, err := hubapi.ParseDate(*now)
		if err != nil {
			return seed.Options{}, fmt.Errorf("seed: --now: %w", err)
		}
		opt.Now = d.Time()
	}
	if opt.Chantiers == 0 {
		return seed.Options{}, errors.New("seed: --chantiers is required")
	}
	if err := opt.Validate(); err != nil {
		return seed.Options{}, err
	}
	return opt, nil
}

func cmdSeed(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	opt, err := parseSeedArgs(args)
	if err != nil {
		return err
	}
	db, err := openDB(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = db.Close() }()
	rep := newSeedReporter(stderr)
	opt.Progress, opt.Phase = rep.progress, rep.phase
	res, err := seed.Run(ctx, db, opt)
	rep.finish()
	if errors.Is(err, seed.ErrNotEmpty) {
		return errors.New("seed: the database already holds chantiers; pass --append to add more")
	}
	if err != nil {
		return err
	}
	mode := "insert"
	if res.BulkLoad {
		mode = "bulk load"
	}
	fmt.Fprintf(stdout, "seeded %s [%s, %s, %s rows/s]\n", res, dialectName(res.Dialect), mode,
		strconv.FormatInt(int64(float64(res.Rows())/max(res.Duration.Seconds(), 1e-3)), 10))
	return nil
}

func dialectName(d string) string {
	if d == "pg" {
		return "PostgreSQL"
	}
	return "SQLite"
}

// seedReporter shows a progress bar when stderr is a terminal, and one line
// per step otherwise (logs stay readable).
type seedReporter struct {
	w     io.Writer
	bar   progressBar
	start time.Time
	step  time.Time
	name  string
}

// progressBar is the part of the terminal bar the reporter uses.
type progressBar interface {
	Describe(string)
	ChangeMax64(int64)
	GetMax64() int64
	Set64(int64) error
	Finish() error
}

func newSeedReporter(stderr io.Writer) *seedReporter {
	now := time.Now()
	return &seedReporter{w: stderr, bar: newTerminalBar(stderr), start: now, step: now}
}

func (r *seedReporter) phase(name string) {
	now := time.Now()
	if r.bar != nil {
		r.bar.Describe(fmt.Sprintf("%-13s", name))
	} else {
		if r.name != "" {
			fmt.Fprintf(r.w, "seed: %s done in %s\n", r.name, now.Sub(r.step).Round(10*time.Millisecond))
		}
	}
	r.name, r.step = name, now
}

func (r *seedReporter) progress(done, total int64) {
	if r.bar == nil {
		return
	}
	if total != r.bar.GetMax64() {
		r.bar.ChangeMax64(total)
	}
	_ = r.bar.Set64(done)
}

func (r *seedReporter) finish() {
	if r.bar != nil {
		_ = r.bar.Finish()
		fmt.Fprintln(r.w)
		return
	}
	if r.name != "" {
		fmt.Fprintf(r.w, "seed: %s done in %s\n", r.name, time.Since(r.step).Round(10*time.Millisecond))
	}
}
