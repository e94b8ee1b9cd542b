package server

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/store"
	"github.com/hubchantier/hubchantier/secretbox"
)

// secretKeyName is the server_secrets row of the generated secret key, and
// StoredSecretKeyID the id it has in the keyring.
const (
	secretKeyName     = "secret_key"
	StoredSecretKeyID = "db"
)

// SecretKeyring returns the keyring that seals the secrets the server reads
// back (webhook signing secrets):
//   - configured (HUB_SECRET_KEYS) nil: a key generated once and kept in the
//     database (server_secrets), shared by every instance and command on
//     that database; a warning says that production should set
//     HUB_SECRET_KEYS, since whoever reads the database can then open the
//     secrets;
//   - configured set: its keys (its current key seals), plus the key kept in
//     the database when there is one and configured has no key of id "db",
//     to open (never seal) what was sealed before HUB_SECRET_KEYS was set,
//     until `hubchantier secrets reseal` has moved it to the current key.
//
// cmd/hubchantier uses it too, so that the CLI and the servers agree.
func SecretKeyring(ctx context.Context, db *store.DB, configured *secretbox.Keyring, log *slog.Logger) (*secretbox.Keyring, error) {
	if configured == nil {
		k, err := db.SharedSecret(ctx, secretKeyName, func() ([]byte, error) {
			return base64.StdEncoding.DecodeString(secretbox.GenerateKey())
		})
		if err != nil {
			return nil, fmt.Errorf("secret key (set %s, or let the server keep one in the database): %w", EnvSecretKeys, err)
		}
		log.Warn("secrets (webhook signing secrets) sealed with a key kept in the database (server_secrets): whoever reads the database can open them; set " +
			EnvSecretKeys + " in production (see docs/OPERATIONS.md)")
		return secretbox.NewKeyring(secretbox.Key{ID: StoredSecretKeyID, Key: k})
	}
	ring := configured
	if !configured.Has(StoredSecretKeyID) {
		stored, err := db.StoredSecret(ctx, secretKeyName)
		switch {
		case errors.Is(err, hubapi.ErrNotFound):
		case err != nil:
			// The server starts while the database is down (it answers 503
			// until it is back): the configured keys open what was sealed
			// since HUB_SECRET_KEYS was set.
			log.Warn("the secret key kept in the database could not be read; secrets sealed with it (key id "+StoredSecretKeyID+
				") do not open until a restart", slog.String("error", err.Error()))
		default:
			if ring, err = configured.WithOpeners(secretbox.Key{ID: StoredSecretKeyID, Key: stored}); err != nil {
				return nil, fmt.Errorf("secret key kept in the database (server_secrets): %w", err)
			}
		}
	}
	log.Info("secrets sealed with "+EnvSecretKeys, slog.String("current_key_id", ring.CurrentKeyID()))
	return ring, nil
}
