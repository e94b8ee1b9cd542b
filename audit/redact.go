package audit

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
)

// Redacted replaces the value of a secret field in Changes.
const Redacted = "[redacted]"

// secretNames are the field names (lower case, compared after removing
// "_" and "-") whose values never reach an event.
var secretNames = []string{"password", "passwordhash", "secret", "secrethash", "signingsecret", "token", "tokenhash",
	"accesstoken", "refreshtoken", "keyhash", "apikey", "key", "clientsecret", "authorization", "privatekey", "sealed", "ciphertext"}

// nameNormaliser removes what isSecret ignores in a name.
var nameNormaliser = strings.NewReplacer("_", "", "-", "")

// secretHints are substrings of every secret name and suffix: a JSON text
// whose normalised form holds none of them has no member to redact.
var secretHints = [][]byte{[]byte("password"), []byte("hash"), []byte("secret"), []byte("token"), []byte("key"),
	[]byte("authorization"), []byte("sealed"), []byte("ciphertext")}

// isSecret reports whether a field name names a secret.
func isSecret(name string) bool {
	n := strings.ToLower(nameNormaliser.Replace(name))
	if slices.Contains(secretNames, n) {
		return true
	}
	for _, suffix := range []string{"secret", "hash", "token", "password"} {
		if strings.HasSuffix(n, suffix) {
			return true
		}
	}
	return false
}

// Redact returns the JSON form of v with the value of every object member
// whose name names a secret (password, secret, token, key hash, ...,
// in any case, snake or camel) replaced by Redacted, at any depth.
func Redact(v any) json.RawMessage {
	if v == nil {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return json.RawMessage(`"[unencodable]"`)
	}
	if !mayNameASecret(b) {
		// no member name can be a secret's: the text as it is (the common
		// case, without decoding it again)
		return b
	}
	var tree any
	if err := json.Unmarshal(b, &tree); err != nil {
		return b
	}
	out, err := json.Marshal(redactTree(tree))
	if err != nil {
		return b
	}
	return out
}

// mayNameASecret reports whether JSON text b, lower-cased and without "_"
// and "-" (as isSecret reads names), holds one of secretHints: a member
// named as a secret is then among its substrings. A value that merely
// contains a hint is a false alarm, which only costs the slow path.
func mayNameASecret(b []byte) bool {
	n := bytes.ToLower(b)
	w := 0
	for _, c := range n {
		if c != '_' && c != '-' {
			n[w] = c
			w++
		}
	}
	n = n[:w]
	for _, h := range secretHints {
		if bytes.Contains(n, h) {
			return true
		}
	}
	return false
}

func redactTree(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			if isSecret(k) {
				t[k] = Redacted
				continue
			}
			t[k] = redactTree(x)
		}
	case []any:
		for i, x := range t {
			t[i] = redactTree(x)
		}
	}
	return v
}

// changesJSON is the Changes text of before and after ("" when both are
// nil).
func changesJSON(before, after any) string {
	if before == nil && after == nil {
		return ""
	}
	// Redact's texts are compact JSON from json.Marshal: they are joined
	// as they are (json.Marshal of RawMessages would scan them again).
	orNull := func(m json.RawMessage) []byte {
		if m == nil {
			return []byte("null")
		}
		return m
	}
	b, a := orNull(Redact(before)), orNull(Redact(after))
	out := make([]byte, 0, len(`{"before":,"after":}`)+len(b)+len(a))
	out = append(append(append(append(append(out, `{"before":`...), b...), `,"after":`...), a...), '}')
	return string(out)
}
