package service_test

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"testing"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/blob"
	"github.com/hubchantier/hubchantier/hubapi/service"
	"github.com/hubchantier/hubchantier/hubapi/store"
	"github.com/hubchantier/hubchantier/internal/testenv"
)

// noScopeNeeded lists the caller-facing operations that any authenticated
// caller may use, whatever its scopes.
var noScopeNeeded = []string{"Me", "ExportMe", "UpdateMe", "VerifyMyEmail"}

// joinsOnly lists the operations that act through the use cases they are
// given (a unit of work): they refuse a caller without a principal, and
// leave scopes to those use cases.
var joinsOnly = []string{"Atomically"}

// Every exported operation of the caller-facing Service refuses a request
// without a principal, and one whose principal holds no scope; the
// operations that check no caller live on Operator.
func TestEveryServiceOperationChecksTheCaller(t *testing.T) {
	tdb := testenv.SQLite(t)
	db := store.Wrap(tdb.DB)
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	blobs, err := blob.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	svc := reflect.ValueOf(service.New(db, blobs))
	ctxType := reflect.TypeFor[context.Context]()
	errType := reflect.TypeFor[error]()
	callers := map[string]context.Context{
		"no principal": t.Context(),
		"no scope":     hubapi.WithPrincipal(t.Context(), &hubapi.Principal{UserID: 1, Email: "a@b.fr", Role: hubapi.RoleAdmin}),
	}
	var operations []string
	for i := 0; i < svc.NumMethod(); i++ {
		m := svc.Type().Method(i)
		ft := m.Type // receiver first
		if ft.NumIn() < 2 || ft.In(1) != ctxType {
			continue // not an operation (MaxUpload is a setting)
		}
		if ft.NumOut() == 0 || ft.Out(ft.NumOut()-1) != errType {
			t.Errorf("%s takes a context but returns no error", m.Name)
			continue
		}
		operations = append(operations, m.Name)
		for who, ctx := range callers {
			t.Run(m.Name+"/"+who, func(t *testing.T) {
				if who == "no scope" && slices.Contains(joinsOnly, m.Name) {
					t.Skip("acts only through the use cases it is given")
				}
				args := []reflect.Value{reflect.ValueOf(ctx)}
				for j := 2; j < ft.NumIn(); j++ {
					args = append(args, reflect.Zero(ft.In(j)))
				}
				out := svc.Method(i).Call(args)
				err, _ := out[len(out)-1].Interface().(error)
				refused := errors.Is(err, hubapi.ErrUnauthenticated) || errors.Is(err, hubapi.ErrForbidden)
				if who == "no scope" && slices.Contains(noScopeNeeded, m.Name) {
					if refused {
						t.Fatalf("%s refused an authenticated caller: %v", m.Name, err)
					}
					return
				}
				if !refused {
					t.Fatalf("%s did not refuse a caller with %s: err = %v", m.Name, who, err)
				}
			})
		}
	}
	// The walk saw the operations of every service interface.
	for _, iface := range []reflect.Type{
		reflect.TypeFor[hubapi.ChantierService](), reflect.TypeFor[hubapi.PointageService](),
		reflect.TypeFor[hubapi.DocumentService](), reflect.TypeFor[hubapi.SignalementService](),
		reflect.TypeFor[hubapi.AffectationService](), reflect.TypeFor[hubapi.APIKeyService](),
		reflect.TypeFor[hubapi.UserService](), reflect.TypeFor[hubapi.StatsService](),
	} {
		for i := 0; i < iface.NumMethod(); i++ {
			if name := iface.Method(i).Name; name != "MaxUpload" && !slices.Contains(operations, name) {
				t.Errorf("%s.%s was not walked", iface.Name(), name)
			}
		}
	}
	// And none of the operations that check no caller is on Service.
	for _, name := range []string{"Authenticate", "CreateUser", "FindUserByEmail", "IssueAPIKey", "CountActiveAPIKeys"} {
		if _, ok := svc.Type().MethodByName(name); ok {
			t.Errorf("Service has %s, an operation that checks no caller", name)
		}
	}
}
