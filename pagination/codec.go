package pagination

import (
	"bytes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"golang.org/x/crypto/chacha20poly1305"
)

// KeySize is the length in bytes of a cursor key (a 256-bit XChaCha20-Poly1305 key).
const KeySize = chacha20poly1305.KeySize

// DefaultTTL is how long a cursor stays valid unless [WithTTL] or
// [WithoutExpiry] says otherwise.
const DefaultTTL = 24 * time.Hour

// MaxCursorLength is the longest encoded cursor, in characters, that [Codec]
// produces or accepts. Longer client input is rejected before any work is
// done on it; a boundary row whose sort keys do not fit (very long strings)
// cannot be encoded.
const MaxCursorLength = 2048

// maxValues bounds the number of sort-key values a cursor carries.
const maxValues = 32

// clockSkew is how far in the future a cursor's issue time may be (several
// servers whose clocks differ slightly share the keys).
const clockSkew = 5 * time.Minute

// cursorVersion is the first byte of every sealed cursor. It is also bound
// into the AEAD as associated data, with a label that keeps cursor keys from
// opening anything sealed for another purpose.
const cursorVersion byte = 1

var associatedData = []byte("pagination/cursor/v1")

// sealedOverhead is the version byte, the nonce and the Poly1305 tag.
const sealedOverhead = 1 + chacha20poly1305.NonceSizeX + chacha20poly1305.Overhead

// Cursor is the decoded content of a pagination cursor: a position between
// two rows of an ordered result.
//
// Values are the sort-key values of the boundary row, in sort order (the
// unique id last). Supported value types are nil (SQL NULL), bool, int64,
// float64, string, []byte and time.Time; [Codec.Encode] also accepts the
// other integer and float types, pointers, named types of these kinds and
// [database/sql/driver.Valuer] implementations (sql.NullString, ...), and
// [Codec.Decode] returns the canonical types (int64, float64, time.Time in
// UTC, ...).
type Cursor struct {
	Values []any
	// Backward selects the rows before the boundary (a "previous page")
	// instead of the rows after it.
	Backward bool
	// Inclusive makes the boundary row itself part of the page.
	Inclusive bool
}

// LogValue keeps cursor contents out of structured logs.
func (Cursor) LogValue() slog.Value { return slog.StringValue("[cursor]") }

// Fingerprint identifies the query a cursor belongs to: the resource, the
// filters and the sort order. A cursor only opens with the fingerprint it was
// sealed with, so it cannot be replayed against another query.
type Fingerprint [16]byte

// NewFingerprint hashes its parts (SHA-256, truncated to 128 bits). Parts are
// length-prefixed, so ("ab", "c") and ("a", "bc") differ. Pass everything
// that changes the set or order of rows: resource name, canonical filters
// (url.Values.Encode sorts keys), sort order, parent ids from the path.
func NewFingerprint(parts ...string) Fingerprint {
	h := sha256.New()
	var n [binary.MaxVarintLen64]byte
	h.Write([]byte("pagination/fingerprint/v1"))
	for _, p := range parts {
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(p)))])
		h.Write([]byte(p))
	}
	var fp Fingerprint
	copy(fp[:], h.Sum(nil))
	return fp
}

// Codec seals and opens cursors. It is safe for concurrent use.
type Codec struct {
	aeads []cipher.AEAD // newest first
	ttl   time.Duration // 0: no expiry
	now   func() time.Time
}

// Option configures a [Codec].
type Option func(*codecConfig) error

type codecConfig struct {
	ttl time.Duration
	now func() time.Time
}

// WithTTL sets how long cursors stay valid after they are issued. It must be
// positive; use [WithoutExpiry] for cursors that never expire.
func WithTTL(d time.Duration) Option {
	return func(c *codecConfig) error {
		if d <= 0 {
			return fmt.Errorf("pagination: cursor TTL must be positive, got %v", d)
		}
		c.ttl = d
		return nil
	}
}

// WithoutExpiry makes cursors valid for as long as their key is listed.
func WithoutExpiry() Option {
	return func(c *codecConfig) error {
		c.ttl = 0
		return nil
	}
}

// WithClock sets the time source used to stamp and check cursor expiry
// (tests use it to move time without sleeping).
func WithClock(now func() time.Time) Option {
	return func(c *codecConfig) error {
		if now == nil {
			return errors.New("pagination: nil clock")
		}
		c.now = now
		return nil
	}
}

