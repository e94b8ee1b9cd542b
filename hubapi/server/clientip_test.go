package server

import (
	"net/http/httptest"
	"testing"
)

func TestResolveClientIP(t *testing.T) {
	trusted, err := ParseCIDRs("10.0.0.0/8, 192.168.1.1")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, remote, xff, want string
	}{
		{"direct peer", "203.0.113.5:1234", "", "203.0.113.5"},
		{"untrusted peer ignores XFF", "203.0.113.5:1234", "1.2.3.4", "203.0.113.5"},
		{"trusted proxy uses XFF", "10.1.2.3:80", "198.51.100.7", "198.51.100.7"},
		{"spoofed left-most entry ignored", "10.1.2.3:80", "6.6.6.6, 198.51.100.7", "198.51.100.7"},
		{"chain of trusted proxies", "10.1.2.3:80", "198.51.100.7, 192.168.1.1, 10.9.9.9", "198.51.100.7"},
		{"malformed XFF falls back to peer", "10.1.2.3:80", "nonsense", "10.1.2.3"},
		{"ipv4-mapped ipv6", "[::ffff:203.0.113.9]:1", "", "203.0.113.9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tt.remote
			if tt.xff != "" {
				r.Header.Set("X-Forwarded-For", tt.xff)
			}
			if got := ResolveClientIP(r, trusted).String(); got != tt.want {
				t.Fatalf("got %s want %s", got, tt.want)
			}
		})
	}
	if _, err := ParseCIDRs("10.0.0.0/33"); err == nil {
		t.Fatal("bad CIDR accepted")
	}
}
