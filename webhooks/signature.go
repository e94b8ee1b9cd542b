package webhooks

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Header names of the Standard Webhooks specification.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// SecretPrefix starts every secret's text form.
const SecretPrefix = "whsec_"

// Secret lengths accepted by ParseSecret (the specification recommends 24 to
// 64 bytes); NewSecret draws 32.
const (
	MinSecretBytes = 24
	MaxSecretBytes = 64
)

// ErrInvalidSecret is returned by ParseSecret.
var ErrInvalidSecret = errors.New("webhooks: a secret is " + SecretPrefix + " followed by the base64 of 24 to 64 bytes")

// NewSecret draws a secret and returns its text form ("whsec_…"), to show
// the subscriber once, and its bytes, the HMAC key.
func NewSecret() (text string, key []byte, err error) {
	key = make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return "", nil, err
	}
	return SecretPrefix + base64.StdEncoding.EncodeToString(key), key, nil
}

// ParseSecret returns the key of a secret's text form.
func ParseSecret(text string) ([]byte, error) {
	rest, ok := strings.CutPrefix(text, SecretPrefix)
	if !ok {
		return nil, ErrInvalidSecret
	}
	key, err := base64.StdEncoding.DecodeString(rest)
	if err != nil || len(key) < MinSecretBytes || len(key) > MaxSecretBytes {
		return nil, ErrInvalidSecret
	}
	return key, nil
}

// Sign returns the webhook-signature value for a message: "v1,<base64>" per
// key, space-separated, in the order of keys (during a rotation: the new key
// and the old one).
func Sign(id string, timestamp time.Time, body []byte, keys ...[]byte) string {
	sigs := make([]string, 0, len(keys))
	for _, k := range keys {
		sigs = append(sigs, "v1,"+base64.StdEncoding.EncodeToString(mac(k, id, timestamp.Unix(), body)))
	}
	return strings.Join(sigs, " ")
}

// SetHeaders sets the three Standard Webhooks headers of a message on h.
// The id must stay the same across the retries of one message, so that
// receivers can ignore duplicates.
func SetHeaders(h http.Header, id string, timestamp time.Time, body []byte, keys ...[]byte) {
	h.Set(HeaderID, id)
	h.Set(HeaderTimestamp, strconv.FormatInt(timestamp.Unix(), 10))
	h.Set(HeaderSignature, Sign(id, timestamp, body, keys...))
}

func mac(key []byte, id string, ts int64, body []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(id))
	h.Write([]byte{'.'})
	h.Write(strconv.AppendInt(nil, ts, 10))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

// Errors of Verifier.Verify (wrapped).
var (
	ErrMissingHeaders   = errors.New("webhooks: missing webhook-id, webhook-timestamp or webhook-signature")
	ErrInvalidHeaders   = errors.New("webhooks: malformed webhook headers")
	ErrTimestamp        = errors.New("webhooks: timestamp outside the tolerance")
	ErrNoValidSignature = errors.New("webhooks: no valid signature")
)

// DefaultTolerance is how far a message's timestamp may be from the
// receiver's clock: older messages are refused as possible replays.
const DefaultTolerance = 5 * time.Minute

// maxHeaderLen bounds the headers a Verifier reads (a signature list of a
// few keys is well under it).
const maxHeaderLen = 4096

// Verifier checks received webhooks: a receiver's side of the scheme.
type Verifier struct {
	keys      [][]byte
	tolerance time.Duration
	now       func() time.Time
}

// NewVerifier verifies with any of the given secrets (text forms): give the
// new and the old one while a sender rotates.
func NewVerifier(secrets ...string) (*Verifier, error) {
	if len(secrets) == 0 {
		return nil, ErrInvalidSecret
	}
	v := &Verifier{tolerance: DefaultTolerance, now: time.Now}
	for _, s := range secrets {
		k, err := ParseSecret(s)
		if err != nil {
			return nil, err
		}
		v.keys = append(v.keys, k)
	}
	return v, nil
}

// WithTolerance returns a copy of v accepting timestamps within d of now
// (d ≤ 0: DefaultTolerance).
func (v *Verifier) WithTolerance(d time.Duration) *Verifier {
	c := *v
	if d <= 0 {
		d = DefaultTolerance
	}
	c.tolerance = d
	return &c
}

// Verify checks the headers of a received message against its raw body (the
// bytes received, before any JSON decoding). It returns nil when one of the
// signatures is valid for one of the verifier's secrets and the timestamp is
// within the tolerance.
func (v *Verifier) Verify(h http.Header, body []byte) error {
	id, ts, sigs := h.Get(HeaderID), h.Get(HeaderTimestamp), h.Get(HeaderSignature)
	if id == "" || ts == "" || sigs == "" {
		return ErrMissingHeaders
	}
	if len(id) > maxHeaderLen || len(ts) > 20 || len(sigs) > maxHeaderLen {
		return ErrInvalidHeaders
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || sec < 0 {
		return ErrInvalidHeaders
	}
	now := v.now().Unix()
	tol := int64(v.tolerance / time.Second)
	if sec < now-tol || sec > now+tol {
		return ErrTimestamp
	}
	want := make([][]byte, len(v.keys))
	for i, k := range v.keys {
		want[i] = mac(k, id, sec, body)
	}
	for sig := range strings.FieldsSeq(sigs) {
		version, b64, ok := strings.Cut(sig, ",")
		if !ok || version != "v1" {
			continue // other schemes (v1a: asymmetric) are not ours
		}
		got, err := base64.StdEncoding.Strict().DecodeString(b64)
		if err != nil {
			continue
		}
		for _, w := range want {
			if hmac.Equal(got, w) {
				return nil
			}
		}
	}
	return fmt.Errorf("%w", ErrNoValidSignature)
}
