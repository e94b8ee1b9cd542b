package connectors

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/hubchantier/hubchantier/secretbox"
)

// EnvKeys is the environment variable of the keys that seal connector
// configurations: "id:base64key[,id2:base64key2...]", the first key seals,
// every key opens (see secretbox.ParseKeyring).
const EnvKeys = "HUB_CONNECTOR_KEYS"

// Mask is what replaces a secret in every view of a configuration.
const Mask = "••••"

// defaultMaxLen bounds a configuration value when its Field has no MaxLen.
const defaultMaxLen = 2048

// Config is a connector's configuration: plain settings and secrets
// (credentials, tokens). It formats, logs and marshals with its secrets
// masked: only Secret returns one in clear.
type Config struct {
	Settings map[string]string
	Secrets  map[string]string
}

// Setting returns a plain setting.
func (c Config) Setting(name string) string { return c.Settings[name] }

// Secret returns a secret in clear, for the request that needs it.
func (c Config) Secret(name string) string { return c.Secrets[name] }

// MaskSecret shows a secret as Mask followed by its last 4 characters (only
// the mask when it has fewer than 12 characters, so short secrets do not
// give away a third of themselves).
func MaskSecret(s string) string {
	if utf8.RuneCountInString(s) < 12 {
		return Mask
	}
	r := []rune(s)
	return Mask + string(r[len(r)-4:])
}

// Masked is the configuration as the API shows it: settings in clear,
// secrets masked.
func (c Config) Masked() map[string]string {
	out := make(map[string]string, len(c.Settings)+len(c.Secrets))
	maps.Copy(out, c.Settings)
	for k, v := range c.Secrets {
		out[k] = MaskSecret(v)
	}
	return out
}

// String masks the secrets.
func (c Config) String() string {
	b, _ := json.Marshal(c.Masked())
	return string(b)
}

// GoString masks the secrets (%#v).
func (c Config) GoString() string { return "connectors.Config" + c.String() }

// Format masks the secrets whatever the verb.
func (c Config) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		_, _ = f.Write([]byte(c.GoString()))
		return
	}
	_, _ = f.Write([]byte(c.String()))
}

// LogValue masks the secrets in slog records.
func (c Config) LogValue() slog.Value { return slog.StringValue(c.String()) }

// MarshalJSON masks the secrets: a Config marshalled by mistake into a
// response or a log shows no secret. Seal uses its own encoding.
func (c Config) MarshalJSON() ([]byte, error) { return json.Marshal(c.Masked()) }

// Redact replaces every secret of c found in s by Mask: the last guard on
// error texts that come from vendors or libraries.
func (c Config) Redact(s string) string {
	for _, v := range c.Secrets {
		if len(v) >= 4 {
			s = strings.ReplaceAll(s, v, Mask)
		}
	}
	return s
}

// Clone returns a deep copy.
func (c Config) Clone() Config {
	return Config{Settings: maps.Clone(c.Settings), Secrets: maps.Clone(c.Secrets)}
}

// fieldLabel is a field name as an error may quote it: a client's
// unknown name, cut and stripped of what is not a name character (it
// could be a value sent in the wrong place).
func fieldLabel(k string) string {
	var b strings.Builder
	for _, r := range k {
		if b.Len() >= 64 {
			b.WriteString("…")
			break
		}
		if r == '_' || r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteRune('?')
		}
	}
	return b.String()
}

// ValidationError lists the invalid fields of a configuration, by name
// ("settings.<name>", "secrets.<name>"), with why. It never holds a value.
type ValidationError struct{ Fields map[string]string }

func (e *ValidationError) Error() string {
	names := slices.Sorted(maps.Keys(e.Fields))
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = n + ": " + e.Fields[n]
	}
	return "connectors: invalid configuration: " + strings.Join(parts, "; ")
}

// Validate checks c against the spec: required fields present, no unknown
// field, values of bounded length, valid UTF-8 without NUL.
func (s Spec) Validate(c Config) error {
	bad := map[string]string{}
	check := func(prefix string, fields []Field, values map[string]string) {
		known := map[string]bool{}
		for _, f := range fields {
			known[f.Name] = true
			v, ok := values[f.Name]
			switch {
			case f.Required && strings.TrimSpace(v) == "":
				bad[prefix+f.Name] = "required"
			case ok && len(v) > cmpOr(f.MaxLen, defaultMaxLen):
				bad[prefix+f.Name] = fmt.Sprintf("at most %d bytes", cmpOr(f.MaxLen, defaultMaxLen))
			case ok && (!utf8.ValidString(v) || strings.ContainsRune(v, 0)):
				bad[prefix+f.Name] = "must be UTF-8 text without NUL"
			}
		}
		for k := range values {
			if !known[k] {
				bad[prefix+fieldLabel(k)] = "unknown field"
			}
		}
	}
	secretNames := map[string]string{}
	for _, f := range s.Secrets {
		secretNames[f.Name] = ""
	}
	settingNames := map[string]string{}
	for _, f := range s.Settings {
		settingNames[f.Name] = ""
	}
	check("settings.", s.Settings, c.Settings)
	check("secrets.", s.Secrets, c.Secrets)
	for k := range c.Settings {
		if _, isSecret := secretNames[k]; isSecret {
			bad["settings."+k] = "is a secret: give it in secrets"
		}
	}
	for k := range c.Secrets {
		if _, isSetting := settingNames[k]; isSetting {
			bad["secrets."+k] = "is not a secret: give it in settings"
		}
	}
	if len(bad) == 0 && s.CheckSettings != nil {
		maps.Copy(bad, s.CheckSettings(c))
	}
	if len(bad) > 0 {
		return &ValidationError{Fields: bad}
	}
	return nil
}