// NewCodec returns a codec for the given keys, newest first: the first key
// seals new cursors, every key opens them. To rotate, prepend a new key and
// drop the oldest one once cursors sealed with it have expired. Each key must
// be [KeySize] random bytes (e.g. `openssl rand -base64 32`, see [ParseKeys]).
// The keys are copied.
func NewCodec(keys [][]byte, opts ...Option) (*Codec, error) {
	if len(keys) == 0 {
		return nil, errors.New("pagination: at least one cursor key is required")
	}
	cfg := codecConfig{ttl: DefaultTTL, now: time.Now}
	for _, o := range opts {
		if o == nil {
			return nil, errors.New("pagination: nil codec option")
		}
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	c := &Codec{ttl: cfg.ttl, now: cfg.now}
	var zero [KeySize]byte
	for i, k := range keys {
		if len(k) != KeySize {
			return nil, fmt.Errorf("pagination: cursor key %d is %d bytes, want %d", i, len(k), KeySize)
		}
		if subtle.ConstantTimeCompare(k, zero[:]) == 1 {
			return nil, fmt.Errorf("pagination: cursor key %d is all zeros", i)
		}
		for j := range i {
			if subtle.ConstantTimeCompare(k, keys[j]) == 1 {
				return nil, fmt.Errorf("pagination: cursor keys %d and %d are equal", j, i)
			}
		}
		aead, err := chacha20poly1305.NewX(bytes.Clone(k))
		if err != nil {
			return nil, fmt.Errorf("pagination: cursor key %d: %w", i, err)
		}
		c.aeads = append(c.aeads, aead)
	}
	return c, nil
}

var errUnusableCodec = errors.New("pagination: the codec was not built with NewCodec")

func (c *Codec) usable() bool { return c != nil && len(c.aeads) > 0 && c.now != nil }

// MustNewCodec is like [NewCodec] but panics on a configuration error. Use it
// only where the keys are constants (tests, examples).
func MustNewCodec(keys [][]byte, opts ...Option) *Codec {
	c, err := NewCodec(keys, opts...)
	if err != nil {
		panic(err)
	}
	return c
}

// ParseKeys parses a comma-separated list of base64 keys (standard or URL
// alphabet, padded or not), newest first, as found in a configuration
// variable. Errors never quote key material.
func ParseKeys(s string) ([][]byte, error) {
	var keys [][]byte
	for i, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, err := decodeKey(part)
		if err != nil || len(k) != KeySize {
			return nil, fmt.Errorf("pagination: cursor key %d is not %d bytes of base64", i, KeySize)
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, errors.New("pagination: no cursor key given")
	}
	return keys, nil
}

func decodeKey(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	if strings.ContainsAny(s, "-_") {
		return base64.RawURLEncoding.DecodeString(s)
	}
	return base64.RawStdEncoding.DecodeString(s)
}

// Encode seals cur for the query identified by fp and returns the opaque
// base64url token. It fails only for unsupported value types, too many
// values, or a result longer than [MaxCursorLength]: programming errors, not
// client errors.
func (c *Codec) Encode(cur Cursor, fp Fingerprint) (string, error) {
	if !c.usable() {
		return "", errUnusableCodec
	}
	if len(cur.Values) > maxValues {
		return "", fmt.Errorf("pagination: a cursor holds at most %d values, got %d", maxValues, len(cur.Values))
	}
	plain := make([]byte, 0, 64)
	plain, err := appendPayload(plain, cur, fp, c.now())
	if err != nil {
		return "", err
	}
	sealedLen := sealedOverhead + len(plain)
	if base64.RawURLEncoding.EncodedLen(sealedLen) > MaxCursorLength {
		return "", fmt.Errorf("pagination: cursor would exceed %d characters; sort keys are too long", MaxCursorLength)
	}
	sealed := make([]byte, 1+chacha20poly1305.NonceSizeX, sealedLen)
	sealed[0] = cursorVersion
	nonce := sealed[1:]
	_, _ = rand.Read(nonce) // crypto/rand.Read never returns an error (Go 1.24+)
	sealed = c.aeads[0].Seal(sealed, nonce, plain, associatedData)
	return base64.RawURLEncoding.EncodeToString(sealed), nil
}

// Decode opens a token produced by [Codec.Encode] for the same fingerprint.
// Any failure (malformed, tampered, sealed with an unknown key, expired,
// issued for another query) returns a [*CursorError], which matches
// [ErrInvalidCursor] with errors.Is. Decode never panics.
func (c *Codec) Decode(token string, fp Fingerprint) (Cursor, error) {
	if !c.usable() { // a zero Codec opens nothing
		return Cursor{}, cursorError(ReasonUnauthenticated)
	}
	if len(token) > MaxCursorLength {
		return Cursor{}, cursorError(ReasonMalformed)
	}
	sealed, err := base64.RawURLEncoding.Strict().DecodeString(token)
	if err != nil || len(sealed) < sealedOverhead {
		return Cursor{}, cursorError(ReasonMalformed)
	}
	if sealed[0] != cursorVersion {
		return Cursor{}, cursorError(ReasonMalformed)
	}
	nonce := sealed[1 : 1+chacha20poly1305.NonceSizeX]
	box := sealed[1+chacha20poly1305.NonceSizeX:]
	var plain []byte
	opened := false
	buf := make([]byte, 0, len(box))
	for _, aead := range c.aeads {
		if plain, err = aead.Open(buf, nonce, box, associatedData); err == nil {
			opened = true
			break
		}
	}
	if !opened {
		return Cursor{}, cursorError(ReasonUnauthenticated)
	}
	cur, gotFP, issued, err := parsePayload(plain)
	if err != nil {
		return Cursor{}, cursorError(ReasonMalformed)
	}
	if subtle.ConstantTimeCompare(gotFP[:], fp[:]) != 1 {
		return Cursor{}, cursorError(ReasonOtherQuery)
	}
	if c.ttl > 0 {
		now := c.now()
		if issued.After(now.Add(clockSkew)) || now.Sub(issued) > c.ttl {
			return Cursor{}, cursorError(ReasonExpired)
		}
	}
	return cur, nil
}
