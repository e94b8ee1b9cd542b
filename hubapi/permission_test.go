package hubapi_test

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/hubchantier/hubchantier/hubapi"
)

// The README shows the permission matrix exactly as hubapi.Permissions
// holds it: one cannot change without the other.
func TestPermissionMatrixInREADME(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	const begin, end = "<!-- permissions:begin", "<!-- permissions:end -->"
	s := string(b)
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i < 0 || j < i {
		t.Fatalf("README.md has no %q … %q section", begin, end)
	}
	got := s[i:j]
	got = got[strings.Index(got, "\n")+1:]
	if want := hubapi.PermissionMatrix(); got != want {
		t.Fatalf("README.md permission matrix differs from hubapi.Permissions; put this between the markers:\n%s", want)
	}
}

// Every grant is one the role's scope bounds allow: a role never has a
// grant whose scope it may not hold, so the matrix never promises what
// authentication refuses.
func TestPermissionsAgreeWithRoleScopes(t *testing.T) {
	seen := map[string]bool{}
	for _, rule := range hubapi.Permissions {
		k := string(rule.Resource) + " " + string(rule.Action)
		if seen[k] {
			t.Errorf("%s appears twice", k)
		}
		seen[k] = true
		sc := hubapi.ScopeFor(rule.Resource, rule.Action)
		for i, g := range rule.Grants {
			role := hubapi.Roles[i]
			if g != hubapi.GrantNone && sc != "" && !hubapi.RoleAllows(role, sc) {
				t.Errorf("%s: %s has %q but may not hold %s", k, role, g, sc)
			}
		}
	}
}

func TestCan(t *testing.T) {
	const me, other = 10, 20
	who := func(role hubapi.Role) *hubapi.Principal {
		return &hubapi.Principal{UserID: me, Role: role, Scopes: hubapi.RoleScopes(role)}
	}
	mine, theirs := &hubapi.Row{Owner: me}, &hubapi.Row{Owner: other}
	cases := []struct {
		name string
		p    *hubapi.Principal
		r    hubapi.Resource
		a    hubapi.Action
		row  *hubapi.Row
		want error // nil: allowed
	}{
		{"no principal → unauthenticated", nil, hubapi.ResourceChantiers, hubapi.ActionRead, nil, hubapi.ErrUnauthenticated},
		{"admin role without the scope → forbidden", &hubapi.Principal{UserID: me, Role: hubapi.RoleAdmin}, hubapi.ResourceChantiers, hubapi.ActionRead, nil, hubapi.ErrForbidden},
		{"unknown role → forbidden", &hubapi.Principal{UserID: me, Role: "boss", Scopes: hubapi.AllScopes}, hubapi.ResourceChantiers, hubapi.ActionRead, nil, hubapi.ErrForbidden},
		{"an action missing from the matrix → forbidden", who(hubapi.RoleAdmin), hubapi.ResourceChantiers, hubapi.ActionValidate, nil, hubapi.ErrForbidden},
		{"compagnon may read some pointages", who(hubapi.RoleCompagnon), hubapi.ResourcePointages, hubapi.ActionRead, nil, nil},
		{"compagnon reads own pointage", who(hubapi.RoleCompagnon), hubapi.ResourcePointages, hubapi.ActionRead, mine, nil},
		{"compagnon and another's pointage → not found", who(hubapi.RoleCompagnon), hubapi.ResourcePointages, hubapi.ActionRead, theirs, hubapi.ErrNotFound},
		{"compagnon changing another's pointage → not found", who(hubapi.RoleCompagnon), hubapi.ResourcePointages, hubapi.ActionChange, theirs, hubapi.ErrNotFound},
		{"compagnon creating for another → forbidden", who(hubapi.RoleCompagnon), hubapi.ResourcePointages, hubapi.ActionCreate, theirs, hubapi.ErrForbidden},
		{"compagnon validating → forbidden", who(hubapi.RoleCompagnon), hubapi.ResourcePointages, hubapi.ActionValidate, theirs, hubapi.ErrForbidden},
		{"chef validating own → forbidden", who(hubapi.RoleChefChantier), hubapi.ResourcePointages, hubapi.ActionValidate, mine, hubapi.ErrForbidden},
		{"chef validating another's", who(hubapi.RoleChefChantier), hubapi.ResourcePointages, hubapi.ActionValidate, theirs, nil},
		{"compagnon changing another's signalement → forbidden (it is visible)", who(hubapi.RoleCompagnon), hubapi.ResourceSignalements, hubapi.ActionChange, theirs, hubapi.ErrForbidden},
		{"compagnon changing own open signalement", who(hubapi.RoleCompagnon), hubapi.ResourceSignalements, hubapi.ActionChange, mine, nil},
		{"compagnon changing own closed signalement → forbidden", who(hubapi.RoleCompagnon), hubapi.ResourceSignalements, hubapi.ActionChange, &hubapi.Row{Owner: me, Closed: true}, hubapi.ErrForbidden},
		{"chef deleting another's document → forbidden", who(hubapi.RoleChefChantier), hubapi.ResourceDocuments, hubapi.ActionDelete, theirs, hubapi.ErrForbidden},
		{"a row owned by nobody is nobody's own", &hubapi.Principal{Role: hubapi.RoleChefChantier, Scopes: hubapi.RoleScopes(hubapi.RoleChefChantier)}, hubapi.ResourceDocuments, hubapi.ActionDelete, &hubapi.Row{}, hubapi.ErrForbidden},
		{"any user reads themselves without a scope", &hubapi.Principal{UserID: me, Role: hubapi.RoleCompagnon}, hubapi.ResourceUsers, hubapi.ActionRead, mine, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := hubapi.Can(tc.p, tc.r, tc.a, tc.row)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("Can = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestGrantNames(t *testing.T) {
	for g := hubapi.GrantNone; g <= hubapi.GrantOthers; g++ {
		if back, err := hubapi.ParseGrant(g.String()); err != nil || back != g {
			t.Errorf("%d → %q → %d, %v", g, g.String(), back, err)
		}
	}
	if _, err := hubapi.ParseGrant("everything"); err == nil {
		t.Error("an unknown grant parsed")
	}
	if s := hubapi.Grant(99).String(); s != "Grant(99)" {
		t.Errorf("unknown grant prints %q", s)
	}
}

func TestReadsOwnRowsOnly(t *testing.T) {
	c := &hubapi.Principal{UserID: 1, Role: hubapi.RoleCompagnon}
	chef := &hubapi.Principal{UserID: 2, Role: hubapi.RoleChefChantier}
	if !c.ReadsOwnRowsOnly(hubapi.ResourcePointages) || c.ReadsOwnRowsOnly(hubapi.ResourceSignalements) || chef.ReadsOwnRowsOnly(hubapi.ResourcePointages) {
		t.Error("ReadsOwnRowsOnly disagrees with the matrix")
	}
	if !c.ReadsOwnRowsOfSome() || chef.ReadsOwnRowsOfSome() || (*hubapi.Principal)(nil).ReadsOwnRowsOfSome() {
		t.Error("ReadsOwnRowsOfSome disagrees with the matrix")
	}
}
