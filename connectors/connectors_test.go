package connectors_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hubchantier/hubchantier/connectors"
	"github.com/hubchantier/hubchantier/connectors/example"
	"github.com/hubchantier/hubchantier/connectors/example/examplefake"
	"github.com/hubchantier/hubchantier/secretbox"
)

const testKey = "sk_live_0123456789abcdefWXYZ"

func registry(t *testing.T) *connectors.Registry {
	t.Helper()
	reg := connectors.NewRegistry().AllowBaseURLOverride()
	if err := example.Register(reg); err != nil {
		t.Fatal(err)
	}
	return reg
}

func cfg() connectors.Config {
	return connectors.Config{Settings: map[string]string{"account": "acme"}, Secrets: map[string]string{"api_key": testKey}}
}

// memSink is a Checkpointer keeping records by stream/id, counting
// duplicates (a record committed twice).
type memSink struct {
	mu      sync.Mutex
	records map[string]int
	order   []string
	state   connectors.State
	fail    func(n int) error
	commits int
}

func newSink() *memSink { return &memSink{records: map[string]int{}} }

func (s *memSink) Commit(_ context.Context, recs []connectors.Record, st connectors.State) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.commits++
	if s.fail != nil {
		if err := s.fail(s.commits); err != nil {
			return err
		}
	}
	for _, r := range recs {
		k := r.Stream + "/" + r.ID
		s.records[k]++
		s.order = append(s.order, k)
	}
	s.state = st
	return nil
}

func (s *memSink) check(t *testing.T, n int) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.records) != n {
		t.Fatalf("%d distinct records, want %d", len(s.records), n)
	}
	for k, c := range s.records {
		if c != 1 {
			t.Fatalf("record %s committed %d times", k, c)
		}
	}
	for i := 1; i <= n; i++ {
		if s.records[fmt.Sprintf("entries/e%06d", i)] != 1 {
			t.Fatalf("gap: entries/e%06d missing", i)
		}
	}
}

func newJob(t *testing.T, fake *examplefake.Server, sink connectors.Checkpointer) connectors.Job {
	t.Helper()
	c, spec, err := registry(t).New(example.Type, connectors.Options{BaseURL: fake.URL})
	if err != nil {
		t.Fatal(err)
	}
	return connectors.Job{Key: "1", Connector: c, Spec: spec, Config: cfg(), Sink: sink}
}

func fastRunner(extra ...func(*connectors.RunnerConfig)) *connectors.Runner {
	c := connectors.RunnerConfig{CallTimeout: 300 * time.Millisecond, Backoff: connectors.Backoff{Base: 5 * time.Millisecond, Max: 20 * time.Millisecond},
		MaxInlineWait: 2 * time.Second}
	for _, f := range extra {
		f(&c)
	}
	return connectors.NewRunner(c)
}

func TestRunnerSyncsEveryRecordOnce(t *testing.T) {
	fake := examplefake.New("acme", testKey, 173)
	defer fake.Close()
	sink := newSink()
	var last connectors.Progress
	job := newJob(t, fake, sink)
	job.Progress = func(p connectors.Progress) { last = p }
	sum, err := fastRunner().Run(context.Background(), job)
	if err != nil {
		t.Fatal(err)
	}
	sink.check(t, 173)
	if sum.Records != 173 || !last.Done || sum.Calls != 4 {
		t.Fatalf("summary %+v, progress %+v", sum, last)
	}
	// An incremental sync from the checkpoint reads only what is new.
	fake.Add(5)
	job.State = sum.State
	sum2, err := fastRunner().Run(context.Background(), job)
	if err != nil || sum2.Records != 5 {
		t.Fatalf("incremental: %+v %v", sum2, err)
	}
	sink.check(t, 178)
}

// panicking wraps a connector and panics on call number at.
type panicking struct {
	connectors.Connector
	calls atomic.Int64
	at    int64
}

func (p *panicking) Sync(ctx context.Context, c connectors.Config, s connectors.State) (connectors.Result, connectors.State, error) {
	if p.calls.Add(1) == p.at {
		panic("injected panic, api_key=" + c.Secret("api_key"))
	}
	return p.Connector.Sync(ctx, c, s)
}

