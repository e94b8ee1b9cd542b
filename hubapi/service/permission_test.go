package service_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/hubchantier/hubchantier/connectors"
	"github.com/hubchantier/hubchantier/connectors/example"
	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/blob"
	"github.com/hubchantier/hubchantier/hubapi/service"
	"github.com/hubchantier/hubchantier/hubapi/store"
	"github.com/hubchantier/hubchantier/internal/testenv"
	"github.com/hubchantier/hubchantier/secretbox"
)

// matrix is the permission matrix as the README writes it: resource →
// action → role → cell ("any", "own", "own, open", "others'", "—").
type matrix map[string]map[string]map[hubapi.Role]string

// readmeMatrix parses the permission table of README.md. This test takes
// its expectations from the README itself, so the documented rules are the
// ones the use cases are held to.
func readmeMatrix(t *testing.T) matrix {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i, j := strings.Index(s, "<!-- permissions:begin"), strings.Index(s, "<!-- permissions:end -->")
	if i < 0 || j < i {
		t.Fatal("README.md has no permission matrix")
	}
	lines := strings.Split(strings.TrimSpace(s[i:j]), "\n")[1:]
	cells := func(line string) []string {
		parts := strings.Split(strings.Trim(strings.TrimSpace(line), "|"), "|")
		for k := range parts {
			parts[k] = strings.TrimSpace(parts[k])
		}
		return parts
	}
	header := cells(lines[0])
	if len(header) != 2+len(hubapi.Roles) || header[0] != "Resource" || header[1] != "Action" {
		t.Fatalf("matrix header %q", header)
	}
	m := matrix{}
	for _, line := range lines[2:] {
		c := cells(line)
		if len(c) != len(header) {
			t.Fatalf("matrix row %q", line)
		}
		if m[c[0]] == nil {
			m[c[0]] = map[string]map[hubapi.Role]string{}
		}
		m[c[0]][c[1]] = map[hubapi.Role]string{}
		for k, role := range header[2:] {
			m[c[0]][c[1]][hubapi.Role(role)] = c[2+k]
		}
	}
	return m
}

// cell returns the README's cell; an action the README does not list is
// refused to everybody.
func (m matrix) cell(r hubapi.Resource, a hubapi.Action, role hubapi.Role) string {
	if c, ok := m[string(r)][string(a)][role]; ok {
		return c
	}
	return "—"
}

// scenario is the row an action is tried on.
type scenario struct {
	name   string
	own    bool // the caller's own row
	closed bool // a validated pointage, a resolved signalement
}

var (
	mine         = scenario{name: "own row", own: true}
	theirs       = scenario{name: "another's row"}
	mineClosed   = scenario{name: "own closed row", own: true, closed: true}
	theirsClosed = scenario{name: "another's closed row", closed: true}
	noOwner      = scenario{name: "a row"}
)

// expect is what the README's legend says a cell means for a scenario.
// checks are the actions the operation needs, in order (resolving a
// signalement by PATCH needs change, then validate).
// The answer is nil (done), ErrForbidden, ErrNotFound or ErrConflict.
func expect(m matrix, r hubapi.Resource, role hubapi.Role, sc scenario, checks ...hubapi.Action) error {
	for _, a := range checks {
		var allowed bool
		switch c := m.cell(r, a, role); c {
		case "any":
			allowed = true
		case "own":
			allowed = sc.own
		case "own, open":
			allowed = sc.own && !sc.closed
		case "others'":
			allowed = !sc.own
		case "—":
		default:
			panic("unknown cell " + c)
		}
		if allowed {
			continue
		}
		// Another's row the caller may not read is not revealed.
		if read := m.cell(r, hubapi.ActionRead, role); a != hubapi.ActionCreate && !sc.own && read != "any" && read != "—" &&
			m.cell(r, a, role) != "—" {
			return hubapi.ErrNotFound
		}
		return hubapi.ErrForbidden
	}
	// State rules, for everybody allowed: a validated pointage is frozen.
	if r == hubapi.ResourcePointages && sc.closed && checks[len(checks)-1] != hubapi.ActionRead {
		return hubapi.ErrConflict
	}
	return nil
}

// fixture is a database with one user per role, another user (a
// compagnon) whose rows are "another's", and the use cases over it.
type fixture struct {
	t     *testing.T
	db    *store.DB
	svc   *service.Service
	users map[hubapi.Role]*hubapi.User
	other *hubapi.User
	seq   atomic.Int64
	now   time.Time
	// sealer seals the connectors' configurations
	sealer *connectors.Sealer
}

// noQueue accepts every sync (the permission rules are under test).
type noQueue struct{}

func (noQueue) EnqueueConnectorSync(context.Context, bun.Tx, int64) (bool, error) { return true, nil }

