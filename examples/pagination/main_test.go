package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"testing"

	"github.com/hubchantier/hubchantier/pagination"
	"github.com/hubchantier/hubchantier/problem"
)

func newTestServer(t *testing.T, n int) *httptest.Server {
	t.Helper()
	db, err := openDB(context.Background(), "file::memory:", n)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	key := make([]byte, pagination.KeySize)
	key[0] = 1
	codec, err := pagination.NewCodec([][]byte{key})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(newHandler(db, codec, slog.New(slog.NewTextHandler(io.Discard, nil))))
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, srv *httptest.Server, query url.Values) (*http.Response, *pagination.Page[chantierJSON]) {
	t.Helper()
	resp, err := http.Get(srv.URL + "/chantiers?" + query.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return resp, nil
	}
	var page pagination.Page[chantierJSON]
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil {
		t.Fatal(err)
	}
	return resp, &page
}

func TestWalkForwardAndBack(t *testing.T) {
	srv := newTestServer(t, 47)
	var forward []int64
	var pages []*pagination.Page[chantierJSON]
	cursor := ""
	for {
		resp, page := get(t, srv, url.Values{"statut": {"ouvert"}, "limit": {"5"}, "cursor": {cursor}})
		if page == nil {
			t.Fatalf("status %d", resp.StatusCode)
		}
		if page.Pagination.NextCursor != "" && resp.Header.Get("Link") == "" {
			t.Fatal("no Link header")
		}
		for _, c := range page.Data {
			if c.Statut != "ouvert" {
				t.Fatalf("filter ignored: %+v", c)
			}
			forward = append(forward, c.ID)
		}
		pages = append(pages, page)
		if !page.Pagination.HasMore {
			break
		}
		cursor = page.Pagination.NextCursor
	}
	// newest first: created_at DESC, id DESC means decreasing ids here
	if len(forward) != 31 || !slices.IsSortedFunc(forward, func(a, b int64) int { return int(b - a) }) {
		t.Fatalf("forward walk: %v", forward)
	}

	var backward []int64
	cursor = pages[len(pages)-1].Pagination.PrevCursor
	for cursor != "" {
		_, page := get(t, srv, url.Values{"statut": {"ouvert"}, "limit": {"5"}, "cursor": {cursor}})
		backward = append(ids(page.Data), backward...)
		cursor = page.Pagination.PrevCursor
	}
	backward = append(backward, ids(pages[len(pages)-1].Data)...)
	if !slices.Equal(backward, forward) {
		t.Fatalf("backward walk:\n got %v\nwant %v", backward, forward)
	}
}

func ids(cs []chantierJSON) []int64 {
	out := make([]int64, len(cs))
	for i, c := range cs {
		out[i] = c.ID
	}
	return out
}

func TestInvalidInputIs400Problem(t *testing.T) {
	srv := newTestServer(t, 10)
	_, page := get(t, srv, url.Values{"statut": {"ouvert"}, "limit": {"2"}})
	tests := []struct {
		name  string
		query url.Values
	}{
		{"garbage cursor", url.Values{"cursor": {"eyJpZCI6MTIzfQ"}}},
		{"cursor with other filters", url.Values{"statut": {"clos"}, "cursor": {page.Pagination.NextCursor}}},
		{"limit 0", url.Values{"limit": {"0"}}},
		{"limit 101", url.Values{"limit": {"101"}}},
		{"limit not a number", url.Values{"limit": {"ten"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name+" → 400", func(t *testing.T) {
			resp, _ := get(t, srv, tt.query)
			if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Content-Type") != problem.ContentType {
				t.Fatalf("got %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
			}
		})
	}
}