func TestPanicMidSyncResumesFromLastCheckpoint(t *testing.T) {
	fake := examplefake.New("acme", testKey, 260)
	defer fake.Close()
	sink := newSink()
	job := newJob(t, fake, sink)
	job.Connector = &panicking{Connector: job.Connector, at: 3}
	_, err := fastRunner().Run(context.Background(), job)
	var e *connectors.Error
	if !errors.As(err, &e) || e.Kind != connectors.KindPanic {
		t.Fatalf("err = %v, want a panic error", err)
	}
	if strings.Contains(err.Error(), testKey) {
		t.Fatal("the panic's text leaks the API key")
	}
	if got := len(sink.records); got != 2*example.PageSize {
		t.Fatalf("%d records committed before the panic, want %d", got, 2*example.PageSize)
	}
	job.State = sink.state // resume, as the product does from its stored checkpoint
	if _, err := fastRunner().Run(context.Background(), job); err != nil {
		t.Fatal(err)
	}
	sink.check(t, 260)
}

func TestCommitFailureKeepsPreviousCheckpoint(t *testing.T) {
	fake := examplefake.New("acme", testKey, 120)
	defer fake.Close()
	sink := newSink()
	sink.fail = func(n int) error {
		if n == 2 {
			return errors.New("disk full")
		}
		return nil
	}
	job := newJob(t, fake, sink)
	if _, err := fastRunner().Run(context.Background(), job); err == nil {
		t.Fatal("no error")
	}
	sink.fail = nil
	job.State = sink.state
	if _, err := fastRunner().Run(context.Background(), job); err != nil {
		t.Fatal(err)
	}
	sink.check(t, 120)
}

func TestVendorFaultsAreRetriedWithBackoff(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault examplefake.Fault
		kind  connectors.Kind
	}{
		{"429 with Retry-After", examplefake.TooMany, connectors.KindRateLimited},
		{"503", examplefake.Unavailable, connectors.KindUnavailable},
		{"hang", examplefake.Hang, connectors.KindTimeout},
		{"malformed JSON", examplefake.Malformed, connectors.KindMalformed},
	} {
		t.Run(tc.name+" once → retried, sync completes", func(t *testing.T) {
			fake := examplefake.New("acme", testKey, 70)
			defer fake.Close()
			fake.Inject(examplefake.None, tc.fault)
			sink := newSink()
			var logs bytes.Buffer
			r := fastRunner(func(c *connectors.RunnerConfig) { c.Logger = slog.New(slog.NewJSONHandler(&logs, nil)) })
			start := time.Now()
			sum, err := r.Run(context.Background(), newJob(t, fake, sink))
			if err != nil {
				t.Fatal(err)
			}
			sink.check(t, 70)
			if sum.Retries != 1 {
				t.Fatalf("%d retries, want 1", sum.Retries)
			}
			if tc.fault == examplefake.TooMany && time.Since(start) < time.Second {
				t.Fatal("Retry-After: 1 was not honoured")
			}
			if !strings.Contains(logs.String(), string(tc.kind)) || strings.Contains(logs.String(), testKey) {
				t.Fatalf("log: %s", logs.String())
			}
		})
		t.Run(tc.name+" always → error of kind "+string(tc.kind)+", checkpoint kept", func(t *testing.T) {
			fake := examplefake.New("acme", testKey, 70)
			defer fake.Close()
			fake.Inject(examplefake.None)
			sink := newSink()
			job := newJob(t, fake, sink)
			job.Progress = func(connectors.Progress) { fake.Always(tc.fault) }
			_, err := fastRunner(func(c *connectors.RunnerConfig) { c.CallAttempts = 2 }).Run(context.Background(), job)
			var e *connectors.Error
			if !errors.As(err, &e) || e.Kind != tc.kind {
				t.Fatalf("err = %v, want kind %s", err, tc.kind)
			}
			if tc.fault == examplefake.TooMany && e.RetryAfter != time.Second {
				t.Fatalf("RetryAfter = %s", e.RetryAfter)
			}
			if len(sink.records) != example.PageSize || strings.Contains(err.Error(), testKey) || strings.Contains(err.Error(), fake.URL) {
				t.Fatalf("records %d, err %v", len(sink.records), err)
			}
		})
	}
}

