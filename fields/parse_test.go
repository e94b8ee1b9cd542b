package fields_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/hubchantier/hubchantier/fields"
)

func TestParseEquivalentFormsGiveOneCanonicalSelection(t *testing.T) {
	allChantier := "id,nom,adresse,statut,budget_cents,responsable,taches,url"
	groups := []struct {
		name      string
		canonical string
		forms     []string
	}{
		{"flat list, id added, order and repeats ignored", "id,nom", []string{
			"nom", "id,nom", "nom,id", "nom,nom", "id,nom,id",
		}},
		{"dotted paths and groups", "id,responsable(id,nom,prenom)", []string{
			"responsable.nom,responsable.prenom",
			"responsable(prenom,nom)",
			"responsable(nom),responsable.prenom",
			"responsable(nom,prenom,id)",
			"id,responsable(prenom),responsable(nom)",
			"responsable.id,responsable.nom,responsable.prenom",
		}},
		{"a nested member alone is whole", "id,responsable", []string{
			"responsable",
			"responsable.*",
			"responsable(*)",
			"responsable(nom),responsable",
			"responsable(id,nom,prenom,email,entreprise)",
			"responsable(entreprise(*),email,id,nom,prenom)",
			"responsable(entreprise(nom,siret),email,nom,prenom)",
		}},
		{"two levels deep", "id,responsable(id,entreprise(id,nom))", []string{
			"responsable.entreprise.nom",
			"responsable(entreprise(nom))",
			"responsable(entreprise.nom)",
			"responsable.entreprise(nom,id)",
		}},
		{"everything", "*", []string{
			"", "*", "*,nom", "nom,*", "responsable(nom),*", allChantier,
			"id,nom,adresse,statut,budget_cents,responsable(*),taches.*,url",
		}},
		{"star inside a group", "id,nom,taches", []string{"nom,taches(*)", "taches.*,nom", "taches(titre,*),nom"}},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			first := mustParse(t, g.forms[0], chantierSchema)
			for _, form := range g.forms {
				sel := mustParse(t, form, chantierSchema)
				if got := sel.String(); got != g.canonical {
					t.Errorf("Parse(%q).String() = %q, want %q", form, got, g.canonical)
				}
				if !sel.Equal(first) {
					t.Errorf("Parse(%q) not Equal to Parse(%q)", form, g.forms[0])
				}
				again := mustParse(t, sel.String(), chantierSchema)
				if !again.Equal(sel) {
					t.Errorf("String() of %q does not re-parse to the same selection", form)
				}
			}
		})
	}
}

func TestParseDistinguishesDifferentSelections(t *testing.T) {
	exprs := []string{"nom", "statut", "nom,statut", "responsable", "responsable.nom", "responsable.entreprise", "taches.titre", "*"}
	seen := map[string]string{}
	for _, e := range exprs {
		s := mustParse(t, e, chantierSchema).String()
		if prev, dup := seen[s]; dup {
			t.Fatalf("%q and %q share the canonical form %q", prev, e, s)
		}
		seen[s] = e
	}
}

