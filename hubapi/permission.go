package hubapi

import (
	"fmt"
	"strings"
)

// Resource names a kind of row the permission rules cover.
type Resource string

// Resources, in the order of the README matrix.
const (
	ResourceChantiers    Resource = "chantiers"
	ResourcePointages    Resource = "pointages"
	ResourceDocuments    Resource = "documents"
	ResourceSignalements Resource = "signalements"
	ResourceAffectations Resource = "affectations"
	ResourceStats        Resource = "stats"
	ResourceUsers        Resource = "users"
	ResourceAPIKeys      Resource = "api_keys"
	ResourceWebhooks     Resource = "webhooks"
	ResourceConnectors   Resource = "connectors"
	ResourceClients      Resource = "clients"
	ResourceFactures     Resource = "factures"
	ResourceDepenses     Resource = "depenses"
)

// Resources lists every resource of the matrix.
var Resources = []Resource{ResourceChantiers, ResourcePointages, ResourceDocuments, ResourceSignalements,
	ResourceAffectations, ResourceStats, ResourceUsers, ResourceAPIKeys, ResourceWebhooks, ResourceConnectors,
	ResourceClients, ResourceFactures, ResourceDepenses}

// Action is what a caller does to a row.
type Action string

// Actions. ActionValidate is the approval of a row by someone other than
// the worker: validating a submitted pointage, and resolving (statut resolu
// or ferme) or reopening a signalement.
const (
	ActionRead     Action = "read"
	ActionCreate   Action = "create"
	ActionChange   Action = "change"
	ActionDelete   Action = "delete"
	ActionValidate Action = "validate"
)

// Actions lists every action, in the order of the README matrix.
var Actions = []Action{ActionRead, ActionCreate, ActionChange, ActionDelete, ActionValidate}

// Grant is how much of a resource a role may act on.
type Grant uint8

// Grants. Ownership is per resource: a pointage or an affectation belongs
// to its user_id, a signalement to created_by, a document to uploaded_by,
// an API key or a webhook subscription to its user, the current user to
// itself. A row is closed when
// it is a resolved or closed signalement (no other closed state is a
// permission matter: a validated pointage is frozen for everybody, 409).
const (
	GrantNone    Grant = iota // refused
	GrantAny                  // every row
	GrantOwn                  // the caller's own rows
	GrantOwnOpen              // the caller's own rows while not closed
	GrantOthers               // every row but the caller's own (nobody approves their own work)
)

var grantNames = [...]string{GrantNone: "—", GrantAny: "any", GrantOwn: "own", GrantOwnOpen: "own, open", GrantOthers: "others'"}

// String is the grant as written in the README matrix.
func (g Grant) String() string {
	if int(g) < len(grantNames) {
		return grantNames[g]
	}
	return fmt.Sprintf("Grant(%d)", g)
}

// ParseGrant is the inverse of String.
func ParseGrant(s string) (Grant, error) {
	for g, name := range grantNames {
		if s == name {
			return Grant(g), nil
		}
	}
	return GrantNone, fmt.Errorf("unknown grant %q", s)
}

// Rule is one line of the permission matrix: the grant of each role for an
// action on a resource, in the order of Roles.
type Rule struct {
	Resource Resource
	Action   Action
	Grants   [4]Grant // admin, conducteur, chef_chantier, compagnon
}

