package service_test

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/blob"
	"github.com/hubchantier/hubchantier/hubapi/service"
	"github.com/hubchantier/hubchantier/hubapi/store"
	"github.com/hubchantier/hubchantier/internal/testenv"
	"github.com/hubchantier/hubchantier/notify"
)

// mailbox is a notify.Notifier that keeps the messages.
type mailbox struct {
	mu   sync.Mutex
	msgs []notify.Message
}

func (m *mailbox) Send(_ context.Context, msg notify.Message) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.msgs = append(m.msgs, msg)
	return nil
}

func (m *mailbox) all() []notify.Message {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]notify.Message(nil), m.msgs...)
}

// events records the published domain events.
type events struct {
	mu  sync.Mutex
	all []hubapi.Event
}

func (e *events) Publish(_ context.Context, ev hubapi.Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.all = append(e.all, ev)
}

func (e *events) of(t hubapi.EventType) []hubapi.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []hubapi.Event
	for _, ev := range e.all {
		if ev.Type == t {
			out = append(out, ev)
		}
	}
	return out
}

// clock is a controllable clock.
type clock struct{ ns atomic.Int64 }

func newClock(t time.Time) *clock {
	c := &clock{}
	c.set(t)
	return c
}
func (c *clock) now() time.Time       { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) set(t time.Time)      { c.ns.Store(t.UnixNano()) }
func (c *clock) add(d time.Duration)  { c.ns.Add(int64(d)) }
func (c *clock) at() func() time.Time { return c.now }

type keyFixture struct {
	db     *store.DB
	svc    *service.Service
	op     *service.Operator
	clock  *clock
	mail   *mailbox
	events *events
	admin  *hubapi.User
	owner  *hubapi.User
}

