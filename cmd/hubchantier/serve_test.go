package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/store"
)

// A port already taken stops serve --demo before it opens the database:
// nothing is written.
func TestServeDemoPortTakenWritesNothing(t *testing.T) {
	dir := t.TempDir()
	dbPath, blobs := filepath.Join(dir, "hub.db"), filepath.Join(dir, "blobs")
	t.Setenv("HUB_DATABASE_URL", "sqlite:"+dbPath)
	t.Setenv("HUB_BLOB_DIR", blobs)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	free, _ := net.Listen("tcp", "127.0.0.1:0")
	freeAddr := free.Addr().String()
	_ = free.Close()
	for name, args := range map[string][]string{
		"API port taken":     {"serve", "--demo", "--addr", taken.Addr().String()},
		"metrics port taken": {"serve", "--demo", "--addr", freeAddr, "--metrics-addr", taken.Addr().String()},
	} {
		code, out, errOut := mainCLI(t, "", args...)
		if code != 1 || !strings.Contains(errOut, "address already in use") || strings.Contains(out, "key") {
			t.Errorf("%s: status %d, stdout %q, stderr %q", name, code, out, errOut)
		}
	}
	for _, p := range []string{dbPath, blobs} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s exists after a failed start: %v", p, err)
		}
	}
}

// demoRun runs serve --demo in this process until stop is called; it
// returns the printed key and address.
func demoRun(t *testing.T) (key, addr string, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- Main(ctx, []string{"serve", "--demo", "--addr", "127.0.0.1:0"}, strings.NewReader(""), &out, &errOut)
	}()
	listening := regexp.MustCompile(`listening on http://(\S+) `)
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if m := listening.FindStringSubmatch(out.String()); m != nil {
			addr = m[1]
			break
		}
	}
	for _, l := range strings.Split(out.String(), "\n") {
		if hubapi.WellFormedAPIKey(l) {
			key = l
		}
	}
	if addr == "" || key == "" {
		cancel()
		t.Fatalf("serve --demo: no address or key: %q %q", out.String(), errOut.String())
	}
	return key, addr, func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("serve --demo exited %d: %s", code, errOut.String())
		}
	}
}

func getStatus(t *testing.T, url, key string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	_ = res.Body.Close()
	return res.StatusCode
}

// A second serve --demo reuses the demo data, revokes the first demo key
// and prints a new one: one demo key is active at a time, and it expires.
func TestServeDemoRerunKeepsOneActiveKey(t *testing.T) {
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "hub.db")
	t.Setenv("HUB_DATABASE_URL", "sqlite:"+dbPath)
	t.Setenv("HUB_BLOB_DIR", filepath.Join(dir, "blobs"))
	first, addr, stop := demoRun(t)
	if s := getStatus(t, "http://"+addr+"/api/v1/chantiers", first); s != 200 {
		t.Fatalf("first demo key: %d", s)
	}
	stop()
	second, addr, stop := demoRun(t)
	if second == first {
		t.Fatal("the rerun printed the same key")
	}
	if s := getStatus(t, "http://"+addr+"/api/v1/chantiers", second); s != 200 {
		t.Errorf("second demo key: %d", s)
	}
	if s := getStatus(t, "http://"+addr+"/api/v1/chantiers", first); s != 401 {
		t.Errorf("first demo key after the rerun: %d, want 401", s)
	}
	stop()

	db, err := store.Open("sqlite:" + dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	ctx := context.Background()
	var keys []hubapi.APIKey
	if err := db.NewSelect().Model(&keys).Scan(ctx); err != nil {
		t.Fatal(err)
	}
	active := 0
	for _, k := range keys {
		if k.Active(time.Now()) {
			active++
			if k.ExpiresAt == nil || k.ExpiresAt.After(time.Now().Add(30*24*time.Hour)) {
				t.Errorf("the active demo key expires at %v, want within 30 days", k.ExpiresAt)
			}
		}
	}
	if len(keys) != 2 || active != 1 {
		t.Errorf("%d keys, %d active; want 2 and 1", len(keys), active)
	}
	var chantiers int
	if err := db.NewRaw("SELECT count(*) FROM chantiers").Scan(ctx, &chantiers); err != nil || chantiers != 3 {
		t.Errorf("%d demo chantiers after two runs (%v), want 3", chantiers, err)
	}
}

