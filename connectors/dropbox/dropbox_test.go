package dropbox_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"golang.org/x/oauth2"

	"github.com/hubchantier/hubchantier/connectors"
	"github.com/hubchantier/hubchantier/connectors/dropbox"
	"github.com/hubchantier/hubchantier/connectors/dropbox/fake"
)

// memTokens is a TokenStore in memory.
type memTokens struct {
	mu  sync.Mutex
	tok *oauth2.Token
}

func (m *memTokens) LoadToken(context.Context, string) (*oauth2.Token, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.tok == nil {
		return nil, connectors.ErrNoToken
	}
	t := *m.tok
	return &t, nil
}

func (m *memTokens) SaveToken(_ context.Context, _ string, t *oauth2.Token) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	cp := *t
	m.tok = &cp
	return nil
}

type env struct {
	f      *fake.Server
	c      *dropbox.Connector
	store  *memTokens
	ctx    context.Context
	access string
}

func newEnv(t *testing.T, p dropbox.Params) *env {
	t.Helper()
	f := fake.New("hub-client", "hub-client-secret")
	t.Cleanup(f.Close)
	c, err := dropbox.New(connectors.Options{BaseURL: f.URL}, p)
	if err != nil {
		t.Fatal(err)
	}
	access, refresh := f.Grant()
	st := &memTokens{tok: &oauth2.Token{AccessToken: access, RefreshToken: refresh, TokenType: "bearer"}}
	spec := *dropbox.Spec.OAuth
	spec.TokenURL = f.URL + "/oauth2/token"
	toks := &connectors.Tokens{Config: spec.Config("hub-client", "hub-client-secret", ""), Store: st}
	return &env{f: f, c: c, store: st, ctx: connectors.WithTokenSource(context.Background(), toks.Source("1")), access: access}
}

func docEvent(nom, categorie, chantier string, content []byte) connectors.Event {
	data, _ := json.Marshal(map[string]any{"id": 5, "chantier_id": 3, "nom": nom, "categorie": categorie, "size": len(content)})
	ev := connectors.Event{ID: "evt_doc", Type: dropbox.EventDocumentCreated, Resource: "documents", ResourceID: 5, Data: data,
		Content: func(context.Context) (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(content)), nil }}
	if chantier != "" {
		ev.Related = map[string]json.RawMessage{"chantier": json.RawMessage(`{"id":3,"nom":` + strconvQuote(chantier) + `}`)}
	}
	return ev
}

func strconvQuote(s string) string { b, _ := json.Marshal(s); return string(b) }

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

func kindOf(err error) connectors.Kind {
	var e *connectors.Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return ""
}

func TestCheck(t *testing.T) {
	e := newEnv(t, dropbox.Params{})
	if err := e.c.Check(e.ctx, connectors.Config{}); err != nil {
		t.Fatal(err)
	}
	t.Run("an unknown token → auth (invalid_access_token)", func(t *testing.T) {
		_ = e.store.SaveToken(e.ctx, "1", &oauth2.Token{AccessToken: "sl.not-a-token"})
		err := e.c.Check(e.ctx, connectors.Config{})
		if kindOf(err) != connectors.KindAuth || !strings.Contains(err.Error(), "invalid_access_token") || connectors.Temporary(err) {
			t.Fatalf("%v", err)
		}
	})
	t.Run("no token source → auth", func(t *testing.T) {
		if err := e.c.Check(context.Background(), connectors.Config{}); kindOf(err) != connectors.KindAuth {
			t.Fatalf("%v", err)
		}
	})
}