// Permissions is the role × action matrix of every resource; the README
// shows it (TestPermissionMatrixInREADME keeps them equal) and the use
// cases enforce it through Can. An action missing here is refused to
// everybody. The scope bounds of each role (RoleScopes) agree with it: a
// role never gets a grant whose scope it may not hold.
var Permissions = []Rule{
	{ResourceChantiers, ActionRead, [4]Grant{GrantAny, GrantAny, GrantAny, GrantAny}},
	{ResourceChantiers, ActionCreate, [4]Grant{GrantAny, GrantAny, GrantNone, GrantNone}},
	{ResourceChantiers, ActionChange, [4]Grant{GrantAny, GrantAny, GrantNone, GrantNone}},
	{ResourceChantiers, ActionDelete, [4]Grant{GrantAny, GrantAny, GrantNone, GrantNone}},

	{ResourcePointages, ActionRead, [4]Grant{GrantAny, GrantAny, GrantAny, GrantOwn}},
	{ResourcePointages, ActionCreate, [4]Grant{GrantAny, GrantAny, GrantAny, GrantOwn}},
	{ResourcePointages, ActionChange, [4]Grant{GrantAny, GrantAny, GrantAny, GrantOwn}},
	{ResourcePointages, ActionDelete, [4]Grant{GrantAny, GrantAny, GrantAny, GrantOwn}},
	{ResourcePointages, ActionValidate, [4]Grant{GrantOthers, GrantOthers, GrantOthers, GrantNone}},

	{ResourceDocuments, ActionRead, [4]Grant{GrantAny, GrantAny, GrantAny, GrantAny}},
	{ResourceDocuments, ActionCreate, [4]Grant{GrantAny, GrantAny, GrantAny, GrantNone}},
	{ResourceDocuments, ActionChange, [4]Grant{GrantAny, GrantAny, GrantOwn, GrantNone}},
	{ResourceDocuments, ActionDelete, [4]Grant{GrantAny, GrantAny, GrantOwn, GrantNone}},

	{ResourceSignalements, ActionRead, [4]Grant{GrantAny, GrantAny, GrantAny, GrantAny}},
	{ResourceSignalements, ActionCreate, [4]Grant{GrantAny, GrantAny, GrantAny, GrantAny}},
	{ResourceSignalements, ActionChange, [4]Grant{GrantAny, GrantAny, GrantAny, GrantOwnOpen}},
	{ResourceSignalements, ActionDelete, [4]Grant{GrantAny, GrantAny, GrantOwnOpen, GrantOwnOpen}},
	{ResourceSignalements, ActionValidate, [4]Grant{GrantAny, GrantAny, GrantAny, GrantNone}},

	{ResourceAffectations, ActionRead, [4]Grant{GrantAny, GrantAny, GrantAny, GrantOwn}},
	{ResourceAffectations, ActionCreate, [4]Grant{GrantAny, GrantAny, GrantAny, GrantNone}},
	{ResourceAffectations, ActionChange, [4]Grant{GrantAny, GrantAny, GrantAny, GrantNone}},
	{ResourceAffectations, ActionDelete, [4]Grant{GrantAny, GrantAny, GrantAny, GrantNone}},

	{ResourceStats, ActionRead, [4]Grant{GrantAny, GrantAny, GrantAny, GrantNone}},

	{ResourceUsers, ActionRead, [4]Grant{GrantOwn, GrantOwn, GrantOwn, GrantOwn}},

	{ResourceAPIKeys, ActionRead, [4]Grant{GrantAny, GrantNone, GrantNone, GrantNone}},
	{ResourceAPIKeys, ActionCreate, [4]Grant{GrantAny, GrantNone, GrantNone, GrantNone}},
	{ResourceAPIKeys, ActionChange, [4]Grant{GrantAny, GrantNone, GrantNone, GrantNone}},
	{ResourceAPIKeys, ActionDelete, [4]Grant{GrantAny, GrantNone, GrantNone, GrantNone}},

	{ResourceWebhooks, ActionRead, [4]Grant{GrantAny, GrantOwn, GrantNone, GrantNone}},
	{ResourceWebhooks, ActionCreate, [4]Grant{GrantAny, GrantOwn, GrantNone, GrantNone}},
	{ResourceWebhooks, ActionChange, [4]Grant{GrantAny, GrantOwn, GrantNone, GrantNone}},
	{ResourceWebhooks, ActionDelete, [4]Grant{GrantAny, GrantOwn, GrantNone, GrantNone}},

	{ResourceConnectors, ActionRead, [4]Grant{GrantAny, GrantOwn, GrantNone, GrantNone}},
	{ResourceConnectors, ActionCreate, [4]Grant{GrantAny, GrantOwn, GrantNone, GrantNone}},
	{ResourceConnectors, ActionChange, [4]Grant{GrantAny, GrantOwn, GrantNone, GrantNone}},
	{ResourceConnectors, ActionDelete, [4]Grant{GrantAny, GrantOwn, GrantNone, GrantNone}},

	{ResourceClients, ActionRead, [4]Grant{GrantAny, GrantAny, GrantNone, GrantNone}},
	{ResourceClients, ActionCreate, [4]Grant{GrantAny, GrantAny, GrantNone, GrantNone}},
	{ResourceClients, ActionChange, [4]Grant{GrantAny, GrantAny, GrantNone, GrantNone}},
	{ResourceClients, ActionDelete, [4]Grant{GrantAny, GrantAny, GrantNone, GrantNone}},

	{ResourceFactures, ActionRead, [4]Grant{GrantAny, GrantAny, GrantNone, GrantNone}},
	{ResourceFactures, ActionCreate, [4]Grant{GrantAny, GrantAny, GrantNone, GrantNone}},
	{ResourceFactures, ActionChange, [4]Grant{GrantAny, GrantAny, GrantNone, GrantNone}},
	{ResourceFactures, ActionDelete, [4]Grant{GrantAny, GrantAny, GrantNone, GrantNone}},

	{ResourceDepenses, ActionRead, [4]Grant{GrantAny, GrantAny, GrantNone, GrantNone}},
	{ResourceDepenses, ActionCreate, [4]Grant{GrantAny, GrantAny, GrantNone, GrantNone}},
	{ResourceDepenses, ActionChange, [4]Grant{GrantAny, GrantAny, GrantNone, GrantNone}},
	{ResourceDepenses, ActionDelete, [4]Grant{GrantAny, GrantAny, GrantNone, GrantNone}},
}

