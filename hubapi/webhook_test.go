package hubapi_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/hubchantier/hubchantier/hubapi"
)

func TestWebhookInputValidate(t *testing.T) {
	ok := hubapi.WebhookInput{URL: "https://hooks.example.com/", EventTypes: []string{"chantier.created"}}
	for _, c := range []struct {
		name, field string
		edit        func(*hubapi.WebhookInput)
	}{
		{"no URL", "url", func(in *hubapi.WebhookInput) { in.URL = "" }},
		{"URL over 2048 bytes", "url", func(in *hubapi.WebhookInput) { in.URL = "https://a.example/" + strings.Repeat("a", 2048) }},
		{"URL with a line break", "url", func(in *hubapi.WebhookInput) { in.URL = "https://a.example/\nx" }},
		{"no event type", "event_types", func(in *hubapi.WebhookInput) { in.EventTypes = nil }},
		{"unknown event type", "event_types", func(in *hubapi.WebhookInput) { in.EventTypes = []string{"chantier.created", "nope"} }},
		{"ping is not subscribable", "event_types", func(in *hubapi.WebhookInput) { in.EventTypes = []string{"ping"} }},
		{"* with another type", "event_types", func(in *hubapi.WebhookInput) { in.EventTypes = []string{"*", "chantier.created"} }},
		{"description of 501 characters", "description", func(in *hubapi.WebhookInput) { in.Description = strings.Repeat("é", 501) }},
	} {
		t.Run(c.name+" → "+c.field, func(t *testing.T) {
			in := ok
			c.edit(&in)
			in.Normalize()
			err := in.Validate()
			if ve, isVE := err.(*hubapi.ValidationError); !isVE || ve.Fields[c.field] == "" {
				t.Fatalf("got %v", err)
			}
		})
	}
	in := hubapi.WebhookInput{URL: " https://a.example/ ", EventTypes: []string{"signalement.urgent", " chantier.created", "signalement.urgent"},
		Description: strings.Repeat("é", 500)}
	in.Normalize()
	if err := in.Validate(); err != nil || in.URL != "https://a.example/" || !slices.Equal(in.EventTypes, []string{"chantier.created", "signalement.urgent"}) {
		t.Fatalf("%+v %v", in, err)
	}
	w := hubapi.WebhookSubscription{EventTypes: hubapi.JoinEventTypes(in.EventTypes)}
	if !w.Wants(hubapi.EventChantierCreated) || w.Wants(hubapi.EventChantierDeleted) {
		t.Fatal("Wants")
	}
	if all := (hubapi.WebhookSubscription{EventTypes: "*"}); !all.Wants(hubapi.EventAffectationDeleted) {
		t.Fatal("* wants every type")
	}
}

// FuzzWebhookInput decodes a client's body into a WebhookInput, normalizes
// and validates it: never a panic, and what passes names only known event
// types (or "*" alone), a URL of valid text and a description within bounds.
func FuzzWebhookInput(f *testing.F) {
	for _, s := range []string{
		`{"url":"https://a.example/","event_types":["chantier.created"]}`,
		`{"url":"https://a.example/","event_types":["*"],"description":"ERP","enabled":false}`,
		`{"url":"","event_types":[]}`,
		`{"url":"https://a.example/","event_types":["*","chantier.created"]}`,
		`{"url":"https://a.example/\u0000","event_types":[" signalement.urgent ","signalement.urgent"]}`,
		`{"event_types":["\ud800"]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var in hubapi.WebhookInput
		if json.Unmarshal(body, &in) != nil {
			return
		}
		in.Normalize()
		if err := in.Validate(); err != nil {
			if _, ok := err.(*hubapi.ValidationError); !ok {
				t.Fatalf("not a validation error: %v", err)
			}
			return
		}
		if in.URL == "" || len(in.URL) > hubapi.MaxWebhookURL || hubapi.TextProblem(in.URL) != "" || utf8.RuneCountInString(in.Description) > hubapi.MaxWebhookDescription {
			t.Fatalf("accepted %+v", in)
		}
		if slices.Contains(in.EventTypes, hubapi.WebhookAllEvents) && len(in.EventTypes) != 1 {
			t.Fatalf("accepted * with others: %v", in.EventTypes)
		}
		for _, et := range in.EventTypes {
			if et != hubapi.WebhookAllEvents && !slices.Contains(hubapi.WebhookEventTypes, hubapi.EventType(et)) {
				t.Fatalf("accepted unknown type %q", et)
			}
		}
	})
}