func TestUploadDocument(t *testing.T) {
	t.Run("small file → /2/files/upload at the sanitised path, content_hash checked", func(t *testing.T) {
		e := newEnv(t, dropbox.Params{})
		content := []byte("%PDF-1.7 plan de masse")
		if err := e.c.HandleEvent(e.ctx, connectors.Config{}, docEvent("Plan: R+1 / v2?.pdf", "plans", "Résidence <Les Pins>", content)); err != nil {
			t.Fatal(err)
		}
		const want = "/Hub-Chantier/Résidence _Les Pins_/plans/Plan_ R+1 _ v2_.pdf"
		if got, ok := e.f.File(want); !ok || !bytes.Equal(got, content) {
			t.Fatalf("files %v", e.f.Paths())
		}
		if e.f.Counts().Uploads != 1 || e.f.Counts().SessionStarts != 0 {
			t.Fatalf("uploads %d, sessions %d", e.f.Counts().Uploads, e.f.Counts().SessionStarts)
		}
	})
	t.Run("above the threshold → upload session start/append/finish", func(t *testing.T) {
		e := newEnv(t, dropbox.Params{SessionThreshold: 1000, ChunkSize: 256})
		content := randomBytes(1000*2 + 77)
		if err := e.c.HandleEvent(e.ctx, connectors.Config{Settings: map[string]string{"root": "Entreprise/Docs"}}, docEvent("gros.bin", "", "", content)); err != nil {
			t.Fatal(err)
		}
		got, ok := e.f.File("/Entreprise/Docs/chantier-3/autre/gros.bin")
		if !ok || !bytes.Equal(got, content) {
			t.Fatalf("files %v", e.f.Paths())
		}
		if e.f.Counts().Uploads != 0 || e.f.Counts().SessionStarts != 1 || e.f.Counts().Appends != 7 || e.f.Counts().Finishes != 1 {
			t.Fatalf("uploads %d, starts %d, appends %d, finishes %d", e.f.Counts().Uploads, e.f.Counts().SessionStarts, e.f.Counts().Appends, e.f.Counts().Finishes)
		}
	})
	t.Run("name taken by the same content (a retried delivery) → nothing more", func(t *testing.T) {
		e := newEnv(t, dropbox.Params{})
		ev := docEvent("a.pdf", "plans", "Gare", []byte("same"))
		for range 2 {
			if err := e.c.HandleEvent(e.ctx, connectors.Config{}, ev); err != nil {
				t.Fatal(err)
			}
		}
		if n := len(e.f.Paths()); n != 1 {
			t.Fatalf("files %v", e.f.Paths())
		}
	})
	t.Run("name taken by another content → path/conflict → autorenamed", func(t *testing.T) {
		e := newEnv(t, dropbox.Params{})
		e.f.Put("/Hub-Chantier/Gare/plans/a.pdf", []byte("another file"))
		if err := e.c.HandleEvent(e.ctx, connectors.Config{}, docEvent("a.pdf", "plans", "Gare", []byte("mine"))); err != nil {
			t.Fatal(err)
		}
		if got, ok := e.f.File("/Hub-Chantier/Gare/plans/a (1).pdf"); !ok || string(got) != "mine" {
			t.Fatalf("files %v", e.f.Paths())
		}
	})
	t.Run("the same through an upload session's finish", func(t *testing.T) {
		e := newEnv(t, dropbox.Params{SessionThreshold: 10, ChunkSize: 8})
		e.f.Put("/Hub-Chantier/Gare/plans/b.bin", []byte("another file"))
		if err := e.c.HandleEvent(e.ctx, connectors.Config{}, docEvent("b.bin", "plans", "Gare", []byte("0123456789abcdefghij"))); err != nil {
			t.Fatal(err)
		}
		if got, ok := e.f.File("/Hub-Chantier/Gare/plans/b (1).bin"); !ok || string(got) != "0123456789abcdefghij" {
			t.Fatalf("files %v", e.f.Paths())
		}
	})
}

