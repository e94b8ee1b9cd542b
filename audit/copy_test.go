package audit

import (
	"context"
	"testing"
	"time"

	"github.com/hubchantier/hubchantier/internal/testenv"
)

// TestWriterBatchesAreCopied checks the writer's path on PostgreSQL: a
// batch appended on the store's database goes through COPY (its IDs are
// not read back), stores every field as the single-event path does, and
// the chain verifies across both paths.
func TestWriterBatchesAreCopied(t *testing.T) {
	db := testenv.Postgres(t)
	ctx := context.Background()
	if err := CreateSchema(ctx, db.DB); err != nil {
		t.Fatal(err)
	}
	s := NewStore(db.DB)
	if err := s.EnsurePartition(ctx, time.Now()); err != nil {
		t.Fatal(err)
	}
	mk := func(action string) *Event {
		return &Event{Stage: StageResponse, UserID: 7, APIKeyID: 3, OAuthClient: "app", Action: action, ResourceType: "chantiers",
			ResourceID: "12", Method: "GET", Route: "/api/v1/chantiers/{id}", Status: 404, ClientIP: "203.0.113.7", UserAgent: "curl/8",
			RequestID: "r-" + action, BodySHA256: "ab"}
	}
	single := mk("one")
	if err := s.Append(ctx, s.DB(), single); err != nil {
		t.Fatal(err)
	}
	batch := []*Event{mk("two"), {Stage: StageChange, Action: "create_chantier", Changes: `{"before":null,"after":{"nom":"N"}}`}, mk("four")}
	if err := s.Append(ctx, s.DB(), batch...); err != nil {
		t.Fatal(err)
	}
	if single.ID == 0 || batch[0].ID != 0 || batch[0].Seq != single.Seq+1 || batch[2].Seq != single.Seq+3 {
		t.Fatalf("single id %d seq %d; batch ids %d, seqs %d..%d (the batch should be copied)", single.ID, single.Seq, batch[0].ID, batch[0].Seq, batch[2].Seq)
	}
	got, _, err := s.List(ctx, Filter{}, Page{Limit: 10})
	if err != nil || len(got) != 4 {
		t.Fatalf("%d events, err %v", len(got), err)
	}
	byAction := map[string]Event{}
	for _, e := range got {
		byAction[e.Action] = e
	}
	one, two, change := byAction["one"], byAction["two"], byAction["create_chantier"]
	if two.UserID != 7 || two.APIKeyID != 3 || two.Status != 404 || two.Route != one.Route || two.ClientIP != one.ClientIP ||
		two.UserAgent != "curl/8" || two.OAuthClient != "app" || !two.Time.Equal(batch[0].Time) || two.PIIDigest == "" {
		t.Errorf("copied event %+v\nsingle %+v", two, one)
	}
	if change.UserID != 0 || change.Changes != `{"before":null,"after":{"nom":"N"}}` || change.ChangesDigest == "" {
		t.Errorf("copied change %+v", change)
	}
	if b, err := s.Verify(ctx, time.Time{}, time.Time{}, ""); err != nil || b != nil {
		t.Fatalf("verify: %v %v", b, err)
	}
}
