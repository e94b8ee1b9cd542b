package jobs_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/hubchantier/hubchantier/connectors"
	"github.com/hubchantier/hubchantier/connectors/dropbox"
	dropboxfake "github.com/hubchantier/hubchantier/connectors/dropbox/fake"
	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/blob"
	"github.com/hubchantier/hubchantier/hubapi/jobs"
	"github.com/hubchantier/hubchantier/hubapi/service"
	"github.com/hubchantier/hubchantier/internal/testenv"
)

// The Dropbox connector through the product: a document created is
// uploaded, with its file, under /Hub-Chantier/{chantier}/{categorie}/{nom}
// by its delivery job, with the connector's OAuth token from its row; the
// token expired meanwhile is refreshed (and stored sealed) before the
// retry; a 5xx is retried by the delivery.
func TestDropboxConnectorThroughTheOutbox(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, tdb *testenv.DB) {
		db := migrated(t, tdb)
		sealer := testSealer(t, "k1:"+testKeysB64())
		fake := dropboxfake.New("hub-client", "hub-client-secret")
		defer fake.Close()
		reg := connectors.NewRegistry().AllowBaseURLOverride()
		spec := dropbox.Spec
		oauth := *spec.OAuth
		oauth.TokenURL = fake.URL + "/oauth2/token"
		spec.OAuth = &oauth
		reg.MustRegister(spec, func(o connectors.Options) (connectors.Connector, error) { return dropbox.New(o, dropbox.Params{}) })

		admin := newUser(t, db, "admin@example.com", hubapi.RoleAdmin)
		c := newConnectorRowCfg(t, db, sealer, admin, dropbox.Type, connectors.Config{})
		tokens := service.NewConnectorTokens(db, sealer)
		access, refresh := fake.Grant()
		if err := tokens.SaveToken(context.Background(), jobs.ConnectorConfigBinding(c.ID),
			&oauth2.Token{AccessToken: access, RefreshToken: refresh, Expiry: time.Now().Add(4 * time.Hour)}); err != nil {
			t.Fatal(err)
		}
		fake.ExpireAccessTokens() // revoked early: Dropbox answers expired_access_token
		fake.Inject(dropboxfake.ServerError)

		blobs, err := blob.NewDir(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		cc := connectorJobs(reg, sealer, map[string]string{dropbox.Type: fake.URL})
		cc.Blobs = blobs
		ts := &connectors.Tokens{Config: oauth.Config("hub-client", "hub-client-secret", ""), Store: tokens, Locker: tokens}
		cc.Tokens = func(typ string) *connectors.Tokens {
			if typ == dropbox.Type {
				return ts
			}
			return nil
		}
		q := start(t, db, jobs.Config{Connectors: cc})
		svc := service.New(db, blobs, service.WithOutbox(q))
		ctx := adminCtx(admin)
		ch, err := svc.CreateChantier(ctx, hubapi.ChantierInput{Code: "G-1", Nom: "Gare: quai 2", Adresse: "1 rue"})
		if err != nil {
			t.Fatal(err)
		}
		content := bytes.Repeat([]byte("plan "), 1000)
		if _, err := svc.CreateDocument(ctx, hubapi.DocumentInput{ChantierID: ch.ID, Nom: "Plan R+1.pdf", Categorie: "plan"},
			hubapi.Upload{MimeType: "application/pdf", Body: bytes.NewReader(content)}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the upload", func() bool {
			ds := connectorDeliveries(t, db, c.ID)
			return len(ds) == 1 && ds[0].Status == hubapi.ConnectorDeliveryDelivered
		})
		got, ok := fake.File("/Hub-Chantier/Gare_ quai 2/plan/Plan R+1.pdf")
		if !ok || !bytes.Equal(got, content) {
			t.Fatalf("files %v", fake.Paths())
		}
		if d := connectorDeliveries(t, db, c.ID)[0]; d.Attempts != 2 || fake.Counts().Refreshes != 1 {
			t.Fatalf("delivery %+v, refreshes %d", d, fake.Counts().Refreshes)
		}
		stored, err := tokens.LoadToken(context.Background(), jobs.ConnectorConfigBinding(c.ID))
		if err != nil || stored.AccessToken == access || stored.RefreshToken != refresh {
			t.Fatalf("stored token after the refresh: %v", err)
		}
		row := connectorRow(t, db, c.ID)
		if strings.Contains(string(row.TokenSealed), stored.AccessToken) {
			t.Fatal("the token is stored in clear")
		}
	})
}
