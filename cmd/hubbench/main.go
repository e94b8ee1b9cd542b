// Command hubbench is the end-to-end load benchmark of Hub Chantier.
//
// It prepares a database (a temporary SQLite file by default, PostgreSQL
// with --database-url) seeded with --chantiers rows or reuses an already
// seeded one, starts the full reference server in-process on loopback (or
// targets --url), and drives a realistic mix of requests for --duration:
// lists with cursors and sparse fieldsets, deep pages, single GETs
// revalidated with If-None-Match (RFC 9110 §13.1.2), statistics, planning,
// and conditional writes with If-Match (RFC 9110 §13.1.1).
//
// Two load models: a closed loop of --concurrency clients, each sending its
// next request when the previous one is answered (capacity), or, with
// --rate, an open loop at a constant arrival rate whose latencies are
// measured from each request's scheduled send time, so that queueing is
// never hidden (no coordinated omission).
//
// With --bare the same queries are also served by a plain net/http + bun
// handler without any middleware, in the same run, so that the cost of the
// pipeline is a ratio. With --cache both, the full server runs once with
// its response cache and once without.
//
// Usage:
//
//	hubbench [--database-url URL] [--chantiers N] [--concurrency C | --rate R]
//	         [--duration D] [--mix mix|keyset|lists|keyset-lists|page50] [--bare] [--cache on|off|both]
//	         [--json FILE] [--cpuprofile FILE]
//	hubbench --url http://127.0.0.1:8080 --key hck_... [--allow-remote]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"
)

// Bounds: the tool must stay bounded in time and count whatever it is given.
const (
	maxDuration    = time.Hour
	maxConcurrency = 10_000
	maxRate        = 100_000
	maxChantiers   = 10_000_000
	maxRequests    = 100_000_000
)

// config is the validated command line.
type config struct {
	DatabaseURL string
	Chantiers   int
	URL         string
	Key         string
	AllowRemote bool
	Concurrency int
	Rate        int
	Duration    time.Duration
	Warmup      time.Duration
	MaxRequests int64
	MinRequests int64
	Timeout     time.Duration
	Mix         string
	Skip        []string // scenarios left out of the mix
	Bare        bool
	Cache       string // on, off, both
	JSON        string
	CPUProfile  string
	Seed        uint64
	Quiet       bool
	NoAudit     bool
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "hubbench:", err)
		os.Exit(1)
	}
}