func newFixture(t *testing.T, tdb *testenv.DB) *fixture {
	db := store.Wrap(tdb.DB)
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	blobs, err := blob.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := connectors.ParseSealer("k:" + secretbox.GenerateKey())
	if err != nil {
		t.Fatal(err)
	}
	reg := connectors.NewRegistry()
	if err := example.Register(reg); err != nil {
		t.Fatal(err)
	}
	svc := service.New(db, blobs, service.WithConnectors(service.ConnectorDeps{Registry: reg, Sealer: sealer, Queue: noQueue{}}))
	f := &fixture{sealer: sealer, t: t, db: db, svc: svc, users: map[hubapi.Role]*hubapi.User{}, now: time.Now().UTC().Truncate(time.Microsecond)}
	op := service.NewOperator(svc)
	for _, role := range hubapi.Roles {
		u := &hubapi.User{Email: string(role) + "@test.fr", Role: role}
		if err := op.CreateUser(t.Context(), u, ""); err != nil {
			t.Fatal(err)
		}
		f.users[role] = u
	}
	f.other = &hubapi.User{Email: "autre@test.fr", Role: hubapi.RoleCompagnon}
	if err := op.CreateUser(t.Context(), f.other, ""); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) as(role hubapi.Role) context.Context {
	u := f.users[role]
	return hubapi.WithPrincipal(f.t.Context(), &hubapi.Principal{UserID: u.ID, Email: u.Email, Role: role, Scopes: hubapi.RoleScopes(role)})
}

func (f *fixture) uniq(prefix string) string { return fmt.Sprintf("%s%d", prefix, f.seq.Add(1)) }

// insert writes m straight to the store (any owner, any state) and
// returns its id.
func insert[T any](f *fixture, m *T, id *int64) int64 {
	f.t.Helper()
	if err := store.Insert(f.t.Context(), f.db, m); err != nil {
		f.t.Fatal(err)
	}
	return *id
}

// chantier inserts a chantier of its own, so that lists filtered on it
// hold only the rows of one case.
// Its ville is its code, unique: a list filtered on it holds only it.
func (f *fixture) chantier() int64 {
	code := f.uniq("CH")
	c := &hubapi.Chantier{Code: code, Nom: "n", Adresse: "a", Ville: code, Statut: hubapi.ChantierOuvert,
		CreatedAt: f.now, UpdatedAt: f.now, Version: 1}
	return insert(f, c, &c.ID)
}

// rowFor inserts a row of r for the scenario, owned by the caller (role)
// or by the other user; it returns its id and its chantier.
func (f *fixture) rowFor(r hubapi.Resource, role hubapi.Role, sc scenario) (id, chantier int64) {
	owner := f.other.ID
	if sc.own {
		owner = f.users[role].ID
	}
	chantier = f.chantier()
	ts := func() (time.Time, time.Time, int64) { return f.now, f.now, 1 }
	switch r {
	case hubapi.ResourceChantiers:
		return chantier, chantier
	case hubapi.ResourcePointages:
		p := &hubapi.Pointage{UserID: owner, ChantierID: chantier, Date: hubapi.NewDate(2026, 3, 2), Minutes: 60,
			Type: hubapi.PointageNormal, Statut: hubapi.PointageSoumis}
		if sc.closed {
			p.Statut = hubapi.PointageValide
		}
		p.CreatedAt, p.UpdatedAt, p.Version = ts()
		return insert(f, p, &p.ID), chantier
	case hubapi.ResourceDocuments:
		d := &hubapi.Document{ChantierID: chantier, Nom: "plan.pdf", Categorie: "plan", MimeType: "application/pdf", Size: 1,
			SHA256: "00", UploadedBy: owner, StorageKey: f.uniq("key")}
		d.CreatedAt, d.UpdatedAt, d.Version = ts()
		return insert(f, d, &d.ID), chantier
	case hubapi.ResourceSignalements:
		s := &hubapi.Signalement{ChantierID: chantier, Titre: "Fuite", Gravite: hubapi.GraviteMoyenne, Statut: hubapi.SignalementOuvert, CreatedBy: owner}
		if sc.closed {
			s.Statut, s.ResolvedAt = hubapi.SignalementResolu, &f.now
		}
		s.CreatedAt, s.UpdatedAt, s.Version = ts()
		return insert(f, s, &s.ID), chantier
	case hubapi.ResourceAffectations:
		a := &hubapi.Affectation{UserID: owner, ChantierID: chantier, Date: hubapi.NewDate(2026, 3, 2), HeureDebut: "08:00", HeureFin: "17:00"}
		a.CreatedAt, a.UpdatedAt, a.Version = ts()
		return insert(f, a, &a.ID), chantier
	case hubapi.ResourceAPIKeys:
		k := &hubapi.APIKey{UserID: owner, Name: "k", Prefix: "hck_x", Hash: f.uniq("hash"), Scopes: "chantiers:read"}
		k.CreatedAt, k.UpdatedAt, k.Version = ts()
		return insert(f, k, &k.ID), chantier
	case hubapi.ResourceClients:
		c := &hubapi.Client{Nom: "Client"}
		c.CreatedAt, c.UpdatedAt, c.Version = ts()
		return insert(f, c, &c.ID), chantier
	case hubapi.ResourceFactures:
		x := &hubapi.Facture{ChantierID: chantier, MontantHTCents: 100, TVACents: 20, MontantTTCCents: 120, Statut: hubapi.FactureBrouillon}
		x.CreatedAt, x.UpdatedAt, x.Version = ts()
		return insert(f, x, &x.ID), chantier
	case hubapi.ResourceDepenses:
		d := &hubapi.Depense{ChantierID: &chantier, Date: hubapi.NewDate(2026, 3, 2), Libelle: "Béton", MontantCents: 100}
		d.CreatedAt, d.UpdatedAt, d.Version = ts()
		return insert(f, d, &d.ID), chantier
	case hubapi.ResourceConnectors:
		c := &hubapi.Connector{UserID: owner, Type: "example", Name: "c", Enabled: true, ConfigKeyID: "-", ConfigSealed: []byte{0}, SyncStatus: hubapi.SyncNever}
		c.CreatedAt, c.UpdatedAt, c.Version = ts()
		id := insert(f, c, &c.ID)
		kid, sealed, err := f.sealer.Seal(connectors.Config{Settings: map[string]string{"account": "a"}, Secrets: map[string]string{"api_key": "k"}}, service.ConnectorBinding(id))
		if err != nil {
			f.t.Fatal(err)
		}
		if _, err := f.db.NewUpdate().Model((*hubapi.Connector)(nil)).Set("config_key_id = ?", kid).Set("config_sealed = ?", sealed).Where("id = ?", id).Exec(f.t.Context()); err != nil {
			f.t.Fatal(err)
		}
		return id, chantier
	case hubapi.ResourceWebhooks:
		w := &hubapi.WebhookSubscription{UserID: owner, URL: "https://93.184.215.14/hook", EventTypes: "*", Enabled: true,
			SecretKeyID: "k", SecretSealed: []byte("sealed")}
		w.CreatedAt, w.UpdatedAt, w.Version = ts()
		return insert(f, w, &w.ID), chantier
	}
	return 0, chantier
}

