package audit_test

import (
	"context"
	"testing"

	"github.com/hubchantier/hubchantier/audit"
	"github.com/hubchantier/hubchantier/internal/testenv"
)

func newStore(t *testing.T, db *testenv.DB, opts ...audit.Option) *audit.Store {
	t.Helper()
	if err := audit.CreateSchema(context.Background(), db.DB); err != nil {
		t.Fatal(err)
	}
	sg, err := audit.NewSigner(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	return audit.NewStore(db.DB, append([]audit.Option{audit.WithSigner(sg)}, opts...)...)
}

func event(user int64, action string) *audit.Event {
	return &audit.Event{Stage: audit.StageResponse, UserID: user, Action: action, Method: "GET", Route: "/api/v1/chantiers",
		Status: 200, ClientIP: "203.0.113.7", UserAgent: "curl/8", RequestID: "req-" + action}
}

func appendN(t *testing.T, s *audit.Store, n int, user int64) {
	t.Helper()
	for i := range n {
		if err := s.Append(context.Background(), s.DB(), event(user, "read_"+string(rune('a'+i%26)))); err != nil {
			t.Fatal(err)
		}
	}
}
