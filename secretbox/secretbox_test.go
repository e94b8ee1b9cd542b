package secretbox_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/hubchantier/hubchantier/secretbox"
)

func ring(t *testing.T, spec string) *secretbox.Keyring {
	t.Helper()
	r, err := secretbox.ParseKeyring(spec)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestSealOpenRoundTripAndBinding(t *testing.T) {
	r := ring(t, "k1:"+secretbox.GenerateKey())
	kid, sealed, err := r.Seal([]byte("whsec_secret"), []byte("webhook:1"))
	if err != nil || kid != "k1" {
		t.Fatal(kid, err)
	}
	if bytes.Contains(sealed, []byte("whsec_secret")) {
		t.Fatal("sealed value contains the plaintext")
	}
	got, err := r.Open(kid, sealed, []byte("webhook:1"))
	if err != nil || string(got) != "whsec_secret" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	// Bound to its row: another row's additional data does not open it.
	if _, err := r.Open(kid, sealed, []byte("webhook:2")); !errors.Is(err, secretbox.ErrOpen) {
		t.Fatalf("other ad: %v", err)
	}
	// Any altered byte fails authentication.
	for i := range sealed {
		bad := bytes.Clone(sealed)
		bad[i] ^= 1
		if _, err := r.Open(kid, bad, []byte("webhook:1")); !errors.Is(err, secretbox.ErrOpen) {
			t.Fatalf("byte %d altered: %v", i, err)
		}
	}
	if _, err := r.Open(kid, sealed[:10], nil); !errors.Is(err, secretbox.ErrOpen) {
		t.Fatalf("truncated: %v", err)
	}
	if _, err := r.Open("k9", sealed, []byte("webhook:1")); !errors.Is(err, secretbox.ErrUnknownKey) {
		t.Fatalf("unknown kid: %v", err)
	}
	// Two seals of one value differ (random nonce).
	_, again, _ := r.Seal([]byte("whsec_secret"), []byte("webhook:1"))
	if bytes.Equal(again, sealed) {
		t.Fatal("nonce reused")
	}
}

func TestRotationByReseal(t *testing.T) {
	oldKey, newKey := secretbox.GenerateKey(), secretbox.GenerateKey()
	before := ring(t, "2026a:"+oldKey)
	kid, sealed, _ := before.Seal([]byte("s3cret"), []byte("x"))

	after := ring(t, "2026b:"+newKey+", 2026a:"+oldKey)
	if after.CurrentKeyID() != "2026b" {
		t.Fatal(after.CurrentKeyID())
	}
	// The old value still opens, and reseals under the new key.
	if p, err := after.Open(kid, sealed, []byte("x")); err != nil || string(p) != "s3cret" {
		t.Fatal(p, err)
	}
	kid2, sealed2, err := after.Reseal(kid, sealed, []byte("x"))
	if err != nil || kid2 != "2026b" {
		t.Fatal(kid2, err)
	}
	// Once the old key is dropped, only the resealed value opens.
	onlyNew := ring(t, "2026b:"+newKey)
	if p, err := onlyNew.Open(kid2, sealed2, []byte("x")); err != nil || string(p) != "s3cret" {
		t.Fatal(p, err)
	}
	if _, err := onlyNew.Open(kid, sealed, []byte("x")); !errors.Is(err, secretbox.ErrUnknownKey) {
		t.Fatal(err)
	}
	// Resealing a current value is a no-op.
	if k, s, _ := onlyNew.Reseal(kid2, sealed2, []byte("x")); k != kid2 || !bytes.Equal(s, sealed2) {
		t.Fatal("reseal of a current value changed it")
	}
}

func TestParseKeyringRejectsBadInputWithoutEchoingKeys(t *testing.T) {
	good := secretbox.GenerateKey()
	for _, spec := range []string{
		"", "nokey", "k1:", "k1:" + good[:20], ":" + good, "a b:" + good,
		"k1:" + good + ",k1:" + good, "k1:not*base64*at*all*" + good,
	} {
		_, err := secretbox.ParseKeyring(spec)
		if err == nil {
			t.Errorf("ParseKeyring(%q) accepted", spec)
			continue
		}
		if strings.Contains(err.Error(), good[:12]) {
			t.Errorf("error echoes key material: %v", err)
		}
	}
	// URL-safe and unpadded encodings are accepted.
	url := strings.NewReplacer("+", "-", "/", "_").Replace(strings.TrimRight(good, "="))
	if _, err := secretbox.ParseKeyring("k:" + url); err != nil {
		t.Fatal(err)
	}
}

func FuzzParseKeyring(f *testing.F) {
	f.Add("k1:" + secretbox.GenerateKey())
	f.Add("a:b,c:d")
	f.Fuzz(func(t *testing.T, s string) {
		r, err := secretbox.ParseKeyring(s)
		if err != nil {
			return
		}
		kid, sealed, err := r.Seal([]byte("v"), nil)
		if err != nil {
			t.Fatal(err)
		}
		if p, err := r.Open(kid, sealed, nil); err != nil || string(p) != "v" {
			t.Fatal(p, err)
		}
	})
}

func TestWithOpeners(t *testing.T) {
	a, err := secretbox.ParseKeyring("a:" + secretbox.GenerateKey())
	if err != nil {
		t.Fatal(err)
	}
	oldText := secretbox.GenerateKey()
	old, err := secretbox.ParseKeyring("old:" + oldText)
	if err != nil {
		t.Fatal(err)
	}
	kid, sealed, err := old.Seal([]byte("s"), []byte("ad"))
	if err != nil {
		t.Fatal(err)
	}
	oldKey, err := base64.StdEncoding.DecodeString(oldText)
	if err != nil {
		t.Fatal(err)
	}
	both, err := a.WithOpeners(secretbox.Key{ID: "old", Key: oldKey})
	if err != nil {
		t.Fatal(err)
	}
	if both.CurrentKeyID() != "a" || !both.Has("old") || !both.Has("a") || a.Has("old") {
		t.Fatalf("current %q", both.CurrentKeyID())
	}
	if plain, err := both.Open(kid, sealed, []byte("ad")); err != nil || string(plain) != "s" {
		t.Fatalf("open with the opener: %v", err)
	}
	if k, _, _ := both.Seal([]byte("s"), nil); k != "a" {
		t.Fatalf("sealed under %q", k)
	}
	if _, err := a.WithOpeners(secretbox.Key{ID: "a", Key: oldKey}); err == nil {
		t.Fatal("a duplicate id was accepted")
	}
}
