package service_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/blob"
	"github.com/hubchantier/hubchantier/hubapi/service"
	"github.com/hubchantier/hubchantier/hubapi/store"
	"github.com/hubchantier/hubchantier/internal/testenv"
	"github.com/hubchantier/hubchantier/notify"
)

// outbox keeps the messages handed to it, or refuses them.
type outbox struct {
	mu     sync.Mutex
	sent   []notify.Message
	refuse bool
}

func (o *outbox) Send(_ context.Context, m notify.Message) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.refuse {
		return errors.New("smtp: 451 try later")
	}
	o.sent = append(o.sent, m)
	return nil
}

func (o *outbox) setRefuse(v bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.refuse = v
}

var codeRe = regexp.MustCompile(`hcv_[A-Za-z0-9_-]{43}`)

func (o *outbox) last() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.sent) == 0 {
		return ""
	}
	return codeRe.FindString(o.sent[len(o.sent)-1].Text)
}

// The rights of the caller's own account refuse OAuth applications; the
// verification code expires after 24 hours; a mail that cannot be sent
// leaves the e-mail unchanged and no code pending; erasure is for admins
// holding the admin scope, never of oneself.
func TestPrivacyRules(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, tdb *testenv.DB) {
		db := store.Wrap(tdb.DB)
		if err := db.Migrate(t.Context()); err != nil {
			t.Fatal(err)
		}
		blobs, err := blob.NewDir(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		now := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
		var mu sync.Mutex
		clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
		mail := &outbox{}
		svc := service.New(db, blobs, service.WithNotifier(mail), service.WithClock(clock))
		op := service.NewOperator(svc)
		u := &hubapi.User{Email: "lea@test.fr", Nom: "Martin", Role: hubapi.RoleCompagnon}
		admin := &hubapi.User{Email: "admin@test.fr", Role: hubapi.RoleAdmin}
		for _, x := range []*hubapi.User{u, admin} {
			if err := op.CreateUser(t.Context(), x, ""); err != nil {
				t.Fatal(err)
			}
		}
		as := func(p *hubapi.Principal) context.Context { return hubapi.WithPrincipal(t.Context(), p) }
		self := as(&hubapi.Principal{UserID: u.ID, Role: u.Role, Scopes: hubapi.RoleScopes(u.Role)})
		app := as(&hubapi.Principal{UserID: u.ID, Role: u.Role, Scopes: hubapi.RoleScopes(u.Role), ClientID: "hcc_app"})
		setEmail := func(e string) func(hubapi.UserUpdate) (hubapi.UserUpdate, error) {
			return func(c hubapi.UserUpdate) (hubapi.UserUpdate, error) { c.Email = e; return c, nil }
		}

		t.Run("an OAuth application → ErrForbidden", func(t *testing.T) {
			if err := svc.ExportMe(app, nil); !errors.Is(err, hubapi.ErrForbidden) {
				t.Errorf("ExportMe: %v", err)
			}
			if _, err := svc.UpdateMe(app, setEmail("x@test.fr"), 0); !errors.Is(err, hubapi.ErrForbidden) {
				t.Errorf("UpdateMe: %v", err)
			}
			if _, err := svc.VerifyMyEmail(app, "hcv_x"); !errors.Is(err, hubapi.ErrForbidden) {
				t.Errorf("VerifyMyEmail: %v", err)
			}
		})
		t.Run("a code past 24 hours → ErrInvalid, the e-mail unchanged", func(t *testing.T) {
			if _, err := svc.UpdateMe(self, setEmail("lea.new@test.fr"), 0); err != nil {
				t.Fatal(err)
			}
			code := mail.last()
			mu.Lock()
			now = now.Add(hubapi.EmailVerificationTTL)
			mu.Unlock()
			if _, err := svc.VerifyMyEmail(self, code); !errors.Is(err, hubapi.ErrInvalid) {
				t.Fatalf("expired code: %v", err)
			}
			if got, _ := svc.Me(self); got.Email != "lea@test.fr" {
				t.Fatalf("e-mail %q", got.Email)
			}
			// a fresh request, verified in time, switches
			if _, err := svc.UpdateMe(self, setEmail("lea.new@test.fr"), 0); err != nil {
				t.Fatal(err)
			}
			got, err := svc.VerifyMyEmail(self, mail.last())
			if err != nil || got.Email != "lea.new@test.fr" || got.PendingEmail != "" || got.EmailTokenHash != "" {
				t.Fatalf("verified: %+v %v", got, err)
			}
		})
		t.Run("a mail that cannot be sent → ErrUnavailable, nothing pending", func(t *testing.T) {
			mail.setRefuse(true)
			defer mail.setRefuse(false)
			_, err := svc.UpdateMe(self, setEmail("lea.other@test.fr"), 0)
			if !errors.Is(err, hubapi.ErrUnavailable) {
				t.Fatalf("UpdateMe: %v", err)
			}
			got, _ := store.Get[hubapi.User](t.Context(), db, u.ID)
			if got.PendingEmail != "" || got.EmailTokenHash != "" || got.Email != "lea.new@test.fr" {
				t.Fatalf("after the failed mail: %+v", got)
			}
		})
		t.Run("the stored token is a hash, not the code", func(t *testing.T) {
			if _, err := svc.UpdateMe(self, setEmail("lea.third@test.fr"), 0); err != nil {
				t.Fatal(err)
			}
			got, _ := store.Get[hubapi.User](t.Context(), db, u.ID)
			if code := mail.last(); code == "" || got.EmailTokenHash == "" || got.EmailTokenHash == code || len(got.EmailTokenHash) != 64 {
				t.Fatalf("stored %q for code %q", got.EmailTokenHash, code)
			}
		})
		t.Run("erasure: admin scope needed, never oneself", func(t *testing.T) {
			adminNoScope := as(&hubapi.Principal{UserID: admin.ID, Role: hubapi.RoleAdmin})
			adminCtx := as(&hubapi.Principal{UserID: admin.ID, Role: hubapi.RoleAdmin, Scopes: []hubapi.Scope{hubapi.ScopeAdmin}})
			for name, tc := range map[string]struct {
				ctx  context.Context
				id   int64
				want error
			}{
				"the user themselves":     {self, u.ID, hubapi.ErrForbidden},
				"an admin without scope":  {adminNoScope, u.ID, hubapi.ErrForbidden},
				"an admin, themselves":    {adminCtx, admin.ID, hubapi.ErrConflict},
				"an admin, an unknown id": {adminCtx, 987654, hubapi.ErrNotFound},
			} {
				if err := svc.EraseUser(tc.ctx, tc.id); !errors.Is(err, tc.want) {
					t.Errorf("%s: %v, want %v", name, err, tc.want)
				}
			}
			if err := svc.EraseUser(adminCtx, u.ID); err != nil {
				t.Fatal(err)
			}
			got, _ := store.Get[hubapi.User](t.Context(), db, u.ID)
			if got.Email != fmt.Sprintf("erased-%d@erased.invalid", u.ID) || got.Nom != "Anonyme" || got.ErasedAt == nil || got.DisabledAt == nil ||
				got.PendingEmail != "" || got.EmailTokenHash != "" {
				t.Fatalf("erased user %+v", got)
			}
		})
	})
}
