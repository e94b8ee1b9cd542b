package audit

import (
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

// isSecret reports whether a field name names a secret.
func isSecret(name string) bool {
	n := strings.ToLower(strings.NewReplacer("_", "", "-", "").Replace(name))
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
	c := struct {
		Before json.RawMessage `json:"before"`
		After  json.RawMessage `json:"after"`
	}{Redact(before), Redact(after)}
	if c.Before == nil {
		c.Before = json.RawMessage("null")
	}
	if c.After == nil {
		c.After = json.RawMessage("null")
	}
	b, _ := json.Marshal(c)
	return string(b)
}
