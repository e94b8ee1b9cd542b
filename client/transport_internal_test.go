package client

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/hubchantier/hubchantier/client/apiv1"
)

const testKey = "hck_secretsecretsecretsecretsecret000000"

// TestCredentialsStayWithTheServer: a redirect to another host does not
// carry the key (net/http drops Authorization across hosts), and errors
// quote neither the key nor the query (which may hold a cursor).
func TestCredentialsStayWithTheServer(t *testing.T) {
	var leaked []string
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		leaked = append(leaked, r.Header.Get("Authorization"))
		w.WriteHeader(http.StatusNotFound)
	}))
	defer other.Close()
	// The same loopback server under another host name.
	otherURL := strings.Replace(other.URL, "127.0.0.1", "localhost", 1)
	redirecting := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, otherURL+r.URL.Path, http.StatusFound)
	}))
	defer redirecting.Close()

	c, err := New(redirecting.URL, WithAPIKey(testKey))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.V1.Me(context.Background())
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("→ %v, want the other host's 404", err)
	}
	if len(leaked) != 1 || leaked[0] != "" {
		t.Errorf("the other host received Authorization %q", leaked)
	}

	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	c, err = New(closed.URL, WithAPIKey(testKey))
	if err != nil {
		t.Fatal(err)
	}
	cursor := "c2VjcmV0LWN1cnNvcg"
	for _, err := range c.V1.Chantiers.List(context.Background(), &apiv1.ListChantiersParams{Cursor: &cursor}) {
		if err == nil {
			t.Fatal("a closed server answered")
		}
		if msg := err.Error(); strings.Contains(msg, cursor) || strings.Contains(msg, testKey) || strings.Contains(msg, "secret") {
			t.Errorf("transport error %q quotes the cursor or the key", msg)
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			t.Errorf("the error still wraps the *url.Error holding the URL: %v", ue)
		}
	}
}

func TestResponseSizeIsBounded(t *testing.T) {
	big := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"id": 1, "nom": "` + strings.Repeat("x", 4096) + `"}`))
	}))
	defer big.Close()
	c, err := New(big.URL, WithAPIKey(testKey), WithMaxResponseBytes(1024))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.V1.Chantiers.Get(context.Background(), 1); err == nil || !strings.Contains(err.Error(), "larger than 1024 bytes") {
		t.Errorf("4 KiB answer with a 1 KiB limit → %v", err)
	}
	c, _ = New(big.URL, WithAPIKey(testKey))
	if ch, err := c.V1.Chantiers.Get(context.Background(), 1); err != nil || ch.Id != 1 {
		t.Errorf("default limit → %v %v", ch, err)
	}
}

func TestMalformedAnswers(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/api/v1/chantiers":
			if r.URL.Query().Get("cursor") == "loop" {
				// A server that sends the same page again: the
				// iterator must not loop forever.
				w.Header().Set("Link", `</api/v1/chantiers?cursor=loop>; rel="next"`)
				_, _ = w.Write([]byte(`{"data": [], "pagination": {"next_cursor": "loop"}}`))
				return
			}
			_, _ = w.Write([]byte(`{"data": [{"id": 1}], "pagination": {"next_cursor": "loop"}}`))
		default:
			_, _ = w.Write([]byte(`{"data": `))
		}
	}))
	defer srv.Close()
	c, _ := New(srv.URL, WithAPIKey(testKey))
	ctx := context.Background()
	var errs []error
	n := 0
	for _, err := range c.V1.Chantiers.List(ctx, nil) {
		if err != nil {
			errs = append(errs, err)
			continue
		}
		n++
	}
	if n != 1 || len(errs) != 1 || !strings.Contains(errs[0].Error(), "next page is this page") {
		t.Errorf("a cursor loop → %d items, errors %v", n, errs)
	}
	if _, err := c.V1.Stats(ctx); err == nil || !strings.Contains(err.Error(), "decoding the answer") {
		t.Errorf("truncated JSON → %v", err)
	}
	for _, err := range c.V1.Signalements.List(ctx, nil) {
		if err == nil || !strings.Contains(err.Error(), "decoding the page") {
			t.Errorf("truncated page → %v", err)
		}
	}
	//lint:ignore SA1012 a nil context is the misuse under test
	if _, err := c.V1.Stats(nil); err == nil { //nolint:staticcheck
		t.Error("a nil context was accepted")
	}
}
