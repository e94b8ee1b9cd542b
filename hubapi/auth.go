package hubapi

import (
	"context"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/hubchantier/hubchantier/audit"
)

// Role is a user's role in the company.
type Role string

// Roles, from most to least privileged.
const (
	RoleAdmin        Role = "admin"
	RoleConducteur   Role = "conducteur"    // conducteur de travaux: runs several sites
	RoleChefChantier Role = "chef_chantier" // site manager
	RoleCompagnon    Role = "compagnon"     // worker
)

// Roles lists every valid role.
var Roles = []Role{RoleAdmin, RoleConducteur, RoleChefChantier, RoleCompagnon}

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return slices.Contains(Roles, r) }

// Scope is an API permission carried by an API key or an OAuth token.
type Scope string

// Scopes.
const (
	ScopeChantiersRead     Scope = "chantiers:read"
	ScopeChantiersWrite    Scope = "chantiers:write"
	ScopePointagesRead     Scope = "pointages:read"
	ScopePointagesWrite    Scope = "pointages:write"
	ScopeDocumentsRead     Scope = "documents:read"
	ScopeDocumentsWrite    Scope = "documents:write"
	ScopeSignalementsRead  Scope = "signalements:read"
	ScopeSignalementsWrite Scope = "signalements:write"
	ScopePlanningRead      Scope = "planning:read"
	ScopePlanningWrite     Scope = "planning:write"
	ScopeStatsRead         Scope = "stats:read"
	// ScopeWebhooksManage creates, reads, changes and deletes webhook
	// subscriptions (the caller's own; every one for an admin).
	ScopeWebhooksManage Scope = "webhooks:manage"
	ScopeAdmin          Scope = "admin"
	// ScopeFinancesRead and ScopeFinancesWrite cover the accounting
	// resources: clients, factures, dépenses.
	ScopeFinancesRead  Scope = "finances:read"
	ScopeFinancesWrite Scope = "finances:write"
)

// AllScopes lists every scope.
var AllScopes = []Scope{
	ScopeChantiersRead, ScopeChantiersWrite, ScopePointagesRead, ScopePointagesWrite,
	ScopeDocumentsRead, ScopeDocumentsWrite, ScopeSignalementsRead, ScopeSignalementsWrite,
	ScopePlanningRead, ScopePlanningWrite, ScopeStatsRead, ScopeWebhooksManage, ScopeAdmin,
	ScopeFinancesRead, ScopeFinancesWrite,
}

// roleScopes bounds what a key owned by a user of each role may ever do.
//
// webhooks:manage goes to admins and conducteurs only: a subscription sends
// the company's events (every chantier, pointage, document, signalement and
// affectation of the types it names) to an outside URL, which is an
// integration decision of the office, not of a site. A compagnon, who reads
// only their own pointages and affectations, would receive more than they may
// read; chefs de chantier read everything on site but do not set up
// integrations (least privilege).
var roleScopes = map[Role][]Scope{
	RoleAdmin: AllScopes,
	RoleConducteur: {
		ScopeChantiersRead, ScopeChantiersWrite, ScopePointagesRead, ScopePointagesWrite,
		ScopeDocumentsRead, ScopeDocumentsWrite, ScopeSignalementsRead, ScopeSignalementsWrite,
		ScopePlanningRead, ScopePlanningWrite, ScopeStatsRead, ScopeWebhooksManage,
		ScopeFinancesRead, ScopeFinancesWrite,
	},
	RoleChefChantier: {
		ScopeChantiersRead, ScopePointagesRead, ScopePointagesWrite, ScopeDocumentsRead,
		ScopeDocumentsWrite, ScopeSignalementsRead, ScopeSignalementsWrite, ScopePlanningRead,
		ScopePlanningWrite, ScopeStatsRead,
	},
	RoleCompagnon: {
		ScopeChantiersRead, ScopePointagesRead, ScopePointagesWrite, ScopeDocumentsRead,
		ScopeSignalementsRead, ScopeSignalementsWrite, ScopePlanningRead,
	},
}

// RoleScopes returns the scopes a role may hold.
func RoleScopes(r Role) []Scope { return slices.Clone(roleScopes[r]) }