func TestHangingConnectorDoesNotDelayAnother(t *testing.T) {
	hung := examplefake.New("acme", testKey, 10)
	defer hung.Close()
	hung.Always(examplefake.Hang)
	ok := examplefake.New("acme", testKey, 120)
	defer ok.Close()
	r := fastRunner(func(c *connectors.RunnerConfig) {
		c.CallTimeout = 2 * time.Second
		c.CallAttempts = 3
	})
	hungDone := make(chan error, 1)
	go func() {
		_, err := r.Run(context.Background(), newJob(t, hung, newSink()))
		hungDone <- err
	}()
	sink := newSink()
	if _, err := r.Run(context.Background(), newJob(t, ok, sink)); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-hungDone:
		t.Fatalf("the hanging connector ended (%v) before the healthy one", err)
	default:
	}
	sink.check(t, 120)
	var e *connectors.Error
	if err := <-hungDone; !errors.As(err, &e) || e.Kind != connectors.KindTimeout {
		t.Fatalf("hung: %v", err)
	}
}

// ignoring is a connector that ignores its context.
type ignoring struct{ connectors.Connector }

func (ignoring) Sync(context.Context, connectors.Config, connectors.State) (connectors.Result, connectors.State, error) {
	time.Sleep(2 * time.Second)
	return connectors.Result{}, nil, nil
}

func TestConnectorIgnoringItsContextIsAbandonedAtTheTimeout(t *testing.T) {
	fake := examplefake.New("acme", testKey, 1)
	defer fake.Close()
	job := newJob(t, fake, newSink())
	job.Connector = ignoring{job.Connector}
	start := time.Now()
	_, err := fastRunner(func(c *connectors.RunnerConfig) { c.CallAttempts = 1 }).Run(context.Background(), job)
	if e := connectors.AsError(err); e.Kind != connectors.KindTimeout || time.Since(start) > 1500*time.Millisecond {
		t.Fatalf("err %v after %s", err, time.Since(start))
	}
}

func TestAuthFailureIsNotRetried(t *testing.T) {
	fake := examplefake.New("acme", "another-key-entirely", 10)
	defer fake.Close()
	sum, err := fastRunner().Run(context.Background(), newJob(t, fake, newSink()))
	if e := connectors.AsError(err); e.Kind != connectors.KindAuth || sum.Calls != 1 {
		t.Fatalf("err %v, calls %d", err, sum.Calls)
	}
	c, _, _ := registry(t).New(example.Type, connectors.Options{BaseURL: fake.URL})
	if err := fastRunner().Check(context.Background(), c, cfg()); connectors.AsError(err).Kind != connectors.KindAuth {
		t.Fatalf("check: %v", err)
	}
}

func TestCheckAndHandleEvent(t *testing.T) {
	fake := examplefake.New("acme", testKey, 1)
	defer fake.Close()
	c, _, _ := registry(t).New(example.Type, connectors.Options{BaseURL: fake.URL})
	r := fastRunner()
	if err := r.Check(context.Background(), c, cfg()); err != nil {
		t.Fatal(err)
	}
	other := cfg()
	other.Settings["account"] = "other"
	if err := r.Check(context.Background(), c, other); connectors.AsError(err).Kind != connectors.KindAuth {
		t.Fatalf("check of another account: %v", err)
	}
	if err := r.HandleEvent(context.Background(), c, cfg(), connectors.Event{ID: "ev1", Type: "pointage.validated", Data: json.RawMessage(`{"id":3}`)}); err != nil {
		t.Fatal(err)
	}
	if ev := fake.Events(); len(ev) != 1 || !strings.Contains(string(ev[0]), "pointage.validated") {
		t.Fatalf("events %s", ev)
	}
}

func TestBreakerOpensAfterRepeatedFailures(t *testing.T) {
	fake := examplefake.New("acme", testKey, 10)
	defer fake.Close()
	fake.Always(examplefake.Unavailable)
	now := time.Now()
	b := &connectors.Breakers{Threshold: 2, Cooldown: time.Minute, Now: func() time.Time { return now }}
	r := fastRunner(func(c *connectors.RunnerConfig) { c.Breakers = b; c.CallAttempts = 1 })
	job := newJob(t, fake, newSink())
	for range 2 {
		if _, err := r.Run(context.Background(), job); connectors.AsError(err).Kind != connectors.KindUnavailable {
			t.Fatal(err)
		}
	}
	before := fake.Requests.Load()
	_, err := r.Run(context.Background(), job)
	if e := connectors.AsError(err); e.Kind != connectors.KindCircuitOpen || fake.Requests.Load() != before {
		t.Fatalf("open circuit: %v, %d requests", err, fake.Requests.Load()-before)
	}
	// Another connector's circuit is unaffected.
	other := job
	other.Key = "2"
	if _, err := r.Run(context.Background(), other); connectors.AsError(err).Kind != connectors.KindUnavailable {
		t.Fatalf("other: %v", err)
	}
	now = now.Add(61 * time.Second) // half-open: one probe, which succeeds
	fake.Always(examplefake.None)
	if _, err := r.Run(context.Background(), job); err != nil {
		t.Fatal(err)
	}
	if ok, _ := b.Allow("1"); !ok {
		t.Fatal("circuit still open after a success")
	}
}

