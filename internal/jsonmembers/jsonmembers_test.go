package jsonmembers

import (
	"net/textproto"
	"reflect"
	"testing"
)

func TestCheck(t *testing.T) {
	type inner struct {
		B string `json:"b"`
	}
	type doc struct {
		A string `json:"a,omitempty"`
		inner
		Skip string `json:"-"`
		C    int
	}
	known := Names(reflect.TypeFor[*doc]())
	if len(known) != 3 || !known["a"] || !known["b"] || !known["C"] {
		t.Fatalf("Names = %v", known)
	}
	cases := []struct {
		data  string
		canon func(string) string
		known map[string]bool
		want  *Error
	}{
		{`{"a":"x","b":"y","C":1}`, nil, known, nil},
		{`{"a":"x","b":{"a":1,"a":2},"a":"z"}`, nil, known, &Error{Name: "a", Duplicate: true}},
		{`{"A":"x"}`, nil, known, &Error{Name: "A"}},
		{`{"Skip":"x"}`, nil, known, &Error{Name: "Skip"}},
		{`{"If-Match":"1","if-match":"2"}`, textproto.CanonicalMIMEHeaderKey, nil, &Error{Name: "if-match", Duplicate: true}},
		{`{"If-Match":"1","if-match":"2"}`, nil, nil, nil},
		{`[{"a":1,"a":1}]`, nil, nil, nil}, // not an object
		{`{"a":,"a":1}`, nil, nil, nil},    // malformed: left to the decoder
		{``, nil, nil, nil},
	}
	for _, tc := range cases {
		got := Check([]byte(tc.data), tc.known, tc.canon)
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Check(%s) = %v, want %v", tc.data, got, tc.want)
		}
	}
}
