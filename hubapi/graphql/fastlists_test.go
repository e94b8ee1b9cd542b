package graphql_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hubchantier/hubchantier/fields"
	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/graphql"
	"github.com/hubchantier/hubchantier/hubapi/graphql/generated"
)

// lists serves the four other lists from memory, and the references of
// their nodes (chantier) with an error when refErr is set.
type lists struct {
	*fake
	hubapi.PointageService
	hubapi.DocumentService
	hubapi.SignalementService
	hubapi.AffectationService
	pointages    []hubapi.Pointage
	documents    []hubapi.Document
	signalements []hubapi.Signalement
	affectations []hubapi.Affectation
	refErr       error
}

func page[T any](items []T, p hubapi.PageRequest) *hubapi.Page[T] {
	n := min(p.Limit, len(items))
	return &hubapi.Page[T]{Items: append([]T(nil), items[:n]...), NextCursor: "next", Total: -1, Limit: p.Limit}
}

func (l *lists) ListPointages(_ context.Context, _ hubapi.PointageFilter, p hubapi.PageRequest, _ *fields.Selection) (*hubapi.Page[hubapi.Pointage], error) {
	return page(l.pointages, p), nil
}

func (l *lists) ListDocuments(_ context.Context, _ hubapi.DocumentFilter, p hubapi.PageRequest, _ *fields.Selection) (*hubapi.Page[hubapi.Document], error) {
	return page(l.documents, p), nil
}

func (l *lists) ListSignalements(_ context.Context, _ hubapi.SignalementFilter, p hubapi.PageRequest, _ *fields.Selection) (*hubapi.Page[hubapi.Signalement], error) {
	return page(l.signalements, p), nil
}

func (l *lists) ListAffectations(_ context.Context, _ hubapi.AffectationFilter, p hubapi.PageRequest, _ *fields.Selection) (*hubapi.Page[hubapi.Affectation], error) {
	return page(l.affectations, p), nil
}

func (l *lists) ChantiersByID(_ context.Context, ids []int64) (map[int64]*hubapi.Chantier, error) {
	if l.refErr != nil {
		return nil, l.refErr
	}
	out := map[int64]*hubapi.Chantier{}
	for _, id := range ids {
		for i := range l.chantiers {
			if l.chantiers[i].ID == id {
				c := l.chantiers[i]
				out[id] = &c
			}
		}
	}
	return out, nil
}

// Values that exercise the JSON writers: escapes, control characters,
// non-ASCII and invalid UTF-8, HTML characters (not escaped by gqlgen),
// nil and zero values, floats of every form, times with nanoseconds and
// offsets, an enum value gqlgen does not know.
var (
	texts = []string{"plain", `quote " and back \ slash`, "ctl \x00\x01\x1f\x7f\t\r\n", "é 日本 🏗", "sep \u2028\u2029", "bad \xff\xfe utf8", "</script>&<>'", ""}
	reals = []float64{48.8566, math.Copysign(0, -1), 1e21, 1e-7, 123456789, 2.5e-324, math.MaxFloat64, 0.1 + 0.2}
	paris = time.FixedZone("CEST", 2*3600)
)