func cmpOr(a, b int) int {
	if a > 0 {
		return a
	}
	return b
}

// Merge applies an update onto c: settings and secrets given replace
// theirs; a secret given as "" or as its masked form keeps its value, so a
// client may send back what it read; names in remove are dropped.
func (c Config) Merge(update Config, remove []string) Config {
	out := c.Clone()
	if out.Settings == nil {
		out.Settings = map[string]string{}
	}
	if out.Secrets == nil {
		out.Secrets = map[string]string{}
	}
	maps.Copy(out.Settings, update.Settings)
	for k, v := range update.Secrets {
		if v == "" || (strings.HasPrefix(v, Mask) && v == MaskSecret(out.Secrets[k])) {
			continue
		}
		out.Secrets[k] = v
	}
	for _, k := range remove {
		delete(out.Settings, k)
		delete(out.Secrets, k)
	}
	return out
}

// ErrKey is returned (wrapped) when a sealed configuration does not open:
// sealed under a key HUB_CONNECTOR_KEYS does not hold, altered, or bound to
// another connector. Nothing is ever re-sealed over such a value.
var ErrKey = errors.New("connectors: configuration does not open with the configured keys (" + EnvKeys + ")")

// Sealer seals configurations with AES-256-GCM under a keyring (see
// secretbox): the key id is stored beside the ciphertext, and the sealed
// value is bound to its connector (additional data), so a value copied onto
// another connector does not open.
//
// The spec asked for pgcrypto; sealing in the application gives SQLite the
// same protection and keeps the keys out of SQL text and database logs.
type Sealer struct{ ring *secretbox.Keyring }

// NewSealer wraps a keyring.
func NewSealer(ring *secretbox.Keyring) (*Sealer, error) {
	if ring == nil {
		return nil, errors.New("connectors: no keyring")
	}
	return &Sealer{ring: ring}, nil
}

// ParseSealer reads keys as HUB_CONNECTOR_KEYS holds them. Its errors never
// contain key material.
func ParseSealer(keys string) (*Sealer, error) {
	ring, err := secretbox.ParseKeyring(keys)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", EnvKeys, err)
	}
	return &Sealer{ring: ring}, nil
}

// CurrentKeyID is the id of the key that seals.
func (s *Sealer) CurrentKeyID() string { return s.ring.CurrentKeyID() }

// sealed is the plaintext encoding of a configuration.
type sealed struct {
	Settings map[string]string `json:"settings,omitempty"`
	Secrets  map[string]string `json:"secrets,omitempty"`
}

// Seal encrypts c for the connector named by binding (its row id, say).
func (s *Sealer) Seal(c Config, binding string) (kid string, ciphertext []byte, err error) {
	plain, err := json.Marshal(sealed(c))
	if err != nil {
		return "", nil, err
	}
	defer clear(plain)
	return s.ring.Seal(plain, []byte("connector:"+binding))
}

// Open decrypts a configuration sealed by Seal for binding. Its error
// wraps ErrKey and names the key id, never any content.
func (s *Sealer) Open(kid string, ciphertext []byte, binding string) (Config, error) {
	plain, err := s.ring.Open(kid, ciphertext, []byte("connector:"+binding))
	switch {
	case errors.Is(err, secretbox.ErrUnknownKey):
		return Config{}, fmt.Errorf("%w: sealed with key id %q, which is not configured", ErrKey, kid)
	case err != nil:
		return Config{}, fmt.Errorf("%w: key id %q does not authenticate it (wrong key material, or altered)", ErrKey, kid)
	}
	defer clear(plain)
	var v sealed
	if err := json.Unmarshal(plain, &v); err != nil {
		return Config{}, fmt.Errorf("%w: not a sealed configuration", ErrKey)
	}
	return Config(v), nil
}

// Reseal re-encrypts a configuration under the current key (rotation). It
// returns the value unchanged when already current, and an error wrapping
// ErrKey, with nothing to write, when it does not open.
func (s *Sealer) Reseal(kid string, ciphertext []byte, binding string) (string, []byte, bool, error) {
	if kid == s.ring.CurrentKeyID() {
		return kid, ciphertext, false, nil
	}
	c, err := s.Open(kid, ciphertext, binding)
	if err != nil {
		return "", nil, false, err
	}
	nk, nc, err := s.Seal(c, binding)
	return nk, nc, err == nil, err
}
