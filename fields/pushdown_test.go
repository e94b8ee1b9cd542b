package fields_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/uptrace/bun"

	"github.com/hubchantier/hubchantier/fields"
	"github.com/hubchantier/hubchantier/internal/testenv"
)

// Storage models, as a store package would declare them. They hold columns
// that must never reach a client (password_hash, secret_note).

type entrepriseRow struct {
	bun.BaseModel `bun:"table:entreprises,alias:e"`
	ID            int64  `bun:"id,pk,autoincrement"`
	Nom           string `bun:"nom,notnull"`
	Siret         string `bun:"siret,notnull"`
}

type userRow struct {
	bun.BaseModel `bun:"table:users,alias:u"`
	ID            int64          `bun:"id,pk,autoincrement"`
	Nom           string         `bun:"nom,notnull"`
	Prenom        string         `bun:"prenom,notnull"`
	Email         string         `bun:"email,notnull"`
	PasswordHash  string         `bun:"password_hash,notnull"`
	EntrepriseID  *int64         `bun:"entreprise_id"`
	Entreprise    *entrepriseRow `bun:"rel:belongs-to,join:entreprise_id=id"`
}

type chantierRow struct {
	bun.BaseModel `bun:"table:chantiers,alias:c"`
	ID            int64    `bun:"id,pk,autoincrement"`
	Nom           string   `bun:"nom,notnull"`
	Rue           string   `bun:"rue,notnull"`
	Ville         string   `bun:"ville,notnull"`
	Statut        string   `bun:"statut,notnull"`
	BudgetCents   int64    `bun:"budget_cents,notnull"`
	SecretNote    string   `bun:"secret_note,notnull"`
	ResponsableID *int64   `bun:"responsable_id"`
	Responsable   *userRow `bun:"rel:belongs-to,join:responsable_id=id"`
}

// The schemas of the API, with bun relation names as joins and bare column
// names (bun qualifies them with the right alias, also inside relations).
var (
	dbEntrepriseSchema = fields.MustSchema(fields.F("id", "id"), fields.F("nom", "nom"), fields.F("siret", "siret"))
	dbUserSchema       = fields.MustSchema(fields.F("id", "id"), fields.F("nom", "nom"), fields.F("prenom", "prenom"),
		fields.F("email", "email"),
		fields.Nested("entreprise", dbEntrepriseSchema, fields.Join("Responsable.Entreprise"), fields.Columns("entreprise_id")))
	dbChantierSchema = fields.MustSchema(fields.F("id", "id"), fields.F("nom", "nom"), fields.F("adresse", "rue", "ville"),
		fields.F("statut", "statut"), fields.F("budget_cents", "budget_cents"),
		fields.Nested("responsable", dbUserSchema, fields.Join("Responsable"), fields.Columns("responsable_id")),
		fields.F("url"))
)

// pushDown is the recipe documented in the README: the selected columns, and
// one relation per selected nested member with only its selected columns.
func pushDown(q *bun.SelectQuery, sel *fields.Selection) *bun.SelectQuery {
	for _, sub := range sel.Subs() {
		cols := sub.Selection.Columns()
		for _, rel := range sub.Joins {
			q = q.Relation(rel, func(q *bun.SelectQuery) *bun.SelectQuery { return q.Column(cols...) })
		}
		q = pushDown(q, sub.Selection)
	}
	return q
}

func listChantiers(ctx context.Context, db bun.IDB, sel *fields.Selection, limit int) ([]chantierRow, string, error) {
	var rows []chantierRow
	q := db.NewSelect().Model(&rows).Column(sel.Columns()...)
	q = pushDown(q, sel).OrderExpr("c.id").Limit(int64(limit))
	query := q.String()
	return rows, query, q.Scan(ctx)
}

// toDTO maps a row to the v1 representation; members that were not read
// are left at their zero value and projected away.
func toDTO(r chantierRow) chantierDTO {
	d := chantierDTO{ID: r.ID, Nom: r.Nom, Adresse: adresseDTO{Rue: r.Rue, Ville: r.Ville}, Statut: r.Statut,
		BudgetCents: r.BudgetCents, URL: fmt.Sprintf("/api/v1/chantiers/%d", r.ID)}
	if r.ResponsableID != nil && r.Responsable != nil {
		u := r.Responsable
		d.Responsable = &userDTO{ID: u.ID, Nom: u.Nom, Prenom: u.Prenom, Email: u.Email}
		if u.EntrepriseID != nil && u.Entreprise != nil {
			d.Responsable.Entreprise = &entrepriseDTO{ID: u.Entreprise.ID, Nom: u.Entreprise.Nom, Siret: u.Entreprise.Siret}
		}
	}
	return d
}