func newKeyFixture(t testing.TB, tdb *testenv.DB, opts ...service.Option) *keyFixture {
	t.Helper()
	db := store.Wrap(tdb.DB)
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	blobs, err := blob.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	f := &keyFixture{db: db, clock: newClock(time.Now().UTC().Truncate(time.Second)), mail: &mailbox{}, events: &events{}}
	opts = append([]service.Option{service.WithClock(f.clock.at()), service.WithNotifier(f.mail), service.WithPublisher(f.events)}, opts...)
	f.svc = service.New(db, blobs, opts...)
	f.op = service.NewOperator(f.svc)
	f.admin = &hubapi.User{Email: "admin@example.fr", Nom: "Admin", Prenom: "A", Role: hubapi.RoleAdmin}
	f.owner = &hubapi.User{Email: "owner@example.fr", Nom: "Owner", Prenom: "O", Role: hubapi.RoleConducteur}
	for _, u := range []*hubapi.User{f.admin, f.owner} {
		if err := f.op.CreateUser(t.Context(), u, ""); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func (f *keyFixture) issue(t *testing.T, in hubapi.APIKeyInput) (*hubapi.APIKey, string) {
	t.Helper()
	if in.UserID == 0 {
		in.UserID = f.owner.ID
	}
	if in.Name == "" {
		in.Name = "integration"
	}
	if in.Scopes == nil {
		in.Scopes = []hubapi.Scope{hubapi.ScopeChantiersRead}
	}
	k, secret, err := f.op.IssueAPIKey(t.Context(), in)
	if err != nil {
		t.Fatal(err)
	}
	return k, secret
}

func (f *keyFixture) adminCtx(t *testing.T) context.Context {
	return hubapi.WithPrincipal(t.Context(), &hubapi.Principal{UserID: f.admin.ID, Email: f.admin.Email, Role: hubapi.RoleAdmin,
		Scopes: []hubapi.Scope{hubapi.ScopeAdmin}})
}

// The old secret works until exactly the end of the grace period, with its
// expiry in the principal (the REST layer's Deprecation header); from that
// instant it is refused as rotated, not as unknown. Measured on a
// controllable clock.
func TestRotationGracePeriodBoundary(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, tdb *testenv.DB) {
		const grace = 72 * time.Hour
		f := newKeyFixture(t, tdb, service.WithRotationGrace(grace))
		k, old := f.issue(t, hubapi.APIKeyInput{})
		t0 := f.clock.now()
		rot, err := f.svc.RotateAPIKey(f.adminCtx(t), k.ID)
		if err != nil {
			t.Fatal(err)
		}
		if rot.Secret == old || !hubapi.WellFormedAPIKey(rot.Secret) {
			t.Fatalf("new secret not new or malformed (prefix %s)", rot.Key.Prefix)
		}
		if rot.Key.PreviousExpiresAt == nil || !rot.Key.PreviousExpiresAt.Equal(t0.Add(grace)) {
			t.Fatalf("previous secret expires at %v, want %v", rot.Key.PreviousExpiresAt, t0.Add(grace))
		}
		ctx := t.Context()
		check := func(name string, at time.Time, secret string, wantErr error, wantDeprecated bool) {
			t.Run(name, func(t *testing.T) {
				f.clock.set(at)
				f.op.ForgetAllAuthentications()
				p, err := f.op.Authenticate(ctx, secret)
				if wantErr != nil {
					if !errors.Is(err, wantErr) {
						t.Fatalf("err = %v, want %v", err, wantErr)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if p.APIKeyID != k.ID {
					t.Fatalf("principal of key %d", p.APIKeyID)
				}
				if got := p.SecretExpiresAt != nil; got != wantDeprecated {
					t.Fatalf("deprecated = %v, want %v", got, wantDeprecated)
				}
				if wantDeprecated && (p.SecretRotatedAt == nil || !p.SecretRotatedAt.Equal(t0)) {
					t.Fatalf("rotated at %v, want %v", p.SecretRotatedAt, t0)
				}
			})
		}
		check("old secret right after the rotation → deprecated", t0, old, nil, true)
		check("old secret 1µs before the end of the grace → deprecated", t0.Add(grace-time.Microsecond), old, nil, true)
		check("old secret at the end of the grace → rotated", t0.Add(grace), old, hubapi.ErrAPIKeyRotated, false)
		check("old secret a year later → still rotated, not unknown", t0.Add(365*24*time.Hour), old, hubapi.ErrAPIKeyRotated, false)
		check("new secret during the grace → current", t0.Add(time.Hour), rot.Secret, nil, false)
		check("new secret after the grace → current", t0.Add(grace+time.Hour), rot.Secret, nil, false)
		other, _ := hubapi.NewAPIKeySecret()
		check("an unknown secret → unauthenticated, not rotated", t0, other, hubapi.ErrUnauthenticated, false)
		t.Run("an unknown secret is not reported as rotated", func(t *testing.T) {
			if _, err := f.op.Authenticate(ctx, other); errors.Is(err, hubapi.ErrAPIKeyRotated) {
				t.Fatal("unknown secret reported as rotated")
			}
		})
		t.Run("a cached authentication of the old secret ends with the grace", func(t *testing.T) {
			f.clock.set(t0.Add(grace - time.Second))
			f.op.ForgetAllAuthentications()
			if _, err := f.op.Authenticate(ctx, old); err != nil {
				t.Fatal(err)
			}
			f.clock.set(t0.Add(grace)) // within the 10 s cache lifetime
			if _, err := f.op.Authenticate(ctx, old); !errors.Is(err, hubapi.ErrAPIKeyRotated) {
				t.Fatalf("err = %v after the grace with a cached entry", err)
			}
		})
	})
}

// A rotation tells the owner by mail and records api_key.rotated for the
// owner's webhooks; neither carries a secret.
func TestRotationNotifiesTheOwner(t *testing.T) {
	f := newKeyFixture(t, testenv.SQLite(t))
	k, old := f.issue(t, hubapi.APIKeyInput{})
	rot, err := f.svc.RotateAPIKey(f.adminCtx(t), k.ID)
	if err != nil {
		t.Fatal(err)
	}
	evs := f.events.of(hubapi.EventAPIKeyRotated)
	if len(evs) != 1 || evs[0].ResourceID != k.ID || evs[0].Resource != "api_keys" {
		t.Fatalf("rotated events: %+v", evs)
	}
	data, ok := evs[0].Data.(hubapi.APIKeyEventData)
	if !ok || data.UserID != f.owner.ID || data.PreviousSecretExpiresAt == nil {
		t.Fatalf("event data %+v", evs[0].Data)
	}
	mails := f.mail.all()
	if len(mails) != 1 || mails[0].To[0] != f.owner.Email || !strings.Contains(mails[0].Text, "rotated") {
		t.Fatalf("mails: %+v", mails)
	}
	for _, m := range mails {
		if strings.Contains(m.Text, rot.Secret) || strings.Contains(m.Text, old) {
			t.Fatal("a mail carries a secret")
		}
	}
}

// Rotations sent at once produce one new secret: one succeeds, the others
// get ErrConflict, and the secret that works is the winner's.
func TestConcurrentRotationsProduceOneSecret(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, tdb *testenv.DB) {
		f := newKeyFixture(t, tdb)
		k, old := f.issue(t, hubapi.APIKeyInput{})
		const n = 8
		var wg sync.WaitGroup
		results := make([]*hubapi.APIKeyRotation, n)
		errs := make([]error, n)
		ctx := f.adminCtx(t)
		for i := range n {
			wg.Go(func() { results[i], errs[i] = f.svc.RotateAPIKey(ctx, k.ID) })
		}
		wg.Wait()
		var won []*hubapi.APIKeyRotation
		for i, err := range errs {
			switch {
			case err == nil:
				won = append(won, results[i])
			case !errors.Is(err, hubapi.ErrConflict):
				t.Fatalf("rotation %d: %v", i, err)
			}
		}
		if len(won) != 1 {
			t.Fatalf("%d rotations succeeded, want 1", len(won))
		}
		f.op.ForgetAllAuthentications()
		if _, err := f.op.Authenticate(t.Context(), won[0].Secret); err != nil {
			t.Fatalf("winner's secret: %v", err)
		}
		if p, err := f.op.Authenticate(t.Context(), old); err != nil || p.SecretExpiresAt == nil {
			t.Fatalf("old secret during the grace: %v %+v", err, p)
		}
		if got := len(f.events.of(hubapi.EventAPIKeyRotated)); got != 1 {
			t.Fatalf("%d rotated events", got)
		}
		t.Run("a minute later, a rotation succeeds again", func(t *testing.T) {
			f.clock.add(time.Minute)
			if _, err := f.svc.RotateAPIKey(ctx, k.ID); err != nil {
				t.Fatal(err)
			}
		})
	})
}

