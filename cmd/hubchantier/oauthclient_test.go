package main

import (
	"context"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// oauth-client create prints one JSON object on its last stdout line; list
// shows the client without its secret; revoke revokes it.
func TestOAuthClientCommands(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("HUB_DATABASE_URL", "sqlite:"+filepath.Join(dir, "hub.db"))
	ctx := context.Background()
	var out, errOut syncBuffer
	err := run(ctx, []string{"oauth-client", "create", "--name", "Appli Planning", "--redirect-uri", "https://app.example.com/cb",
		"--redirect-uri", "http://127.0.0.1:7000/cb", "--scopes", "chantiers:read,planning:read"}, strings.NewReader(""), &out, &errOut)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var created map[string]string
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &created); err != nil || !strings.HasPrefix(created["client_id"], "hcc_") ||
		!strings.HasPrefix(created["client_secret"], "hcs_") || len(created) != 2 {
		t.Fatalf("last line %q: %v", lines[len(lines)-1], err)
	}
	var pub syncBuffer
	if err := run(ctx, []string{"oauth-client", "create", "--name", "Mobile", "--redirect-uri", "com.example.app:/cb", "--public",
		"--scopes", "chantiers:read"}, strings.NewReader(""), &pub, &errOut); err != nil {
		t.Fatal(err)
	}
	lines = strings.Split(strings.TrimSpace(pub.String()), "\n")
	var public map[string]string
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &public); err != nil || len(public) != 1 || public["client_id"] == "" {
		t.Fatalf("public client: %q", lines[len(lines)-1])
	}
	var list syncBuffer
	if err := run(ctx, []string{"oauth-client", "list"}, strings.NewReader(""), &list, &errOut); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(list.String(), created["client_id"]) || strings.Contains(list.String(), created["client_secret"]) ||
		!strings.Contains(list.String(), "public") {
		t.Fatalf("list: %s", list.String())
	}
	if err := run(ctx, []string{"oauth-client", "revoke", "--client-id", created["client_id"]}, strings.NewReader(""), &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if err := run(ctx, []string{"oauth-client", "revoke", "--client-id", created["client_id"]}, strings.NewReader(""), &out, &errOut); err == nil {
		t.Fatal("revoking twice succeeded")
	}
	for _, bad := range [][]string{
		{"oauth-client", "create", "--name", "x", "--redirect-uri", "http://evil.example.com/cb", "--scopes", "chantiers:read"},
		{"oauth-client", "create", "--name", "x", "--redirect-uri", "https://a.example.com/cb", "--scopes", "root"},
		{"oauth-client", "create", "--name", "x", "--scopes", "chantiers:read"},
	} {
		if code := Main(ctx, bad, strings.NewReader(""), &out, &errOut); code != exitUsage {
			t.Errorf("%v: status %d", bad, code)
		}
	}
}

var hiddenInput = regexp.MustCompile(`<input type="hidden" name="([a-z_]+)" value="([^"]*)">`)

// serve --demo prints how to try the OAuth flow; following it works.
func TestServeDemoOAuth(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("HUB_DATABASE_URL", "sqlite:"+filepath.Join(dir, "hub.db"))
	t.Setenv("HUB_BLOB_DIR", filepath.Join(dir, "blobs"))
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- Main(ctx, []string{"serve", "--demo", "--addr", "127.0.0.1:0"}, strings.NewReader(""), &stdout, &stderr)
	}()
	defer func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("serve --demo exited %d: %s", code, stderr.String())
		}
	}()
	listening := regexp.MustCompile(`listening on http://(\S+) `)
	var addr string
	for deadline := time.Now().Add(30 * time.Second); addr == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if m := listening.FindStringSubmatch(stdout.String()); m != nil {
			addr = m[1]
		}
	}
	out := stdout.String()
	pw := regexp.MustCompile(`with the password (\S+)`).FindStringSubmatch(out)
	authURL := regexp.MustCompile(`(http://localhost:\d+/oauth/authorize\?\S+)`).FindStringSubmatch(out)
	verifier := regexp.MustCompile(`code_verifier=(\S+)`).FindStringSubmatch(out)
	if pw == nil || authURL == nil || verifier == nil {
		t.Fatalf("demo output: %s", out)
	}
	_, port, _ := strings.Cut(addr, ":")
	if !strings.Contains(authURL[1], "localhost:"+port) {
		t.Fatalf("issuer port: %s vs %s", authURL[1], addr)
	}
	jar, _ := cookiejar.New(nil)
	b := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout: 10 * time.Second}
	form := func(res *http.Response, err error) (url.Values, *http.Response) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		f := url.Values{}
		for _, m := range hiddenInput.FindAllStringSubmatch(string(body), -1) {
			f.Set(m[1], html.UnescapeString(m[2]))
		}
		return f, res
	}
	base := "http://localhost:" + port
	f, _ := form(b.Get(authURL[1]))
	f.Set("action", "login")
	f.Set("email", "utilisateur@demo.hubchantier.fr")
	f.Set("password", pw[1])
	f, res := form(b.PostForm(base+"/oauth/authorize", f))
	if res.StatusCode != 200 {
		t.Fatalf("login: %d", res.StatusCode)
	}
	f.Set("action", "approve")
	_, res = form(b.PostForm(base+"/oauth/authorize", f))
	loc, _ := url.Parse(res.Header.Get("Location"))
	code := loc.Query().Get("code")
	if code == "" || !strings.HasPrefix(loc.String(), "http://127.0.0.1:8765/callback?") {
		t.Fatalf("redirect %q", res.Header.Get("Location"))
	}
	clientID := regexp.MustCompile(`client_id=(hcc_[A-Za-z0-9_-]+)`).FindStringSubmatch(out)[1]
	res, err := http.PostForm(base+"/oauth/token", url.Values{"grant_type": {"authorization_code"}, "client_id": {clientID},
		"redirect_uri": {"http://127.0.0.1:8765/callback"}, "code_verifier": {verifier[1]}, "code": {code}})
	if err != nil {
		t.Fatal(err)
	}
	var tok map[string]any
	_ = json.NewDecoder(res.Body).Decode(&tok)
	res.Body.Close()
	at, _ := tok["access_token"].(string)
	if at == "" {
		t.Fatalf("token: %d %v", res.StatusCode, tok)
	}
	req, _ := http.NewRequest(http.MethodGet, base+"/api/v1/chantiers", nil)
	req.Header.Set("Authorization", "Bearer "+at)
	res, err = http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("API with the access token: %v %v", err, res)
	}
	res.Body.Close()
}
