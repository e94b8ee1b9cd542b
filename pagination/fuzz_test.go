package pagination_test

import (
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"reflect"
	"testing"
	"time"

	"github.com/hubchantier/hubchantier/pagination"
	"github.com/hubchantier/hubchantier/problem"
)

// FuzzDecode feeds arbitrary tokens, and valid cursors with arbitrary bytes
// XORed in, to Codec.Decode: it must never panic, and every failure must be
// the typed error.
func FuzzDecode(f *testing.F) {
	clk := &clock{t: time.Date(2026, 1, 15, 10, 0, 0, 0, time.UTC)}
	c := mustCodec(f, [][]byte{key1, key2}, pagination.WithClock(clk.now))
	values := []any{"nom", int64(7), nil, clk.t, 1.5, true, []byte{1}}
	valid := mustEncode(f, c, pagination.Cursor{Values: values}, fpA)
	raw, _ := base64.RawURLEncoding.DecodeString(valid)

	f.Add(valid, []byte{})
	f.Add("", []byte{})
	f.Add("eyJpZCI6MTIzfQ", []byte{})
	f.Add(valid[:40], []byte{0, 1})
	f.Add(valid, []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80})
	f.Fuzz(func(t *testing.T, token string, xor []byte) {
		check := func(tok string) {
			cur, err := c.Decode(tok, fpA)
			if err == nil {
				// Only genuine cursors open (the seed corpus holds some,
				// sealed with random nonces); a forgery would show here.
				if !reflect.DeepEqual(cur.Values, values) {
					t.Fatalf("forged token %q opened: %+v", tok, cur)
				}
				return
			}
			var ce *pagination.CursorError
			if !errors.Is(err, pagination.ErrInvalidCursor) || !errors.As(err, &ce) {
				t.Fatalf("untyped error %v", err)
			}
		}
		check(token)
		if len(xor) > 0 {
			b := append([]byte{}, raw...)
			changed := false
			for i, x := range xor {
				if i < len(b) {
					b[i] ^= x
					changed = changed || x != 0
				}
			}
			if changed {
				if _, err := c.Decode(base64.RawURLEncoding.EncodeToString(b), fpA); err == nil {
					t.Fatal("a modified cursor opened")
				}
			}
		}
	})
}

// FuzzParseRequest feeds arbitrary parameter values to ParseRequest: it
// must never panic, and every rejection must be a 400 problem.
func FuzzParseRequest(f *testing.F) {
	p := newItemPaginator(f)
	for _, s := range [][3]string{
		{"20", "-at", ""}, {"0", "name,name", "x"}, {"1e2", "-day,name,-id", ""}, {"", ",,,", "AAAA"},
		{"100", "+grp, -score", ""}, {"-5", "-", "\x00"},
	} {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, limit, sort, cursor string) {
		q := url.Values{"limit": {limit}, "sort": {sort}, "cursor": {cursor}}
		req, err := p.ParseRequest(q, "f")
		if err != nil {
			d, ok := problem.As(err)
			if !ok || d.Status != http.StatusBadRequest {
				t.Fatalf("error %v is not a 400 problem", err)
			}
			var re *pagination.RequestError
			if !errors.As(err, &re) {
				t.Fatalf("error %T is not a *RequestError", err)
			}
			return
		}
		if req.Limit() < 1 || req.Limit() > pagination.MaxLimit {
			t.Fatalf("limit %d accepted", req.Limit())
		}
		if s := req.Sort(); len(s) == 0 || s[len(s)-1].Field != "id" && !containsID(s) {
			t.Fatalf("order %q does not end on id", s)
		}
	})
}

func containsID(s pagination.Sort) bool {
	for _, k := range s {
		if k.Field == "id" {
			return true
		}
	}
	return false
}
