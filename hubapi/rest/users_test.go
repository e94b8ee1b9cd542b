package rest_test

import (
	"testing"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/server"
)

var userSeq int

// newUser creates a user of role with an API key holding every scope the
// role allows.
func newUser(t *testing.T, srv *server.Server, role hubapi.Role) (*hubapi.User, string) {
	t.Helper()
	userSeq++
	u := &hubapi.User{Email: "u" + itoa(int64(userSeq)) + "-" + string(role) + "@test.fr", Role: role}
	if err := srv.Operator.CreateUser(t.Context(), u, ""); err != nil {
		t.Fatal(err)
	}
	_, key, err := srv.Operator.IssueAPIKey(t.Context(), hubapi.APIKeyInput{UserID: u.ID, Name: "k", Scopes: hubapi.RoleScopes(role)})
	if err != nil {
		t.Fatal(err)
	}
	return u, key
}
