package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// runTool runs the command with args plus a JSON report and returns it.
func runTool(t *testing.T, args ...string) *report {
	t.Helper()
	out := filepath.Join(t.TempDir(), "report.json")
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := run(ctx, append(args, "--json", out, "--quiet"), &stdout, &stderr); err != nil {
		t.Fatalf("run: %v\nstderr:\n%s", err, stderr.String())
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var rep report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout.String(), "overall") {
		t.Errorf("the table has no overall row:\n%s", stdout.String())
	}
	return &rep
}

// checkPhases asserts that every phase ran every scenario of the mix, with
// no server error and no error at all (the mix's requests are all valid).
func checkPhases(t *testing.T, rep *report, mix string, phases ...string) {
	t.Helper()
	var got []string
	for _, p := range rep.Phases {
		got = append(got, p.Name)
		for _, sc := range scenarios[mix] {
			s := p.scenario(sc.name)
			switch {
			case s == nil:
				t.Errorf("%s: scenario %s missing", p.Name, sc.name)
			case s.Requests == 0:
				t.Errorf("%s: scenario %s sent no request", p.Name, sc.name)
			case s.ServerErrors > 0 || s.Errors > 0:
				t.Errorf("%s: scenario %s: %d errors (%d 5xx), statuses %v", p.Name, sc.name, s.Errors, s.ServerErrors, s.Statuses)
			case s.P50MS > s.P95MS || s.P95MS > s.P99MS || s.P99MS > s.MaxMS:
				t.Errorf("%s: scenario %s: percentiles out of order: %+v", p.Name, sc.name, s)
			}
		}
		if p.Overall.Requests == 0 || p.Overall.RPS <= 0 {
			t.Errorf("%s: empty overall %+v", p.Name, p.Overall)
		}
		if _, ok := processCPU(); ok && (p.ProcessCPUS <= 0 || p.CPUPerRequestUS <= 0) {
			t.Errorf("%s: process CPU %v s, %v µs/request", p.Name, p.ProcessCPUS, p.CPUPerRequestUS)
		}
	}
	if !slices.Equal(got, phases) {
		t.Errorf("phases = %v, want %v", got, phases)
	}
}

func TestRunOnTinySQLite(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end run")
	}
	t.Run("closed loop: bare, full and cached full all answer every scenario without error", func(t *testing.T) {
		// 60 chantiers: 50 revalidated rows, so that even a slow run (-race)
		// asks for some row twice and gets its 304.
		rep := runTool(t, "--chantiers", "60", "--duration", "1500ms", "--warmup", "200ms", "--concurrency", "4",
			"--bare", "--cache", "both", "--min-requests", "300")
		checkPhases(t, rep, "mix", "bare", "full", "full+cache")
		if rep.Database.Chantiers != 60 || rep.Database.Reused {
			t.Errorf("database = %+v, want 60 freshly seeded chantiers", rep.Database)
		}
		var names []string
		for _, c := range rep.Comparisons {
			names = append(names, c.Name)
		}
		for _, want := range []string{"full/bare throughput", "full+cache/bare throughput", "full deep/first-page p95"} {
			if !slices.Contains(names, want) {
				t.Errorf("comparison %q missing from %v", want, names)
			}
		}
		full := rep.phase("full")
		if g := full.scenario("get-revalidate"); g.Statuses["304"] == 0 {
			t.Errorf("revalidated GETs never got 304: %v", g.Statuses)
		}
		if !strings.Contains(rep.Settings.RateLimits, "GET /api/v1/chantiers=") {
			t.Errorf("rate limits not raised: %q", rep.Settings.RateLimits)
		}
	})
	t.Run("open loop at a fixed rate sends about rate × duration requests", func(t *testing.T) {
		rep := runTool(t, "--chantiers", "500", "--duration", "1s", "--warmup", "0s", "--rate", "200", "--concurrency", "8", "--mix", "lists")
		checkPhases(t, rep, "lists", "full")
		// The schedule is fixed: never more than rate × duration (+1 for k=0).
		if n := rep.Phases[0].Overall.Requests; n > 201 {
			t.Errorf("open loop sent %d requests in 1 s at 200/s", n)
		}
	})
	t.Run("a database that already holds chantiers is reused", func(t *testing.T) {
		dbURL := "sqlite:" + filepath.Join(t.TempDir(), "reuse.db")
		first := runTool(t, "--database-url", dbURL, "--chantiers", "300", "--duration", "300ms", "--warmup", "0s", "--concurrency", "2", "--mix", "keyset",
			"--min-requests", "20")
		checkPhases(t, first, "keyset", "full")
		rep := runTool(t, "--database-url", dbURL, "--chantiers", "900", "--duration", "200ms", "--warmup", "0s", "--concurrency", "2", "--mix", "lists")
		if !rep.Database.Reused || rep.Database.Chantiers != 300 {
			t.Errorf("database = %+v, want the 300 chantiers reused", rep.Database)
		}
	})
	t.Run("a running server is targeted with --url and --key", func(t *testing.T) {
		ctx := context.Background()
		c := &config{Chantiers: 300, Seed: 1}
		db, err := prepareDB(ctx, c, func(string, ...any) {})
		if err != nil {
			t.Fatal(err)
		}
		defer db.close()
		srv, err := newFullServer(ctx, db.db, false, t.TempDir(), true)
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Close()
		key, revoke, err := issueKey(ctx, srv)
		if err != nil {
			t.Fatal(err)
		}
		defer revoke()
		base, stop, err := listen(srv.Handler)
		if err != nil {
			t.Fatal(err)
		}
		defer stop()
		rep := runTool(t, "--url", base, "--key", key, "--duration", "500ms", "--warmup", "0s", "--concurrency", "2", "--min-requests", "20")
		checkPhases(t, rep, "mix", "full")
	})
}