// process is a hubchantier process started by a test.
type process struct {
	cmd    *exec.Cmd
	stdout syncBuffer
	stderr syncBuffer
	exited chan error
}

func startProcess(t *testing.T, env []string, args ...string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(sharedBinary(t), args...), exited: make(chan error, 1)}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "HUB_") {
			p.cmd.Env = append(p.cmd.Env, kv)
		}
	}
	p.cmd.Env = append(p.cmd.Env, env...)
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.exited <- p.cmd.Wait() }()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
	})
	return p
}

// waitFor waits until re matches stdout or stderr and returns its first
// group; the process exiting first, or a minute passing, fails the test.
func (p *process) waitFor(t *testing.T, re *regexp.Regexp) string {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); {
		for _, s := range []string{p.stdout.String(), p.stderr.String()} {
			if m := re.FindStringSubmatch(s); m != nil {
				if len(m) > 1 {
					return m[1]
				}
				return m[0]
			}
		}
		select {
		case err := <-p.exited:
			p.exited <- err
			t.Fatalf("exited (%v) before %s: %s %s", err, re, p.stdout.String(), p.stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("no %s within a minute: %s %s", re, p.stdout.String(), p.stderr.String())
	return ""
}

func (p *process) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-p.exited:
		p.exited <- err
		return err
	case <-time.After(2 * time.Minute):
		t.Fatalf("did not exit: %s", p.stderr.String())
		return nil
	}
}

