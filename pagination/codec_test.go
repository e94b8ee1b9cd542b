package pagination_test

import (
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hubchantier/hubchantier/pagination"
)

var fpA = pagination.NewFingerprint("chantiers", "-created_at,id", "statut=ouvert")

// clock is a settable time source for expiry tests.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func mustCodec(t testing.TB, keys [][]byte, opts ...pagination.Option) *pagination.Codec {
	t.Helper()
	c, err := pagination.NewCodec(keys, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func mustEncode(t testing.TB, c *pagination.Codec, cur pagination.Cursor, fp pagination.Fingerprint) string {
	t.Helper()
	tok, err := c.Encode(cur, fp)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// reason returns the CursorError reason of err, failing when err is not one.
func reason(t *testing.T, err error) pagination.CursorErrorReason {
	t.Helper()
	if !errors.Is(err, pagination.ErrInvalidCursor) {
		t.Fatalf("error %v does not match ErrInvalidCursor", err)
	}
	var ce *pagination.CursorError
	if !errors.As(err, &ce) {
		t.Fatalf("error %v is not a *CursorError", err)
	}
	return ce.Reason
}

func TestCodecRoundTrip(t *testing.T) {
	at := time.Date(2026, 1, 15, 10, 0, 0, 123456789, time.FixedZone("CET", 3600))
	type named string
	s := "nom"
	var nilPtr *time.Time
	tests := []struct {
		name string
		in   []any
		want []any
	}{
		{"no values", []any{}, []any{}},
		{"canonical types", []any{nil, true, false, int64(-42), 3.25, "Chantier Été", []byte{0, 1, 255}, at},
			[]any{nil, true, false, int64(-42), 3.25, "Chantier Été", []byte{0, 1, 255}, at.UTC()}},
		{"integers widen to int64", []any{int(7), int8(-8), int16(9), int32(-10), uint8(11), uint16(12), uint32(13), uint(14), uint64(15)},
			[]any{int64(7), int64(-8), int64(9), int64(-10), int64(11), int64(12), int64(13), int64(14), int64(15)}},
		{"int64 extremes", []any{int64(math.MinInt64), int64(math.MaxInt64)}, []any{int64(math.MinInt64), int64(math.MaxInt64)}},
		{"float32 widens", []any{float32(1.5)}, []any{1.5}},
		{"special floats", []any{math.Inf(1), math.Inf(-1), math.Copysign(0, -1)}, []any{math.Inf(1), math.Inf(-1), math.Copysign(0, -1)}},
		{"pointers are dereferenced, nil pointers are NULL", []any{&s, nilPtr}, []any{"nom", nil}},
		{"named types use their kind", []any{named("x")}, []any{"x"}},
		{"driver.Valuer values", []any{sql.NullString{String: "a", Valid: true}, sql.NullInt64{}, sql.NullTime{Time: at, Valid: true}},
			[]any{"a", nil, at.UTC()}},
		{"nil []byte is NULL", []any{[]byte(nil)}, []any{nil}},
		{"time before 1970 keeps nanoseconds", []any{time.Date(1900, 2, 3, 4, 5, 6, 7, time.UTC)}, []any{time.Date(1900, 2, 3, 4, 5, 6, 7, time.UTC)}},
	}
	c := mustCodec(t, [][]byte{key1})
	for _, tt := range tests {
		for _, dir := range []pagination.Cursor{{}, {Backward: true}, {Inclusive: true}, {Backward: true, Inclusive: true}} {
			t.Run(fmt.Sprintf("%s/backward=%v,inclusive=%v", tt.name, dir.Backward, dir.Inclusive), func(t *testing.T) {
				in := pagination.Cursor{Values: tt.in, Backward: dir.Backward, Inclusive: dir.Inclusive}
				tok := mustEncode(t, c, in, fpA)
				got, err := c.Decode(tok, fpA)
				if err != nil {
					t.Fatal(err)
				}
				if got.Backward != in.Backward || got.Inclusive != in.Inclusive {
					t.Fatalf("direction: got %+v", got)
				}
				if len(got.Values) != len(tt.want) {
					t.Fatalf("got %d values, want %d", len(got.Values), len(tt.want))
				}
				for i := range tt.want {
					g, w := got.Values[i], tt.want[i]
					if gf, ok := g.(float64); ok && math.Signbit(gf) != math.Signbit(w.(float64)) {
						t.Fatalf("value %d: sign of %v lost", i, w)
					}
					if !reflect.DeepEqual(g, w) {
						t.Fatalf("value %d: got %#v, want %#v", i, g, w)
					}
				}
			})
		}
	}
}

func TestCodecCursorIsOpaque(t *testing.T) {
	c := mustCodec(t, [][]byte{key1})
	cur := pagination.Cursor{Values: []any{"Chantier-Secret-Nom", int64(1234567)}}
	a := mustEncode(t, c, cur, fpA)
	b := mustEncode(t, c, cur, fpA)
	if a == b {
		t.Error("two encodings of one cursor are equal: the nonce is not random")
	}
	raw, err := base64.RawURLEncoding.DecodeString(a)
	if err != nil {
		t.Fatalf("cursor is not base64url: %v", err)
	}
	for _, leak := range []string{"Chantier", "Secret", "1234567"} {
		if strings.Contains(string(raw), leak) || strings.Contains(a, leak) {
			t.Errorf("cursor reveals %q", leak)
		}
	}
	if strings.ContainsAny(a, "+/=") {
		t.Errorf("cursor %q is not URL-safe", a)
	}
}

func TestCodecRejectsInvalidCursors(t *testing.T) {
	clk := &clock{t: time.Date(2026, 1, 15, 10, 0, 0, 0, time.UTC)}
	c := mustCodec(t, [][]byte{key1}, pagination.WithClock(clk.now))
	cur := pagination.Cursor{Values: []any{"nom", int64(42)}}
	valid := mustEncode(t, c, cur, fpA)
	raw, _ := base64.RawURLEncoding.DecodeString(valid)
	reencode := func(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
	flipVersion := append([]byte{}, raw...)
	flipVersion[0] ^= 0xff

	foreign := mustEncode(t, mustCodec(t, [][]byte{key2}, pagination.WithClock(clk.now)), cur, fpA)
	otherQuery := mustEncode(t, c, cur, pagination.NewFingerprint("chantiers", "-created_at,id", "statut=clos"))
	otherResource := mustEncode(t, c, cur, pagination.NewFingerprint("pointages", "-created_at,id", "statut=ouvert"))

	tests := []struct {
		name  string
		token string
		want  pagination.CursorErrorReason
	}{
		{"empty → malformed", "", pagination.ReasonMalformed},
		{"garbage → malformed", "not a cursor!", pagination.ReasonMalformed},
		{"standard base64 alphabet → malformed", strings.NewReplacer("-", "+", "_", "/").Replace(valid) + "+/", pagination.ReasonMalformed},
		{"padded → malformed", valid + "==", pagination.ReasonMalformed},
		{"too long → malformed", strings.Repeat("A", pagination.MaxCursorLength+1), pagination.ReasonMalformed},
		{"shorter than nonce and tag → malformed", reencode(raw[:30]), pagination.ReasonMalformed},
		{"unknown version → malformed", reencode(flipVersion), pagination.ReasonMalformed},
		{"truncated by one byte → unauthenticated", reencode(raw[:len(raw)-1]), pagination.ReasonUnauthenticated},
		{"extended by one byte → unauthenticated", reencode(append(append([]byte{}, raw...), 0)), pagination.ReasonUnauthenticated},
		{"sealed with a foreign key → unauthenticated", foreign, pagination.ReasonUnauthenticated},
		{"issued for other filters → other-query", otherQuery, pagination.ReasonOtherQuery},
		{"issued for another resource → other-query", otherResource, pagination.ReasonOtherQuery},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.Decode(tt.token, fpA)
			if err == nil {
				t.Fatalf("accepted: %+v", got)
			}
			if r := reason(t, err); r != tt.want {
				t.Fatalf("reason %q, want %q", r, tt.want)
			}
			if strings.Contains(err.Error(), tt.token) && tt.token != "" {
				t.Fatal("error message quotes the cursor")
			}
		})
	}

	t.Run("every single bit flip → invalid", func(t *testing.T) {
		for i := range raw {
			for bit := range 8 {
				b := append([]byte{}, raw...)
				b[i] ^= 1 << bit
				if _, err := c.Decode(reencode(b), fpA); !errors.Is(err, pagination.ErrInvalidCursor) {
					t.Fatalf("byte %d bit %d flipped: got %v", i, bit, err)
				}
			}
		}
	})
	t.Run("every truncation → invalid", func(t *testing.T) {
		for n := range len(valid) {
			if _, err := c.Decode(valid[:n], fpA); !errors.Is(err, pagination.ErrInvalidCursor) {
				t.Fatalf("truncated to %d characters: got %v", n, err)
			}
		}
	})
}

func TestCodecExpiry(t *testing.T) {
	issued := time.Date(2026, 1, 15, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		opts   []pagination.Option
		age    time.Duration
		wantOK bool
	}{
		{"fresh cursor → valid", nil, 0, true},
		{"23h59m old with the default 24h TTL → valid", nil, 24*time.Hour - time.Minute, true},
		{"24h01m old with the default 24h TTL → expired", nil, 24*time.Hour + time.Minute, false},
		{"2h old with a 1h TTL → expired", []pagination.Option{pagination.WithTTL(time.Hour)}, 2 * time.Hour, false},
		{"a year old without expiry → valid", []pagination.Option{pagination.WithoutExpiry()}, 365 * 24 * time.Hour, true},
		{"issued 4 minutes in the future (clock skew) → valid", nil, -4 * time.Minute, true},
		{"issued an hour in the future → expired", nil, -time.Hour, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := &clock{t: issued}
			c := mustCodec(t, [][]byte{key1}, append(tt.opts, pagination.WithClock(clk.now))...)
			tok := mustEncode(t, c, pagination.Cursor{Values: []any{int64(1)}}, fpA)
			clk.t = issued.Add(tt.age)
			_, err := c.Decode(tok, fpA)
			if tt.wantOK {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if r := reason(t, err); r != pagination.ReasonExpired {
				t.Fatalf("reason %q, want expired", r)
			}
		})
	}
}

func TestCodecKeyRotation(t *testing.T) {
	old := mustCodec(t, [][]byte{key1})
	rotated := mustCodec(t, [][]byte{key2, key1}) // new key first, old still opens
	retired := mustCodec(t, [][]byte{key3, key2}) // old key dropped
	newOnly := mustCodec(t, [][]byte{key2})       // what rotated seals with
	cur := pagination.Cursor{Values: []any{"x", int64(1)}}

	fromOld := mustEncode(t, old, cur, fpA)
	fromRotated := mustEncode(t, rotated, cur, fpA)

	if _, err := rotated.Decode(fromOld, fpA); err != nil {
		t.Errorf("a cursor sealed with the previous key no longer opens after rotation: %v", err)
	}
	if _, err := newOnly.Decode(fromRotated, fpA); err != nil {
		t.Errorf("the rotated codec does not seal with its first key: %v", err)
	}
	if _, err := old.Decode(fromRotated, fpA); !errors.Is(err, pagination.ErrInvalidCursor) {
		t.Errorf("the old key opens a cursor sealed with the new key: %v", err)
	}
	if _, err := retired.Decode(fromOld, fpA); reason(t, err) != pagination.ReasonUnauthenticated {
		t.Errorf("a cursor sealed with a retired key still opens")
	}
}

func TestNewCodecRejectsBadConfiguration(t *testing.T) {
	short := make([]byte, 16)
	short[0] = 1
	zero := make([]byte, pagination.KeySize)
	tests := []struct {
		name string
		keys [][]byte
		opts []pagination.Option
	}{
		{"no key", nil, nil},
		{"16-byte key", [][]byte{short}, nil},
		{"all-zero key", [][]byte{zero}, nil},
		{"same key twice", [][]byte{key1, key2, key1}, nil},
		{"zero TTL", [][]byte{key1}, []pagination.Option{pagination.WithTTL(0)}},
		{"negative TTL", [][]byte{key1}, []pagination.Option{pagination.WithTTL(-time.Hour)}},
		{"nil clock", [][]byte{key1}, []pagination.Option{pagination.WithClock(nil)}},
		{"nil option", [][]byte{key1}, []pagination.Option{nil}},
	}
	for _, tt := range tests {
		t.Run(tt.name+" → error", func(t *testing.T) {
			if _, err := pagination.NewCodec(tt.keys, tt.opts...); err == nil {
				t.Fatal("accepted")
			}
		})
	}
	t.Run("a zero Codec fails instead of panicking", func(t *testing.T) {
		var zero pagination.Codec
		if _, err := zero.Encode(pagination.Cursor{}, fpA); err == nil {
			t.Fatal("encoded")
		}
		if _, err := zero.Decode("AAAA", fpA); !errors.Is(err, pagination.ErrInvalidCursor) {
			t.Fatalf("got %v", err)
		}
		if _, err := pagination.New(&zero, itemSpec()); err == nil {
			t.Fatal("New accepted a zero codec")
		}
	})
	t.Run("the codec copies its keys", func(t *testing.T) {
		k := append([]byte{}, key1...)
		c := mustCodec(t, [][]byte{k})
		tok := mustEncode(t, c, pagination.Cursor{}, fpA)
		k[0] ^= 1
		if _, err := c.Decode(tok, fpA); err != nil {
			t.Fatalf("changing the caller's key slice changed the codec: %v", err)
		}
	})
}

func TestCodecEncodeRejectsUnsupportedValues(t *testing.T) {
	c := mustCodec(t, [][]byte{key1})
	tests := []struct {
		name   string
		values []any
	}{
		{"struct", []any{struct{ A int }{1}}},
		{"map", []any{map[string]int{}}},
		{"uint64 above int64", []any{uint64(math.MaxUint64)}},
		{"too many values", make([]any, 33)},
		{"too long for a cursor", []any{strings.Repeat("x", pagination.MaxCursorLength)}},
	}
	for _, tt := range tests {
		t.Run(tt.name+" → error", func(t *testing.T) {
			if tok, err := c.Encode(pagination.Cursor{Values: tt.values}, fpA); err == nil {
				t.Fatalf("encoded as %q", tok)
			}
		})
	}
}

func TestParseKeys(t *testing.T) {
	std := base64.StdEncoding.EncodeToString(key1)
	rawURL := base64.RawURLEncoding.EncodeToString(append([]byte{0xfb, 0xff}, key2[2:]...))
	t.Run("comma-separated standard and URL base64, padded or not", func(t *testing.T) {
		keys, err := pagination.ParseKeys(" " + std + " ," + rawURL + ",")
		if err != nil {
			t.Fatal(err)
		}
		if len(keys) != 2 || string(keys[0]) != string(key1) || keys[1][0] != 0xfb {
			t.Fatalf("got %x", keys)
		}
	})
	for _, bad := range []string{"", " , ", "c2hvcnQ=", std + ",%%%"} {
		t.Run("invalid "+quoteForName(bad)+" → error without key material", func(t *testing.T) {
			_, err := pagination.ParseKeys(bad)
			if err == nil {
				t.Fatal("accepted")
			}
			if strings.Contains(err.Error(), std) {
				t.Fatal("error quotes a key")
			}
		})
	}
}

func quoteForName(s string) string {
	if len(s) > 12 {
		return s[:12] + "…"
	}
	return "\"" + s + "\""
}
