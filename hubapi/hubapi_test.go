package hubapi_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/hubchantier/hubchantier/hubapi"
)

func TestAPIKeyFormat(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 200; i++ {
		k, err := hubapi.NewAPIKeySecret()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(k, "hck_") || len(k) != hubapi.APIKeyLen || !hubapi.WellFormedAPIKey(k) {
			t.Fatalf("bad key %q", k)
		}
		if seen[k] {
			t.Fatal("duplicate key")
		}
		seen[k] = true
	}
	k, _ := hubapi.NewAPIKeySecret()
	for name, bad := range map[string]string{
		"empty":           "",
		"no prefix":       "xxx_" + k[4:],
		"truncated":       k[:len(k)-1],
		"extra char":      k + "A",
		"flipped char":    k[:10] + flip(k[10]) + k[11:],
		"flipped check":   k[:len(k)-1] + flip(k[len(k)-1]),
		"non base62 char": k[:10] + "-" + k[11:],
	} {
		if hubapi.WellFormedAPIKey(bad) {
			t.Errorf("%s: %q accepted", name, bad)
		}
	}
	if hubapi.HashAPIKey(k) == hubapi.HashAPIKey(k[:len(k)-1]+flip(k[len(k)-1])) || len(hubapi.HashAPIKey(k)) != 64 {
		t.Fatal("hash")
	}
}

func flip(c byte) string {
	if c == 'a' {
		return "b"
	}
	return "a"
}

func TestScopesBoundedByRole(t *testing.T) {
	got := hubapi.EffectiveScopes(hubapi.RoleCompagnon, []hubapi.Scope{hubapi.ScopeChantiersRead, hubapi.ScopeChantiersWrite, hubapi.ScopeAdmin})
	if len(got) != 1 || got[0] != hubapi.ScopeChantiersRead {
		t.Fatalf("compagnon scopes: %v", got)
	}
	if !hubapi.RoleAllows(hubapi.RoleAdmin, hubapi.ScopeAdmin) || hubapi.RoleAllows(hubapi.RoleConducteur, hubapi.ScopeAdmin) {
		t.Fatal("admin scope must be admin-only")
	}
	if _, err := hubapi.ParseScopes("chantiers:read,nope"); !errors.Is(err, hubapi.ErrInvalid) {
		t.Fatalf("unknown scope: %v", err)
	}
	s, err := hubapi.ParseScopes("stats:read chantiers:read,stats:read")
	if err != nil || hubapi.JoinScopes(s) != "chantiers:read,stats:read" {
		t.Fatalf("parse: %v %v", s, err)
	}
	p := &hubapi.Principal{Role: hubapi.RoleAdmin, Scopes: []hubapi.Scope{hubapi.ScopeChantiersRead}}
	if p.IsAdmin() || !errors.Is(p.Require(hubapi.ScopeStatsRead), hubapi.ErrForbidden) {
		t.Fatal("principal checks")
	}
	var nilP *hubapi.Principal
	if !errors.Is(nilP.Require(hubapi.ScopeStatsRead), hubapi.ErrUnauthenticated) || nilP.Has(hubapi.ScopeStatsRead) {
		t.Fatal("nil principal")
	}
}

func TestChantierValidation(t *testing.T) {
	lat := 91.0
	neg := int64(-1)
	tests := []struct {
		name  string
		in    hubapi.ChantierInput
		field string
	}{
		{"minimal is valid", hubapi.ChantierInput{Code: "CH-1", Nom: "A", Adresse: "B"}, ""},
		{"code required", hubapi.ChantierInput{Nom: "A", Adresse: "B"}, "code"},
		{"code charset", hubapi.ChantierInput{Code: "CH 1", Nom: "A", Adresse: "B"}, "code"},
		{"nom required", hubapi.ChantierInput{Code: "C", Adresse: "B"}, "nom"},
		{"adresse required", hubapi.ChantierInput{Code: "C", Nom: "A"}, "adresse"},
		{"bad statut", hubapi.ChantierInput{Code: "C", Nom: "A", Adresse: "B", Statut: "fini"}, "statut"},
		{"bad code postal", hubapi.ChantierInput{Code: "C", Nom: "A", Adresse: "B", CodePostal: "6900"}, "code_postal"},
		{"negative budget", hubapi.ChantierInput{Code: "C", Nom: "A", Adresse: "B", BudgetCents: -1}, "budget_cents"},
		{"latitude range", hubapi.ChantierInput{Code: "C", Nom: "A", Adresse: "B", Latitude: &lat}, "latitude"},
		{"responsable id", hubapi.ChantierInput{Code: "C", Nom: "A", Adresse: "B", ResponsableID: &neg}, "responsable_id"},
		{"dates ordered", hubapi.ChantierInput{Code: "C", Nom: "A", Adresse: "B",
			DateDebut: hubapi.NewDate(2026, 5, 2), DateFin: hubapi.NewDate(2026, 5, 1)}, "date_fin"},
		{"nom too long", hubapi.ChantierInput{Code: "C", Nom: strings.Repeat("é", 201), Adresse: "B"}, "nom"},
		{"invalid utf8", hubapi.ChantierInput{Code: "C", Nom: "\xff", Adresse: "B"}, "nom"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.in
			in.Normalize()
			err := in.Validate()
			if tt.field == "" {
				if err != nil {
					t.Fatal(err)
				}
				if in.Statut != hubapi.ChantierOuvert {
					t.Fatalf("default statut %q", in.Statut)
				}
				return
			}
			var ve *hubapi.ValidationError
			if !errors.As(err, &ve) || ve.Fields[tt.field] == "" || !errors.Is(err, hubapi.ErrInvalid) {
				t.Fatalf("want error on %s, got %v", tt.field, err)
			}
		})
	}
}