func variedChantiers(n int) []hubapi.Chantier {
	out := make([]hubapi.Chantier, n)
	for i := range out {
		t := texts[i%len(texts)]
		c := hubapi.Chantier{
			ID: int64(i + 1), Code: fmt.Sprintf("C%d", i+1), Nom: t, Adresse: texts[(i+1)%len(texts)], Ville: texts[(i+2)%len(texts)],
			CodePostal: "75001", Statut: hubapi.ChantierStatuts[i%len(hubapi.ChantierStatuts)], ClientNom: t, Description: t,
			BudgetCents: int64(i) * 1_000_003 * int64(1-2*(i%2)), Version: int64(i) << 40,
			CreatedAt: time.Date(2026, 1, 2, 3, 4, 5, i*1_000_001, time.UTC),
			UpdatedAt: time.Date(2026, 6, 7, 8, 9, 10, 0, paris),
		}
		if i%7 == 3 {
			c.Statut = "bogus"
		}
		if i%3 != 0 {
			id := int64(i%4 + 1)
			c.ResponsableID = &id
			if i%3 == 1 {
				// loaded with the page; otherwise by the request's loader
				c.Responsable = &hubapi.UserSummary{ID: id, Nom: t, Prenom: texts[(i+3)%len(texts)]}
			}
		}
		if i%2 == 0 {
			c.DateDebut = hubapi.NewDate(2026, time.Month(i%12+1), i%28+1)
			lat, lon := reals[i%len(reals)], reals[(i+3)%len(reals)]
			c.Latitude, c.Longitude = &lat, &lon
		}
		if i%5 == 0 {
			c.DateFin = hubapi.NewDate(2027, 2, 28)
		}
		out[i] = c
	}
	return out
}

func newLists(n int) *lists {
	l := &lists{fake: &fake{chantiers: variedChantiers(n)}}
	for i := range n {
		t := texts[i%len(texts)]
		at := time.Date(2026, 3, 4, 5, 6, 7, i*999, time.UTC)
		day := hubapi.NewDate(2026, 3, i%28+1)
		if i%6 == 5 {
			day = hubapi.Date{} // written null by the Date marshaler
		}
		chantier := int64(i%5 + 1) // 5 is not served: a null reference
		l.pointages = append(l.pointages, hubapi.Pointage{ID: int64(i + 1), UserID: int64(i + 7), ChantierID: chantier, Date: day,
			Minutes: i * 15, Type: hubapi.PointageTypes[i%4], Statut: hubapi.PointageStatuts[(i+1)%4], Commentaire: t, CreatedAt: at, UpdatedAt: at, Version: 1})
		l.documents = append(l.documents, hubapi.Document{ID: int64(i + 1), ChantierID: chantier, Nom: t, Categorie: "plan", MimeType: "application/pdf",
			Size: int64(i) << 33, SHA256: strings.Repeat("ab", 32), UploadedBy: 3, StorageKey: "secret/key", CreatedAt: at, UpdatedAt: at, Version: 2})
		s := hubapi.Signalement{ID: int64(i + 1), ChantierID: chantier, Titre: t, Description: texts[(i+4)%len(texts)],
			Gravite: hubapi.Gravite([]string{"basse", "moyenne", "haute", "urgente", "?"}[i%5]), Statut: hubapi.SignalementOuvert,
			CreatedBy: 2, CreatedAt: at, UpdatedAt: at, Version: 3}
		if i%2 == 1 {
			who, when := int64(9), at.Add(time.Hour)
			s.AssignedTo, s.ResolvedAt = &who, &when
		}
		if i%4 == 2 {
			s.ResolvedAt = &time.Time{} // a zero time is null for a nullable Time
		}
		l.signalements = append(l.signalements, s)
		l.affectations = append(l.affectations, hubapi.Affectation{ID: int64(i + 1), UserID: 4, ChantierID: chantier, Date: day,
			HeureDebut: "08:00", HeureFin: "17:30", Note: t, CreatedAt: at, UpdatedAt: at, Version: 4})
	}
	return l
}