// The daily job rotates the keys whose interval has run out, once, and no
// other key.
func TestAutomaticRotationIsDueAfterItsInterval(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, tdb *testenv.DB) {
		f := newKeyFixture(t, tdb)
		days := 30
		auto, autoSecret := f.issue(t, hubapi.APIKeyInput{AutoRotate: true, RotationIntervalDays: &days})
		_, manualSecret := f.issue(t, hubapi.APIKeyInput{Name: "manual"})
		t0 := f.clock.now()
		ctx := t.Context()
		f.clock.set(t0.AddDate(0, 0, days).Add(-time.Microsecond))
		if n, err := f.op.RotateDueAPIKeys(ctx); err != nil || n != 0 {
			t.Fatalf("1µs before due: %d rotated, %v", n, err)
		}
		f.clock.set(t0.AddDate(0, 0, days))
		if n, err := f.op.RotateDueAPIKeys(ctx); err != nil || n != 1 {
			t.Fatalf("when due: %d rotated, %v", n, err)
		}
		if n, err := f.op.RotateDueAPIKeys(ctx); err != nil || n != 0 {
			t.Fatalf("run again: %d rotated, %v", n, err)
		}
		f.op.ForgetAllAuthentications()
		if p, err := f.op.Authenticate(ctx, autoSecret); err != nil || p.SecretExpiresAt == nil {
			t.Fatalf("rotated key's old secret: %v", err)
		}
		if p, err := f.op.Authenticate(ctx, manualSecret); err != nil || p.SecretExpiresAt != nil {
			t.Fatalf("key without auto_rotate: %v", err)
		}
		evs := f.events.of(hubapi.EventAPIKeyRotated)
		if len(evs) != 1 || evs[0].ResourceID != auto.ID || !evs[0].Data.(hubapi.APIKeyEventData).Automatic {
			t.Fatalf("events %+v", evs)
		}
		t.Run("the new secret is collected once by an admin, and then authenticates", func(t *testing.T) {
			if !evs[0].Data.(hubapi.APIKeyEventData).SecretPending {
				t.Fatal("the event does not say a secret waits")
			}
			var told bool
			for _, m := range f.mail.all() {
				told = told || (m.To[0] == f.owner.Email && strings.Contains(m.Text, "/secret"))
			}
			if !told {
				t.Fatal("the owner's mail does not say how to collect the secret")
			}
			got, err := f.svc.CollectAPIKeySecret(f.adminCtx(t), auto.ID)
			if err != nil {
				t.Fatal(err)
			}
			f.op.ForgetAllAuthentications()
			if p, err := f.op.Authenticate(ctx, got.Secret); err != nil || p.SecretExpiresAt != nil || p.APIKeyID != auto.ID {
				t.Fatalf("collected secret: %v", err)
			}
			if _, err := f.svc.CollectAPIKeySecret(f.adminCtx(t), auto.ID); !errors.Is(err, hubapi.ErrNotFound) {
				t.Fatalf("second collection: %v", err)
			}
		})
		t.Run("a manual rotation over a secret never collected keeps the client's secret in its grace", func(t *testing.T) {
			f.clock.set(t0.AddDate(0, 0, 2*days))
			if n, err := f.op.RotateDueAPIKeys(ctx); err != nil || n != 1 {
				t.Fatalf("next interval: %d rotated, %v", n, err)
			}
			f.op.ForgetAllAuthentications()
			held, err := f.svc.CollectAPIKeySecret(f.adminCtx(t), auto.ID) // what the client now holds
			if err != nil {
				t.Fatal(err)
			}
			f.clock.add(time.Hour)
			if _, err := f.op.RotateDueAPIKeys(ctx); err != nil {
				t.Fatal(err)
			}
			// not due again: rotate by hand while nothing waits, then
			// automatically again (never collected), then by hand
			f.clock.set(t0.AddDate(0, 0, 3*days))
			if n, err := f.op.RotateDueAPIKeys(ctx); err != nil || n != 1 {
				t.Fatalf("third interval: %d, %v", n, err)
			}
			f.clock.add(time.Hour)
			if _, err := f.svc.RotateAPIKey(f.adminCtx(t), auto.ID); err != nil {
				t.Fatal(err)
			}
			f.op.ForgetAllAuthentications()
			if p, err := f.op.Authenticate(ctx, held.Secret); err != nil || p.SecretExpiresAt == nil {
				t.Fatalf("the secret the client holds after an uncollected automatic rotation and a manual one: %v", err)
			}
		})
	})
}