// writeCert writes a self-signed ECDSA certificate for 127.0.0.1 and its
// key to the two files and returns the certificate.
func writeCert(t *testing.T, certFile, keyFile string, serial int64) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: fmt.Sprintf("hub test %d", serial)},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	// Written to temporary files and renamed, as certificate tools do.
	for file, block := range map[string]*pem.Block{certFile: {Type: "CERTIFICATE", Bytes: der}, keyFile: {Type: "EC PRIVATE KEY", Bytes: kder}} {
		if err := os.WriteFile(file+".tmp", pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(file+".tmp", file); err != nil {
			t.Fatal(err)
		}
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// serial returns the serial number of the certificate a new connection to
// addr gets.
func serial(t *testing.T, addr string, roots *x509.CertPool) int64 {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
}

// serve --tls-cert/--tls-key serves HTTPS with HSTS; --redirect-addr only
// redirects; SIGHUP reloads the certificate, and a bad pair keeps the old.
func TestServeTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	cert1 := writeCert(t, certFile, keyFile, 1)
	p := startProcess(t, []string{"HUB_DATABASE_URL=sqlite:" + filepath.Join(dir, "hub.db"), "HUB_BLOB_DIR=" + filepath.Join(dir, "blobs"),
		"HUB_TLS_CERT=" + certFile, "HUB_TLS_KEY=" + keyFile},
		"serve", "--addr", "127.0.0.1:0", "--redirect-addr", "127.0.0.1:0")
	redirectAddr := p.waitFor(t, regexp.MustCompile(`redirecting http://(\S+) to HTTPS`))
	addr := p.waitFor(t, regexp.MustCompile(`listening on https://(\S+) `))
	_, tlsPort, _ := net.SplitHostPort(addr)
	roots := x509.NewCertPool()
	roots.AddCert(cert1)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}}}

	t.Run("HTTPS answers with HSTS", func(t *testing.T) {
		for _, path := range []string{"/healthz", "/api/v1/chantiers"} {
			res, err := client.Get("https://" + addr + path)
			if err != nil {
				t.Fatal(err)
			}
			_ = res.Body.Close()
			if want := map[string]int{"/healthz": 200, "/api/v1/chantiers": 401}[path]; res.StatusCode != want {
				t.Errorf("%s: %d, want %d", path, res.StatusCode, want)
			}
			if h := res.Header.Get("Strict-Transport-Security"); h != "max-age=63072000; includeSubDomains" {
				t.Errorf("%s: Strict-Transport-Security %q", path, h)
			}
		}
	})
	t.Run("TLS 1.1 is refused", func(t *testing.T) {
		conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}) // #nosec G402 -- the test checks that old versions are refused
		if err == nil {
			conn.Close()
			t.Error("a TLS 1.1 handshake succeeded")
		}
	})
	t.Run("plain listener: 308 to the same URL over HTTPS, no HSTS, no API", func(t *testing.T) {
		noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		for _, tc := range []struct{ host, path, want string }{
			{"", "/api/v1/chantiers?statut=en_cours&limit=5", "https://127.0.0.1:" + tlsPort + "/api/v1/chantiers?statut=en_cours&limit=5"},
			{"api.example.com", "/healthz", "https://api.example.com:" + tlsPort + "/healthz"},
			{"api.example.com:80", "//other.example/x", "https://api.example.com:" + tlsPort + "//other.example/x"},
		} {
			req, _ := http.NewRequest(http.MethodPost, "http://"+redirectAddr+tc.path, strings.NewReader("{}"))
			if tc.host != "" {
				req.Host = tc.host
			}
			res, err := noFollow.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			_ = res.Body.Close()
			if res.StatusCode != http.StatusPermanentRedirect || res.Header.Get("Location") != tc.want {
				t.Errorf("%s%s: %d Location %q, want 308 %q", tc.host, tc.path, res.StatusCode, res.Header.Get("Location"), tc.want)
			}
			if res.Header.Get("Strict-Transport-Security") != "" || bytes.Contains(body, []byte("chantier")) {
				t.Errorf("%s: HSTS %q, body %q", tc.path, res.Header.Get("Strict-Transport-Security"), body)
			}
		}
		req, _ := http.NewRequest(http.MethodGet, "http://"+redirectAddr+"/", nil)
		req.Host = "evil.example/x?"
		if res, err := noFollow.Do(req); err == nil {
			_ = res.Body.Close()
			if res.StatusCode != http.StatusBadRequest {
				t.Errorf("a Host with a path: %d %q", res.StatusCode, res.Header.Get("Location"))
			}
		}
	})
	t.Run("SIGHUP reloads the certificate; a bad pair keeps the old one", func(t *testing.T) {
		cert2 := writeCert(t, certFile, keyFile, 2)
		roots.AddCert(cert2)
		if got := serial(t, addr, roots); got != 1 {
			t.Fatalf("certificate %d before SIGHUP", got)
		}
		if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		p.waitFor(t, regexp.MustCompile(`certificate reloaded`))
		if got := serial(t, addr, roots); got != 2 {
			t.Errorf("certificate %d after SIGHUP, want 2", got)
		}
		if err := os.WriteFile(certFile, []byte("not a certificate"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		p.waitFor(t, regexp.MustCompile(`certificate reload failed: keeping the current certificate`))
		if got := serial(t, addr, roots); got != 2 {
			t.Errorf("certificate %d after a failed reload, want 2", got)
		}
	})
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p.wait(t); err != nil {
		t.Errorf("exit after SIGTERM: %v: %s", err, p.stderr.String())
	}
}

// A SIGTERM does not cut a request being answered, even one that outlives
// the grace period: the upload below is still sending its body when the
// grace period ends, and it gets its 201; new connections are refused.
func TestServeSIGTERMAnswersInFlightRequests(t *testing.T) {
	dir := t.TempDir()
	p := startProcess(t, []string{"HUB_DATABASE_URL=sqlite:" + filepath.Join(dir, "hub.db"), "HUB_BLOB_DIR=" + filepath.Join(dir, "blobs"),
		"HUB_SHUTDOWN_GRACE=1s"}, "serve", "--demo", "--addr", "127.0.0.1:0")
	addr := p.waitFor(t, regexp.MustCompile(`listening on http://(\S+) `))
	key := p.waitFor(t, regexp.MustCompile(`(?m)^(hck_\S+)$`))

	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/api/v1/documents", pr)
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	// With Expect: 100-continue the client sends no body before the handler
	// asks for it: once the first part below is taken, the request is in
	// the server's hands.
	req.Header.Set("Expect", "100-continue")
	client := &http.Client{Transport: &http.Transport{ExpectContinueTimeout: time.Minute}}
	type result struct {
		status int
		body   string
		err    error
	}
	resc := make(chan result, 1)
	go func() {
		res, err := client.Do(req)
		if err != nil {
			resc <- result{err: err}
			return
		}
		b, _ := io.ReadAll(res.Body)
		_ = res.Body.Close()
		resc <- result{status: res.StatusCode, body: string(b)}
	}()
	var mu sync.Mutex
	write := func(f func() error) {
		mu.Lock()
		defer mu.Unlock()
		if err := f(); err != nil {
			t.Fatal(err)
		}
	}
	var part io.Writer
	write(func() error { return mw.WriteField("chantier_id", "1") })
	write(func() error { return mw.WriteField("categorie", "rapport") })
	write(func() error {
		var err error
		part, err = mw.CreateFormFile("file", "rapport.txt")
		return err
	})
	write(func() error { _, err := io.WriteString(part, "Rapport de chantier, première partie.\n"); return err })
	// The handler is reading the body.
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	p.waitFor(t, regexp.MustCompile(`shutting down`))
	if conn, err := net.Dial("tcp", addr); err == nil {
		conn.Close()
		t.Error("a new connection was accepted after SIGTERM")
	}
	p.waitFor(t, regexp.MustCompile(`grace period over`))
	write(func() error {
		_, err := io.WriteString(part, "Seconde partie, après le délai de grâce.\n")
		return err
	})
	write(mw.Close)
	write(pw.Close)
	r := <-resc
	if r.err != nil || r.status != http.StatusCreated {
		t.Errorf("upload in flight across SIGTERM and the grace period: %d %v %s", r.status, r.err, r.body)
	}
	if err := p.wait(t); err != nil {
		t.Errorf("exit: %v: %s", err, p.stderr.String())
	}
}

// Plain HTTP on an address other than loopback is allowed (behind a TLS
// proxy) but logged as a warning; loopback and TLS are not.
func TestServeWarnsAboutPlainHTTPBeyondLoopback(t *testing.T) {
	for addr, warn := range map[string]bool{"0.0.0.0:0": true, "127.0.0.1:0": false} {
		dir := t.TempDir()
		t.Setenv("HUB_DATABASE_URL", "sqlite:"+filepath.Join(dir, "hub.db"))
		t.Setenv("HUB_BLOB_DIR", filepath.Join(dir, "blobs"))
		ctx, cancel := context.WithCancel(context.Background())
		var out, errOut syncBuffer
		done := make(chan int, 1)
		go func() { done <- Main(ctx, []string{"serve", "--addr", addr}, strings.NewReader(""), &out, &errOut) }()
		for deadline := time.Now().Add(30 * time.Second); !strings.Contains(out.String(), "listening on") && time.Now().Before(deadline); {
			time.Sleep(20 * time.Millisecond)
		}
		cancel()
		if code := <-done; code != 0 {
			t.Fatalf("%s: exit %d: %s", addr, code, errOut.String())
		}
		if got := strings.Contains(errOut.String(), "serving plain HTTP on a non-loopback address"); got != warn {
			t.Errorf("%s: warning %v, want %v: %s", addr, got, warn, errOut.String())
		}
	}
}