func (l *lists) handler(t testing.TB) http.Handler {
	t.Helper()
	h, err := graphql.New(graphql.Options{Chantiers: l.fake, Pointages: l, Documents: l, Signalements: l, Affectations: l, References: l})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// serve answers body on h, through the one-pass list encoder or, generic
// set, through gqlgen's code only.
func serve(t testing.TB, h http.Handler, body string, generic bool) []byte {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/graphql-response+json")
	if generic {
		req = req.WithContext(generated.WithoutFastLists(req.Context()))
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if !json.Valid(rec.Body.Bytes()) {
		t.Fatalf("invalid JSON: %s", rec.Body.Bytes())
	}
	return rec.Body.Bytes()
}

func request(query string, vars map[string]any) string {
	b, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		panic(err)
	}
	return string(b)
}

const allChantier = `__typename id code nom adresse ville codePostal statut clientNom responsableId
	responsable { __typename id nom prenom } budgetCents dateDebut dateFin latitude longitude description createdAt updatedAt version`

// TestFastListsMatchGeneric compares the one-pass list encoder with
// gqlgen's generic code, byte for byte, on varied selections and data.
func TestFastListsMatchGeneric(t *testing.T) {
	cases := []struct {
		name  string
		query string
		vars  map[string]any
		// errors: the response must carry errors (the generic path
		// answers them, and the fast path must leave it to it).
		errors bool
	}{
		{name: "the page of the benchmark", query: `query($after: String) { chantiers(first: 50, after: $after) { nodes { id code nom statut ville updatedAt responsable { id nom prenom } } pageInfo { hasNextPage endCursor } } }`},
		{name: "every field, nodes and edges", query: `{ chantiers(first: 40) { __typename nodes { ` + allChantier + ` } edges { __typename node { ` + allChantier + ` } } pageInfo { __typename hasNextPage hasPreviousPage startCursor endCursor } } }`},
		{name: "aliases and repeated fields", query: `{ c: chantiers(first: 20) { n: nodes { a: id b: id id id nom n2: nom r: responsable { x: id id nom } responsable { prenom } t: __typename } e: edges { nn: node { k: code } node { code } } } }`},
		{name: "fragments", query: `
			query { chantiers(first: 30) { nodes { ...F ... on Chantier { code responsable { ...U } } ... { ville } } edges { node { ...F } } } }
			fragment F on Chantier { id nom responsable { id } statut }
			fragment U on User { nom __typename }`},
		{name: "skip and include, variables true", query: `query($a: Boolean!, $b: Boolean!) { chantiers(first: 30) { nodes { id nom @skip(if: $a) code @include(if: $b) responsable @include(if: $b) { id nom @skip(if: $b) } ... @include(if: $a) { ville } } } }`, vars: map[string]any{"a": true, "b": true}},
		{name: "skip and include, variables false", query: `query($a: Boolean!, $b: Boolean!) { chantiers(first: 30) { nodes { id nom @skip(if: $a) code @include(if: $b) responsable @include(if: $b) { id nom @skip(if: $b) } ... @include(if: $a) { ville } } } }`, vars: map[string]any{"a": false, "b": false}},
		{name: "skip literal", query: `{ chantiers(first: 10) { nodes { id @skip(if: true) nom @include(if: false) code } edges @skip(if: true) { node { id } } } }`},
		{name: "a deferred fragment", query: `{ chantiers(first: 10) { nodes { id ... @defer { nom } } } }`},
		{name: "only __typename", query: `{ chantiers(first: 10) { nodes { __typename } edges { node { __typename } } } }`},
		{name: "the other lists, every scalar field", query: `{
			pointages(first: 30) { nodes { __typename id userId chantierId date minutes type statut commentaire createdAt updatedAt version } edges { node { id type } } }
			documents(first: 30) { nodes { __typename id chantierId nom categorie mimeType size sha256 uploadedBy createdAt updatedAt version } edges { node { id sha256 } } }
			signalements(first: 30) { nodes { __typename id chantierId titre description gravite statut createdBy assignedTo resolvedAt createdAt updatedAt version } edges { node { resolvedAt } } }
			affectations(first: 30) { nodes { __typename id userId chantierId date heureDebut heureFin note createdAt updatedAt version } edges { node { note } } } }`},
		{name: "references with a resolver", query: `{
			pointages(first: 12) { nodes { id chantier { id nom responsable { nom } } } }
			documents(first: 12) { edges { node { id chantier { code } } } }
			signalements(first: 12) { nodes { chantier { __typename id } titre } }
			affectations(first: 12) { nodes { c: chantier { ville } } } }`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newLists(50).handler(t)
			body := request(c.query, c.vars)
			fast, generic := serve(t, h, body, false), serve(t, h, body, true)
			if c.errors {
				sameResponse(t, fast, generic)
			} else if !bytes.Equal(fast, generic) {
				t.Fatalf("the one-pass encoder differs from gqlgen's:\nfast:    %s\ngeneric: %s", fast, generic)
			}
			if bytes.Contains(fast, []byte(`"errors"`)) != c.errors {
				t.Fatalf("errors: %s", fast)
			}
			if !bytes.Contains(fast, []byte(`"data":{`)) {
				t.Fatalf("no data: %s", fast)
			}
		})
	}
}

