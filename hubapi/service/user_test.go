package service_test

import (
	"errors"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/blob"
	"github.com/hubchantier/hubchantier/hubapi/service"
	"github.com/hubchantier/hubchantier/hubapi/store"
	"github.com/hubchantier/hubchantier/internal/testenv"
)

// A user's password is stored only as a bcrypt hash, and the stored row
// holds nothing that reveals it.
func TestUserPasswordsAreStoredAsBcryptHashes(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, tdb *testenv.DB) {
		db := store.Wrap(tdb.DB)
		if err := db.Migrate(t.Context()); err != nil {
			t.Fatal(err)
		}
		blobs, err := blob.NewDir(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		op := service.NewOperator(service.New(db, blobs))
		const password = "correct horse battery staple"
		u := &hubapi.User{Email: "hash@test.fr", Role: hubapi.RoleConducteur}
		if err := op.CreateUser(t.Context(), u, password); err != nil {
			t.Fatal(err)
		}
		stored, err := op.FindUserByEmail(t.Context(), "hash@test.fr")
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(stored.PasswordHash, password) {
			t.Fatal("the password is stored in clear")
		}
		if cost, err := bcrypt.Cost([]byte(stored.PasswordHash)); err != nil || cost < bcrypt.DefaultCost {
			t.Fatalf("not a bcrypt hash of cost >= %d: cost %d, %v", bcrypt.DefaultCost, cost, err)
		}
		if bcrypt.CompareHashAndPassword([]byte(stored.PasswordHash), []byte(password)) != nil {
			t.Fatal("the hash does not verify the password")
		}
		if bcrypt.CompareHashAndPassword([]byte(stored.PasswordHash), []byte(password+"!")) == nil {
			t.Fatal("the hash verifies another password")
		}
		// Too short a password is refused, naming the field.
		var ve *hubapi.ValidationError
		err = op.CreateUser(t.Context(), &hubapi.User{Email: "short@test.fr", Role: hubapi.RoleCompagnon}, "short")
		if !errors.As(err, &ve) || ve.Fields["password"] == "" {
			t.Fatalf("short password: %v", err)
		}
	})
}
