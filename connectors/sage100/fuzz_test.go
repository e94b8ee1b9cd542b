package sage100_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/hubchantier/hubchantier/connectors"
	"github.com/hubchantier/hubchantier/connectors/sage100"
)

// FuzzSyncVendorAnswer: whatever a vendor (or something posing as it)
// answers, and whatever checkpoint is stored, Sync never panics; it
// answers a classified error, or records whose data is JSON and a
// checkpoint that the next call reads back.
func FuzzSyncVendorAnswer(f *testing.F) {
	f.Add(`{"value":[{"numero":"C1","intitule":"A","type":"Client","dateModification":"2026-11-01T08:00:01Z"}]}`, ``)
	f.Add(`{"value":[{"numero":"C2","dateModification":"2026-11-01T08:00:01Z"},{"numero":"C1","dateModification":"2026-11-01T08:00:01Z"}]}`, `{"stream":"tiers"}`)
	f.Add(`{"value":[{"code":"A'1","intitule":"\u0000","dateModification":"x"}]}`, `{"stream":"affaires","affaires":{"t":"2026-11-01T08:00:00Z","k":"A"}}`)
	f.Add(`{"value":null,"@odata.nextLink":"http://x"}`, `{"stream":"nope"}`)
	f.Fuzz(func(t *testing.T, body, state string) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(body))
		}))
		defer srv.Close()
		c, err := sage100.New(connectors.Options{BaseURL: srv.URL, HTTPClient: &http.Client{Timeout: 5 * time.Second}})
		if err != nil {
			t.Fatal(err)
		}
		cfg := connectors.Config{Settings: map[string]string{"company_id": "X"}, Secrets: map[string]string{"api_key": "k"}}
		res, next, err := c.Sync(t.Context(), cfg, connectors.State(state))
		if err != nil {
			var e *connectors.Error
			if !errors.As(err, &e) {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		for _, r := range res.Records {
			if r.ID == "" || !json.Valid(r.Data) {
				t.Fatalf("record %+v", r)
			}
		}
		if _, _, err := c.Sync(t.Context(), cfg, next); err != nil {
			if e := connectors.AsError(err); e.Msg == "unreadable checkpoint" {
				t.Fatalf("the checkpoint %s does not read back", next)
			}
		}
	})
}