// TestFastListsLeaveErrorsToGqlgen: the values gqlgen reports as errors
// (a zero non-null Time, a NaN Float), and errors of nested reference
// fields, are answered by gqlgen's code: same errors, paths, and nulls.
func TestFastListsLeaveErrorsToGqlgen(t *testing.T) {
	nan := math.NaN()
	cases := []struct {
		name   string
		change func(l *lists)
		query  string
		want   string // in the response
	}{
		{"a zero non-null Time", func(l *lists) { l.chantiers[3].CreatedAt = time.Time{} },
			`{ chantiers(first: 10) { nodes { id createdAt } } }`, `"path":["chantiers","nodes",3,"createdAt"]`},
		{"a zero non-null Time in an edge", func(l *lists) { l.chantiers[4].UpdatedAt = time.Time{} },
			`{ chantiers(first: 10) { edges { node { updatedAt } } } }`, `"path":["chantiers","edges",4,"node","updatedAt"]`},
		{"a NaN Float", func(l *lists) { l.chantiers[2].Latitude = &nan },
			`{ chantiers(first: 10) { nodes { id latitude } } }`, `"errors"`},
		{"an error of a nested reference", func(l *lists) { l.refErr = errors.New("SELECT failed: secret") },
			`{ pointages(first: 10) { nodes { id chantier { id nom } } } signalements(first: 3) { nodes { id } } }`, `"path":["pointages","nodes",0,"chantier"]`},
		{"a forbidden nested reference", func(l *lists) { l.refErr = hubapi.Errorf(hubapi.ErrForbidden, "no chantiers:read") },
			`{ documents(first: 10) { edges { node { id chantier { id } } } } }`, `"FORBIDDEN"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := newLists(20)
			c.change(l)
			h := l.handler(t)
			body := request(c.query, nil)
			fast, generic := serve(t, h, body, false), serve(t, h, body, true)
			sameResponse(t, fast, generic)
			if !bytes.Contains(fast, []byte(c.want)) {
				t.Fatalf("want %s in %s", c.want, fast)
			}
			if bytes.Contains(fast, []byte("SELECT")) {
				t.Fatalf("an internal message leaked: %s", fast)
			}
		})
	}
}

// sameResponse compares two responses: data and extensions byte for
// byte, errors in any order (gqlgen resolves the references of a list
// concurrently, so their errors come in no fixed order, on either path).
func sameResponse(t *testing.T, fast, generic []byte) {
	t.Helper()
	type resp struct {
		Errors     []json.RawMessage
		Data       json.RawMessage
		Extensions json.RawMessage
	}
	var a, b resp
	if err := json.Unmarshal(fast, &a); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(generic, &b); err != nil {
		t.Fatal(err)
	}
	errs := func(r resp) string {
		s := make([]string, len(r.Errors))
		for i, e := range r.Errors {
			s[i] = string(e)
		}
		sort.Strings(s)
		return strings.Join(s, "\n")
	}
	if !bytes.Equal(a.Data, b.Data) || !bytes.Equal(a.Extensions, b.Extensions) || errs(a) != errs(b) {
		t.Fatalf("the one-pass encoder differs from gqlgen's:\nfast:    %s\ngeneric: %s", fast, generic)
	}
}

// TestFastListsEmptyPage: an empty page is [] both ways.
func TestFastListsEmptyPage(t *testing.T) {
	l := newLists(0)
	h := l.handler(t)
	body := request(`{ chantiers(first: 5) { nodes { id } edges { node { id } } } pointages(first: 5) { nodes { id } } }`, nil)
	fast, generic := serve(t, h, body, false), serve(t, h, body, true)
	if !bytes.Equal(fast, generic) || !bytes.Contains(fast, []byte(`"nodes":[],"edges":[]`)) {
		t.Fatalf("fast %s\ngeneric %s", fast, generic)
	}
}

// TestFastListsAreTaken: a page of 50 nodes is written by the one-pass
// encoder, which allocates a small fraction of what gqlgen's per-field
// execution does (the counts are exact, not timings).
func TestFastListsAreTaken(t *testing.T) {
	f := newFake(50)
	f.loadResponsables = true
	h := newHandler(t, f, graphql.Options{})
	body := request(`{ chantiers(first: 50) { nodes { id code nom statut ville updatedAt responsable { id nom prenom } } edges { node { id } } } }`, nil)
	fast := testing.AllocsPerRun(20, func() { serve(t, h, body, false) })
	generic := testing.AllocsPerRun(20, func() { serve(t, h, body, true) })
	if fast*4 > generic {
		t.Fatalf("allocations per page: fast path %.0f, generic %.0f: the fast path is not taken", fast, generic)
	}
	t.Logf("allocations per page: fast path %.0f, generic %.0f", fast, generic)
}

// TestListSelectionIsPushedDown: the list use case is asked for the
// columns the query selects, and no other.
func TestListSelectionIsPushedDown(t *testing.T) {
	f := newFake(5)
	h := newHandler(t, f, graphql.Options{})
	cases := []struct{ query, want string }{
		{`{ chantiers(first: 5) { nodes { id code nom statut ville updatedAt responsable { id nom prenom } } } }`, "id,code,nom,statut,ville,updated_at,responsable"},
		{`{ chantiers(first: 5) { edges { node { ...F } } nodes { budgetCents } } } fragment F on Chantier { nom dateDebut }`, "id,nom,date_debut,budget_cents"},
		{`{ chantiers(first: 5) { nodes { __typename } } }`, "id"},
		{`query($s: Boolean!) { chantiers(first: 5) { nodes { nom @skip(if: $s) code } } }`, "id,code"},
	}
	for _, c := range cases {
		body := request(c.query, map[string]any{"s": true})
		if out := serve(t, h, body, false); bytes.Contains(out, []byte(`"errors"`)) {
			t.Fatalf("%s: %s", c.query, out)
		}
		f.mu.Lock()
		names := f.lastSel.Names()
		f.mu.Unlock()
		want := strings.Split(c.want, ",")
		sort.Strings(names)
		sort.Strings(want)
		if got := strings.Join(names, ","); got != strings.Join(want, ",") {
			t.Errorf("%s: selection %q, want %q", c.query, got, strings.Join(want, ","))
		}
	}
}

// FuzzFastListStrings compares both paths on arbitrary strings and
// numbers in a page.
func FuzzFastListStrings(f *testing.F) {
	for _, s := range texts {
		f.Add(s, 1.5, int64(7))
	}
	body := request(`{ chantiers(first: 3) { nodes { nom ville latitude budgetCents responsable { nom } } edges { node { code } } } }`, nil)
	f.Fuzz(func(t *testing.T, s string, x float64, n int64) {
		l := newLists(3)
		for i := range l.chantiers {
			c := &l.chantiers[i]
			c.Nom, c.Ville, c.Code, c.Latitude, c.BudgetCents = s, s+s, s[:len(s)/2], &x, n
			c.Responsable = &hubapi.UserSummary{ID: 1, Nom: s}
		}
		h := l.handler(t)
		sameResponse(t, serve(t, h, body, false), serve(t, h, body, true))
	})
}
