package connectors_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ulule/limiter/v3"
	sredis "github.com/ulule/limiter/v3/drivers/store/redis"
	"golang.org/x/oauth2"

	"github.com/hubchantier/hubchantier/connectors"
	"github.com/hubchantier/hubchantier/internal/testenv"
	"github.com/hubchantier/hubchantier/secretbox"
)

func TestRateLimitIsSharedAcrossInstancesThroughRedis(t *testing.T) {
	rdb := testenv.Redis(t)
	prefix := testenv.Prefix(t) + "connectors"
	newLimiter := func() *connectors.RateLimiter {
		st, err := sredis.NewStoreWithOptions(rdb, limiter.StoreOptions{Prefix: prefix})
		if err != nil {
			t.Fatal(err)
		}
		return connectors.NewRateLimiter(st)
	}
	a, b := newLimiter(), newLimiter() // two instances
	// A window of a minute: the test never straddles two.
	rate := connectors.Rate{Limit: 4, Period: time.Minute}
	ctx := context.Background()
	for range 2 {
		if err := a.Wait(ctx, "acme-vendor", rate); err != nil {
			t.Fatal(err)
		}
		if err := b.Wait(ctx, "acme-vendor", rate); err != nil {
			t.Fatal(err)
		}
	}
	// The budget of 4 is spent by the two instances together: a fifth
	// request waits, on either instance (bounded here by a deadline).
	for _, l := range []*connectors.RateLimiter{a, b} {
		short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		err := l.Wait(short, "acme-vendor", rate)
		cancel()
		if err == nil {
			t.Fatal("fifth request in the window was not held")
		}
	}
	// Another vendor has its own budget.
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if err := a.Wait(short, "other-vendor", rate); err != nil {
		t.Fatal(err)
	}
}

// tokenStore is a TokenStore sealing tokens with a Sealer.
type tokenStore struct {
	mu     sync.Mutex
	s      *connectors.Sealer
	kid    string
	sealed []byte
}

func (t *tokenStore) LoadToken(_ context.Context, key string) (*oauth2.Token, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.sealed == nil {
		return nil, connectors.ErrNoToken
	}
	return t.s.OpenToken(t.kid, t.sealed, key)
}

func (t *tokenStore) SaveToken(_ context.Context, key string, tok *oauth2.Token) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	var err error
	t.kid, t.sealed, err = t.s.SealToken(tok, key)
	return err
}

func TestOAuthRefreshIsSerialisedAndStoredSealed(t *testing.T) {
	var refreshes atomic.Int64
	vendor := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		if r.Form.Get("grant_type") != "refresh_token" || r.Form.Get("refresh_token") != "rt-1" {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":"invalid_grant"}`))
			return
		}
		refreshes.Add(1)
		time.Sleep(50 * time.Millisecond)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": "at-2", "token_type": "Bearer", "refresh_token": "rt-1", "expires_in": 3600})
	}))
	defer vendor.Close()
	sealer, _ := connectors.ParseSealer("k:" + mustKey())
	st := &tokenStore{s: sealer}
	if err := st.SaveToken(context.Background(), "7", &oauth2.Token{AccessToken: "at-1", RefreshToken: "rt-1", Expiry: time.Now().Add(30 * time.Second)}); err != nil {
		t.Fatal(err)
	}
	spec := connectors.OAuthSpec{AuthURL: vendor.URL + "/authorize", TokenURL: vendor.URL + "/token", PKCE: true}
	toks := &connectors.Tokens{Config: spec.Config("client", "secret", "https://hub.example/cb"), Store: st}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			tok, err := toks.Token(context.Background(), "7")
			if err != nil || tok.AccessToken != "at-2" {
				t.Errorf("token %v, %v", tok, err)
			}
		})
	}
	wg.Wait()
	if n := refreshes.Load(); n != 1 {
		t.Fatalf("%d refreshes for 8 concurrent callers, want 1", n)
	}
	if string(st.sealed) == "" || contains(st.sealed, "at-2") || contains(st.sealed, "rt-1") {
		t.Fatal("token stored in clear")
	}
	// A token of another connector does not open under this one's binding.
	if _, err := sealer.OpenToken(st.kid, st.sealed, "8"); err == nil {
		t.Fatal("token opened under another connector")
	}
}

func TestOAuthRefreshRefusedIsAnAuthError(t *testing.T) {
	vendor := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error":"invalid_grant"}`))
	}))
	defer vendor.Close()
	sealer, _ := connectors.ParseSealer("k:" + mustKey())
	st := &tokenStore{s: sealer}
	_ = st.SaveToken(context.Background(), "7", &oauth2.Token{AccessToken: "at-1", RefreshToken: "rt-x", Expiry: time.Now().Add(-time.Minute)})
	toks := &connectors.Tokens{Config: connectors.OAuthSpec{TokenURL: vendor.URL + "/token"}.Config("c", "s", ""), Store: st}
	_, err := toks.Token(context.Background(), "7")
	if e := connectors.AsError(err); e.Kind != connectors.KindAuth {
		t.Fatalf("err %v", err)
	}
}

func contains(b []byte, s string) bool { return bytes.Contains(b, []byte(s)) }

func mustKey() string { return secretbox.GenerateKey() }
