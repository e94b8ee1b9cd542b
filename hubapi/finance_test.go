package hubapi_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/hubchantier/hubchantier/hubapi"
)

func TestFinanceInputs(t *testing.T) {
	src, id := "sage100", "C1"
	for _, tc := range []struct {
		name  string
		in    interface{ Validate() error }
		field string
	}{
		{"client with only a nom → valid", &hubapi.ClientInput{Nom: "Dupont"}, ""},
		{"client without nom → nom", &hubapi.ClientInput{}, "nom"},
		{"client siret of 13 digits → siret", &hubapi.ClientInput{Nom: "x", Siret: "1234567890123"}, "siret"},
		{"client vendor source without id → external_id", &hubapi.ClientInput{Nom: "x", ExternalSource: &src}, "external_id"},
		{"client vendor reference → valid", &hubapi.ClientInput{Nom: "x", ExternalSource: &src, ExternalID: &id}, ""},
		{"facture without chantier → chantier_id", &hubapi.FactureInput{Statut: hubapi.FactureBrouillon}, "chantier_id"},
		{"facture amount beyond 10^13 cents → montant_ht_cents", &hubapi.FactureInput{ChantierID: 1, Statut: hubapi.FactureEmise, MontantHTCents: hubapi.MaxAmountCents + 1}, "montant_ht_cents"},
		{"facture period backwards → periode_fin", &hubapi.FactureInput{ChantierID: 1, Statut: hubapi.FactureEmise,
			PeriodeDebut: hubapi.NewDate(2026, 2, 1), PeriodeFin: hubapi.NewDate(2026, 1, 1)}, "periode_fin"},
		{"depense without date → date", &hubapi.DepenseInput{Libelle: "x"}, "date"},
		{"depense → valid", &hubapi.DepenseInput{Libelle: "x", Date: hubapi.NewDate(2026, 1, 1), MontantCents: -500}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.in.Validate()
			var ve *hubapi.ValidationError
			switch {
			case tc.field == "" && err != nil:
				t.Fatalf("want valid, got %v", err)
			case tc.field != "" && (!errors.As(err, &ve) || ve.Fields[tc.field] == ""):
				t.Fatalf("want an error on %s, got %v", tc.field, err)
			}
		})
	}
	f := hubapi.Facture{}
	f.Apply(hubapi.FactureInput{MontantHTCents: 1000, TVACents: 200})
	if f.MontantTTCCents != 1200 {
		t.Errorf("TTC %d", f.MontantTTCCents)
	}
}

// FuzzFinanceInputs: any JSON body decoded into an input normalizes and
// validates without panicking; what validates keeps within the bounds.
func FuzzFinanceInputs(f *testing.F) {
	f.Add(`{"nom":"Dupont","siret":"732 829 320 00074","external_source":" sage100 ","external_id":"C1"}`)
	f.Add(`{"chantier_id":1,"montant_ht_cents":9223372036854775807,"tva_cents":1}`)
	f.Add(`{"date":"2026-11-01","libelle":"\u202e","montant_cents":-1,"chantier_id":null}`)
	f.Fuzz(func(t *testing.T, body string) {
		var c hubapi.ClientInput
		if json.Unmarshal([]byte(body), &c) == nil {
			c.Normalize()
			if c.Validate() == nil && (c.Nom == "" || (c.ExternalSource == nil) != (c.ExternalID == nil)) {
				t.Fatalf("invalid client accepted: %+v", c)
			}
		}
		var fa hubapi.FactureInput
		if json.Unmarshal([]byte(body), &fa) == nil {
			fa.Normalize()
			if fa.Validate() == nil {
				var m hubapi.Facture
				m.Apply(fa)
				if m.MontantTTCCents != fa.MontantHTCents+fa.TVACents || fa.MontantHTCents > hubapi.MaxAmountCents || fa.ChantierID <= 0 {
					t.Fatalf("invalid facture accepted: %+v", fa)
				}
			}
		}
		var d hubapi.DepenseInput
		if json.Unmarshal([]byte(body), &d) == nil {
			d.Normalize()
			if d.Validate() == nil && (d.Libelle == "" || d.Date.IsZero()) {
				t.Fatalf("invalid depense accepted: %+v", d)
			}
		}
	})
}
