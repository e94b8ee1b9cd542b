package rest_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/hubchantier/hubchantier/internal/testenv"
)

type listBody struct {
	Data       []map[string]any `json:"data"`
	Pagination map[string]any   `json:"pagination"`
}

func TestCursorPagination(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, tdb *testenv.DB) {
		ts, key := startServer(t, tdb)
		for i := 0; i < 25; i++ {
			statut := "ouvert"
			if i%5 == 0 {
				statut = "ferme"
			}
			res, body := do(t, ts, key, "POST", "/api/v1/chantiers", fmt.Sprintf(`{"code":"CH-%02d","nom":"Chantier %02d","adresse":"a","statut":%q}`, i, i%7, statut))
			if res.StatusCode != 201 {
				t.Fatal(string(body))
			}
		}
		list := func(path string) (listBody, int, string) {
			res, body := do(t, ts, key, "GET", path, "")
			var lb listBody
			_ = json.Unmarshal(body, &lb)
			return lb, res.StatusCode, res.Header.Get("Link")
		}
		// legacy page 1 carries a next_cursor; walking with it visits every row once
		first, code, _ := list("/api/v1/chantiers?limit=7&sort=nom")
		if code != 200 || first.Pagination["total"].(float64) != 25 || first.Pagination["next_cursor"] == nil {
			t.Fatalf("legacy page: %d %v", code, first.Pagination)
		}
		var ids []float64
		for _, d := range first.Data {
			ids = append(ids, d["id"].(float64))
		}
		cursor := first.Pagination["next_cursor"].(string)
		var last listBody
		for pages := 0; cursor != ""; pages++ {
			if pages > 10 {
				t.Fatal("walk does not end")
			}
			lb, code, link := list("/api/v1/chantiers?limit=7&sort=nom&cursor=" + url.QueryEscape(cursor))
			if code != 200 {
				t.Fatalf("cursor page: %d", code)
			}
			if _, ok := lb.Pagination["total"]; ok {
				t.Fatal("cursor page has the legacy envelope")
			}
			for _, d := range lb.Data {
				ids = append(ids, d["id"].(float64))
			}
			cursor, _ = lb.Pagination["next_cursor"].(string)
			if (cursor != "") != strings.Contains(link, `rel="next"`) {
				t.Fatalf("Link %q vs next_cursor %q", link, cursor)
			}
			last = lb
		}
		if len(ids) != 25 {
			t.Fatalf("visited %d rows", len(ids))
		}
		seen := map[float64]bool{}
		for _, id := range ids {
			if seen[id] {
				t.Fatalf("duplicate %v", id)
			}
			seen[id] = true
		}
		// the walk order is the legacy order
		all, _, _ := list("/api/v1/chantiers?limit=100&sort=nom")
		var want []float64
		for _, d := range all.Data {
			want = append(want, d["id"].(float64))
		}
		if !slices.Equal(ids, want) {
			t.Fatalf("cursor order %v != legacy order %v", ids, want)
		}
		// back from the last page
		prev := last.Pagination["prev_cursor"].(string)
		back, code, _ := list("/api/v1/chantiers?limit=7&sort=nom&cursor=" + url.QueryEscape(prev))
		if code != 200 || len(back.Data) != 7 || back.Data[6]["id"].(float64) != want[len(want)-len(last.Data)-1] {
			t.Fatalf("prev page: %d %v", code, back.Data)
		}

		for name, path := range map[string]string{
			"other sort":         "/api/v1/chantiers?limit=7&sort=-nom&cursor=" + url.QueryEscape(prev),
			"other filter":       "/api/v1/chantiers?limit=7&sort=nom&statut=ouvert&cursor=" + url.QueryEscape(prev),
			"other resource":     "/api/v1/pointages?limit=7&sort=created_at&cursor=" + url.QueryEscape(prev),
			"garbage":            "/api/v1/chantiers?cursor=garbage",
			"bit-flipped":        "/api/v1/chantiers?limit=7&sort=nom&cursor=" + url.QueryEscape(flipChar(prev)),
			"cursor with page":   "/api/v1/chantiers?limit=7&sort=nom&page=2&cursor=" + url.QueryEscape(prev),
			"limit out of range": "/api/v1/chantiers?limit=101&cursor=" + url.QueryEscape(prev),
		} {
			res, body := do(t, ts, key, "GET", path, "")
			if res.StatusCode != 400 || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/problem+json") {
				t.Errorf("%s: %d %s", name, res.StatusCode, body)
			}
			if strings.Contains(string(body), prev) {
				t.Errorf("%s: problem echoes the cursor", name)
			}
		}
	})
}

