package gcal_test

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"golang.org/x/oauth2"

	"github.com/hubchantier/hubchantier/connectors"
	"github.com/hubchantier/hubchantier/connectors/gcal"
	"github.com/hubchantier/hubchantier/connectors/gcal/fake"
)

// An affectation pushed to a calendar by a program of its own: the OAuth
// tokens come from a connectors.TokenStore (here in memory, already
// authorized), handed to the connector's calls through the context.
func Example() {
	google := fake.New("client-id", "client-secret") // Google, for the example
	defer google.Close()
	reg := connectors.NewRegistry().AllowBaseURLOverride()
	_ = gcal.RegisterWith(reg, gcal.OAuth(google.AuthURL(), google.TokenURL()))
	c, spec, _ := reg.New(gcal.Type, connectors.Options{BaseURL: google.URL})

	access, refresh := google.Issue(time.Hour)
	store := &memTokens{tok: &oauth2.Token{AccessToken: access, RefreshToken: refresh, Expiry: time.Now().Add(time.Hour)}}
	tokens := &connectors.Tokens{Config: spec.OAuth.Config("client-id", "client-secret", "https://app.example/connected"), Store: store}
	ctx := connectors.WithTokenSource(context.Background(), tokens.Source("planning"))

	cfg := connectors.Config{Settings: map[string]string{"calendar_id": "primary", "time_zone": "Europe/Paris"}}
	data, _ := json.Marshal(map[string]any{"id": 12, "user_id": 4, "chantier_id": 7, "date": "2026-12-14", "heure_debut": "08:00", "heure_fin": "17:00"})
	if err := c.HandleEvent(ctx, cfg, connectors.Event{Type: gcal.EventAffectationCreated, Data: data}); err != nil {
		fmt.Println(err)
		return
	}
	ev := google.Events("primary")[gcal.EventID(12)]
	fmt.Println(ev.Summary, ev.Start.DateTime, ev.End.DateTime)
	// Output: Chantier 7 2026-12-14T08:00:00+01:00 2026-12-14T17:00:00+01:00
}