func TestParseRejects(t *testing.T) {
	long := strings.Repeat("nom,", 300) + "id"
	tests := []struct {
		name   string
		expr   string
		limits fields.Limits
		kind   error
		offset int
	}{
		{"empty name between commas", "id,,nom", fields.Limits{}, fields.ErrSyntax, 3},
		{"leading comma", ",id", fields.Limits{}, fields.ErrSyntax, 0},
		{"trailing comma", "id,", fields.Limits{}, fields.ErrSyntax, 3},
		{"lone open parenthesis", "(", fields.Limits{}, fields.ErrSyntax, 0},
		{"lone close parenthesis", ")", fields.Limits{}, fields.ErrSyntax, 0},
		{"unknown name before a syntax error", "a..b", fields.Limits{}, fields.ErrUnknownField, 0},
		{"double dot", "responsable..nom", fields.Limits{}, fields.ErrSyntax, 12},
		{"trailing dot", "responsable.", fields.Limits{}, fields.ErrSyntax, 12},
		{"leading dot", ".nom", fields.Limits{}, fields.ErrSyntax, 0},
		{"unclosed group at end", "responsable(", fields.Limits{}, fields.ErrSyntax, 12},
		{"unclosed group", "responsable(nom", fields.Limits{}, fields.ErrSyntax, 15},
		{"empty group", "responsable()", fields.Limits{}, fields.ErrSyntax, 12},
		{"unknown name with empty group", "a()", fields.Limits{}, fields.ErrUnknownField, 0},
		{"extra close parenthesis", "responsable(nom))", fields.Limits{}, fields.ErrSyntax, 16},
		{"close parenthesis at top level", "nom)", fields.Limits{}, fields.ErrSyntax, 3},
		{"dot before a group", "responsable.(nom)", fields.Limits{}, fields.ErrSyntax, 12},
		{"group after a group", "responsable(nom)(id)", fields.Limits{}, fields.ErrSyntax, 16},
		{"path after a group", "responsable(nom).id", fields.Limits{}, fields.ErrSyntax, 16},
		{"uppercase", "Nom", fields.Limits{}, fields.ErrSyntax, 0},
		{"uppercase inside a name names another field (camelCase)", "nOm", fields.Limits{}, fields.ErrUnknownField, 0},
		{"hyphen inside a name", "n-om", fields.Limits{}, fields.ErrSyntax, 1},
		{"digit first", "1id", fields.Limits{}, fields.ErrSyntax, 0},
		{"underscore first", "_id", fields.Limits{}, fields.ErrSyntax, 0},
		{"space", "id, nom", fields.Limits{}, fields.ErrSyntax, 3},
		{"non-ASCII", "nöm", fields.Limits{}, fields.ErrSyntax, 1},
		{"SQL injection attempt", "id;drop table chantiers", fields.Limits{}, fields.ErrSyntax, 2},
		{"quote", "nom'", fields.Limits{}, fields.ErrSyntax, 3},
		{"star with sub-fields", "*.nom", fields.Limits{}, fields.ErrSyntax, 1},
		{"star with a group", "*(nom)", fields.Limits{}, fields.ErrSyntax, 1},
		{"sub-field of a scalar", "nom.x", fields.Limits{}, fields.ErrNotNested, 3},
		{"group on a scalar", "statut(x)", fields.Limits{}, fields.ErrNotNested, 6},
		{"unknown field", "nmo", fields.Limits{}, fields.ErrUnknownField, 0},
		{"sensitive field", "password_hash", fields.Limits{}, fields.ErrUnknownField, 0},
		{"sensitive field through a path", "responsable.password_hash", fields.Limits{}, fields.ErrUnknownField, 12},
		{"sensitive field through a group", "id,responsable(nom,password_hash)", fields.Limits{}, fields.ErrUnknownField, 19},
		{"sensitive field two levels down", "responsable.entreprise.api_key_hash", fields.Limits{}, fields.ErrUnknownField, 23},
		{"too long", long, fields.Limits{}, fields.ErrTooLong, 1024},
		{"too long for custom limit", "id,nom", fields.Limits{MaxLength: 5}, fields.ErrTooLong, 5},
		{"too many names", "id,nom,adresse,statut", fields.Limits{MaxNames: 3}, fields.ErrTooMany, 15},
		{"too many names counts stars", "*,*,*,*", fields.Limits{MaxNames: 3}, fields.ErrTooMany, 6},
		{"too deep by path", "responsable.entreprise.nom", fields.Limits{MaxDepth: 2}, fields.ErrTooDeep, 22},
		{"too deep by group", "responsable(entreprise(nom))", fields.Limits{MaxDepth: 2}, fields.ErrTooDeep, 22},
		{"depth 1 allows no nesting", "responsable.nom", fields.Limits{MaxDepth: 1}, fields.ErrTooDeep, 11},
	}
	for _, tt := range tests {
		t.Run(tt.name+" → 400", func(t *testing.T) {
			sel, err := tt.limits.Parse(tt.expr, chantierSchema)
			if err == nil {
				t.Fatalf("Parse(%q) = %q, want an error", tt.expr, sel)
			}
			if !errors.Is(err, tt.kind) {
				t.Fatalf("Parse(%q) error %v, want kind %v", tt.expr, err, tt.kind)
			}
			if got := offsetOf(err); got != tt.offset {
				t.Fatalf("Parse(%q) error at byte %d, want %d (%v)", tt.expr, got, tt.offset, err)
			}
			p := fields.Problem(err)
			if p.Status != 400 {
				t.Fatalf("Problem status %d, want 400", p.Status)
			}
		})
	}
}

func offsetOf(err error) int {
	var pe *fields.ParseError
	if errors.As(err, &pe) {
		return pe.Offset
	}
	var ue *fields.UnknownFieldError
	if errors.As(err, &ue) {
		return ue.Offset
	}
	return -1
}

