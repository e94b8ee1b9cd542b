package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/hubchantier/hubchantier/internal/testenv"
)

func newTestServer(t *testing.T, db *testenv.DB) *httptest.Server {
	t.Helper()
	store := &Store{db: db.DB}
	ctx := context.Background()
	if err := store.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Create(ctx, "Chantier Rivoli"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(NewHandler(store, true))
	t.Cleanup(srv.Close)
	return srv
}

func do(t *testing.T, method, url, body string, header map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func TestExampleServer(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, db *testenv.DB) {
		srv := newTestServer(t, db)
		one := srv.URL + "/chantiers/1"

		resp, body := do(t, "GET", one, "", nil)
		if resp.StatusCode != 200 || resp.Header.Get("ETag") != `"v1"` || !strings.Contains(body, "Rivoli") {
			t.Fatalf("GET: %d %q %s", resp.StatusCode, resp.Header.Get("ETag"), body)
		}
		if resp, _ := do(t, "GET", one, "", map[string]string{"If-None-Match": `"v1"`}); resp.StatusCode != 304 {
			t.Fatalf("revalidation: %d", resp.StatusCode)
		}
		list, _ := do(t, "GET", srv.URL+"/chantiers", "", nil)
		if list.StatusCode != 200 || len(list.Header.Get("ETag")) != 45 {
			t.Fatalf("list: %d ETag %q", list.StatusCode, list.Header.Get("ETag"))
		}
		if resp, _ := do(t, "GET", srv.URL+"/chantiers", "", map[string]string{"If-None-Match": list.Header.Get("ETag")}); resp.StatusCode != 304 {
			t.Fatalf("list revalidation: %d", resp.StatusCode)
		}
		if resp, _ := do(t, "PUT", one, `{"nom":"B"}`, nil); resp.StatusCode != 428 {
			t.Fatalf("unconditional PUT: %d", resp.StatusCode)
		}
		resp, body = do(t, "PUT", one, `{"nom":"B"}`, map[string]string{"If-Match": `"v1"`})
		if resp.StatusCode != 200 || resp.Header.Get("ETag") != `"v2"` || !strings.Contains(body, `"nom":"B"`) {
			t.Fatalf("PUT: %d %q %s", resp.StatusCode, resp.Header.Get("ETag"), body)
		}
		if resp, _ := do(t, "PUT", one, `{"nom":"C"}`, map[string]string{"If-Match": `"v1"`}); resp.StatusCode != 412 {
			t.Fatalf("stale PUT: %d", resp.StatusCode)
		}
		if resp, _ := do(t, "PUT", one, `{"nom":"C"}`, map[string]string{"If-None-Match": `*`}); resp.StatusCode != 412 {
			t.Fatalf("PUT If-None-Match * on an existing chantier: %d", resp.StatusCode)
		}
		if resp, _ := do(t, "PUT", srv.URL+"/chantiers/99", `{"nom":"C"}`, map[string]string{"If-Match": `"v1"`}); resp.StatusCode != 404 {
			t.Fatalf("PUT on a missing chantier: %d", resp.StatusCode)
		}
		if resp, _ := do(t, "GET", one, "", map[string]string{"If-None-Match": `"v1"`}); resp.StatusCode != 200 {
			t.Fatalf("revalidation after the change: %d", resp.StatusCode)
		}
	})
}

// TestConcurrentConditionalPuts: N writers that read the same version all
// send If-Match with it; exactly one succeeds and the others get 412.
func TestConcurrentConditionalPuts(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, db *testenv.DB) {
		srv := newTestServer(t, db)
		const n = 8
		statuses := make([]int, n)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				<-start
				req, _ := http.NewRequest("PUT", srv.URL+"/chantiers/1", strings.NewReader(`{"nom":"writer"}`))
				req.Header.Set("If-Match", `"v1"`)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				statuses[i] = resp.StatusCode
			})
		}
		close(start)
		wg.Wait()
		counts := map[int]int{}
		for _, s := range statuses {
			counts[s]++
		}
		if counts[200] != 1 || counts[412] != n-1 {
			t.Fatalf("statuses %v; want one 200 and %d × 412", counts, n-1)
		}
		_, body := do(t, "GET", srv.URL+"/chantiers/1", "", nil)
		var c struct{ Nom string }
		if err := json.Unmarshal([]byte(body), &c); err != nil || c.Nom != "writer" {
			t.Fatalf("final state %s", body)
		}
		resp, _ := do(t, "GET", srv.URL+"/chantiers/1", "", nil)
		if resp.Header.Get("ETag") != `"v2"` {
			t.Fatalf("final ETag %q; want \"v2\" (one write)", resp.Header.Get("ETag"))
		}
	})
}