// owner returns the user a new row for the scenario belongs to.
func (f *fixture) owner(role hubapi.Role, sc scenario) int64 {
	if sc.own {
		return f.users[role].ID
	}
	return f.other.ID
}

// listed turns "the list holds the row" into the outcome of a read: held
// → nil, left out → ErrNotFound; a refused list keeps its error.
func listed[T any](items []T, err error, id int64, idOf func(*T) int64) error {
	if err != nil {
		return err
	}
	for i := range items {
		if idOf(&items[i]) == id {
			return nil
		}
	}
	return hubapi.ErrNotFound
}

func page[T any](p *hubapi.Page[T], err error) ([]T, error) {
	if err != nil {
		return nil, err
	}
	return p.Items, nil
}

// operation is one use case tried for a cell: it returns the use case's
// error, and the actions the README must grant for it to succeed.
type operation struct {
	name      string
	scenarios []scenario
	checks    []hubapi.Action
	run       func(f *fixture, role hubapi.Role, sc scenario) error
}

func noErr[T any](_ T, err error) error { return err }

// operations lists every use case of each resource × action. A resource ×
// action without an operation must be refused to everybody by the README.
func operations() map[hubapi.Resource]map[hubapi.Action][]operation {
	read := []hubapi.Action{hubapi.ActionRead}
	change := []hubapi.Action{hubapi.ActionChange}
	owned := []scenario{mine, theirs}
	stated := []scenario{mine, theirs, mineClosed, theirsClosed}
	type (
		R = hubapi.Resource
		A = hubapi.Action
	)
	return map[R]map[A][]operation{
		hubapi.ResourceChantiers: {
			hubapi.ActionRead: {
				{"GetChantier", []scenario{noOwner}, read, func(f *fixture, role hubapi.Role, sc scenario) error {
					id, _ := f.rowFor(hubapi.ResourceChantiers, role, sc)
					return noErr(f.svc.GetChantier(f.as(role), id, nil))
				}},
				{"ListChantiers", []scenario{noOwner}, read, func(f *fixture, role hubapi.Role, sc scenario) error {
					id, _ := f.rowFor(hubapi.ResourceChantiers, role, sc)
					c, err := store.Get[hubapi.Chantier](f.t.Context(), f.db, id)
					if err != nil {
						return err
					}
					items, err := page(f.svc.ListChantiers(f.as(role), hubapi.ChantierFilter{Ville: c.Ville}, hubapi.PageRequest{}, nil))
					return listed(items, err, id, func(c *hubapi.Chantier) int64 { return c.ID })
				}},
			},
			hubapi.ActionCreate: {{"CreateChantier", []scenario{noOwner}, []A{hubapi.ActionCreate}, func(f *fixture, role hubapi.Role, sc scenario) error {
				return noErr(f.svc.CreateChantier(f.as(role), hubapi.ChantierInput{Code: f.uniq("NEW"), Nom: "n", Adresse: "a"}))
			}}},
			hubapi.ActionChange: {
				{"PatchChantier", []scenario{noOwner}, change, func(f *fixture, role hubapi.Role, sc scenario) error {
					id, _ := f.rowFor(hubapi.ResourceChantiers, role, sc)
					return noErr(f.svc.PatchChantier(f.as(role), id, func(in hubapi.ChantierInput) (hubapi.ChantierInput, error) {
						in.Description = "x"
						return in, nil
					}, 0))
				}},
				{"UpdateChantier", []scenario{noOwner}, change, func(f *fixture, role hubapi.Role, sc scenario) error {
					id, _ := f.rowFor(hubapi.ResourceChantiers, role, sc)
					return noErr(f.svc.UpdateChantier(f.as(role), id, hubapi.ChantierInput{Code: f.uniq("UPD"), Nom: "n", Adresse: "a"}, 0))
				}},
			},
			hubapi.ActionDelete: {{"DeleteChantier", []scenario{noOwner}, []A{hubapi.ActionDelete}, func(f *fixture, role hubapi.Role, sc scenario) error {
				id, _ := f.rowFor(hubapi.ResourceChantiers, role, sc)
				return f.svc.DeleteChantier(f.as(role), id, 0)
			}}},
		},
		hubapi.ResourceClients: financeOps(hubapi.ResourceClients,
			func(f *fixture, role hubapi.Role, id int64) error { return noErr(f.svc.GetClient(f.as(role), id)) },
			func(f *fixture, role hubapi.Role, id, _ int64) error {
				items, err := page(f.svc.ListClients(f.as(role), hubapi.ClientFilter{}, hubapi.PageRequest{Limit: 100, Sort: "-created_at"}, nil))
				return listed(items, err, id, func(c *hubapi.Client) int64 { return c.ID })
			},
			func(f *fixture, role hubapi.Role, _ int64) error {
				return noErr(f.svc.CreateClient(f.as(role), hubapi.ClientInput{Nom: "Nouveau"}))
			},
			func(f *fixture, role hubapi.Role, id, _ int64) error {
				return noErr(f.svc.PatchClient(f.as(role), id, func(in hubapi.ClientInput) (hubapi.ClientInput, error) { in.Ville = "Lyon"; return in, nil }, 0))
			},
			func(f *fixture, role hubapi.Role, id int64) error { return f.svc.DeleteClient(f.as(role), id, 0) }),
		hubapi.ResourceFactures: financeOps(hubapi.ResourceFactures,
			func(f *fixture, role hubapi.Role, id int64) error { return noErr(f.svc.GetFacture(f.as(role), id)) },
			func(f *fixture, role hubapi.Role, id, ch int64) error {
				items, err := page(f.svc.ListFactures(f.as(role), hubapi.FactureFilter{ChantierID: ch}, hubapi.PageRequest{Limit: 100}, nil))
				return listed(items, err, id, func(x *hubapi.Facture) int64 { return x.ID })
			},
			func(f *fixture, role hubapi.Role, ch int64) error {
				return noErr(f.svc.CreateFacture(f.as(role), hubapi.FactureInput{ChantierID: ch, MontantHTCents: 10}))
			},
			func(f *fixture, role hubapi.Role, id, ch int64) error {
				return noErr(f.svc.UpdateFacture(f.as(role), id, hubapi.FactureInput{ChantierID: ch, MontantHTCents: 20, TVACents: 4}, 0))
			},
			func(f *fixture, role hubapi.Role, id int64) error { return f.svc.DeleteFacture(f.as(role), id, 0) }),
		hubapi.ResourceDepenses: financeOps(hubapi.ResourceDepenses,
			func(f *fixture, role hubapi.Role, id int64) error { return noErr(f.svc.GetDepense(f.as(role), id)) },
			func(f *fixture, role hubapi.Role, id, ch int64) error {
				items, err := page(f.svc.ListDepenses(f.as(role), hubapi.DepenseFilter{ChantierID: ch}, hubapi.PageRequest{Limit: 100}, nil))
				return listed(items, err, id, func(x *hubapi.Depense) int64 { return x.ID })
			},
			func(f *fixture, role hubapi.Role, ch int64) error {
				return noErr(f.svc.CreateDepense(f.as(role), hubapi.DepenseInput{ChantierID: &ch, Date: hubapi.NewDate(2026, 3, 3), Libelle: "Sable", MontantCents: 5}))
			},
			func(f *fixture, role hubapi.Role, id, _ int64) error {
				return noErr(f.svc.PatchDepense(f.as(role), id, func(in hubapi.DepenseInput) (hubapi.DepenseInput, error) { in.Fournisseur = "X"; return in, nil }, 0))
			},
			func(f *fixture, role hubapi.Role, id int64) error { return f.svc.DeleteDepense(f.as(role), id, 0) }),
		hubapi.ResourcePointages: {
			hubapi.ActionRead: {
				{"GetPointage", stated, read, func(f *fixture, role hubapi.Role, sc scenario) error {
					id, _ := f.rowFor(hubapi.ResourcePointages, role, sc)
					return noErr(f.svc.GetPointage(f.as(role), id))
				}},
				{"ListPointages", stated, read, func(f *fixture, role hubapi.Role, sc scenario) error {
					id, ch := f.rowFor(hubapi.ResourcePointages, role, sc)
					items, err := page(f.svc.ListPointages(f.as(role), hubapi.PointageFilter{ChantierID: ch}, hubapi.PageRequest{}, nil))
					return listed(items, err, id, func(p *hubapi.Pointage) int64 { return p.ID })
				}},
			},
			hubapi.ActionCreate: {{"CreatePointage", owned, []A{hubapi.ActionCreate}, func(f *fixture, role hubapi.Role, sc scenario) error {
				return noErr(f.svc.CreatePointage(f.as(role), hubapi.PointageInput{UserID: f.owner(role, sc), ChantierID: f.chantier(),
					Date: hubapi.NewDate(2026, 3, 3), Minutes: 60}))
			}}},
			hubapi.ActionChange: {
				{"PatchPointage", stated, change, func(f *fixture, role hubapi.Role, sc scenario) error {
					id, _ := f.rowFor(hubapi.ResourcePointages, role, sc)
					return noErr(f.svc.PatchPointage(f.as(role), id, func(in hubapi.PointageInput) (hubapi.PointageInput, error) {
						in.Minutes = 120
						return in, nil
					}, 0))
				}},
				{"UpdatePointage", stated, change, func(f *fixture, role hubapi.Role, sc scenario) error {
					id, ch := f.rowFor(hubapi.ResourcePointages, role, sc)
					return noErr(f.svc.UpdatePointage(f.as(role), id, hubapi.PointageInput{UserID: f.owner(role, sc), ChantierID: ch,
						Date: hubapi.NewDate(2026, 3, 2), Minutes: 90, Statut: hubapi.PointageSoumis}, 0))
				}},
			},
			hubapi.ActionDelete: {{"DeletePointage", stated, []A{hubapi.ActionDelete}, func(f *fixture, role hubapi.Role, sc scenario) error {
				id, _ := f.rowFor(hubapi.ResourcePointages, role, sc)
				return f.svc.DeletePointage(f.as(role), id, 0)
			}}},
			hubapi.ActionValidate: {{"ValidatePointage", stated, []A{hubapi.ActionValidate}, func(f *fixture, role hubapi.Role, sc scenario) error {
				id, _ := f.rowFor(hubapi.ResourcePointages, role, sc)
				return noErr(f.svc.ValidatePointage(f.as(role), id, 0))
			}}},
		},
		hubapi.ResourceDocuments: {
			hubapi.ActionRead: {
				{"GetDocument", owned, read, func(f *fixture, role hubapi.Role, sc scenario) error {
					id, _ := f.rowFor(hubapi.ResourceDocuments, role, sc)
					return noErr(f.svc.GetDocument(f.as(role), id))
				}},
				{"ListDocuments", owned, read, func(f *fixture, role hubapi.Role, sc scenario) error {
					id, ch := f.rowFor(hubapi.ResourceDocuments, role, sc)
					items, err := page(f.svc.ListDocuments(f.as(role), hubapi.DocumentFilter{ChantierID: ch}, hubapi.PageRequest{}, nil))
					return listed(items, err, id, func(d *hubapi.Document) int64 { return d.ID })
				}},
			},
			// A document always belongs to who uploads it.
			hubapi.ActionCreate: {{"CreateDocument", []scenario{mine}, []A{hubapi.ActionCreate}, func(f *fixture, role hubapi.Role, sc scenario) error {
				return noErr(f.svc.CreateDocument(f.as(role), hubapi.DocumentInput{ChantierID: f.chantier(), Nom: "photo.jpg"},
					hubapi.Upload{MimeType: "image/jpeg", Body: strings.NewReader("jpeg")}))
			}}},
			hubapi.ActionChange: {{"PatchDocument", owned, change, func(f *fixture, role hubapi.Role, sc scenario) error {
				id, _ := f.rowFor(hubapi.ResourceDocuments, role, sc)
				return noErr(f.svc.PatchDocument(f.as(role), id, func(in hubapi.DocumentInput) (hubapi.DocumentInput, error) {
					in.Nom = "plan-v2.pdf"
					return in, nil
				}, 0))
			}}},
			hubapi.ActionDelete: {{"DeleteDocument", owned, []A{hubapi.ActionDelete}, func(f *fixture, role hubapi.Role, sc scenario) error {
				id, _ := f.rowFor(hubapi.ResourceDocuments, role, sc)
				return f.svc.DeleteDocument(f.as(role), id, 0)
			}}},
		},
		hubapi.ResourceSignalements: {
			hubapi.ActionRead: {
				{"GetSignalement", stated, read, func(f *fixture, role hubapi.Role, sc scenario) error {
					id, _ := f.rowFor(hubapi.ResourceSignalements, role, sc)
					return noErr(f.svc.GetSignalement(f.as(role), id))
				}},
				{"ListSignalements", stated, read, func(f *fixture, role hubapi.Role, sc scenario) error {
					id, ch := f.rowFor(hubapi.ResourceSignalements, role, sc)
					items, err := page(f.svc.ListSignalements(f.as(role), hubapi.SignalementFilter{ChantierID: ch}, hubapi.PageRequest{}, nil))
					return listed(items, err, id, func(s *hubapi.Signalement) int64 { return s.ID })
				}},
			},
			// A signalement always belongs to who reports it.
			hubapi.ActionCreate: {{"CreateSignalement", []scenario{mine}, []A{hubapi.ActionCreate}, func(f *fixture, role hubapi.Role, sc scenario) error {
				return noErr(f.svc.CreateSignalement(f.as(role), hubapi.SignalementInput{ChantierID: f.chantier(), Titre: "Fissure"}))
			}}},
			hubapi.ActionChange: {
				{"PatchSignalement", stated, change, func(f *fixture, role hubapi.Role, sc scenario) error {
					id, _ := f.rowFor(hubapi.ResourceSignalements, role, sc)
					return noErr(f.svc.PatchSignalement(f.as(role), id, func(in hubapi.SignalementInput) (hubapi.SignalementInput, error) {
						in.Description = "plus de détails"
						return in, nil
					}, 0))
				}},
				{"UpdateSignalement", stated, change, func(f *fixture, role hubapi.Role, sc scenario) error {
					id, ch := f.rowFor(hubapi.ResourceSignalements, role, sc)
					st := hubapi.SignalementOuvert
					if sc.closed {
						st = hubapi.SignalementResolu // a change that keeps it resolved
					}
					return noErr(f.svc.UpdateSignalement(f.as(role), id, hubapi.SignalementInput{ChantierID: ch, Titre: "Autre", Statut: st}, 0))
				}},
			},
			hubapi.ActionDelete: {{"DeleteSignalement", stated, []A{hubapi.ActionDelete}, func(f *fixture, role hubapi.Role, sc scenario) error {
				id, _ := f.rowFor(hubapi.ResourceSignalements, role, sc)
				return f.svc.DeleteSignalement(f.as(role), id, 0)
			}}},
			hubapi.ActionValidate: {
				{"PatchSignalement resolving (reopening a closed one)", stated, []A{hubapi.ActionChange, hubapi.ActionValidate},
					func(f *fixture, role hubapi.Role, sc scenario) error {
						id, _ := f.rowFor(hubapi.ResourceSignalements, role, sc)
						return noErr(f.svc.PatchSignalement(f.as(role), id, func(in hubapi.SignalementInput) (hubapi.SignalementInput, error) {
							in.Statut = hubapi.SignalementResolu
							if sc.closed {
								in.Statut = hubapi.SignalementOuvert
							}
							return in, nil
						}, 0))
					}},
				{"CreateSignalement already resolved", []scenario{mine}, []A{hubapi.ActionCreate, hubapi.ActionValidate},
					func(f *fixture, role hubapi.Role, sc scenario) error {
						return noErr(f.svc.CreateSignalement(f.as(role), hubapi.SignalementInput{ChantierID: f.chantier(), Titre: "Réglé", Statut: hubapi.SignalementResolu}))
					}},
			},
		},
		hubapi.ResourceAffectations: {
			hubapi.ActionRead: {
				{"GetAffectation", owned, read, func(f *fixture, role hubapi.Role, sc scenario) error {
					id, _ := f.rowFor(hubapi.ResourceAffectations, role, sc)
					return noErr(f.svc.GetAffectation(f.as(role), id))
				}},
				{"ListAffectations", owned, read, func(f *fixture, role hubapi.Role, sc scenario) error {
					id, ch := f.rowFor(hubapi.ResourceAffectations, role, sc)
					items, err := page(f.svc.ListAffectations(f.as(role), hubapi.AffectationFilter{ChantierID: ch}, hubapi.PageRequest{}, nil))
					return listed(items, err, id, func(a *hubapi.Affectation) int64 { return a.ID })
				}},
				{"Planning", owned, read, func(f *fixture, role hubapi.Role, sc scenario) error {
					id, _ := f.rowFor(hubapi.ResourceAffectations, role, sc)
					items, err := f.svc.Planning(f.as(role), hubapi.NewDate(2026, 3, 2), hubapi.NewDate(2026, 3, 2), 0)
					return listed(items, err, id, func(a *hubapi.Affectation) int64 { return a.ID })
				}},
			},
			hubapi.ActionCreate: {{"CreateAffectation", owned, []A{hubapi.ActionCreate}, func(f *fixture, role hubapi.Role, sc scenario) error {
				return noErr(f.svc.CreateAffectation(f.as(role), hubapi.AffectationInput{UserID: f.owner(role, sc), ChantierID: f.chantier(),
					Date: hubapi.NewDate(2026, 3, 4)}))
			}}},
			hubapi.ActionChange: {{"PatchAffectation", owned, change, func(f *fixture, role hubapi.Role, sc scenario) error {
				id, _ := f.rowFor(hubapi.ResourceAffectations, role, sc)
				return noErr(f.svc.PatchAffectation(f.as(role), id, func(in hubapi.AffectationInput) (hubapi.AffectationInput, error) {
					in.Note = "apporter le laser"
					return in, nil
				}, 0))
			}}},
			hubapi.ActionDelete: {{"DeleteAffectation", owned, []A{hubapi.ActionDelete}, func(f *fixture, role hubapi.Role, sc scenario) error {
				id, _ := f.rowFor(hubapi.ResourceAffectations, role, sc)
				return f.svc.DeleteAffectation(f.as(role), id, 0)
			}}},
		},
		hubapi.ResourceStats: {
			hubapi.ActionRead: {{"Stats", []scenario{noOwner}, read, func(f *fixture, role hubapi.Role, sc scenario) error {
				return noErr(f.svc.Stats(f.as(role)))
			}}},
		},
		hubapi.ResourceUsers: {
			hubapi.ActionRead: {{"Me", []scenario{mine}, read, func(f *fixture, role hubapi.Role, sc scenario) error {
				u, err := f.svc.Me(f.as(role))
				if err == nil && u.ID != f.users[role].ID {
					return fmt.Errorf("Me returned user %d", u.ID)
				}
				return err
			}}},
		},
		hubapi.ResourceAPIKeys: {
			hubapi.ActionRead: {{"ListAPIKeys", owned, read, func(f *fixture, role hubapi.Role, sc scenario) error {
				id, _ := f.rowFor(hubapi.ResourceAPIKeys, role, sc)
				keys, err := f.svc.ListAPIKeys(f.as(role), f.owner(role, sc))
				return listed(keys, err, id, func(k *hubapi.APIKey) int64 { return k.ID })
			}}},
			hubapi.ActionCreate: {{"CreateAPIKey", owned, []A{hubapi.ActionCreate}, func(f *fixture, role hubapi.Role, sc scenario) error {
				_, _, err := f.svc.CreateAPIKey(f.as(role), hubapi.APIKeyInput{UserID: f.owner(role, sc), Name: "k", Scopes: []hubapi.Scope{hubapi.ScopeChantiersRead}})
				return err
			}}},
			hubapi.ActionDelete: {{"RevokeAPIKey", owned, []A{hubapi.ActionDelete}, func(f *fixture, role hubapi.Role, sc scenario) error {
				id, _ := f.rowFor(hubapi.ResourceAPIKeys, role, sc)
				return f.svc.RevokeAPIKey(f.as(role), id)
			}}},
			hubapi.ActionChange: {
				{"RotateAPIKey", owned, change, func(f *fixture, role hubapi.Role, sc scenario) error {
					id, _ := f.rowFor(hubapi.ResourceAPIKeys, role, sc)
					_, err := f.svc.RotateAPIKey(f.as(role), id)
					return err
				}},
				{"PatchAPIKey", owned, change, func(f *fixture, role hubapi.Role, sc scenario) error {
					id, _ := f.rowFor(hubapi.ResourceAPIKeys, role, sc)
					name := "renamed"
					_, err := f.svc.PatchAPIKey(f.as(role), id, hubapi.APIKeyPatch{Name: &name}, nil)
					return err
				}},
			},
		},
		hubapi.ResourceConnectors: {
			hubapi.ActionRead: {
				{"GetConnector", owned, read, func(f *fixture, role hubapi.Role, sc scenario) error {
					id, _ := f.rowFor(hubapi.ResourceConnectors, role, sc)
					return noErr(f.svc.GetConnector(f.as(role), id))
				}},
				{"ListConnectors", owned, read, func(f *fixture, role hubapi.Role, sc scenario) error {
					id, _ := f.rowFor(hubapi.ResourceConnectors, role, sc)
					pg, err := f.svc.ListConnectors(f.as(role), hubapi.ConnectorFilter{UserID: f.owner(role, sc)}, hubapi.PageRequest{Limit: 100})
					return listed(pg.Items, err, id, func(c *hubapi.Connector) int64 { return c.ID })
				}},
				{"ListConnectorSyncLogs", owned, read, func(f *fixture, role hubapi.Role, sc scenario) error {
					id, _ := f.rowFor(hubapi.ResourceConnectors, role, sc)
					return noErr(f.svc.ListConnectorSyncLogs(f.as(role), id, hubapi.PageRequest{}))
				}},
			},
			hubapi.ActionCreate: {{"CreateConnector", []scenario{mine}, []A{hubapi.ActionCreate}, func(f *fixture, role hubapi.Role, sc scenario) error {
				_, err := f.svc.CreateConnector(f.as(role), hubapi.ConnectorInput{Type: "example", Name: "n",
					Settings: map[string]string{"account": "a"}, Secrets: map[string]string{"api_key": "k"}})
				return err
			}}},
			hubapi.ActionChange: {
				{"ReplaceConnector", owned, change, func(f *fixture, role hubapi.Role, sc scenario) error {
					id, _ := f.rowFor(hubapi.ResourceConnectors, role, sc)
					return noErr(f.svc.ReplaceConnector(f.as(role), id, hubapi.ConnectorInput{Name: "renamed", Settings: map[string]string{"account": "b"}}, nil))
				}},
				{"SyncConnector", owned, change, func(f *fixture, role hubapi.Role, sc scenario) error {
					id, _ := f.rowFor(hubapi.ResourceConnectors, role, sc)
					return noErr(f.svc.SyncConnector(f.as(role), id))
				}},
			},
			hubapi.ActionDelete: {{"DeleteConnector", owned, []A{hubapi.ActionDelete}, func(f *fixture, role hubapi.Role, sc scenario) error {
				id, _ := f.rowFor(hubapi.ResourceConnectors, role, sc)
				return f.svc.DeleteConnector(f.as(role), id, nil)
			}}},
		},
		hubapi.ResourceWebhooks: {
			hubapi.ActionRead: {
				{"GetWebhook", owned, read, func(f *fixture, role hubapi.Role, sc scenario) error {
					id, _ := f.rowFor(hubapi.ResourceWebhooks, role, sc)
					return noErr(f.svc.GetWebhook(f.as(role), id))
				}},
				{"ListWebhooks", owned, read, func(f *fixture, role hubapi.Role, sc scenario) error {
					id, _ := f.rowFor(hubapi.ResourceWebhooks, role, sc)
					pg, err := f.svc.ListWebhooks(f.as(role), hubapi.WebhookFilter{UserID: f.owner(role, sc)}, hubapi.PageRequest{Limit: 100})
					return listed(pg.Items, err, id, func(w *hubapi.WebhookSubscription) int64 { return w.ID })
				}},
				{"ListWebhookDeliveries", owned, read, func(f *fixture, role hubapi.Role, sc scenario) error {
					id, _ := f.rowFor(hubapi.ResourceWebhooks, role, sc)
					return noErr(f.svc.ListWebhookDeliveries(f.as(role), id, hubapi.PageRequest{}))
				}},
			},
			// Another user may own a subscription only if their role allows
			// webhooks:manage (the other user here is a compagnon): see
			// TestWebhookOwnership for an admin creating one for a conducteur.
			hubapi.ActionCreate: {{"CreateWebhook", []scenario{mine}, []A{hubapi.ActionCreate}, func(f *fixture, role hubapi.Role, sc scenario) error {
				_, _, err := f.svc.CreateWebhook(f.as(role), hubapi.WebhookInput{URL: "https://93.184.215.14/new", EventTypes: []string{"chantier.created"}})
				return err
			}}},
			hubapi.ActionChange: {
				{"PatchWebhook", owned, change, func(f *fixture, role hubapi.Role, sc scenario) error {
					id, _ := f.rowFor(hubapi.ResourceWebhooks, role, sc)
					return noErr(f.svc.PatchWebhook(f.as(role), id, func(in hubapi.WebhookInput) (hubapi.WebhookInput, error) {
						in.Description = "ERP"
						return in, nil
					}, nil))
				}},
				{"TestWebhook", owned, change, func(f *fixture, role hubapi.Role, sc scenario) error {
					id, _ := f.rowFor(hubapi.ResourceWebhooks, role, sc)
					return noErr(f.svc.TestWebhook(f.as(role), id))
				}},
			},
			hubapi.ActionDelete: {{"DeleteWebhook", owned, []A{hubapi.ActionDelete}, func(f *fixture, role hubapi.Role, sc scenario) error {
				id, _ := f.rowFor(hubapi.ResourceWebhooks, role, sc)
				return f.svc.DeleteWebhook(f.as(role), id, nil)
			}}},
		},
	}
}