// parseConfig reads and validates the flags; every misconfiguration is
// reported here, before anything is prepared or started.
func parseConfig(args []string, stderr io.Writer) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("hubbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.DatabaseURL, "database-url", "", "database to prepare or reuse: postgres://... or sqlite:<path> (default: a temporary SQLite file)")
	fs.IntVar(&c.Chantiers, "chantiers", 100_000, "chantiers to seed when the database holds none")
	fs.StringVar(&c.URL, "url", "", "target a running server instead of starting one (loopback only unless --allow-remote)")
	fs.StringVar(&c.Key, "key", "", "API key for --url (default: $HUBBENCH_KEY); needs every read scope and chantiers:write")
	fs.BoolVar(&c.AllowRemote, "allow-remote", false, "allow a non-loopback --url")
	fs.IntVar(&c.Concurrency, "concurrency", 100, "closed loop: number of clients")
	fs.IntVar(&c.Rate, "rate", 0, "open loop: requests per second at a constant arrival rate (0: closed loop)")
	fs.DurationVar(&c.Duration, "duration", 30*time.Second, "measured time per phase")
	fs.DurationVar(&c.Warmup, "warmup", 2*time.Second, "unmeasured load before each phase")
	fs.Int64Var(&c.MaxRequests, "max-requests", 10_000_000, "stop a phase after this many measured requests")
	fs.Int64Var(&c.MinRequests, "min-requests", 0, "closed loop: go on past --duration until this many requests, and one of every scenario, are measured (0: stop at --duration)")
	fs.DurationVar(&c.Timeout, "timeout", 10*time.Second, "per-request timeout")
	fs.StringVar(&c.Mix, "mix", "mix", "request mix: mix (every scenario), keyset (mix without cursorless first pages), lists (list scenarios only: the cache comparison), keyset-lists, or page50 (GraphQL and REST on the same page of 50 chantiers)")
	skip := fs.String("skip", "", "comma-separated scenarios to leave out of the mix (e.g. stats)")
	fs.BoolVar(&c.Bare, "bare", false, "also run the same queries on a plain net/http + bun handler (no middleware)")
	fs.StringVar(&c.Cache, "cache", "off", "full server's response cache: on, off or both (two phases)")
	fs.StringVar(&c.JSON, "json", "", "write the report as JSON to this file (- for stdout)")
	fs.StringVar(&c.CPUProfile, "cpuprofile", "", "write a CPU profile of the measured phases (client and in-process server) to this file")
	fs.Uint64Var(&c.Seed, "seed", 1, "random seed of the request mix and of seeding")
	fs.BoolVar(&c.Quiet, "quiet", false, "no progress line")
	fs.BoolVar(&c.NoAudit, "no-audit", false, "run the in-process server without its audit trail (HUB_AUDIT_DISABLED), to measure the audit's cost")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if c.Key == "" {
		c.Key = os.Getenv("HUBBENCH_KEY")
	}
	var errs []string
	switch {
	case c.Chantiers < 1 || c.Chantiers > maxChantiers:
		errs = append(errs, fmt.Sprintf("--chantiers must be between 1 and %d", maxChantiers))
	}
	if c.Concurrency < 1 || c.Concurrency > maxConcurrency {
		errs = append(errs, fmt.Sprintf("--concurrency must be between 1 and %d", maxConcurrency))
	}
	if c.Rate < 0 || c.Rate > maxRate {
		errs = append(errs, fmt.Sprintf("--rate must be between 0 and %d", maxRate))
	}
	if c.Duration <= 0 || c.Duration > maxDuration {
		errs = append(errs, "--duration must be positive and at most 1h")
	}
	if c.Warmup < 0 || c.Warmup > maxDuration {
		errs = append(errs, "--warmup must be between 0 and 1h")
	}
	if c.MaxRequests < 1 || c.MaxRequests > maxRequests {
		errs = append(errs, fmt.Sprintf("--max-requests must be between 1 and %d", maxRequests))
	}
	if c.MinRequests < 0 || c.MinRequests > c.MaxRequests {
		errs = append(errs, "--min-requests must be between 0 and --max-requests")
	}
	if c.MinRequests > 0 && c.Rate > 0 {
		errs = append(errs, "--min-requests applies to the closed loop only (no --rate)")
	}
	if c.Timeout <= 0 || c.Timeout > time.Minute {
		errs = append(errs, "--timeout must be positive and at most 1m")
	}
	if mix, ok := scenarios[c.Mix]; !ok {
		errs = append(errs, "--mix must be mix, keyset, lists, keyset-lists or page50")
	} else if *skip != "" {
		c.Skip = strings.Split(*skip, ",")
		left := 0
		for _, sc := range mix {
			if !slices.Contains(c.Skip, sc.name) {
				left++
			}
		}
		for _, name := range c.Skip {
			if !slices.ContainsFunc(mix, func(sc scenario) bool { return sc.name == name }) {
				errs = append(errs, fmt.Sprintf("--skip: no scenario %q in the mix %s", name, c.Mix))
			}
		}
		if left == 0 {
			errs = append(errs, "--skip leaves no scenario")
		}
	}
	if c.Mix == "page50" && c.Bare {
		errs = append(errs, "--mix page50 needs the full server (GraphQL): drop --bare")
	}
	if c.Cache != "on" && c.Cache != "off" && c.Cache != "both" {
		errs = append(errs, "--cache must be on, off or both")
	}
	if c.URL != "" {
		if err := checkTarget(c.URL, c.AllowRemote); err != nil {
			errs = append(errs, err.Error())
		}
		if c.Key == "" {
			errs = append(errs, "--url needs --key (or $HUBBENCH_KEY)")
		}
		if c.Bare || c.Cache == "both" {
			errs = append(errs, "--bare and --cache both need the in-process server (no --url)")
		}
	}
	if len(errs) > 0 {
		return nil, errors.New(strings.Join(errs, "; "))
	}
	return c, nil
}

// checkTarget accepts an http(s) URL whose host is loopback: "localhost"
// or a loopback IP literal. Anything else needs allowRemote, so that the
// tool cannot be turned on someone else's server by mistake.
func checkTarget(raw string, allowRemote bool) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("--url must be an http:// or https:// URL with a host")
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" || (u.Path != "" && u.Path != "/") {
		return errors.New("--url must be a bare origin such as http://127.0.0.1:8080")
	}
	if allowRemote {
		return nil
	}
	host := u.Hostname()
	if strings.EqualFold(host, "localhost") {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("--url host %q is not loopback (pass --allow-remote to target it)", host)
}
