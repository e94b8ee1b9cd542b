package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/server"
	"github.com/hubchantier/hubchantier/hubapi/store"
	"github.com/hubchantier/hubchantier/internal/testenv"
)

// One JSON line per request with its route template, status, size, duration
// and request id; never the key, the raw path or the query (cursors).
func TestAccessLog(t *testing.T) {
	logs := &lockedBuffer{}
	ctx := context.Background()
	srv, err := server.New(ctx, server.Config{DB: store.Wrap(testenv.SQLite(t).DB), BlobDir: t.TempDir(),
		Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	u := &hubapi.User{Email: "log@hub.fr", Role: hubapi.RoleAdmin}
	if err := srv.Operator.CreateUser(ctx, u, ""); err != nil {
		t.Fatal(err)
	}
	_, key, err := srv.Operator.IssueAPIKey(ctx, hubapi.APIKeyInput{UserID: u.ID, Name: "log", Scopes: hubapi.AllScopes})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler)
	t.Cleanup(hs.Close)
	get := func(path, requestID string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, hs.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+key)
		if requestID != "" {
			req.Header.Set("X-Request-Id", requestID)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		_ = res.Body.Close()
		return res
	}
	const secretQuery = "cursor=c2VjcmV0LWN1cnNvcg"
	get("/api/v1/chantiers/4242?fields=id", "trace-123")
	res := get("/api/v1/chantiers?"+secretQuery, "")

	var lines []map[string]any
	sc := bufio.NewScanner(strings.NewReader(logs.String()))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("not a JSON line: %q", sc.Text())
		}
		if m["msg"] == "request" {
			lines = append(lines, m)
		}
	}
	if len(lines) != 2 {
		t.Fatalf("%d request lines:\n%s", len(lines), logs.String())
	}
	first, second := lines[0], lines[1]
	if first["route"] != "/api/v1/chantiers/{id}" || first["status"] != float64(404) || first["request_id"] != "trace-123" ||
		first["method"] != "GET" || first["level"] != "INFO" {
		t.Errorf("first line %v", first)
	}
	if d, ok := first["duration_ms"].(float64); !ok || d < 0 {
		t.Errorf("duration_ms %v", first["duration_ms"])
	}
	if _, ok := first["source"]; ok {
		t.Errorf("source position logged: %v", first)
	}
	if second["status"] != float64(res.StatusCode) || second["request_id"] != res.Header.Get("X-Request-Id") || second["request_id"] == "" {
		t.Errorf("second line %v, response %d %q", second, res.StatusCode, res.Header.Get("X-Request-Id"))
	}
	for _, leak := range []string{key, key[:12], "4242", secretQuery, "c2VjcmV0"} {
		if strings.Contains(logs.String(), leak) {
			t.Errorf("logs contain %q:\n%s", leak, logs.String())
		}
	}
}
