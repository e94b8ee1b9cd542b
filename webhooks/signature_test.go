package webhooks_test

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/hubchantier/hubchantier/webhooks"
)

func newSecret(t testing.TB) (string, []byte) {
	t.Helper()
	text, key, err := webhooks.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	return text, key
}

// Our signatures verify with the official Standard Webhooks Go library, and
// theirs with our Verifier.
func TestSignatureMatchesTheStandardWebhooksLibrary(t *testing.T) {
	secret, key := newSecret(t)
	official, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"type":"chantier.created","timestamp":"2026-12-07T02:00:00Z","data":{"id":42,"nom":"Élysée"}}`)
	now := time.Now()

	t.Run("ours → verified by the official library", func(t *testing.T) {
		h := http.Header{}
		webhooks.SetHeaders(h, "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", now, body, key)
		if err := official.Verify(body, h); err != nil {
			t.Fatal(err)
		}
		if want, _ := official.Sign("msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", now, body); h.Get("webhook-signature") != want {
			t.Fatalf("signature %q, official %q", h.Get("webhook-signature"), want)
		}
		if official.Verify(append(body, ' '), h) == nil {
			t.Fatal("the official library accepted a changed body")
		}
	})

	t.Run("during a rotation both signatures are sent; either secret verifies", func(t *testing.T) {
		newText, newKey := newSecret(t)
		h := http.Header{}
		webhooks.SetHeaders(h, "msg_rot", now, body, newKey, key)
		if n := len(strings.Fields(h.Get("webhook-signature"))); n != 2 {
			t.Fatalf("%d signatures", n)
		}
		for _, s := range []string{secret, newText} {
			o, _ := standardwebhooks.NewWebhook(s)
			if err := o.Verify(body, h); err != nil {
				t.Fatalf("official, secret %d: %v", len(s), err)
			}
			v, _ := webhooks.NewVerifier(s)
			if err := v.Verify(h, body); err != nil {
				t.Fatal(err)
			}
		}
	})

	t.Run("official signature → verified by ours", func(t *testing.T) {
		sig, err := official.Sign("msg_1", now, body)
		if err != nil {
			t.Fatal(err)
		}
		h := http.Header{}
		h.Set("webhook-id", "msg_1")
		h.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
		h.Set("webhook-signature", "v1a,ignored "+sig)
		v, err := webhooks.NewVerifier(secret)
		if err != nil {
			t.Fatal(err)
		}
		if err := v.Verify(h, body); err != nil {
			t.Fatal(err)
		}
	})
}

func TestVerifierRefuses(t *testing.T) {
	secret, key := newSecret(t)
	_, otherKey := newSecret(t)
	v, err := webhooks.NewVerifier(secret)
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"type":"ping"}`)
	now := time.Now()
	signed := func(id string, ts time.Time, b []byte, keys ...[]byte) http.Header {
		h := http.Header{}
		webhooks.SetHeaders(h, id, ts, b, keys...)
		return h
	}
	tests := []struct {
		name string
		h    http.Header
		body []byte
		want error
	}{
		{"no headers → missing", http.Header{}, body, webhooks.ErrMissingHeaders},
		{"signed with another secret → no valid signature", signed("m", now, body, otherKey), body, webhooks.ErrNoValidSignature},
		{"body changed → no valid signature", signed("m", now, body, key), []byte(`{"type":"pong"}`), webhooks.ErrNoValidSignature},
		{"timestamp 6 minutes old → refused (replay)", signed("m", now.Add(-6*time.Minute), body, key), body, webhooks.ErrTimestamp},
		{"timestamp 6 minutes ahead → refused", signed("m", now.Add(6*time.Minute), body, key), body, webhooks.ErrTimestamp},
		{"id changed → no valid signature", func() http.Header { h := signed("m", now, body, key); h.Set("webhook-id", "n"); return h }(), body, webhooks.ErrNoValidSignature},
		{"timestamp not a number → malformed", func() http.Header { h := signed("m", now, body, key); h.Set("webhook-timestamp", "soon"); return h }(), body, webhooks.ErrInvalidHeaders},
		{"signature without version → no valid signature", func() http.Header {
			h := signed("m", now, body, key)
			h.Set("webhook-signature", strings.TrimPrefix(h.Get("webhook-signature"), "v1,"))
			return h
		}(), body, webhooks.ErrNoValidSignature},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := v.Verify(tc.h, tc.body); !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
		})
	}
	if err := v.WithTolerance(10*time.Minute).Verify(signed("m", now.Add(-6*time.Minute), body, key), body); err != nil {
		t.Fatalf("a wider tolerance: %v", err)
	}
}

func TestParseSecret(t *testing.T) {
	text, key := newSecret(t)
	if !strings.HasPrefix(text, "whsec_") || len(key) != 32 {
		t.Fatalf("%q, %d bytes", text, len(key))
	}
	got, err := webhooks.ParseSecret(text)
	if err != nil || string(got) != string(key) {
		t.Fatalf("round trip: %v", err)
	}
	for _, bad := range []string{"", "whsec_", strings.TrimPrefix(text, "whsec_"), "whsec_!!!", "whsec_c2hvcnQ="} {
		if _, err := webhooks.ParseSecret(bad); !errors.Is(err, webhooks.ErrInvalidSecret) {
			t.Errorf("%q: %v", bad, err)
		}
	}
	if _, err := webhooks.NewVerifier(); err == nil {
		t.Error("a verifier without secret")
	}
}

// The verifier never panics, and accepts a message only when it carries the
// signature made with its secret.
func FuzzVerify(f *testing.F) {
	secret := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	key, err := webhooks.ParseSecret(secret)
	if err != nil {
		f.Fatal(err)
	}
	v, err := webhooks.NewVerifier(secret)
	if err != nil {
		f.Fatal(err)
	}
	now := time.Now().Unix()
	f.Add("msg_1", strconv.FormatInt(now, 10), webhooks.Sign("msg_1", time.Unix(now, 0), []byte("{}"), key), []byte("{}"))
	f.Add("msg_1", "1", "v1,AAAA v1a,BBBB", []byte(""))
	f.Add("", "", "", []byte(nil))
	f.Add("m", "-1", "v1,,,", []byte("x"))
	f.Fuzz(func(t *testing.T, id, ts, sig string, body []byte) {
		h := http.Header{}
		h.Set("webhook-id", id)
		h.Set("webhook-timestamp", ts)
		h.Set("webhook-signature", sig)
		if v.Verify(h, body) != nil {
			return
		}
		sec, err := strconv.ParseInt(h.Get("webhook-timestamp"), 10, 64)
		if err != nil {
			t.Fatalf("accepted a timestamp that does not parse: %q", ts)
		}
		want := webhooks.Sign(h.Get("webhook-id"), time.Unix(sec, 0), body, key)
		if !containsField(h.Get("webhook-signature"), want) {
			t.Fatalf("accepted %q without the right signature %q", sig, want)
		}
	})
}

// containsField reports whether want is one of the whitespace-separated
// fields of s.
func containsField(s, want string) bool {
	for f := range strings.FieldsSeq(s) {
		if f == want {
			return true
		}
	}
	return false
}
