package server

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
)

// CertReloader serves the TLS certificate of a certificate file and a key
// file (PEM), and reads them again on Reload: a renewed certificate is used
// for new connections without a restart. A failed reload keeps the
// certificate in use.
type CertReloader struct {
	certFile, keyFile string
	cert              atomic.Pointer[tls.Certificate]
}

// NewCertReloader loads the pair once; an unreadable or mismatched pair is an
// error.
func NewCertReloader(certFile, keyFile string) (*CertReloader, error) {
	if certFile == "" || keyFile == "" {
		return nil, errors.New("tls: both a certificate file and a key file are required")
	}
	c := &CertReloader{certFile: certFile, keyFile: keyFile}
	if err := c.Reload(); err != nil {
		return nil, err
	}
	return c, nil
}

// Reload reads the files again and, when they hold a valid pair, swaps the
// certificate atomically; otherwise the previous certificate stays.
func (c *CertReloader) Reload() error {
	cert, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		return fmt.Errorf("tls: loading %s and %s: %w", c.certFile, c.keyFile, err)
	}
	c.cert.Store(&cert)
	return nil
}

// GetCertificate is the tls.Config hook.
func (c *CertReloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return c.cert.Load(), nil
}

// TLSConfig is the server's TLS configuration: TLS 1.2 at least (RFC 9325
// §3.1.1), Go's default cipher suites (AEAD only for TLS 1.2 with ECDHE),
// the certificate from c.
func (c *CertReloader) TLSConfig() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: c.GetCertificate}
}

// HTTPSRedirect answers every request with 308 Permanent Redirect to the
// same path and query over HTTPS, and serves nothing else in clear text.
// The target host is publicHost when set ("api.example.com" or
// "api.example.com:8443"); otherwise the host the client asked for (its
// port dropped) with tlsPort (omitted when 443). A Host header that is not a
// plain host name or IP address gets 400, so the Location never carries
// anything but a host.
func HTTPSRedirect(publicHost, tlsPort string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := publicHost
		if host == "" {
			h := r.Host
			if hh, _, err := net.SplitHostPort(h); err == nil {
				h = hh
			}
			h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
			if !validHost(h) {
				http.Error(w, "bad Host header", http.StatusBadRequest)
				return
			}
			switch {
			case tlsPort != "" && tlsPort != "443":
				host = net.JoinHostPort(h, tlsPort)
			case strings.Contains(h, ":"): // IPv6 literal
				host = "[" + h + "]"
			default:
				host = h
			}
		}
		path := r.URL.EscapedPath()
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		target := "https://" + host + path
		if r.URL.RawQuery != "" {
			target += "?" + r.URL.RawQuery
		}
		w.Header().Set("Location", target)
		w.Header().Set("Connection", "close")
		w.WriteHeader(http.StatusPermanentRedirect)
	})
}

// validHost accepts a DNS name (letters, digits, '-', '.') or an IP
// address, without a port.
func validHost(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	if ip := net.ParseIP(h); ip != nil {
		return true
	}
	for _, c := range h {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '.':
		default:
			return false
		}
	}
	return !strings.HasPrefix(h, ".") && !strings.HasPrefix(h, "-")
}
