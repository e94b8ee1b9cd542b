// Package jsonmembers checks the member names of a JSON object before
// encoding/json decodes it: encoding/json matches names case-insensitively
// and keeps the last of duplicate members, and a strict API does neither.
// The REST bodies and the batch envelope share it.
package jsonmembers

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"sync"
)

// Error is the first offending member of an object.
type Error struct {
	// Name is the member's name as sent.
	Name string
	// Duplicate is true when the name repeats an earlier member's;
	// otherwise the name is unknown.
	Duplicate bool
}

func (e *Error) Error() string {
	if e.Duplicate {
		return "duplicate member " + e.Name
	}
	return "unknown member " + e.Name
}

// Check reports the first member of the JSON object data whose name is not
// in known (nil: any name is known) or that repeats an earlier member's
// name, compared through canon (nil: exactly). Data that is not an object,
// or not valid JSON, reports nothing: the decoder says what is wrong with
// it, precisely.
func Check(data []byte, known map[string]bool, canon func(string) string) *Error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil
	}
	seen := map[string]bool{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil
		}
		key, _ := t.(string)
		if known != nil && !known[key] {
			return &Error{Name: key}
		}
		k := key
		if canon != nil {
			k = canon(key)
		}
		if seen[k] {
			return &Error{Name: key, Duplicate: true}
		}
		seen[k] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return nil
		}
	}
	return nil
}

var namesCache sync.Map // reflect.Type → map[string]bool

// Names returns the exact member names a struct type decodes (its json
// tags, embedded structs included), or nil for a type that is not a
// struct or a pointer to one.
func Names(t reflect.Type) map[string]bool {
	if v, ok := namesCache.Load(t); ok {
		return v.(map[string]bool)
	}
	st := t
	for st.Kind() == reflect.Pointer {
		st = st.Elem()
	}
	if st.Kind() != reflect.Struct {
		return nil
	}
	names := map[string]bool{}
	var walk func(reflect.Type)
	walk = func(st reflect.Type) {
		for i := 0; i < st.NumField(); i++ {
			f := st.Field(i)
			tag := f.Tag.Get("json")
			name, _, _ := strings.Cut(tag, ",")
			if name == "-" || (!f.IsExported() && !f.Anonymous) {
				continue
			}
			if f.Anonymous && name == "" {
				ft := f.Type
				if ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				if ft.Kind() == reflect.Struct {
					walk(ft)
					continue
				}
			}
			if name == "" {
				name = f.Name
			}
			names[name] = true
		}
	}
	walk(st)
	namesCache.Store(t, names)
	return names
}
