package gcal_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/hubchantier/hubchantier/connectors"
	"github.com/hubchantier/hubchantier/connectors/gcal"
	"github.com/hubchantier/hubchantier/connectors/gcal/fake"
)

// memTokens is an in-memory connectors.TokenStore.
type memTokens struct {
	mu  sync.Mutex
	tok *oauth2.Token
}

func (m *memTokens) LoadToken(context.Context, string) (*oauth2.Token, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.tok == nil {
		return nil, connectors.ErrNoToken
	}
	t := *m.tok
	return &t, nil
}

func (m *memTokens) SaveToken(_ context.Context, _ string, t *oauth2.Token) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := *t
	m.tok = &c
	return nil
}

type env struct {
	g     *fake.Server
	c     connectors.Connector
	cfg   connectors.Config
	ctx   context.Context
	store *memTokens
}

func newEnv(t *testing.T) *env {
	t.Helper()
	g := fake.New("hub-client", "hub-client-secret-0000")
	t.Cleanup(g.Close)
	reg := connectors.NewRegistry().AllowBaseURLOverride()
	if err := gcal.RegisterWith(reg, gcal.OAuth(g.AuthURL(), g.TokenURL())); err != nil {
		t.Fatal(err)
	}
	c, spec, err := reg.New(gcal.Type, connectors.Options{BaseURL: g.URL})
	if err != nil {
		t.Fatal(err)
	}
	access, refresh := g.Issue(time.Hour)
	store := &memTokens{tok: &oauth2.Token{AccessToken: access, RefreshToken: refresh, TokenType: "Bearer", Expiry: time.Now().Add(time.Hour)}}
	tokens := &connectors.Tokens{Config: spec.OAuth.Config("hub-client", "hub-client-secret-0000", "https://hub.example/cb"), Store: store}
	ctx := connectors.WithTokenSource(context.Background(), tokens.Source("1"))
	return &env{g: g, c: c, cfg: connectors.Config{Settings: map[string]string{"calendar_id": "primary"}}, ctx: ctx, store: store}
}

func affectationEvent(typ string, id int64, date, from, to string) connectors.Event {
	data, _ := json.Marshal(map[string]any{"id": id, "user_id": 7, "chantier_id": 3, "date": date, "heure_debut": from, "heure_fin": to, "note": "Coffrage"})
	return connectors.Event{ID: "ev-" + typ, Type: typ, OccurredAt: time.Now(), Data: data}
}

func kindOf(err error) connectors.Kind {
	var e *connectors.Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return ""
}