// RoleAllows reports whether a user of role r may hold scope s.
func RoleAllows(r Role, s Scope) bool { return slices.Contains(roleScopes[r], s) }

// ParseScopes parses a comma- or space-separated list and rejects unknown
// scopes. Duplicates are removed; the result is sorted.
func ParseScopes(s string) ([]Scope, error) {
	f := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' })
	out := make([]Scope, 0, len(f))
	for _, x := range f {
		sc := Scope(x)
		if !slices.Contains(AllScopes, sc) {
			return nil, &ValidationError{Fields: map[string]string{"scopes": "unknown scope " + strings.ToValidUTF8(x, "?")}}
		}
		if !slices.Contains(out, sc) {
			out = append(out, sc)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out, nil
}

// JoinScopes is the inverse of ParseScopes: "a,b".
func JoinScopes(s []Scope) string {
	parts := make([]string, len(s))
	for i, x := range s {
		parts[i] = string(x)
	}
	return strings.Join(parts, ",")
}

// Principal is the authenticated caller of a request: the one value that
// authorization, rate limiting, audit and the response cache key on.
type Principal struct {
	UserID int64
	Email  string
	Role   Role
	// Scopes are the effective scopes: those granted to the credential,
	// bounded by the user's role.
	Scopes []Scope
	// APIKeyID is set when the caller used an API key.
	APIKeyID int64
	// ClientID is set when the caller used an OAuth access token.
	ClientID string
	// IPAllowlist restricts where the API key may be used from, when
	// IPRestricted (an empty list then refuses every address).
	IPAllowlist  []netip.Prefix
	IPRestricted bool
	// SecretExpiresAt is set when the caller used a secret replaced by a
	// rotation: it authenticates until then (the answers carry a
	// Deprecation header).
	SecretExpiresAt *time.Time
	SecretRotatedAt *time.Time
}

// AllowsIP reports whether p may be used from a (see AllowsIP).
func (p *Principal) AllowsIP(a netip.Addr) bool {
	return p == nil || AllowsIP(p.IPAllowlist, p.IPRestricted, a)
}

// Has reports whether p holds scope s.
func (p *Principal) Has(s Scope) bool { return p != nil && slices.Contains(p.Scopes, s) }

// IsAdmin reports whether p is an admin holding the admin scope.
func (p *Principal) IsAdmin() bool { return p != nil && p.Role == RoleAdmin && p.Has(ScopeAdmin) }

// Visibility is a stable string of what p may see (role and scopes), used to
// key shared caches: two principals with equal Visibility may share cached
// representations of data that is not per-user.
func (p *Principal) Visibility() string {
	if p == nil {
		return "anonymous"
	}
	// string(Role) + "|" + JoinScopes(Scopes) in one allocation: the
	// response cache asks for it on every request.
	n := len(p.Role) + len(p.Scopes)
	for _, sc := range p.Scopes {
		n += len(sc)
	}
	var b strings.Builder
	b.Grow(n)
	b.WriteString(string(p.Role))
	b.WriteByte('|')
	for i, sc := range p.Scopes {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(string(sc))
	}
	return b.String()
}

// Require returns ErrForbidden unless p holds s (ErrUnauthenticated for nil).
func (p *Principal) Require(s Scope) error {
	if p == nil {
		return ErrUnauthenticated
	}
	if !p.Has(s) {
		return Errorf(ErrForbidden, "the credential lacks the %s scope", s)
	}
	return nil
}

// EffectiveScopes returns granted ∩ the scopes of role.
func EffectiveScopes(role Role, granted []Scope) []Scope {
	out := make([]Scope, 0, len(granted))
	for _, s := range granted {
		if RoleAllows(role, s) {
			out = append(out, s)
		}
	}
	return out
}

type principalKey struct{}

// WithPrincipal returns ctx carrying p.
//
// It also names p as the actor of the request's audit event (audit.SetActor),
// so the event of a request records who made it wherever it was
// authenticated.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	if p != nil {
		audit.SetActor(ctx, audit.Actor{UserID: p.UserID, APIKeyID: p.APIKeyID, OAuthClient: p.ClientID})
	}
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the principal in ctx, or nil.
func PrincipalFrom(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}