// resourceScopes are the scopes an action needs besides the role's grant:
// the read scope for reads, the write scope for every other action.
var resourceScopes = map[Resource][2]Scope{
	ResourceChantiers:    {ScopeChantiersRead, ScopeChantiersWrite},
	ResourcePointages:    {ScopePointagesRead, ScopePointagesWrite},
	ResourceDocuments:    {ScopeDocumentsRead, ScopeDocumentsWrite},
	ResourceSignalements: {ScopeSignalementsRead, ScopeSignalementsWrite},
	ResourceAffectations: {ScopePlanningRead, ScopePlanningWrite},
	ResourceStats:        {ScopeStatsRead, ScopeStatsRead},
	ResourceUsers:        {"", ""}, // the current user: any authenticated caller
	ResourceAPIKeys:      {ScopeAdmin, ScopeAdmin},
	ResourceWebhooks:     {ScopeWebhooksManage, ScopeWebhooksManage},
	// Connectors are integrations, like webhooks: the same scope.
	ResourceConnectors: {ScopeWebhooksManage, ScopeWebhooksManage},
	// The accounting of the company: clients, invoices, expenses.
	ResourceClients:  {ScopeFinancesRead, ScopeFinancesWrite},
	ResourceFactures: {ScopeFinancesRead, ScopeFinancesWrite},
	ResourceDepenses: {ScopeFinancesRead, ScopeFinancesWrite},
}

// ScopeFor returns the scope a caller's credential needs for a on r ("" for
// none).
func ScopeFor(r Resource, a Action) Scope {
	s := resourceScopes[r]
	if a == ActionRead {
		return s[0]
	}
	return s[1]
}