// dbChantierDTO is chantierDTO without the taches member, which this schema
// does not have.
type dbChantierDTO struct {
	ID          int64      `json:"id"`
	Nom         string     `json:"nom"`
	Adresse     adresseDTO `json:"adresse"`
	Statut      string     `json:"statut"`
	BudgetCents int64      `json:"budget_cents"`
	Responsable *userDTO   `json:"responsable"`
	URL         string     `json:"url"`
}

func toDBDTOs(rows []chantierRow) []dbChantierDTO {
	out := make([]dbChantierDTO, len(rows))
	for i, r := range rows {
		d := toDTO(r)
		out[i] = dbChantierDTO{d.ID, d.Nom, d.Adresse, d.Statut, d.BudgetCents, d.Responsable, d.URL}
	}
	return out
}

// fakeHash stands for a stored password hash: a column no selection may read.
func fakeHash(n int) string { return fmt.Sprintf("argon2id-%d", n) }

func seed(t *testing.T, ctx context.Context, db bun.IDB) {
	t.Helper()
	for _, m := range []any{(*entrepriseRow)(nil), (*userRow)(nil), (*chantierRow)(nil)} {
		if _, err := db.NewCreateTable().Model(m).Exec(ctx); err != nil {
			t.Fatal(err)
		}
	}
	ents := []entrepriseRow{{Nom: "BTP Rhône", Siret: "12345678901234"}}
	if _, err := db.NewInsert().Model(&ents).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	users := []userRow{
		{Nom: "Martin", Prenom: "Léa", Email: "lea@example.fr", PasswordHash: fakeHash(1), EntrepriseID: &ents[0].ID},
		{Nom: "Durand", Prenom: "Paul", Email: "paul@example.fr", PasswordHash: fakeHash(2)},
	}
	if _, err := db.NewInsert().Model(&users).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	var chantiers []chantierRow
	for i := range 6 {
		c := chantierRow{Nom: fmt.Sprintf("Chantier %d", i+1), Rue: "1 rue X", Ville: "Lyon", Statut: "en_cours",
			BudgetCents: int64(1000 * (i + 1)), SecretNote: "internal"}
		switch i % 3 {
		case 0:
			c.ResponsableID = &users[0].ID
		case 1:
			c.ResponsableID = &users[1].ID
		}
		chantiers = append(chantiers, c)
	}
	if _, err := db.NewInsert().Model(&chantiers).Exec(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestPushDownReadsOnlySelectedColumnsAndProjectsExactly(t *testing.T) {
	allColumns := []string{"nom", "rue", "ville", "statut", "budget_cents", "responsable_id", "prenom", "email", "entreprise_id", "siret"}
	testenv.EachDB(t, func(t *testing.T, db *testenv.DB) {
		ctx := context.Background()
		seed(t, ctx, db)
		fullRows, fullSQL, err := listChantiers(ctx, db, dbChantierSchema.All(), 100)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(fullSQL, "password_hash") || strings.Contains(fullSQL, "secret_note") {
			t.Fatalf("the full selection reads undeclared columns: %s", fullSQL)
		}
		if len(fullRows) != 6 {
			t.Fatalf("%d rows", len(fullRows))
		}
		full := toGeneric(t, toDBDTOs(fullRows))
		if err := dbChantierSchema.Check(toDBDTOs(fullRows)); err != nil {
			t.Fatal(err)
		}

		tests := []struct {
			expr  string
			joins int // relations joined
		}{
			{"nom", 0},
			{"id", 0},
			{"adresse,statut", 0},
			{"url", 0},
			{"nom,responsable.nom", 1},
			{"responsable(prenom,email)", 1},
			{"responsable", 2},
			{"responsable.entreprise.siret", 2},
			{"nom,responsable(nom,entreprise(nom))", 2},
			{"*", 2},
		}
		for _, tt := range tests {
			t.Run(tt.expr, func(t *testing.T) {
				sel := mustParse(t, tt.expr, dbChantierSchema)
				rows, query, err := listChantiers(ctx, db, sel, 100)
				if err != nil {
					t.Fatal(err)
				}
				read := sel.AllColumns()
				for _, col := range allColumns {
					if quoted := `"` + col + `"`; strings.Contains(query, quoted) != slices.Contains(read, col) {
						t.Errorf("column %s read=%v, selected=%v: %s", col, strings.Contains(query, quoted), slices.Contains(read, col), query)
					}
				}
				if n := strings.Count(query, "LEFT JOIN"); n != tt.joins {
					t.Errorf("%d joins, want %d: %s", n, tt.joins, query)
				}

				rec := httptest.NewRecorder()
				if err := fields.Write(rec, http.StatusOK, toDBDTOs(rows), sel); err != nil {
					t.Fatal(err)
				}
				assertJSONEqual(t, rec.Body.Bytes(), reference(full, sel))
			})
		}
	})
}
