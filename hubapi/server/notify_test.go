package server_test

import (
	"context"
	"testing"

	"github.com/hubchantier/hubchantier/hubapi/server"
	"github.com/hubchantier/hubchantier/hubapi/store"
	"github.com/hubchantier/hubchantier/internal/testenv"
	"github.com/hubchantier/hubchantier/notify"
)

// HUB_SMTP_URL gives the server an SMTP notifier; without it there is none.
func TestServerNotifierFromSMTPURL(t *testing.T) {
	tdb := testenv.SQLite(t)
	for _, tc := range []struct {
		url  string
		want bool
	}{{"", false}, {"smtp://mail.example.com:587?from=hub@example.com", true}} {
		srv, err := server.New(context.Background(), server.Config{DB: store.Wrap(tdb.DB), BlobDir: t.TempDir(), CacheMaxMB: -1, SMTPURL: tc.url})
		if err != nil {
			t.Fatal(err)
		}
		_, isSMTP := srv.Notifier.(*notify.SMTP)
		srv.Close()
		if isSMTP != tc.want {
			t.Fatalf("SMTPURL %q: notifier %T", tc.url, srv.Notifier)
		}
	}
}