func TestVendorErrors(t *testing.T) {
	ev := docEvent("c.pdf", "plans", "Gare", []byte("content"))
	for _, tc := range []struct {
		name  string
		fault fake.Fault
		kind  connectors.Kind
	}{
		{"429 → rate_limited with Retry-After", fake.RateLimited, connectors.KindRateLimited},
		{"500 → unavailable", fake.ServerError, connectors.KindUnavailable},
		{"content_hash differs → unavailable (retried)", fake.WrongHash, connectors.KindUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, dropbox.Params{})
			e.f.Inject(tc.fault)
			err := e.c.HandleEvent(e.ctx, connectors.Config{}, ev)
			var ce *connectors.Error
			if !errors.As(err, &ce) || ce.Kind != tc.kind || !ce.Temporary() {
				t.Fatalf("%#v", err)
			}
			if tc.fault == fake.RateLimited && ce.RetryAfter.Seconds() != 1 {
				t.Fatalf("Retry-After %v", ce.RetryAfter)
			}
			// the next try stores the file once
			if err := e.c.HandleEvent(e.ctx, connectors.Config{}, ev); err != nil {
				t.Fatal(err)
			}
			if p := e.f.Paths(); len(p) != 1 {
				t.Fatalf("files %v", p)
			}
		})
	}
	t.Run("expired_access_token → refresh → retry", func(t *testing.T) {
		e := newEnv(t, dropbox.Params{})
		e.f.ExpireAccessTokens()
		if err := e.c.HandleEvent(e.ctx, connectors.Config{}, ev); err != nil {
			t.Fatal(err)
		}
		if e.f.Counts().Refreshes != 1 || len(e.f.Paths()) != 1 {
			t.Fatalf("refreshes %d, files %v", e.f.Counts().Refreshes, e.f.Paths())
		}
		tok, _ := e.store.LoadToken(e.ctx, "1")
		if tok.AccessToken == e.access || tok.RefreshToken == "" {
			t.Fatalf("the refreshed token was not stored (or lost its refresh token): %+v", tok.Expiry)
		}
	})
	t.Run("expired token and refresh refused → auth, no secret in the error", func(t *testing.T) {
		e := newEnv(t, dropbox.Params{})
		e.f.ExpireAccessTokens()
		e.f.RevokeRefreshToken()
		err := e.c.HandleEvent(e.ctx, connectors.Config{}, ev)
		if kindOf(err) != connectors.KindAuth || connectors.Temporary(err) || strings.Contains(err.Error(), "SECRET") || strings.Contains(err.Error(), e.f.URL) {
			t.Fatalf("%v", err)
		}
	})
}

// Dropbox's reference: the content hash of its published example is
// 485291fa0ee50c016982abbfa943957bcd231aae0492ccbaa22c58e3997b35e0 (the
// milky-way-nasa.jpg picture, not shipped here); we check the algorithm
// against the fake's independent implementation on block boundaries.
func TestContentHash(t *testing.T) {
	for _, n := range []int{0, 1, 4<<20 - 1, 4 << 20, 4<<20 + 1, 9 << 20} {
		b := randomBytes(n)
		h := dropbox.NewContentHash()
		// written in odd pieces
		for rest := b; len(rest) > 0; {
			k := min(len(rest), 1_000_003)
			h.Write(rest[:k])
			rest = rest[k:]
		}
		if got, want := hex.EncodeToString(h.Sum(nil)), fake.ContentHash(b); got != want {
			t.Fatalf("%d bytes: %s, want %s", n, got, want)
		}
	}
}

func TestSanitize(t *testing.T) {
	for in, want := range map[string]string{
		"plan.pdf": "plan.pdf", `a/b\c<d>e:f"g|h?i*j`: "a_b_c_d_e_f_g_h_i_j", "  espace  ": "espace", "fin.": "fin",
		".": "_", "..": "_", "": "_", "tab\tnul\x00": "tab_nul_", "Résumé.docx": "Résumé.docx",
	} {
		if got := dropbox.Sanitize(in); got != want {
			t.Errorf("Sanitize(%q) = %q, want %q", in, got, want)
		}
	}
	if got := dropbox.Sanitize(strings.Repeat("é", 300)); len(got) > 255 || !utf8.ValidString(got) {
		t.Fatalf("%d bytes", len(got))
	}
}

func FuzzSanitize(f *testing.F) {
	for _, s := range []string{"plan.pdf", "a/b", "..", " . ", "\xff\xfe", strings.Repeat("x", 300)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := dropbox.Sanitize(s)
		if got == "" || got == "." || got == ".." || len(got) > 255 || !utf8.ValidString(got) ||
			strings.ContainsAny(got, "/\\<>:\"|?*\x00") || strings.HasSuffix(got, ".") || strings.TrimSpace(got) != got {
			t.Fatalf("Sanitize(%q) = %q", s, got)
		}
		if slices.Contains([]string{got}, "") {
			t.Fatal("empty")
		}
	})
}

// BenchmarkContentHash measures Dropbox's content hash over 16 MiB.
func BenchmarkContentHash(b *testing.B) {
	data := randomBytes(16 << 20)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		h := dropbox.NewContentHash()
		h.Write(data)
		h.Sum(nil)
	}
}