func TestBackoffDelayGrowsWithJitterWithinBounds(t *testing.T) {
	b := connectors.Backoff{Base: 100 * time.Millisecond, Max: time.Second}
	for n, want := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 3: 400 * time.Millisecond, 10: time.Second} {
		seen := map[time.Duration]bool{}
		for range 50 {
			d := b.Delay(n)
			if d < want/2 || d > want {
				t.Fatalf("Delay(%d) = %s, want in [%s, %s]", n, d, want/2, want)
			}
			seen[d] = true
		}
		if len(seen) < 2 {
			t.Fatalf("Delay(%d): no jitter", n)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Duration{
		"": 0, "0": 0, "-5": 0, "7": 7 * time.Second, "abc": 0, "99999999": time.Hour,
		now.Add(90 * time.Second).Format(http.TimeFormat): 90 * time.Second,
		now.Add(-time.Minute).Format(http.TimeFormat):     0,
	} {
		if got := connectors.ParseRetryAfter(in, now); got != want {
			t.Errorf("ParseRetryAfter(%q) = %s, want %s", in, got, want)
		}
	}
}

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"", "1", "-1", "Wed, 21 Oct 2015 07:28:00 GMT", "1e9", "99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if d := connectors.ParseRetryAfter(s, time.Now()); d < 0 || d > time.Hour {
			t.Fatalf("%q → %s", s, d)
		}
	})
}

