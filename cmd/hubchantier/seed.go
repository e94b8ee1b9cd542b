package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/blob"
	"github.com/hubchantier/hubchantier/hubapi/seed"
)

func seedCommand() command {
	return command{name: "seed", args: "--chantiers N [--users U] [--seed-value S] [--append] [--now YYYY-MM-DD] [--years Y]",
		summary: "fill the database with realistic French data (documents with placeholder contents)", required: []string{"chantiers"},
		setup: func(fs *flag.FlagSet) func(context.Context, streams) error {
			get := seedFlags(fs)
			return func(ctx context.Context, st streams) error {
				opt, err := get()
				if err != nil {
					return err
				}
				return runSeed(ctx, opt, st.stdout, st.stderr)
			}
		}}
}

// seedFlags declares the flags of
//
//	seed --chantiers N [--users U] [--seed-value S] [--append] [--now YYYY-MM-DD] [--years Y]
//
// and returns the function that checks them once parsed; a bad value is a
// usage error.
func seedFlags(fs *flag.FlagSet) func() (seed.Options, error) {
	chantiers := fs.Int("chantiers", 0, "number of chantiers to create (required)")
	users := fs.Int("users", 0, "users to create (default: enough for max(50, chantiers/100) in total)")
	seedValue := fs.Uint64("seed-value", 1, "random seed: the same seed, flags and --now give the same data")
	appendRows := fs.Bool("append", false, "add to a database that already holds chantiers")
	now := fs.String("now", "", "end of the time window, YYYY-MM-DD (default: today, UTC)")
	years := fs.Int("years", seed.DefaultYears, "length of the window over which chantiers are created")
	return func() (seed.Options, error) {
		opt := seed.Options{Chantiers: *chantiers, Users: *users, Seed: *seedValue, Append: *appendRows, Years: *years}
		if *now != "" {
			d, err := hubapi.ParseDate(*now)
			if err != nil {
				return seed.Options{}, usagef("--now: %v", err)
			}
			opt.Now = d.Time()
		}
		if opt.Chantiers == 0 {
			return seed.Options{}, usagef("--chantiers is required")
		}
		if err := opt.Validate(); err != nil {
			return seed.Options{}, usagef("%v", err)
		}
		return opt, nil
	}
}

// parseSeedArgs parses the flags of seed alone (tests).
func parseSeedArgs(args []string) (seed.Options, error) {
	fs := flag.NewFlagSet("seed", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	get := seedFlags(fs)
	if err := fs.Parse(args); err != nil {
		return seed.Options{}, err
	}
	if fs.NArg() > 0 {
		return seed.Options{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return get()
}

func runSeed(ctx context.Context, opt seed.Options, stdout, stderr io.Writer) error {
	cfg, err := config()
	if err != nil {
		return err
	}
	db, err := openDB(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = db.Close() }()
	blobs, err := blob.NewDir(cfg.BlobDir)
	if err != nil {
		return err
	}
	opt.Blobs = blobs
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