func TestParseErrorsSayWhy(t *testing.T) {
	tests := map[string]string{
		"id,,nom":         "fields: at byte 3: empty field name",
		"responsable()":   `fields: at byte 12: empty group after "responsable"`,
		"responsable(nom": "fields: at byte 15: missing ')' at end of input",
		"Nom":             "fields: at byte 0: field names are lowercase",
		"nom.x":           `fields: at byte 3: field "nom" has no sub-fields`,
		"nom;":            `fields: at byte 3: unexpected character ';'`,
		"responsable.nmo": `fields: at byte 12: unknown field "responsable.nmo" (did you mean "nom"?)`,
	}
	for expr, want := range tests {
		t.Run(expr, func(t *testing.T) {
			_, err := fields.Parse(expr, chantierSchema)
			if err == nil || err.Error() != want {
				t.Fatalf("Parse(%q) error = %v, want %q", expr, err, want)
			}
		})
	}
}

func TestUnknownFieldListsAllowedNamesAndSuggests(t *testing.T) {
	tests := []struct {
		expr       string
		path       string
		allowed    []string
		suggestion string
	}{
		{"nmo", "nmo", chantierSchema.Names(), "nom"},
		{"adrese", "adrese", chantierSchema.Names(), "adresse"},
		{"status", "status", chantierSchema.Names(), "statut"},
		{"responsable.prenon", "responsable.prenon", userSchema.Names(), "prenom"},
		{"responsable(entreprise(sirte))", "responsable.entreprise.sirte", entrepriseSchema.Names(), "siret"},
		{"password_hash", "password_hash", chantierSchema.Names(), ""},
		{"x", "x", chantierSchema.Names(), ""},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			_, err := fields.Parse(tt.expr, chantierSchema)
			var ue *fields.UnknownFieldError
			if !errors.As(err, &ue) {
				t.Fatalf("Parse(%q) error %v, want *UnknownFieldError", tt.expr, err)
			}
			if ue.Path != tt.path || ue.Suggestion != tt.suggestion || !slices.Equal(ue.Allowed, tt.allowed) {
				t.Fatalf("got path %q suggestion %q allowed %v; want %q %q %v", ue.Path, ue.Suggestion, ue.Allowed, tt.path, tt.suggestion, tt.allowed)
			}
		})
	}
}

func TestParseNilSchemaIsAnErrorNotAPanic(t *testing.T) {
	if _, err := fields.Parse("id", nil); !errors.Is(err, fields.ErrInvalidSchema) {
		t.Fatalf("got %v, want ErrInvalidSchema", err)
	}
}

func TestSelectionPushDown(t *testing.T) {
	tests := []struct {
		expr        string
		columns     []string
		allColumns  []string
		joins       []string
		respColumns []string
	}{
		{"nom", []string{"id", "nom"}, []string{"id", "nom"}, nil, nil},
		{"adresse", []string{"id", "rue", "ville"}, []string{"id", "rue", "ville"}, nil, nil},
		{"url", []string{"id"}, []string{"id"}, nil, nil},
		{"responsable.nom", []string{"id", "responsable_id"}, []string{"id", "responsable_id", "nom"}, []string{"Responsable"}, []string{"id", "nom"}},
		{"responsable(entreprise(nom))", []string{"id", "responsable_id"}, []string{"id", "responsable_id", "nom"}, []string{"Responsable", "Responsable.Entreprise"}, []string{"id"}},
		{"responsable", []string{"id", "responsable_id"}, []string{"id", "responsable_id", "nom", "prenom", "email", "siret"}, []string{"Responsable", "Responsable.Entreprise"}, []string{"id", "nom", "prenom", "email"}},
		{"taches", []string{"id"}, []string{"id", "titre", "fait"}, nil, nil},
		{"*", []string{"id", "nom", "rue", "ville", "statut", "budget_cents", "responsable_id"},
			[]string{"id", "nom", "rue", "ville", "statut", "budget_cents", "responsable_id", "prenom", "email", "siret", "titre", "fait"},
			[]string{"Responsable", "Responsable.Entreprise"}, []string{"id", "nom", "prenom", "email"}},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			sel := mustParse(t, tt.expr, chantierSchema)
			if got := sel.Columns(); !slices.Equal(got, tt.columns) {
				t.Errorf("Columns() = %v, want %v", got, tt.columns)
			}
			if got := sel.AllColumns(); !slices.Equal(got, tt.allColumns) {
				t.Errorf("AllColumns() = %v, want %v", got, tt.allColumns)
			}
			if got := sel.Joins(); !slices.Equal(got, tt.joins) {
				t.Errorf("Joins() = %v, want %v", got, tt.joins)
			}
			if got := sel.Sub("responsable").Columns(); !slices.Equal(got, tt.respColumns) {
				t.Errorf("Sub(responsable).Columns() = %v, want %v", got, tt.respColumns)
			}
		})
	}
}