// Every cell of the README's permission matrix, on SQLite and PostgreSQL:
// each role tries each action of each resource through every use case that
// performs it, on its own rows and on another user's (open and closed
// where the resource has such states), and gets what the cell says —
// done, ErrForbidden (403), or ErrNotFound (404) for a row it may not even
// read — then the state rules (a validated pointage is frozen: 409).
func TestPermissionMatrix(t *testing.T) {
	m := readmeMatrix(t)
	ops := operations()
	for res, actions := range m {
		if !slices.Contains(hubapi.Resources, hubapi.Resource(res)) {
			t.Errorf("README matrix names an unknown resource %q", res)
		}
		for a := range actions {
			if len(ops[hubapi.Resource(res)][hubapi.Action(a)]) == 0 {
				t.Errorf("README matrix has %s %s, which no use case performs", res, a)
			}
		}
	}
	testenv.EachDB(t, func(t *testing.T, tdb *testenv.DB) {
		f := newFixture(t, tdb)
		for _, r := range hubapi.Resources {
			for _, a := range hubapi.Actions {
				cases := ops[r][a]
				if len(cases) == 0 {
					// No use case performs it: the README must refuse it
					// to everybody.
					for _, role := range hubapi.Roles {
						if c := m.cell(r, a, role); c != "—" {
							t.Errorf("%s %s: README grants %q to %s, but no use case performs it", r, a, c, role)
						}
					}
					continue
				}
				for _, role := range hubapi.Roles {
					for _, op := range cases {
						for _, sc := range op.scenarios {
							want := expect(m, r, role, sc, op.checks...)
							name := fmt.Sprintf("%s %s by %s (%s) on %s: %s", r, a, role, m.cell(r, a, role), sc.name, op.name)
							t.Run(name, func(t *testing.T) {
								f.t = t
								err := op.run(f, role, sc)
								switch {
								case want == nil && err != nil:
									t.Errorf("want allowed, got %v", err)
								case want != nil && !errors.Is(err, want):
									t.Errorf("want %v, got %v", want, err)
								}
							})
						}
					}
				}
			}
		}
	})
}