func flipChar(s string) string {
	b := []byte(s)
	i := len(b) / 2
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

func keysOf(m map[string]any) []string {
	var k []string
	for x := range m {
		k = append(k, x)
	}
	sort.Strings(k)
	return k
}

func TestSparseFieldsets(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, tdb *testenv.DB) {
		ts, key := startServer(t, tdb)
		res, body := do(t, ts, key, "POST", "/api/v1/chantiers", `{"code":"CH-1","nom":"N","adresse":"A","responsable_id":1}`)
		if res.StatusCode != 201 {
			t.Fatal(string(body))
		}
		do(t, ts, key, "POST", "/api/v1/chantiers", `{"code":"CH-2","nom":"M","adresse":"B"}`)
		tests := []struct {
			query  string
			keys   string
			nested string
		}{
			{"fields=id,nom", "id,nom", ""},
			{"fields=nom", "id,nom", ""},
			{"fields=nom,responsable(nom,prenom)", "id,nom,responsable", "id,nom,prenom"},
			{"fields=nom,responsable.nom", "id,nom,responsable", "id,nom"},
			{"fields=responsable", "id,responsable", "id,nom,prenom"},
		}
		for _, tt := range tests {
			t.Run(tt.query, func(t *testing.T) {
				for _, path := range []string{"/api/v1/chantiers?sort=code&", "/api/v1/chantiers/1?"} {
					res, body := do(t, ts, key, "GET", path+tt.query, "")
					if res.StatusCode != 200 {
						t.Fatalf("%s: %d %s", path, res.StatusCode, body)
					}
					var item map[string]any
					if strings.Contains(path, "?sort") {
						var lb listBody
						_ = json.Unmarshal(body, &lb)
						if len(lb.Data) != 2 || lb.Pagination["total"].(float64) != 2 {
							t.Fatalf("list: %s", body)
						}
						item = lb.Data[0]
						if got := strings.Join(keysOf(lb.Data[1]), ","); got != tt.keys {
							t.Fatalf("second item keys %s, want %s", got, tt.keys)
						}
					} else {
						_ = json.Unmarshal(body, &item)
					}
					if got := strings.Join(keysOf(item), ","); got != tt.keys {
						t.Fatalf("%s keys %s, want %s (%s)", path, got, tt.keys, body)
					}
					if tt.nested != "" {
						nested, _ := item["responsable"].(map[string]any)
						if got := strings.Join(keysOf(nested), ","); got != tt.nested {
							t.Fatalf("nested keys %s, want %s", got, tt.nested)
						}
					}
				}
			})
		}
		for _, bad := range []string{"fields=id,,nom", "fields=(", "fields=a..b", "fields=password_hash", "fields=responsable(email)",
			"fields=nom&fields=id", "fields=" + strings.Repeat("a,", 600) + "a"} {
			res, body := do(t, ts, key, "GET", "/api/v1/chantiers?"+bad, "")
			if res.StatusCode != 400 || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/problem+json") {
				t.Errorf("%s: %d %s", bad, res.StatusCode, body)
			}
		}
		_, body = do(t, ts, key, "GET", "/api/v1/chantiers?fields=nomm", "")
		if !strings.Contains(string(body), `"suggestion":"nom"`) {
			t.Errorf("no suggestion: %s", body)
		}
		// a fields variant has another ETag, which If-Match refuses
		full, _ := do(t, ts, key, "GET", "/api/v1/chantiers/1", "")
		part, _ := do(t, ts, key, "GET", "/api/v1/chantiers/1?fields=nom", "")
		if part.Header.Get("ETag") == "" || part.Header.Get("ETag") == full.Header.Get("ETag") {
			t.Fatalf("ETags %q %q", full.Header.Get("ETag"), part.Header.Get("ETag"))
		}
		res, _ = do(t, ts, key, "PATCH", "/api/v1/chantiers/1", `{"nom":"x"}`, "If-Match", part.Header.Get("ETag"))
		if res.StatusCode != 412 {
			t.Fatalf("If-Match with a fields ETag: %d", res.StatusCode)
		}
		res, body = do(t, ts, key, "GET", "/api/v1/users/me?fields=email,role", "")
		var me map[string]any
		_ = json.Unmarshal(body, &me)
		if res.StatusCode != 200 || strings.Join(keysOf(me), ",") != "email,id,role" {
			t.Fatalf("users/me: %s", body)
		}
	})
}