func TestSchedule(t *testing.T) {
	for name, mix := range scenarios {
		t.Run(name+": weights are per mille, every scenario comes first once, proportions are exact", func(t *testing.T) {
			sched := schedule(mix, 7)
			if len(sched) != 1000 {
				t.Fatalf("schedule has %d slots, want 1000", len(sched))
			}
			seen := map[int]bool{}
			for _, i := range sched[:len(mix)] {
				seen[i] = true
			}
			if len(seen) != len(mix) {
				t.Errorf("the first %d slots cover %d scenarios", len(mix), len(seen))
			}
			counts := make([]int, len(mix))
			for _, i := range sched {
				counts[i]++
			}
			for i, s := range mix {
				if counts[i] != s.weight {
					t.Errorf("%s: %d slots, want %d", s.name, counts[i], s.weight)
				}
			}
		})
	}
}

func TestEndAfterMinimum(t *testing.T) {
	done := make([]atomic.Int64, 2)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ended := make(chan struct{})
	go func() { endAfterMinimum(ctx, cancel, time.Millisecond, 10, done); close(ended) }()
	done[0].Add(20) // enough requests, but the second scenario has none
	time.Sleep(30 * time.Millisecond)
	if ctx.Err() != nil {
		t.Fatal("the run ended before every scenario had a measured request")
	}
	done[1].Add(1)
	select {
	case <-ended:
	case <-time.After(10 * time.Second):
		t.Fatal("the run did not end once the minimum was reached")
	}
	if ctx.Err() == nil {
		t.Fatal("the run's context was not cancelled")
	}
}

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"defaults are valid", nil, ""},
		{"loopback IPv4 URL with a key is accepted", []string{"--url", "http://127.0.0.1:8080", "--key", "k"}, ""},
		{"loopback IPv6 URL is accepted", []string{"--url", "http://[::1]:8080", "--key", "k"}, ""},
		{"localhost is accepted", []string{"--url", "https://localhost:8443/", "--key", "k"}, ""},
		{"remote URL is refused", []string{"--url", "http://example.com", "--key", "k"}, "not loopback"},
		{"remote URL with --allow-remote is accepted", []string{"--url", "http://example.com", "--key", "k", "--allow-remote"}, ""},
		{"URL without key is refused", []string{"--url", "http://127.0.0.1:8080"}, "needs --key"},
		{"URL with a path is refused", []string{"--url", "http://127.0.0.1:8080/api", "--key", "k"}, "bare origin"},
		{"URL with credentials is refused", []string{"--url", "http://u:p@127.0.0.1", "--key", "k"}, "bare origin"},
		{"non-HTTP URL is refused", []string{"--url", "ftp://127.0.0.1", "--key", "k"}, "http://"},
		{"--bare needs the in-process server", []string{"--url", "http://127.0.0.1:1", "--key", "k", "--bare"}, "in-process"},
		{"zero concurrency is refused", []string{"--concurrency", "0"}, "--concurrency"},
		{"concurrency above the bound is refused", []string{"--concurrency", "10001"}, "--concurrency"},
		{"negative rate is refused", []string{"--rate", "-1"}, "--rate"},
		{"duration above an hour is refused", []string{"--duration", "2h"}, "--duration"},
		{"unknown mix is refused", []string{"--mix", "writes"}, "--mix"},
		{"skipping a scenario of the mix is accepted", []string{"--skip", "stats,planning"}, ""},
		{"skipping an unknown scenario is refused", []string{"--skip", "nope"}, "no scenario"},
		{"skipping every scenario is refused", []string{"--mix", "keyset-lists", "--skip", "list-next,list-deep"}, "no scenario"},
		{"unknown cache mode is refused", []string{"--cache", "maybe"}, "--cache"},
		{"a minimum of requests is accepted", []string{"--min-requests", "100"}, ""},
		{"a minimum above --max-requests is refused", []string{"--min-requests", "11", "--max-requests", "10"}, "--min-requests"},
		{"a minimum in the open loop is refused", []string{"--min-requests", "10", "--rate", "100"}, "closed loop"},
		{"zero chantiers is refused", []string{"--chantiers", "0"}, "--chantiers"},
		{"extra arguments are refused", []string{"now"}, "unexpected argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("HUBBENCH_KEY", "")
			_, err := parseConfig(tt.args, io.Discard)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("unexpected error %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestHistogram(t *testing.T) {
	t.Run("empty histogram reports zeros", func(t *testing.T) {
		var h histogram
		if h.quantile(0.99) != 0 || h.mean() != 0 {
			t.Fatal("non-zero figures without samples")
		}
	})
	t.Run("quantiles of 1..100000 µs are within 1/64 above the exact value", func(t *testing.T) {
		var h histogram
		for i := 1; i <= 100_000; i++ {
			h.record(time.Duration(i) * time.Microsecond)
		}
		for _, q := range []float64{0.5, 0.95, 0.99, 0.999, 1} {
			exact := time.Duration(math.Ceil(q*100_000)) * time.Microsecond
			got := h.quantile(q)
			if got < exact || float64(got-exact) > float64(exact)/64 {
				t.Errorf("q%.3f = %v, want within 1/64 above %v", q, got, exact)
			}
		}
		if h.quantile(1) != 100*time.Millisecond {
			t.Errorf("max = %v", h.quantile(1))
		}
	})
	t.Run("merge equals recording everything in one", func(t *testing.T) {
		var a, b, all histogram
		for i := range 1000 {
			d := time.Duration(i*i) * time.Microsecond
			all.record(d)
			if i%2 == 0 {
				a.record(d)
			} else {
				b.record(d)
			}
		}
		a.merge(&b)
		if a != all {
			t.Error("merged histogram differs")
		}
	})
	t.Run("negative and huge durations are recorded without panic", func(t *testing.T) {
		var h histogram
		h.record(-time.Second)
		h.record(time.Duration(math.MaxInt64))
		if h.n != 2 || h.quantile(0) != 0 {
			t.Errorf("n=%d q0=%v", h.n, h.quantile(0))
		}
	})
}

func TestBareCursorRoundTrip(t *testing.T) {
	c := &bareChantier{ID: 42, CreatedAt: time.Date(2026, 3, 1, 8, 30, 0, 123000, time.UTC)}
	at, id, ok := parseBareCursor(bareCursor(c))
	if !ok || id != 42 || !at.Equal(c.CreatedAt) {
		t.Fatalf("round trip = %v %d %v", at, id, ok)
	}
	for _, bad := range []string{"", "!!", "MTIz", "YS5i"} {
		if _, _, ok := parseBareCursor(bad); ok {
			t.Errorf("cursor %q accepted", bad)
		}
	}
}

func TestFindNextCursor(t *testing.T) {
	tests := []struct {
		name, body, want string
		wantErr          bool
	}{
		{"cursor after the data", `{"data":[{"nom":"x"}],"pagination":{"next_cursor":"abc_-1","prev_cursor":null,"has_more":true}}`, "abc_-1", false},
		{"null cursor on the last page", `{"data":[],"pagination":{"next_cursor":null,"has_more":false}}`, "", false},
		{"cursor as the last member", `{"pagination":{"has_more":true,"next_cursor":"zz"}}`, "zz", false},
		{"spaces after the colon", `{"pagination":{"next_cursor": "a"}}`, "a", false},
		{"the pagination member wins over data that looks alike", `{"data":[{"nom":"\"next_cursor\":\"evil\""}],"pagination":{"next_cursor":"good"}}`, "good", false},
		{"no cursor", `{"data":[]}`, "", true},
		{"truncated", `{"pagination":{"next_cursor":"abc`, "", true},
		{"not a string", `{"pagination":{"next_cursor":12}}`, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := findNextCursor([]byte(tt.body))
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("findNextCursor = %q, %v; want %q, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

// FuzzFindNextCursor: any body, no panic.
func FuzzFindNextCursor(f *testing.F) {
	f.Add([]byte(`{"pagination":{"next_cursor":"abc"}}`))
	f.Add([]byte(`"next_cursor":`))
	f.Add([]byte(`"next_cursor":"\u00e9"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		_, _ = findNextCursor(body)
	})
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://bench:s3cret@db:5432/hub": "postgres://bench@db:5432/hub",
		"postgres://postgres@127.0.0.1/x":     "postgres://postgres@127.0.0.1/x",
		"sqlite:/tmp/x.db":                    "sqlite:/tmp/x.db",
	} {
		if got := redactURL(in); got != want || strings.Contains(got, "s3cret") {
			t.Errorf("redactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzCheckTarget: whatever --url holds, the check never panics, and what
// it accepts without --allow-remote is an http(s) origin on loopback.
func FuzzCheckTarget(f *testing.F) {
	for _, s := range []string{"http://127.0.0.1:8080", "http://[::1]", "http://localhost", "http://example.com",
		"http://127.0.0.1.nip.io", "http://0x7f000001", "http://[::ffff:127.0.0.1]", "http://u@127.0.0.1", "", "http://%zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if err := checkTarget(raw, false); err != nil {
			return
		}
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatalf("accepted unparsable %q", raw)
		}
		h := u.Hostname()
		if ip := net.ParseIP(h); !strings.EqualFold(h, "localhost") && (ip == nil || !ip.IsLoopback()) {
			t.Fatalf("accepted non-loopback %q", raw)
		}
	})
}

// FuzzParseBareCursor: the bare handler's cursor parser never panics and
// what it accepts round-trips.
func FuzzParseBareCursor(f *testing.F) {
	f.Add(bareCursor(&bareChantier{ID: 7, CreatedAt: time.Unix(1_700_000_000, 0)}))
	f.Add("")
	f.Add("LTEuLTE")
	f.Fuzz(func(t *testing.T, s string) {
		at, id, ok := parseBareCursor(s)
		if !ok {
			return
		}
		at2, id2, ok2 := parseBareCursor(bareCursor(&bareChantier{ID: id, CreatedAt: at}))
		if !ok2 || id2 != id || !at2.Equal(at) {
			t.Fatalf("%q: no round trip", s)
		}
	})
}

func BenchmarkHistogramRecord(b *testing.B) {
	b.ReportAllocs()
	var h histogram
	for i := 0; b.Loop(); i++ {
		h.record(time.Duration(i%50_000) * time.Microsecond)
	}
}

func BenchmarkHistogramQuantile(b *testing.B) {
	b.ReportAllocs()
	var h histogram
	for i := range 100_000 {
		h.record(time.Duration(i) * time.Microsecond)
	}
	for b.Loop() {
		_ = h.quantile(0.99)
	}
}

// Example shows which targets the tool accepts without --allow-remote.
func Example() {
	for _, u := range []string{"http://127.0.0.1:8080", "http://localhost:8080", "https://api.example.com"} {
		fmt.Println(u, checkTarget(u, false) == nil)
	}
	// Output:
	// http://127.0.0.1:8080 true
	// http://localhost:8080 true
	// https://api.example.com false
}