// financeOps are the use cases of an accounting resource (nobody owns its
// rows).
func financeOps(r hubapi.Resource, get func(*fixture, hubapi.Role, int64) error, list func(f *fixture, role hubapi.Role, id, chantier int64) error,
	create func(f *fixture, role hubapi.Role, chantier int64) error, change func(f *fixture, role hubapi.Role, id, chantier int64) error,
	del func(*fixture, hubapi.Role, int64) error) map[hubapi.Action][]operation {
	type A = hubapi.Action
	row := func(f *fixture, role hubapi.Role, sc scenario) (int64, int64) { return f.rowFor(r, role, sc) }
	return map[hubapi.Action][]operation{
		hubapi.ActionRead: {
			{"Get", []scenario{noOwner}, []A{hubapi.ActionRead}, func(f *fixture, role hubapi.Role, sc scenario) error {
				id, _ := row(f, role, sc)
				return get(f, role, id)
			}},
			{"List", []scenario{noOwner}, []A{hubapi.ActionRead}, func(f *fixture, role hubapi.Role, sc scenario) error {
				id, ch := row(f, role, sc)
				return list(f, role, id, ch)
			}},
		},
		hubapi.ActionCreate: {{"Create", []scenario{noOwner}, []A{hubapi.ActionCreate}, func(f *fixture, role hubapi.Role, sc scenario) error {
			return create(f, role, f.chantier())
		}}},
		hubapi.ActionChange: {{"Change", []scenario{noOwner}, []A{hubapi.ActionChange}, func(f *fixture, role hubapi.Role, sc scenario) error {
			id, ch := row(f, role, sc)
			return change(f, role, id, ch)
		}}},
		hubapi.ActionDelete: {{"Delete", []scenario{noOwner}, []A{hubapi.ActionDelete}, func(f *fixture, role hubapi.Role, sc scenario) error {
			id, _ := row(f, role, sc)
			return del(f, role, id)
		}}},
	}
}
