package server_test

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/hubchantier/hubchantier/etag"
	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/internal/apitest"
	"github.com/hubchantier/hubchantier/internal/testenv"
)

// TestCachedListOverHTTP checks a cached list page as a client receives it
// over a real connection: a hit is the miss's body, with its ETag and an
// exact Content-Length (not chunked), and revalidates to 304.
func TestCachedListOverHTTP(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, db *testenv.DB) {
		env := apitest.Start(t, db, apitest.Config{RateLimits: apitest.LiftedRateLimits})
		admin := env.As(hubapi.RoleAdmin)
		for range 30 {
			newChantier(t, admin, map[string]any{"nom": "Réhabilitation de l'immeuble " + strings.Repeat("Les Tilleuls ", 4)})
		}
		key := env.Key(hubapi.RoleAdmin)
		get := func(t *testing.T, header ...string) (*http.Response, []byte) {
			t.Helper()
			req, err := http.NewRequest(http.MethodGet, env.URL+v1+"/chantiers?limit=25&fields=id,code,nom,statut,ville,updated_at", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+key)
			for i := 0; i+1 < len(header); i += 2 {
				req.Header.Set(header[i], header[i+1])
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			return resp, body
		}
		miss, missBody := get(t)
		hit, hitBody := get(t)
		if miss.StatusCode != 200 || hit.StatusCode != 200 {
			t.Fatalf("statuses %d, %d", miss.StatusCode, hit.StatusCode)
		}
		if len(missBody) <= 4096 {
			t.Fatalf("page of %d bytes: too small to test buffering", len(missBody))
		}
		if got := hit.Header.Get("Cache-Status"); got != "hubchantier; hit" {
			t.Fatalf("second request: Cache-Status %q", got)
		}
		t.Run("the hit is the miss's body, with the miss's tag", func(t *testing.T) {
			if !bytes.Equal(hitBody, missBody) {
				t.Fatal("hit body differs from the miss body")
			}
			// A list's tag is that of what the page holds, set by the
			// handler (see rest's TestListETagRevalidatesAcrossInstances).
			want := miss.Header.Get("ETag")
			if _, err := etag.ParseTag(want); err != nil || hit.Header.Get("ETag") != want {
				t.Fatalf("ETag miss %q, hit %q, want %q", miss.Header.Get("ETag"), hit.Header.Get("ETag"), want)
			}
		})
		t.Run("both carry an exact Content-Length, not chunked encoding", func(t *testing.T) {
			for name, r := range map[string]*http.Response{"miss": miss, "hit": hit} {
				if r.ContentLength != int64(len(missBody)) || len(r.TransferEncoding) != 0 ||
					r.Header.Get("Content-Length") != strconv.Itoa(len(missBody)) {
					t.Errorf("%s: ContentLength %d, Transfer-Encoding %q, body %d bytes", name, r.ContentLength, r.TransferEncoding, len(missBody))
				}
			}
		})
		t.Run("If-None-Match with the tag is 304 from the cache", func(t *testing.T) {
			nm, body := get(t, "If-None-Match", miss.Header.Get("ETag"))
			if nm.StatusCode != http.StatusNotModified || len(body) != 0 || nm.Header.Get("ETag") != miss.Header.Get("ETag") {
				t.Fatalf("%d, ETag %q, %d bytes", nm.StatusCode, nm.Header.Get("ETag"), len(body))
			}
		})
	})
}