func TestOtherValidation(t *testing.T) {
	d := hubapi.NewDate(2026, 11, 24)
	p := hubapi.PointageInput{UserID: 1, ChantierID: 1, Date: d, Minutes: 480}
	p.Normalize()
	if err := p.Validate(); err != nil || p.Type != hubapi.PointageNormal || p.Statut != hubapi.PointageBrouillon {
		t.Fatalf("pointage: %v %+v", err, p)
	}
	for _, bad := range []hubapi.PointageInput{
		{UserID: 1, ChantierID: 1, Date: d, Minutes: 0},
		{UserID: 1, ChantierID: 1, Date: d, Minutes: 1441},
		{UserID: 1, ChantierID: 1, Minutes: 60},
		{UserID: 1, ChantierID: 1, Date: d, Minutes: 60, Statut: hubapi.PointageValide},
		{UserID: 1, ChantierID: 1, Date: d, Minutes: 60, Type: "jour"},
	} {
		bad.Normalize()
		if bad.Validate() == nil {
			t.Errorf("accepted %+v", bad)
		}
	}
	a := hubapi.AffectationInput{UserID: 1, ChantierID: 1, Date: d, HeureDebut: "17:00", HeureFin: "08:00"}
	a.Normalize()
	if a.Validate() == nil {
		t.Error("affectation ending before it starts accepted")
	}
	a = hubapi.AffectationInput{UserID: 1, ChantierID: 1, Date: d, HeureDebut: "24:00"}
	a.Normalize()
	if a.Validate() == nil {
		t.Error("24:00 accepted")
	}
	s := hubapi.SignalementInput{ChantierID: 1, Titre: "  x  "}
	s.Normalize()
	if err := s.Validate(); err != nil || s.Titre != "x" || s.Gravite != hubapi.GraviteMoyenne {
		t.Fatalf("signalement: %v %+v", err, s)
	}
	u := hubapi.User{Email: "Foo@Example.FR ", Role: hubapi.RoleCompagnon}
	if err := u.Validate(); err != nil || u.Email != "foo@example.fr" {
		t.Fatalf("user: %v %q", err, u.Email)
	}
	u = hubapi.User{Email: "Foo <foo@example.fr>", Role: hubapi.RoleCompagnon}
	if u.Validate() == nil {
		t.Fatal("display-name address accepted")
	}
}

func TestSignalementResolvedAt(t *testing.T) {
	var s hubapi.Signalement
	now := hubapi.NewDate(2026, 1, 1).Time()
	s.Apply(hubapi.SignalementInput{Statut: hubapi.SignalementResolu}, now)
	if s.ResolvedAt == nil || !s.ResolvedAt.Equal(now) {
		t.Fatal("resolved_at not set")
	}
	s.Apply(hubapi.SignalementInput{Statut: hubapi.SignalementOuvert}, now)
	if s.ResolvedAt != nil {
		t.Fatal("resolved_at kept on reopen")
	}
}

func TestDateJSON(t *testing.T) {
	var v struct{ D hubapi.Date }
	if err := json.Unmarshal([]byte(`{"D":"2026-02-28"}`), &v); err != nil || v.D.String() != "2026-02-28" {
		t.Fatal(err, v.D)
	}
	for _, bad := range []string{`{"D":"2026-02-30"}`, `{"D":"28/02/2026"}`, `{"D":20260228}`} {
		if json.Unmarshal([]byte(bad), &v) == nil {
			t.Errorf("accepted %s", bad)
		}
	}
	b, _ := json.Marshal(struct{ D hubapi.Date }{})
	if string(b) != `{"D":null}` {
		t.Fatal(string(b))
	}
	var d hubapi.Date
	if err := d.Scan("2026-03-01"); err != nil || d.String() != "2026-03-01" {
		t.Fatal(err)
	}
	if err := d.Scan(hubapi.NewDate(2026, 3, 2).Time()); err != nil || d.String() != "2026-03-02" {
		t.Fatal(err)
	}
}

func TestVisibility(t *testing.T) {
	tests := []struct {
		name string
		p    *hubapi.Principal
		want string
	}{
		{"no principal is anonymous", nil, "anonymous"},
		{"role and scopes in their order", &hubapi.Principal{Role: hubapi.RoleConducteur, Scopes: []hubapi.Scope{hubapi.ScopeChantiersRead, hubapi.ScopePlanningRead}},
			"conducteur|chantiers:read,planning:read"},
		{"one scope", &hubapi.Principal{Role: hubapi.RoleCompagnon, Scopes: []hubapi.Scope{hubapi.ScopePointagesWrite}}, "compagnon|pointages:write"},
		{"no scope", &hubapi.Principal{Role: hubapi.RoleAdmin}, "admin|"},
		{"every scope", &hubapi.Principal{Role: hubapi.RoleAdmin, Scopes: hubapi.AllScopes}, "admin|" + hubapi.JoinScopes(hubapi.AllScopes)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.p.Visibility(); got != tt.want {
				t.Fatalf("Visibility() = %q, want %q", got, tt.want)
			}
		})
	}
}