func TestRegistry(t *testing.T) {
	reg := connectors.NewRegistry()
	if err := example.Register(reg); err != nil {
		t.Fatal(err)
	}
	if err := example.Register(reg); err == nil {
		t.Fatal("registered twice")
	}
	if _, _, err := reg.New("nope", connectors.Options{}); !errors.Is(err, connectors.ErrUnknownType) {
		t.Fatal(err)
	}
	if err := reg.Register(connectors.Spec{Type: "Bad Type"}, example.New); err == nil {
		t.Fatal("bad type accepted")
	}
	// Without AllowBaseURLOverride, a base URL given in Options is ignored:
	// the connector calls the vendor, not the fake.
	fake := examplefake.New("acme", testKey, 1)
	defer fake.Close()
	c, _, err := reg.New(example.Type, connectors.Options{BaseURL: fake.URL, HTTPClient: &http.Client{Timeout: 200 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	_ = c.Check(context.Background(), cfg())
	if fake.Requests.Load() != 0 {
		t.Fatal("the base URL override was honoured without AllowBaseURLOverride")
	}
	if got := reg.Types(); len(got) != 1 || got[0] != example.Type {
		t.Fatal(got)
	}
}

func TestConfigNeverShowsSecrets(t *testing.T) {
	c := cfg()
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	log.Info("config", slog.Any("cfg", c), "plain", c)
	j, _ := json.Marshal(map[string]any{"c": c})
	err := fmt.Errorf("wrapped %v %+v %#v %s", c, c, c, c)
	for _, out := range []string{logs.String(), string(j), err.Error(), fmt.Sprint(c), fmt.Sprintf("%q", c)} {
		if strings.Contains(out, testKey) || strings.Contains(out, "0123456789") {
			t.Fatalf("secret shown: %s", out)
		}
		if !strings.Contains(out, "WXYZ") {
			t.Fatalf("no masked form (last 4): %s", out)
		}
	}
	if m := c.Masked(); m["api_key"] != connectors.Mask+"WXYZ" || m["account"] != "acme" {
		t.Fatal(m)
	}
	if connectors.MaskSecret("short") != connectors.Mask {
		t.Fatal("a short secret shows characters")
	}
	if got := c.Redact("vendor said: bad key " + testKey); strings.Contains(got, testKey) {
		t.Fatal(got)
	}
}

func TestConfigValidateAndMerge(t *testing.T) {
	s := example.Spec
	if err := s.Validate(cfg()); err != nil {
		t.Fatal(err)
	}
	bad := connectors.Config{Settings: map[string]string{"api_key": "x", "zzz": "1"}, Secrets: map[string]string{"account": "a\x00"}}
	var ve *connectors.ValidationError
	if err := s.Validate(bad); !errors.As(err, &ve) || ve.Fields["settings.api_key"] == "" || ve.Fields["settings.zzz"] == "" ||
		ve.Fields["secrets.account"] == "" || ve.Fields["secrets.api_key"] != "required" || ve.Fields["settings.account"] != "required" {
		t.Fatalf("%v", err)
	}
	if strings.Contains(bad.String(), "a\x00") {
		t.Fatal("value in error")
	}
	long := cfg()
	long.Secrets["api_key"] = strings.Repeat("k", 201)
	if err := s.Validate(long); !errors.As(err, &ve) || ve.Fields["secrets.api_key"] == "" || strings.Contains(err.Error(), "kkkk") {
		t.Fatalf("%v", err)
	}
	// Sending back the masked secret keeps it; a new value replaces it.
	m := cfg().Merge(connectors.Config{Settings: map[string]string{"account": "b"}, Secrets: map[string]string{"api_key": connectors.Mask + "WXYZ"}}, nil)
	if m.Secret("api_key") != testKey || m.Setting("account") != "b" {
		t.Fatal(m.Masked())
	}
	m = m.Merge(connectors.Config{Secrets: map[string]string{"api_key": "new-key-0000000000"}}, nil)
	if m.Secret("api_key") != "new-key-0000000000" {
		t.Fatal("not replaced")
	}
}

func TestSealerWrongKeyIsAClearErrorAndResealRotates(t *testing.T) {
	k1 := "k1:" + secretbox.GenerateKey()
	k2 := "k2:" + secretbox.GenerateKey()
	s1, err := connectors.ParseSealer(k1)
	if err != nil {
		t.Fatal(err)
	}
	kid, ct, err := s1.Seal(cfg(), "42")
	if err != nil || kid != "k1" || bytes.Contains(ct, []byte(testKey)) {
		t.Fatal(kid, err)
	}
	if c, err := s1.Open(kid, ct, "42"); err != nil || c.Secret("api_key") != testKey {
		t.Fatal(err)
	}
	if _, err := s1.Open(kid, ct, "43"); !errors.Is(err, connectors.ErrKey) {
		t.Fatalf("moved to another connector: %v", err)
	}
	s2, _ := connectors.ParseSealer(k2)
	_, err = s2.Open(kid, ct, "42")
	if !errors.Is(err, connectors.ErrKey) || !strings.Contains(err.Error(), `"k1"`) || !strings.Contains(err.Error(), connectors.EnvKeys) {
		t.Fatalf("unknown key: %v", err)
	}
	wrong, _ := connectors.ParseSealer("k1:" + secretbox.GenerateKey())
	if _, err := wrong.Open(kid, ct, "42"); !errors.Is(err, connectors.ErrKey) {
		t.Fatalf("wrong key material: %v", err)
	}
	if _, _, changed, err := wrong.Reseal(kid, ct, "42"); err != nil || changed {
		t.Fatal("reseal under the same key id must not rewrite")
	}
	rot, _ := connectors.ParseSealer(k2 + "," + k1)
	nk, nct, changed, err := rot.Reseal(kid, ct, "42")
	if err != nil || !changed || nk != "k2" {
		t.Fatal(nk, changed, err)
	}
	if c, err := s2.Open(nk, nct, "42"); err != nil || c.Secret("api_key") != testKey {
		t.Fatal(err)
	}
	if _, _, _, err := s2.Reseal(kid, ct, "42"); !errors.Is(err, connectors.ErrKey) {
		t.Fatal("reseal without the old key must fail")
	}
	if _, err := connectors.ParseSealer("k1:notbase64!!"); err == nil || strings.Contains(err.Error(), "notbase64") {
		t.Fatalf("parse error: %v", err)
	}
}

func FuzzSealerOpen(f *testing.F) {
	s, _ := connectors.ParseSealer("k1:" + secretbox.GenerateKey())
	_, ct, _ := s.Seal(cfg(), "1")
	f.Add("k1", ct, "1")
	f.Add("", []byte{}, "")
	f.Fuzz(func(t *testing.T, kid string, ct []byte, binding string) {
		if _, err := s.Open(kid, ct, binding); err != nil && !errors.Is(err, connectors.ErrKey) {
			t.Fatal(err)
		}
	})
}