func TestCheck(t *testing.T) {
	e := newEnv(t)
	t.Run("authorized → ok", func(t *testing.T) {
		if err := e.c.Check(e.ctx, e.cfg); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("no token source → auth", func(t *testing.T) {
		if err := e.c.Check(context.Background(), e.cfg); kindOf(err) != connectors.KindAuth {
			t.Fatalf("%v", err)
		}
	})
	t.Run("unknown calendar → rejected 404", func(t *testing.T) {
		cfg := connectors.Config{Settings: map[string]string{"calendar_id": "nope@group.calendar.google.com"}}
		if err := e.c.Check(e.ctx, cfg); kindOf(err) != connectors.KindRejected || !strings.Contains(err.Error(), "404") {
			t.Fatalf("%v", err)
		}
	})
	t.Run("bad time zone → rejected", func(t *testing.T) {
		cfg := connectors.Config{Settings: map[string]string{"calendar_id": "primary", "time_zone": "Mars/Olympus"}}
		if err := e.c.Check(e.ctx, cfg); kindOf(err) != connectors.KindRejected {
			t.Fatalf("%v", err)
		}
	})
	t.Run("revoked refresh token and expired access token → auth, no secret in the error", func(t *testing.T) {
		e := newEnv(t)
		tok, _ := e.store.LoadToken(context.Background(), "1")
		tok.RefreshToken = "1//revoked"
		_ = e.store.SaveToken(context.Background(), "1", tok)
		e.g.ExpireAccessTokens()
		err := e.c.Check(e.ctx, e.cfg)
		if kindOf(err) != connectors.KindAuth || strings.Contains(err.Error(), tok.AccessToken) || strings.Contains(err.Error(), "revoked") {
			t.Fatalf("%v", err)
		}
	})
}

func TestAffectationEvents(t *testing.T) {
	e := newEnv(t)
	get := func(id string) gcal.Event { return e.g.Events("primary")[id] }

	t.Run("created → an event at the affectation's local hours, carrying the Hub id", func(t *testing.T) {
		if err := e.c.HandleEvent(e.ctx, e.cfg, affectationEvent(gcal.EventAffectationCreated, 41, "2026-12-14", "07:30", "16:00")); err != nil {
			t.Fatal(err)
		}
		ev := get("hubaff41")
		if ev.Status != "confirmed" || ev.Start.DateTime != "2026-12-14T07:30:00+01:00" || ev.End.DateTime != "2026-12-14T16:00:00+01:00" ||
			ev.Start.TimeZone != "Europe/Paris" || ev.ExtendedProperties.Private[gcal.PropAffectation] != "41" || !strings.Contains(ev.Description, "Coffrage") {
			t.Fatalf("%+v", ev)
		}
	})
	t.Run("created again (a repeated delivery) → no second event, no write", func(t *testing.T) {
		w := e.g.Writes.Load()
		if err := e.c.HandleEvent(e.ctx, e.cfg, affectationEvent(gcal.EventAffectationCreated, 41, "2026-12-14", "07:30", "16:00")); err != nil {
			t.Fatal(err)
		}
		if n := len(e.g.Events("primary")); n != 1 || e.g.Writes.Load() != w {
			t.Fatalf("%d events, %d writes", n, e.g.Writes.Load()-w)
		}
	})
	t.Run("updated → the same event patched", func(t *testing.T) {
		if err := e.c.HandleEvent(e.ctx, e.cfg, affectationEvent(gcal.EventAffectationUpdated, 41, "2026-12-15", "08:00", "12:00")); err != nil {
			t.Fatal(err)
		}
		ev := get("hubaff41")
		if len(e.g.Events("primary")) != 1 || ev.Start.DateTime != "2026-12-15T08:00:00+01:00" || ev.End.DateTime != "2026-12-15T12:00:00+01:00" {
			t.Fatalf("%+v", ev)
		}
	})
	t.Run("updated with what the calendar holds → no write", func(t *testing.T) {
		w := e.g.Writes.Load()
		if err := e.c.HandleEvent(e.ctx, e.cfg, affectationEvent(gcal.EventAffectationUpdated, 41, "2026-12-15", "08:00", "12:00")); err != nil {
			t.Fatal(err)
		}
		if e.g.Writes.Load() != w {
			t.Fatal("written again")
		}
	})
	t.Run("updated, event created elsewhere with the Hub id → found by its private property", func(t *testing.T) {
		e.g.Edit("primary", gcal.Event{ID: "legacy00042", Summary: "old", Start: &gcal.EventDateTime{DateTime: "2026-12-01T08:00:00Z"},
			End: &gcal.EventDateTime{DateTime: "2026-12-01T09:00:00Z"}, ExtendedProperties: &gcal.ExtendedProperties{Private: map[string]string{gcal.PropAffectation: "42"}}})
		if err := e.c.HandleEvent(e.ctx, e.cfg, affectationEvent(gcal.EventAffectationUpdated, 42, "2026-12-16", "08:00", "17:00")); err != nil {
			t.Fatal(err)
		}
		if ev := get("legacy00042"); ev.Start.DateTime != "2026-12-16T08:00:00+01:00" {
			t.Fatalf("%+v", ev)
		}
		if _, created := e.g.Events("primary")["hubaff42"]; created {
			t.Fatal("a second event was created")
		}
	})
	t.Run("deleted → cancelled; deleted again → nothing", func(t *testing.T) {
		if err := e.c.HandleEvent(e.ctx, e.cfg, connectors.Event{Type: gcal.EventAffectationDeleted, Data: json.RawMessage(`{"id":41}`)}); err != nil {
			t.Fatal(err)
		}
		if get("hubaff41").Status != "cancelled" {
			t.Fatal("not deleted")
		}
		w := e.g.Writes.Load()
		if err := e.c.HandleEvent(e.ctx, e.cfg, connectors.Event{Type: gcal.EventAffectationDeleted, Data: json.RawMessage(`{"id":41}`)}); err != nil {
			t.Fatal(err)
		}
		if err := e.c.HandleEvent(e.ctx, e.cfg, connectors.Event{Type: gcal.EventAffectationDeleted, Data: json.RawMessage(`{"id":999}`)}); err != nil {
			t.Fatal(err)
		}
		if e.g.Writes.Load() != w {
			t.Fatal("written again")
		}
	})
	t.Run("updated after a delete → restored", func(t *testing.T) {
		if err := e.c.HandleEvent(e.ctx, e.cfg, affectationEvent(gcal.EventAffectationUpdated, 41, "2026-12-15", "08:00", "12:00")); err != nil {
			t.Fatal(err)
		}
		if get("hubaff41").Status != "confirmed" {
			t.Fatal("not restored")
		}
	})
	t.Run("other events → ignored; no affectation id → rejected", func(t *testing.T) {
		if err := e.c.HandleEvent(e.ctx, e.cfg, connectors.Event{Type: "chantier.created", Data: json.RawMessage(`{"id":1}`)}); err != nil {
			t.Fatal(err)
		}
		if err := e.c.HandleEvent(e.ctx, e.cfg, connectors.Event{Type: gcal.EventAffectationCreated, Data: json.RawMessage(`{}`)}); kindOf(err) != connectors.KindRejected {
			t.Fatal(err)
		}
		if err := e.c.HandleEvent(e.ctx, e.cfg, affectationEvent(gcal.EventAffectationCreated, 43, "2026-13-40", "08:00", "12:00")); kindOf(err) != connectors.KindRejected {
			t.Fatal(err)
		}
	})
}

// syncAll runs a whole sync through the framework's Runner.
func syncAll(t *testing.T, e *env, st connectors.State) ([]gcal.Record, connectors.State, connectors.Summary) {
	t.Helper()
	var recs []gcal.Record
	run := connectors.NewRunner(connectors.RunnerConfig{Backoff: connectors.Backoff{Base: time.Millisecond, Max: 5 * time.Millisecond}})
	sum, err := run.Run(e.ctx, connectors.Job{Key: "1", Connector: e.c, Spec: gcal.Spec, Config: e.cfg, State: st,
		Sink: connectors.CheckpointFunc(func(_ context.Context, rs []connectors.Record, _ connectors.State) error {
			for _, r := range rs {
				var v gcal.Record
				if err := json.Unmarshal(r.Data, &v); err != nil || r.ID != v.ID || r.Stream != "events" {
					t.Fatalf("record %s %s", r.ID, r.Data)
				}
				recs = append(recs, v)
			}
			return nil
		})})
	if err != nil {
		t.Fatal(err)
	}
	return recs, sum.State, sum
}

func userEvent(id, summary string) gcal.Event {
	return gcal.Event{ID: id, Summary: summary, Start: &gcal.EventDateTime{DateTime: "2026-12-10T09:00:00+01:00"}, End: &gcal.EventDateTime{DateTime: "2026-12-10T10:00:00+01:00"}}
}

func TestSync(t *testing.T) {
	e := newEnv(t)
	for i := range 260 {
		e.g.Edit("primary", userEvent("user"+string(rune('a'+i/26))+string(rune('a'+i%26))+"00", "Réunion"))
	}
	if err := e.c.HandleEvent(e.ctx, e.cfg, affectationEvent(gcal.EventAffectationCreated, 7, "2026-12-14", "08:00", "17:00")); err != nil {
		t.Fatal(err)
	}
	var st connectors.State
	t.Run("first sync → every event, in pages of 250, but the Hub's own", func(t *testing.T) {
		recs, next, sum := syncAll(t, e, nil)
		if len(recs) != 260 || sum.Calls != 2 {
			t.Fatalf("%d records in %d calls", len(recs), sum.Calls)
		}
		for _, r := range recs {
			if r.AffectationID != 0 {
				t.Fatalf("the Hub's own event read back: %+v", r)
			}
		}
		st = next
	})
	t.Run("incremental → only what changed since", func(t *testing.T) {
		e.g.Edit("primary", userEvent("useraa00", "Réunion déplacée"))
		ev := e.g.Events("primary")["hubaff7"]
		ev.Start = &gcal.EventDateTime{DateTime: "2026-12-14T09:00:00+01:00"} // a user moves the Hub's event
		e.g.Edit("primary", ev)
		recs, next, _ := syncAll(t, e, st)
		if len(recs) != 2 || recs[0].Summary != "Réunion déplacée" || recs[1].AffectationID != 7 || recs[1].Start.DateTime != "2026-12-14T09:00:00+01:00" {
			t.Fatalf("%+v", recs)
		}
		st = next
	})
	t.Run("no echo: the Hub writing its affectation back → not read as a change, and not written twice", func(t *testing.T) {
		if err := e.c.HandleEvent(e.ctx, e.cfg, affectationEvent(gcal.EventAffectationUpdated, 7, "2026-12-14", "08:00", "17:00")); err != nil {
			t.Fatal(err)
		}
		recs, next, _ := syncAll(t, e, st)
		if len(recs) != 0 {
			t.Fatalf("the Hub's write came back: %+v", recs)
		}
		w := e.g.Writes.Load()
		if err := e.c.HandleEvent(e.ctx, e.cfg, affectationEvent(gcal.EventAffectationUpdated, 7, "2026-12-14", "08:00", "17:00")); err != nil {
			t.Fatal(err)
		}
		if e.g.Writes.Load() != w {
			t.Fatal("re-applied")
		}
		st = next
	})
	t.Run("deleted in the calendar → a cancelled record", func(t *testing.T) {
		ev := e.g.Events("primary")["userab00"]
		ev.Status = "cancelled"
		e.g.Edit("primary", ev)
		recs, next, _ := syncAll(t, e, st)
		if len(recs) != 1 || recs[0].Status != "cancelled" || recs[0].ID != "userab00" {
			t.Fatalf("%+v", recs)
		}
		st = next
	})
	t.Run("410 on an expired sync token → full resync from nothing", func(t *testing.T) {
		e.g.ExpireSyncTokens()
		recs, next, sum := syncAll(t, e, st)
		if len(recs) != 260 || sum.Calls != 3 {
			t.Fatalf("%d records in %d calls", len(recs), sum.Calls)
		}
		recs, _, _ = syncAll(t, e, next)
		if len(recs) != 0 {
			t.Fatalf("%d records after the resync", len(recs))
		}
	})
	t.Run("unreadable checkpoint → rejected", func(t *testing.T) {
		if _, _, err := e.c.Sync(e.ctx, e.cfg, connectors.State(`[`)); kindOf(err) != connectors.KindRejected {
			t.Fatal(err)
		}
	})
}

func TestVendorErrors(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		name  string
		fault fake.Fault
		kind  connectors.Kind
		retry time.Duration
	}{
		{"429 → rate limited with Retry-After", fake.TooMany, connectors.KindRateLimited, time.Second},
		{"403 rateLimitExceeded → rate limited", fake.RateLimit403, connectors.KindRateLimited, 0},
		{"503 → unavailable", fake.Unavailable, connectors.KindUnavailable, 0},
		{"malformed JSON → malformed", fake.Malformed, connectors.KindMalformed, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e.g.Inject(c.fault)
			_, _, err := e.c.Sync(e.ctx, e.cfg, nil)
			var ce *connectors.Error
			if !errors.As(err, &ce) || ce.Kind != c.kind || ce.RetryAfter != c.retry {
				t.Fatalf("%v", err)
			}
		})
	}
	t.Run("hang → timeout at the call's deadline", func(t *testing.T) {
		e.g.Inject(fake.Hang)
		ctx, cancel := context.WithTimeout(e.ctx, 200*time.Millisecond)
		defer cancel()
		if _, _, err := e.c.Sync(ctx, e.cfg, nil); kindOf(err) != connectors.KindTimeout {
			t.Fatal(err)
		}
	})
	t.Run("503, 403 rateLimitExceeded then success → the Runner retries and syncs", func(t *testing.T) {
		e.g.Edit("primary", userEvent("retry0001", "x"))
		e.g.Inject(fake.Unavailable, fake.RateLimit403)
		recs, _, sum := syncAll(t, e, nil)
		if len(recs) != 1 || sum.Retries != 2 {
			t.Fatalf("%d records, %d retries", len(recs), sum.Retries)
		}
	})
	t.Run("a push meeting 429, then 503 → classified for the delivery's retry; the retry writes once", func(t *testing.T) {
		ev := affectationEvent(gcal.EventAffectationCreated, 8, "2026-12-14", "08:00", "17:00")
		for _, f := range []fake.Fault{fake.TooMany, fake.Unavailable} {
			e.g.Inject(f)
			if err := e.c.HandleEvent(e.ctx, e.cfg, ev); !connectors.Temporary(err) {
				t.Fatalf("%v", err)
			}
		}
		w := e.g.Writes.Load()
		if err := e.c.HandleEvent(e.ctx, e.cfg, ev); err != nil {
			t.Fatal(err)
		}
		if e.g.Writes.Load() != w+1 {
			t.Fatalf("%d writes", e.g.Writes.Load()-w)
		}
	})
	t.Run("expired access token → refreshed once, the call retried, the new token stored", func(t *testing.T) {
		old, _ := e.store.LoadToken(context.Background(), "1")
		e.g.ExpireAccessTokens()
		if err := e.c.HandleEvent(e.ctx, e.cfg, affectationEvent(gcal.EventAffectationCreated, 9, "2026-12-14", "08:00", "17:00")); err != nil {
			t.Fatal(err)
		}
		now, _ := e.store.LoadToken(context.Background(), "1")
		if e.g.Refreshes.Load() != 1 || now.AccessToken == old.AccessToken || now.RefreshToken != old.RefreshToken {
			t.Fatalf("%d refreshes", e.g.Refreshes.Load())
		}
		if _, ok := e.g.Events("primary")["hubaff9"]; !ok {
			t.Fatal("not written after the refresh")
		}
	})
	t.Run("a token expiring soon → refreshed before the call", func(t *testing.T) {
		tok, _ := e.store.LoadToken(context.Background(), "1")
		tok.Expiry = time.Now().Add(time.Minute)
		_ = e.store.SaveToken(context.Background(), "1", tok)
		if err := e.c.Check(e.ctx, e.cfg); err != nil {
			t.Fatal(err)
		}
		if e.g.Refreshes.Load() != 2 {
			t.Fatalf("%d refreshes", e.g.Refreshes.Load())
		}
	})
}

