package client_test

import (
	"context"
	"regexp"
	"sync"
	"testing"

	"github.com/oapi-codegen/nullable"
	openapi_types "github.com/oapi-codegen/runtime/types"

	"github.com/hubchantier/hubchantier/client"
	"github.com/hubchantier/hubchantier/client/apiv1"
	"github.com/hubchantier/hubchantier/client/apiv2"
	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/server"
	"github.com/hubchantier/hubchantier/internal/apitest"
	"github.com/hubchantier/hubchantier/internal/testenv"
	"github.com/hubchantier/hubchantier/notify"
)

// mailedCodes keeps the verification mailedCodes mailed by the server.
type mailedCodes struct {
	mu   sync.Mutex
	last string
}

var codeRe = regexp.MustCompile(`hcv_[A-Za-z0-9_-]{43}`)

func (c *mailedCodes) Send(_ context.Context, m notify.Message) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.last = codeRe.FindString(m.Text)
	return nil
}

func (c *mailedCodes) code() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last
}

// The GDPR methods of the SDK: rectification with e-mail verification,
// export, erasure, on v1 and v2.
func TestPrivacyMethods(t *testing.T) {
	mail := &mailedCodes{}
	e := startEnv(t, testenv.SQLite(t), apitest.Config{RateLimits: apitest.LiftedRateLimits,
		Configure: func(c *server.Config) { c.Notifier = mail }})
	ctx := context.Background()
	admin := e.client(t, hubapi.RoleAdmin)
	u1, key1 := e.NewUser(t, hubapi.RoleCompagnon)
	c1, err := client.New(e.URL, client.WithAPIKey(key1))
	if err != nil {
		t.Fatal(err)
	}
	me, err := c1.V1.UpdateMe(ctx, &apiv1.UserPatch{Nom: nullable.NewNullableWithValue("Durand"),
		Email: ptr(openapi_types.Email("durand.v1@exemple.fr"))})
	if err != nil || me.Nom != "Durand" || me.Email != openapi_types.Email(u1.Email) {
		t.Fatalf("v1 UpdateMe: %+v %v", me, err)
	}
	if me, err = c1.V1.VerifyEmail(ctx, mail.code()); err != nil || me.Email != "durand.v1@exemple.fr" {
		t.Fatalf("v1 VerifyEmail: %+v %v", me, err)
	}
	ex, err := c1.V1.Export(ctx)
	if err != nil || ex.Profile.Id != u1.ID || ex.Format != apiv1.HubchantierExport1 || len(ex.ApiKeys) != 1 {
		t.Fatalf("v1 Export: %+v %v", ex, err)
	}
	if err := admin.V1.EraseUser(ctx, u1.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := c1.V1.Me(ctx); err == nil {
		t.Fatal("the erased user's key still authenticates")
	}

	u2, key2 := e.NewUser(t, hubapi.RoleCompagnon)
	c2, err := client.New(e.URL, client.WithAPIKey(key2))
	if err != nil {
		t.Fatal(err)
	}
	me2, err := c2.V2.UpdateMe(ctx, &apiv2.UserPatch{LastName: nullable.NewNullableWithValue("Petit"),
		Email: ptr(openapi_types.Email("petit.v2@exemple.fr"))})
	if err != nil || me2.LastName != "Petit" {
		t.Fatalf("v2 UpdateMe: %+v %v", me2, err)
	}
	if me2, err = c2.V2.VerifyEmail(ctx, mail.code()); err != nil || me2.Email != "petit.v2@exemple.fr" {
		t.Fatalf("v2 VerifyEmail: %+v %v", me2, err)
	}
	ex2, err := c2.V2.Export(ctx)
	if err != nil || ex2.Profile.Id != u2.ID || ex2.Profile.LastName != "Petit" {
		t.Fatalf("v2 Export: %+v %v", ex2, err)
	}
	if err := admin.V2.EraseUser(ctx, u2.ID); err != nil {
		t.Fatal(err)
	}
}
