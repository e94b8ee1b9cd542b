package client

import (
	"fmt"
	"net/url"
	"reflect"
	"strconv"
	"strings"
)

// encodeQuery encodes the members of a generated parameter struct that
// carry a `form` tag (query parameters); header parameters (no form tag)
// are left to the client, which sets the conditional headers itself.
// Nil pointers and omitempty zero values are left out.
func encodeQuery(params any) (url.Values, error) {
	q := url.Values{}
	if params == nil {
		return q, nil
	}
	v := reflect.ValueOf(params)
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return q, nil
		}
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return nil, fmt.Errorf("hubchantier: query parameters: %T is not a struct", params)
	}
	t := v.Type()
	for i := range t.NumField() {
		tag, ok := t.Field(i).Tag.Lookup("form")
		if !ok || tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		f := v.Field(i)
		if f.Kind() == reflect.Pointer {
			if f.IsNil() {
				continue
			}
			f = f.Elem()
		}
		if strings.Contains(opts, "omitempty") && f.IsZero() {
			continue
		}
		s, err := formValue(f)
		if err != nil {
			return nil, fmt.Errorf("hubchantier: query parameter %s: %w", name, err)
		}
		q.Set(name, s)
	}
	return q, nil
}

func formValue(f reflect.Value) (string, error) {
	if s, ok := f.Interface().(fmt.Stringer); ok {
		return s.String(), nil
	}
	switch f.Kind() {
	case reflect.String:
		return f.String(), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(f.Int(), 10), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return strconv.FormatUint(f.Uint(), 10), nil
	case reflect.Bool:
		return strconv.FormatBool(f.Bool()), nil
	case reflect.Float32, reflect.Float64:
		return strconv.FormatFloat(f.Float(), 'g', -1, 64), nil
	}
	return "", fmt.Errorf("unsupported type %s", f.Type())
}