// GrantOf returns the grant of role on action a of resource r.
func GrantOf(role Role, r Resource, a Action) Grant {
	i := roleIndex(role)
	if i < 0 {
		return GrantNone
	}
	for _, rule := range Permissions {
		if rule.Resource == r && rule.Action == a {
			return rule.Grants[i]
		}
	}
	return GrantNone
}

func roleIndex(role Role) int {
	for i, r := range Roles {
		if r == role {
			return i
		}
	}
	return -1
}

// Row is what the rules look at in the row an action is on.
type Row struct {
	// Owner is the user the row belongs to (0: nobody). For a create, the
	// user the new row will belong to.
	Owner int64
	// Closed marks a resolved or closed signalement.
	Closed bool
}

// Can reports whether p may do a on row of r. With row nil it tells
// whether p may do a on some rows of r at all: the use cases ask that
// first, before reading anything, then again with the row they locked.
//
// Errors: ErrUnauthenticated (no principal); ErrNotFound when the row
// exists but p may not even read it (acting on another user's row one may
// not see must not reveal that it exists); ErrForbidden otherwise.
func Can(p *Principal, r Resource, a Action, row *Row) error {
	if p == nil {
		return ErrUnauthenticated
	}
	if sc := ScopeFor(r, a); sc != "" && !p.Has(sc) {
		return Errorf(ErrForbidden, "the credential lacks the %s scope", sc)
	}
	g := GrantOf(p.Role, r, a)
	if g == GrantNone {
		return Errorf(ErrForbidden, "a %s may not %s %s", p.Role, a, r)
	}
	if row == nil || g == GrantAny {
		return nil
	}
	own := row.Owner != 0 && row.Owner == p.UserID
	switch {
	case g == GrantOthers && !own, g == GrantOwn && own, g == GrantOwnOpen && own && !row.Closed:
		return nil
	case g == GrantOthers:
		return Errorf(ErrForbidden, "nobody may %s their own %s", a, r)
	case own: // GrantOwnOpen on a closed row
		return Errorf(ErrForbidden, "a %s may %s only their own %s while they are open", p.Role, a, r)
	}
	// Another user's row, and the grant is the caller's own rows.
	if a != ActionCreate && !p.Sees(r, row) {
		return ErrNotFound
	}
	return Errorf(ErrForbidden, "a %s may %s only their own %s", p.Role, a, r)
}

// Sees reports whether p's role may read row of r (scopes aside).
func (p *Principal) Sees(r Resource, row *Row) bool {
	switch GrantOf(p.Role, r, ActionRead) {
	case GrantAny:
		return true
	case GrantOwn:
		return row.Owner != 0 && row.Owner == p.UserID
	}
	return false
}

// ReadsOwnRowsOnly reports whether p's lists of r hold only p's own rows
// (a compagnon's pointages and affectations): list use cases narrow their
// query to them, and shared caches key such lists by user.
func (p *Principal) ReadsOwnRowsOnly(r Resource) bool {
	return p != nil && GrantOf(p.Role, r, ActionRead) == GrantOwn
}

// ReadsOwnRowsOfSome reports whether p's role reads only its own rows of
// at least one resource: then what p sees differs from what another
// principal of the same role and scopes sees.
func (p *Principal) ReadsOwnRowsOfSome() bool {
	for _, r := range Resources {
		if r != ResourceUsers && p.ReadsOwnRowsOnly(r) {
			return true
		}
	}
	return false
}

// PermissionMatrix renders Permissions as the Markdown table of the README.
func PermissionMatrix() string {
	var b strings.Builder
	b.WriteString("| Resource | Action |")
	for _, r := range Roles {
		b.WriteString(" " + string(r) + " |")
	}
	b.WriteString("\n|---|---|")
	for range Roles {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, rule := range Permissions {
		fmt.Fprintf(&b, "| %s | %s |", rule.Resource, rule.Action)
		for _, g := range rule.Grants {
			b.WriteString(" " + g.String() + " |")
		}
		b.WriteString("\n")
	}
	return b.String()
}
