package apiv1_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/hubchantier/hubchantier/client/apiv1"
)

// TestUnionsRoundTrip drives every generated union (oneOf/anyOf of the
// document: pagination modes, full or sparse representations): each
// variant set with From<X> is marshalled, read back and returned unchanged
// by As<X>, and Merge<X> accepts it.
func TestUnionsRoundTrip(t *testing.T) {
	unions := []any{
		&apiv1.Pagination{},
		&apiv1.ListAffectations200JSONResponseBody{}, &apiv1.GetAffectation200JSONResponseBody{},
		&apiv1.ListChantiers200JSONResponseBody{}, &apiv1.GetChantier200JSONResponseBody{},
		&apiv1.ListDocuments200JSONResponseBody{}, &apiv1.GetDocument200JSONResponseBody{},
		&apiv1.ListPointages200JSONResponseBody{}, &apiv1.GetPointage200JSONResponseBody{},
		&apiv1.ListSignalements200JSONResponseBody{}, &apiv1.GetSignalement200JSONResponseBody{},
		&apiv1.GetCurrentUser200JSONResponseBody{},
	}
	for _, u := range unions {
		pv := reflect.ValueOf(u)
		typ := pv.Type()
		variants := 0
		for i := range typ.NumMethod() {
			m := typ.Method(i)
			name, ok := strings.CutPrefix(m.Name, "From")
			if !ok {
				continue
			}
			variants++
			x := reflect.New(m.Type.In(1)).Elem()
			fill(x)
			if err := call(pv.MethodByName("From" + name).Call([]reflect.Value{x})); err != nil {
				t.Fatalf("%s.From%s: %v", typ, name, err)
			}
			b, err := json.Marshal(u)
			if err != nil {
				t.Fatalf("%s marshal: %v", typ, err)
			}
			back := reflect.New(typ.Elem())
			if err := json.Unmarshal(b, back.Interface()); err != nil {
				t.Fatalf("%s unmarshal: %v", typ, err)
			}
			out := back.MethodByName("As" + name).Call(nil)
			if err := call(out); err != nil {
				t.Fatalf("%s.As%s: %v", typ, name, err)
			}
			want, _ := json.Marshal(x.Interface())
			got, _ := json.Marshal(out[0].Interface())
			if !bytes.Equal(got, want) {
				t.Errorf("%s variant %s: %s came back as %s", typ, name, want, got)
			}
			if err := call(back.MethodByName("Merge" + name).Call([]reflect.Value{x})); err != nil {
				t.Errorf("%s.Merge%s: %v", typ, name, err)
			}
		}
		if variants < 2 {
			t.Errorf("%s: %d variants, want at least 2", typ, variants)
		}
	}
}

func call(out []reflect.Value) error {
	if err, _ := out[len(out)-1].Interface().(error); err != nil {
		return err
	}
	return nil
}

// fill sets the strings of v (an e-mail address where the type is an
// e-mail: its MarshalJSON refuses anything else, the empty string too).
func fill(v reflect.Value) {
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i))
			}
		}
	case reflect.String:
		if v.Type().Name() == "Email" {
			v.SetString("someone@example.com")
		} else {
			v.SetString("x")
		}
	}
}
