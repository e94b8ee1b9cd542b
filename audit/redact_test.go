package audit

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// redactReference is Redact without its fast path: decode, redact every
// member named as a secret, encode.
func redactReference(t testing.TB, v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var tree any
	if err := json.Unmarshal(b, &tree); err != nil {
		t.Fatal(err)
	}
	return redactTree(tree)
}

func decoded(t testing.TB, b []byte) any {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return v
}

// noSecretLeft fails when a member named as a secret holds anything but
// Redacted, at any depth.
func noSecretLeft(t testing.TB, v any, path string) {
	switch x := v.(type) {
	case map[string]any:
		for k, m := range x {
			if isSecret(k) && m != Redacted {
				t.Errorf("%s.%s = %v, not redacted", path, k, m)
			}
			noSecretLeft(t, m, path+"."+k)
		}
	case []any:
		for _, m := range x {
			noSecretLeft(t, m, path+"[]")
		}
	}
}

func TestRedact(t *testing.T) {
	type key struct {
		Name         string `json:"name"`
		PasswordHash string `json:"password_hash"`
		Prefix       string `json:"prefix"`
	}
	cases := []struct {
		name   string
		in     any
		secret []string // values that must not remain
		kept   []string // values that must remain
	}{
		{"struct with a hash", key{"ci", "$2a$10$abc", "hck_12"}, []string{"$2a$10$abc"}, []string{"ci", "hck_12"}},
		{"snake, kebab, camel and upper case", map[string]any{"client-secret": "s1", "accessToken": "s2", "API_KEY": "s3", "Cipher_Text": "s4", "nom": "N"},
			[]string{"s1", "s2", "s3", "s4"}, []string{"N"}},
		{"nested in arrays", map[string]any{"items": []any{map[string]any{"refresh_token": "s5", "code": "C"}}}, []string{"s5"}, []string{"C"}},
		{"a Kelvin sign lower-cases to k", map[string]any{"api\u212Aey": "s6"}, []string{"s6"}, nil},
		{"no secret: the text as json.Marshal writes it", map[string]any{"nom": "Chantier", "adresse": "1 rue", "n": 3}, nil, []string{"Chantier"}},
		{"a value that looks like a secret's name is kept", map[string]any{"description": "la clé (key) du portail", "token_count_ok": 1},
			nil, []string{"la clé (key) du portail"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := Redact(c.in)
			for _, s := range c.secret {
				if strings.Contains(string(out), s) {
					t.Errorf("%s left in %s", s, out)
				}
			}
			for _, s := range c.kept {
				if !strings.Contains(string(out), s) {
					t.Errorf("%s lost from %s", s, out)
				}
			}
			if got, want := decoded(t, out), redactReference(t, c.in); !reflect.DeepEqual(got, want) {
				t.Errorf("Redact %v, reference %v", got, want)
			}
		})
	}
	if string(Redact(map[string]any{"nom": "N"})) != `{"nom":"N"}` {
		t.Errorf("fast path: %s", Redact(map[string]any{"nom": "N"}))
	}
	if c := changesJSON(nil, key{"ci", "h", "p"}); c != `{"before":null,"after":{"name":"ci","password_hash":"[redacted]","prefix":"p"}}` {
		t.Errorf("changes %s", c)
	}
	if c := changesJSON(nil, nil); c != "" {
		t.Errorf("no change: %q", c)
	}
}

// FuzzRedact: for any JSON value, Redact's output decodes to what the
// reference (no fast path) gives, and no member named as a secret keeps
// its value.
func FuzzRedact(f *testing.F) {
	for _, s := range []string{`{"password":"x"}`, `{"a":{"Client_Secret":"y"}}`, `[{"to-ken":1}]`, `{"nom":"key"}`, `"token"`,
		`{"api\u212Aey":"z"}`, `{"ke_y":[1,2]}`, `null`, `{"a":{"b":{"sealed":{"c":1}}}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var v any
		if json.Unmarshal(data, &v) != nil {
			return
		}
		out := Redact(v)
		if v == nil {
			return
		}
		got := decoded(t, out)
		if want := redactReference(t, v); !reflect.DeepEqual(got, want) {
			t.Fatalf("Redact %v, reference %v", got, want)
		}
		noSecretLeft(t, got, "$")
	})
}
