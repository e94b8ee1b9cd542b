package server_test

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/hubchantier/hubchantier/hubapi/server"
	"github.com/hubchantier/hubchantier/hubapi/store"
	"github.com/hubchantier/hubchantier/internal/testenv"
	"github.com/hubchantier/hubchantier/secretbox"
)

// Without HUB_SECRET_KEYS, every process on a database seals with the one
// key kept there, and says (without the key) that production should set the
// variable; with it, the listed keys seal, and the database key still opens
// what it sealed before.
func TestSecretKeyring(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, tdb *testenv.DB) {
		db := store.Wrap(tdb.DB)
		if err := db.Migrate(t.Context()); err != nil {
			t.Fatal(err)
		}
		var logs bytes.Buffer
		log := slog.New(slog.NewTextHandler(&logs, nil))
		first, err := server.SecretKeyring(t.Context(), db, nil, log)
		if err != nil {
			t.Fatal(err)
		}
		if first.CurrentKeyID() != server.StoredSecretKeyID || !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "HUB_SECRET_KEYS") {
			t.Fatalf("key %q, log %s", first.CurrentKeyID(), logs.String())
		}
		kid, sealed, err := first.Seal([]byte("whsec_x"), []byte("webhook:1"))
		if err != nil {
			t.Fatal(err)
		}
		second, err := server.SecretKeyring(t.Context(), db, nil, log)
		if err != nil {
			t.Fatal(err)
		}
		if plain, err := second.Open(kid, sealed, []byte("webhook:1")); err != nil || string(plain) != "whsec_x" {
			t.Fatalf("another process on the database: %v", err)
		}

		newKey := secretbox.GenerateKey()
		logs.Reset()
		k2, err := secretbox.ParseKeyring("k2:" + newKey)
		if err != nil {
			t.Fatal(err)
		}
		configured, err := server.SecretKeyring(t.Context(), db, k2, log)
		if err != nil {
			t.Fatal(err)
		}
		if configured.CurrentKeyID() != "k2" || strings.Contains(logs.String(), newKey) || strings.Contains(logs.String(), "level=WARN") {
			t.Fatalf("configured: current %q, log %s", configured.CurrentKeyID(), logs.String())
		}
		if plain, err := configured.Open(kid, sealed, []byte("webhook:1")); err != nil || string(plain) != "whsec_x" {
			t.Fatalf("the database key no longer opens: %v", err)
		}
		if k2.Has(server.StoredSecretKeyID) {
			t.Fatal("the configured keyring was changed")
		}
	})
}