func TestWatch(t *testing.T) {
	e := newEnv(t)
	type note struct{ id, token, state, resource, number string }
	var mu sync.Mutex
	var notes []note
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		notes = append(notes, note{r.Header.Get("X-Goog-Channel-ID"), r.Header.Get("X-Goog-Channel-Token"), r.Header.Get("X-Goog-Resource-State"),
			r.Header.Get("X-Goog-Resource-ID"), r.Header.Get("X-Goog-Message-Number")})
		mu.Unlock()
	}))
	defer recv.Close()
	w := e.c.(connectors.Watcher)
	ch, err := w.Watch(e.ctx, e.cfg, connectors.Channel{ID: "chan-1", Token: "tok-secret-1", Address: recv.URL}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if ch.ResourceID == "" || time.Until(ch.Expiration) < 59*time.Minute || time.Until(ch.Expiration) > time.Hour {
		t.Fatalf("%+v", ch)
	}
	e.g.Edit("primary", userEvent("watched01", "x"))
	e.g.Notifications()
	mu.Lock()
	got := append([]note(nil), notes...)
	mu.Unlock()
	// notifications may arrive out of order: X-Goog-Message-Number orders them
	sort.Slice(got, func(i, j int) bool { return got[i].number < got[j].number })
	if len(got) != 2 || got[0].state != "sync" || got[1].state != "exists" || got[1].id != "chan-1" || got[1].token != "tok-secret-1" || got[1].resource != ch.ResourceID {
		t.Fatalf("%+v", got)
	}
	if _, err := w.Watch(e.ctx, e.cfg, connectors.Channel{ID: "chan-1", Token: "t", Address: recv.URL}, time.Hour); kindOf(err) != connectors.KindRejected {
		t.Fatalf("reused channel id: %v", err)
	}
	if err := w.StopWatch(e.ctx, e.cfg, ch); err != nil {
		t.Fatal(err)
	}
	if len(e.g.Channels()) != 0 {
		t.Fatal("still open")
	}
	if err := w.StopWatch(e.ctx, e.cfg, ch); err != nil {
		t.Fatalf("stopping a stopped channel: %v", err)
	}
	if strings.Contains(ch.String(), "tok-secret-1") {
		t.Fatal("token in the channel's text")
	}
}