// Keys carry their allow-list from creation and a PATCH; a bad entry is
// refused naming it.
func TestAllowlistIsStoredAndChecked(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, tdb *testenv.DB) {
		f := newKeyFixture(t, tdb)
		_, _, err := f.svc.CreateAPIKey(f.adminCtx(t), hubapi.APIKeyInput{UserID: f.owner.ID, Name: "x", Scopes: []hubapi.Scope{hubapi.ScopeChantiersRead},
			IPAllowlist: []string{"10.0.0.0/8", "10.0.0.0/33"}})
		var ve *hubapi.ValidationError
		if !errors.As(err, &ve) || !strings.Contains(ve.Fields["ip_allowlist"], "10.0.0.0/33") {
			t.Fatalf("bad CIDR: %v", err)
		}
		k, secret := f.issue(t, hubapi.APIKeyInput{IPAllowlist: []string{"10.1.2.3/8", "2001:db8::/32"}})
		if got := strings.Join(k.IPAllowlist, ","); got != "10.0.0.0/8,2001:db8::/32" {
			t.Fatalf("stored %q", got)
		}
		p, err := f.op.Authenticate(t.Context(), secret)
		if err != nil {
			t.Fatal(err)
		}
		for ip, want := range map[string]bool{"10.200.0.1": true, "2001:db8:1::5": true, "192.168.1.1": false, "": false} {
			a, _ := parseAddr(ip)
			if got := p.AllowsIP(a); got != want {
				t.Errorf("AllowsIP(%q) = %v", ip, got)
			}
		}
		// PATCH: null lifts the restriction; the cached principal is dropped
		if _, err := f.svc.PatchAPIKey(f.adminCtx(t), k.ID, hubapi.APIKeyPatch{IPAllowlistSet: true}, nil); err != nil {
			t.Fatal(err)
		}
		p, err = f.op.Authenticate(t.Context(), secret)
		if err != nil || p.IPRestricted {
			t.Fatalf("after lifting: %v restricted=%v", err, p.IPRestricted)
		}
		if _, err := f.svc.PatchAPIKey(f.adminCtx(t), 999999, hubapi.APIKeyPatch{IPAllowlistSet: true}, nil); !errors.Is(err, hubapi.ErrNotFound) {
			t.Fatalf("missing key: %v", err)
		}
	})
}

func parseAddr(s string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	return a, err == nil
}
