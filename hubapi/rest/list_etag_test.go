package rest_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/hubchantier/hubchantier/hubapi/server"
	"github.com/hubchantier/hubchantier/hubapi/store"
	"github.com/hubchantier/hubchantier/internal/testenv"
)

// A list's ETag depends only on what the page holds (ids, versions, the
// selection and the query), not on the freshly sealed cursors in its body:
// it revalidates with 304 on any instance that shares the cursor keys,
// without the response cache.
func TestListETagRevalidatesAcrossInstances(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, tdb *testenv.DB) {
		cfg := server.Config{DB: store.Wrap(tdb.DB), CacheMaxMB: -1, CursorKeys: [][]byte{bytes.Repeat([]byte{3}, 32)}}
		a, _, key := startServerWith(t, cfg)
		b, _, _ := startServerWith(t, cfg)
		var ids []float64
		for i := 0; i < 5; i++ {
			res, body := do(t, a, key, "POST", "/api/v1/chantiers", fmt.Sprintf(`{"code":"E-%d","nom":"n%d","adresse":"a","ville":"Etag"}`, i, i))
			if res.StatusCode != 201 {
				t.Fatal(string(body))
			}
			var c map[string]any
			_ = json.Unmarshal(body, &c)
			ids = append(ids, c["id"].(float64))
		}
		first := "/api/v1/chantiers?ville=Etag&limit=2&sort=nom"
		res, body := do(t, a, key, "GET", first, "")
		var page struct {
			Pagination struct {
				NextCursor string `json:"next_cursor"`
			} `json:"pagination"`
		}
		if err := json.Unmarshal(body, &page); err != nil || page.Pagination.NextCursor == "" {
			t.Fatalf("%d %s", res.StatusCode, body)
		}
		keyset := first + "&cursor=" + url.QueryEscape(page.Pagination.NextCursor)
		selected := first + "&fields=id,nom"
		pages := []string{first, keyset, selected}
		tags := map[string]string{}
		for _, path := range pages {
			res, _ := do(t, a, key, "GET", path, "")
			if tags[path] = res.Header.Get("ETag"); res.StatusCode != 200 || tags[path] == "" {
				t.Fatalf("%s: %d, ETag %q", path, res.StatusCode, tags[path])
			}
		}
		if tags[first] == tags[selected] {
			t.Error("a selection has the same ETag as the full representation")
		}
		for _, path := range pages {
			for name, ts := range map[string]*httptest.Server{"same instance": a, "other instance": b} {
				res, body := do(t, ts, key, "GET", path, "", "If-None-Match", tags[path])
				if res.StatusCode != 304 {
					t.Errorf("%s, %s: If-None-Match of the last response → %d %s", path, name, res.StatusCode, body)
				}
			}
		}
		// A change to a row of the page gives a new tag.
		if res, body := do(t, a, key, "PATCH", fmt.Sprintf("/api/v1/chantiers/%d", int64(ids[0])), `{"description":"changed"}`); res.StatusCode != 200 {
			t.Fatal(string(body))
		}
		res, body = do(t, b, key, "GET", first, "", "If-None-Match", tags[first])
		if res.StatusCode != 200 || res.Header.Get("ETag") == tags[first] {
			t.Errorf("after a change: %d %s, ETag %q", res.StatusCode, body, res.Header.Get("ETag"))
		}
	})
}