func TestSelectionHasAndSub(t *testing.T) {
	sel := mustParse(t, "responsable(nom,entreprise.siret),taches", chantierSchema)
	for path, want := range map[string]bool{
		"id": true, "nom": false, "responsable": true, "responsable.id": true, "responsable.nom": true,
		"responsable.prenom": false, "responsable.entreprise": true, "responsable.entreprise.siret": true,
		"responsable.entreprise.nom": false, "taches": true, "taches.titre": true, "nope": false,
		"responsable.nope": false, "nom.x": false, "": false,
	} {
		if got := sel.Has(path); got != want {
			t.Errorf("Has(%q) = %v, want %v", path, got, want)
		}
	}
	if got := sel.Names(); !slices.Equal(got, []string{"id", "responsable", "taches"}) {
		t.Errorf("Names() = %v", got)
	}
	if sub := sel.Sub("taches"); !sub.IsAll() {
		t.Errorf("Sub(taches) = %q, want the full selection", sub)
	}
	if sel.Sub("nom") != nil || sel.Sub("statut") != nil {
		t.Error("Sub of an unselected or scalar member must be nil")
	}
	var none *fields.Selection
	if none.Has("id") || none.Columns() != nil || none.Joins() != nil || none.Sub("x") != nil || none.IsAll() || none.String() != "" {
		t.Error("a nil selection must select nothing")
	}
	if sel.IsAll() || !chantierSchema.All().IsAll() {
		t.Error("IsAll is wrong")
	}
}

func TestAlwaysOption(t *testing.T) {
	s := fields.MustSchema(fields.F("uuid", "uuid").With(fields.Always()), fields.F("nom", "nom"), fields.F("code", "code"))
	if got := mustParse(t, "nom", s).String(); got != "uuid,nom" {
		t.Fatalf("got %q, want uuid,nom", got)
	}
	noID := fields.MustSchema(fields.F("nom", "nom"), fields.F("code", "code"))
	if got := mustParse(t, "code", noID).String(); got != "code" {
		t.Fatalf("got %q, want code", got)
	}
}

func TestNewSchemaRejectsMisdeclarations(t *testing.T) {
	tests := map[string][]fields.Field{
		"no fields":         nil,
		"uppercase name":    {fields.F("Nom", "nom")},
		"empty name":        {fields.F("", "x")},
		"name with a dot":   {fields.F("a.b", "x")},
		"star":              {fields.F("*")},
		"duplicate":         {fields.F("nom", "a"), fields.F("nom", "b")},
		"nil nested schema": {fields.Nested("responsable", nil)},
		"empty column":      {fields.F("nom", "")},
		"control character": {fields.F("nom", "nom\n")},
		"empty join":        {fields.Nested("responsable", userSchema, fields.Join(" "))},
	}
	for name, decl := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := fields.NewSchema(decl...); !errors.Is(err, fields.ErrInvalidSchema) {
				t.Fatalf("NewSchema error %v, want ErrInvalidSchema", err)
			}
			defer func() {
				if recover() == nil {
					t.Fatal("MustSchema did not panic")
				}
			}()
			fields.MustSchema(decl...)
		})
	}
}

func TestSchemaDescribesItself(t *testing.T) {
	if got := userSchema.Names(); !slices.Equal(got, []string{"id", "nom", "prenom", "email", "entreprise"}) {
		t.Fatalf("Names() = %v", got)
	}
	want := []string{"id", "nom", "prenom", "email", "entreprise", "entreprise.id", "entreprise.nom", "entreprise.siret"}
	if got := userSchema.Paths(); !slices.Equal(got, want) {
		t.Fatalf("Paths() = %v, want %v", got, want)
	}
	if userSchema.Nested("entreprise") != entrepriseSchema || userSchema.Nested("nom") != nil {
		t.Fatal("Nested lookup is wrong")
	}
	// Every documented path parses, alone.
	for _, p := range chantierSchema.Paths() {
		mustParse(t, p, chantierSchema)
	}
}
