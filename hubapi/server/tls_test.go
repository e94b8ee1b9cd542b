package server_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hubchantier/hubchantier/hubapi/server"
)

func TestHTTPSRedirect(t *testing.T) {
	for _, tc := range []struct {
		name, public, port, host, target string
		status                           int
		location                         string
	}{
		{"request host with the TLS port", "", "8443", "api.example.com:8080", "/api/v1/chantiers?limit=5&statut=ouvert", 308, "https://api.example.com:8443/api/v1/chantiers?limit=5&statut=ouvert"},
		{"port 443 is left out", "", "443", "api.example.com", "/healthz", 308, "https://api.example.com/healthz"},
		{"IPv6 literal", "", "8443", "[::1]:8080", "/x", 308, "https://[::1]:8443/x"},
		{"IPv6 literal on 443", "", "443", "[2001:db8::1]", "/x", 308, "https://[2001:db8::1]/x"},
		{"the public host wins over the Host header", "api.example.com", "8443", "evil.example", "/a%2Fb?x=1", 308, "https://api.example.com/a%2Fb?x=1"},
		{"the public host keeps its port", "api.example.com:9443", "8443", "evil.example", "/", 308, "https://api.example.com:9443/"},
		{"a path that looks like a host stays a path", "", "443", "api.example.com", "//evil.example/x", 308, "https://api.example.com//evil.example/x"},
		{"Host with a user part → 400", "", "443", "user@evil.example", "/", 400, ""},
		{"Host with a path → 400", "", "443", "evil.example/x", "/", 400, ""},
		{"empty Host → 400", "", "443", "", "/", 400, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, "http://placeholder"+tc.target, nil)
			req.Host = tc.host
			w := httptest.NewRecorder()
			server.HTTPSRedirect(tc.public, tc.port).ServeHTTP(w, req)
			if w.Code != tc.status || w.Header().Get("Location") != tc.location {
				t.Errorf("%d %q, want %d %q", w.Code, w.Header().Get("Location"), tc.status, tc.location)
			}
			if w.Header().Get("Strict-Transport-Security") != "" {
				t.Error("HSTS in clear text")
			}
		})
	}
}

func writePair(t *testing.T, dir string, serial int64) (string, string) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tpl := &x509.Certificate{SerialNumber: big.NewInt(serial), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{"localhost"}}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	cf, kf := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(cf, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(kf, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return cf, kf
}

func servedSerial(t *testing.T, c *server.CertReloader) int64 {
	t.Helper()
	cert, err := c.GetCertificate(&tls.ClientHelloInfo{})
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	return leaf.SerialNumber.Int64()
}

func TestCertReloader(t *testing.T) {
	dir := t.TempDir()
	cf, kf := writePair(t, dir, 1)
	if _, err := server.NewCertReloader(cf, ""); err == nil {
		t.Error("a certificate without a key accepted")
	}
	if _, err := server.NewCertReloader(cf, filepath.Join(dir, "missing.pem")); err == nil {
		t.Error("a missing key file accepted")
	}
	c, err := server.NewCertReloader(cf, kf)
	if err != nil {
		t.Fatal(err)
	}
	if cfg := c.TLSConfig(); cfg.MinVersion != tls.VersionTLS12 {
		t.Errorf("MinVersion %x", cfg.MinVersion)
	}
	writePair(t, dir, 2)
	if got := servedSerial(t, c); got != 1 {
		t.Errorf("serial %d before Reload", got)
	}
	if err := c.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := servedSerial(t, c); got != 2 {
		t.Errorf("serial %d after Reload, want 2", got)
	}
	// A key that does not match the certificate: the reload fails and the
	// served certificate stays.
	other := t.TempDir()
	_, otherKey := writePair(t, other, 3)
	b, _ := os.ReadFile(otherKey)
	if err := os.WriteFile(kf, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := c.Reload(); err == nil {
		t.Error("a mismatched pair reloaded")
	}
	if got := servedSerial(t, c); got != 2 {
		t.Errorf("serial %d after a failed reload, want 2", got)
	}
}
