package rest

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/hubchantier/hubchantier/hubapi"
)

// BenchmarkV2Page measures what v2 adds to a list: encoding a page of 20
// chantiers in v1 form, then renaming it to v2 (v1JSON alone is the v1 cost).
func BenchmarkV2Page(b *testing.B) {
	items := make([]hubapi.Chantier, 20)
	for i := range items {
		items[i] = hubapi.Chantier{ID: int64(i + 1), Code: fmt.Sprintf("C%d", i), Nom: "Tour de bureaux", Adresse: "1 rue de la Paix",
			Ville: "Lyon", CodePostal: "69001", Statut: hubapi.ChantierEnCours, CreatedAt: time.Now(), UpdatedAt: time.Now(), Version: 3}
	}
	body := struct {
		Data       []hubapi.Chantier `json:"data"`
		Pagination map[string]any    `json:"pagination"`
	}{items, map[string]any{"next_cursor": "abc", "prev_cursor": nil, "has_more": true}}
	d := pageDTO(chantierDTO)
	b.Run("v1JSON", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(body); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("v2JSON", func(b *testing.B) {
		a := &API{v2: true}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := a.v2JSON(body, d); err != nil {
				b.Fatal(err)
			}
		}
	})
}
