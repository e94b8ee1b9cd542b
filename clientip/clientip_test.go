package clientip_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/hubchantier/hubchantier/clientip"
)

func mustResolver(t testing.TB, proxies string, maxHops int) *clientip.Resolver {
	t.Helper()
	p, err := clientip.ParsePrefixes(proxies)
	if err != nil {
		t.Fatal(err)
	}
	r, err := clientip.New(clientip.Config{TrustedProxies: p, MaxHops: maxHops})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestResolve(t *testing.T) {
	res := mustResolver(t, "10.0.0.0/8, 192.168.1.1, fd00::/8", 3)
	tests := []struct {
		name   string
		remote string
		xff    []string
		want   string
	}{
		{"direct peer → the peer", "203.0.113.5:1234", nil, "203.0.113.5"},
		{"untrusted peer → X-Forwarded-For ignored", "203.0.113.5:1234", []string{"1.2.3.4"}, "203.0.113.5"},
		{"trusted proxy → the X-Forwarded-For client", "10.1.2.3:80", []string{"198.51.100.7"}, "198.51.100.7"},
		{"spoofed left-most entry → ignored", "10.1.2.3:80", []string{"6.6.6.6, 198.51.100.7"}, "198.51.100.7"},
		{"chain of trusted proxies → the right-most untrusted entry", "10.1.2.3:80", []string{"198.51.100.7, 192.168.1.1, 10.9.9.9"}, "198.51.100.7"},
		{"repeated header lines → read in order, last line nearest", "10.1.2.3:80", []string{"6.6.6.6", "198.51.100.7"}, "198.51.100.7"},
		{"entry with a port → understood", "10.1.2.3:80", []string{"198.51.100.7:51000"}, "198.51.100.7"},
		{"bracketed IPv6 entry with a port → understood", "10.1.2.3:80", []string{"[2001:db8::1]:443"}, "2001:db8::1"},
		{"empty entries → skipped", "10.1.2.3:80", []string{"198.51.100.7, , "}, "198.51.100.7"},
		{"trusted proxy without X-Forwarded-For → the proxy", "10.1.2.3:80", nil, "10.1.2.3"},
		{"every entry trusted → the left-most trusted proxy", "10.1.2.3:80", []string{"10.7.7.7, 192.168.1.1"}, "10.7.7.7"},
		{"malformed entry → the proxy that sent it, not the peer's client", "10.1.2.3:80", []string{"198.51.100.7, nonsense"}, "10.1.2.3"},
		{"malformed entry behind a trusted hop → that hop", "10.1.2.3:80", []string{"nonsense, 10.4.4.4"}, "10.4.4.4"},
		{"malformed entry left of the client → not reached", "10.1.2.3:80", []string{"nonsense, 198.51.100.7"}, "198.51.100.7"},
		{"over the hop limit → the last trusted proxy reached", "10.1.2.3:80", []string{"198.51.100.7, 10.0.0.4, 10.0.0.3, 10.0.0.2"}, "10.0.0.4"},
		{"at the hop limit → still resolved", "10.1.2.3:80", []string{"198.51.100.7, 10.0.0.3, 10.0.0.2"}, "198.51.100.7"},
		{"IPv4-mapped IPv6 peer → unmapped", "[::ffff:203.0.113.9]:1", nil, "203.0.113.9"},
		{"IPv4-mapped entry → unmapped before the trust check", "10.1.2.3:80", []string{"198.51.100.7, ::ffff:10.2.2.2"}, "198.51.100.7"},
		{"zoned IPv6 peer → zone dropped", "[fd12::7%eth0]:5000", []string{"198.51.100.7"}, "198.51.100.7"},
		{"peer without a port → understood", "203.0.113.5", nil, "203.0.113.5"},
		{"unparsable peer → zero address", "@", []string{"198.51.100.7"}, "invalid IP"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = tt.remote
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := res.Resolve(r).String(); got != tt.want {
				t.Fatalf("got %s, want %s", got, tt.want)
			}
		})
	}
}

func TestNoTrustedProxiesIgnoresXForwardedFor(t *testing.T) {
	res := mustResolver(t, "", 0)
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr = "127.0.0.1:1"
	r.Header.Set("X-Forwarded-For", "203.0.113.1")
	if got := res.Resolve(r).String(); got != "127.0.0.1" {
		t.Fatalf("got %s", got)
	}
}

func TestDefaultHopLimit(t *testing.T) {
	res := mustResolver(t, "10.0.0.0/8", 0)
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr = "10.0.0.1:1"
	r.Header.Set("X-Forwarded-For", "203.0.113.1,"+strings.Repeat("10.0.0.9,", clientip.DefaultMaxHops-1)+"10.0.0.8")
	if got := res.Resolve(r).String(); got != "10.0.0.9" {
		t.Fatalf("over the default limit: got %s, want the last trusted proxy reached", got)
	}
	r.Header.Set("X-Forwarded-For", "203.0.113.1,"+strings.Repeat("10.0.0.9,", clientip.DefaultMaxHops-2)+"10.0.0.8")
	if got := res.Resolve(r).String(); got != "203.0.113.1" {
		t.Fatalf("at the default limit: got %s", got)
	}
}

func TestParsePrefixes(t *testing.T) {
	tests := []struct {
		name, in string
		want     []string
		badEntry string
	}{
		{"CIDRs and addresses, spaces ignored", " 10.0.0.0/8 , 192.168.1.1,fd00::/8", []string{"10.0.0.0/8", "192.168.1.1/32", "fd00::/8"}, ""},
		{"empty list → no network", "", nil, ""},
		{"empty entries → ignored", ",,10.0.0.0/8,", []string{"10.0.0.0/8"}, ""},
		{"host bits → masked", "10.1.2.3/8", []string{"10.0.0.0/8"}, ""},
		{"IPv4-mapped address → unmapped", "::ffff:10.0.0.1", []string{"10.0.0.1/32"}, ""},
		{"IPv4-mapped network → IPv4 network", "::ffff:10.0.0.0/104", []string{"10.0.0.0/8"}, ""},
		{"prefix too long → names the entry", "10.0.0.0/8, 10.0.0.0/33", nil, "10.0.0.0/33"},
		{"host name → names the entry", "10.0.0.0/8,proxy.local", nil, "proxy.local"},
		{"zoned address → refused", "fe80::1%eth0", nil, "fe80::1%eth0"},
		{"short IPv4-mapped network → refused", "::ffff:0:0/64", nil, "::ffff:0:0/64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := clientip.ParsePrefixes(tt.in)
			if tt.badEntry != "" {
				var ee *clientip.EntryError
				if !errors.As(err, &ee) || ee.Entry != tt.badEntry || !strings.Contains(err.Error(), tt.badEntry) {
					t.Fatalf("err %v, want one naming %q", err, tt.badEntry)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i].String() != tt.want[i] {
					t.Fatalf("got %v, want %v", got, tt.want)
				}
			}
		})
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	for name, cfg := range map[string]clientip.Config{
		"negative hop limit":      {MaxHops: -1},
		"invalid network":         {TrustedProxies: []netip.Prefix{{}}},
		"short IPv4-mapped range": {TrustedProxies: []netip.Prefix{netip.MustParsePrefix("::ffff:0:0/90")}},
	} {
		if _, err := clientip.New(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestMiddlewareStoresTheAddress(t *testing.T) {
	res := mustResolver(t, "10.0.0.0/8", 0)
	var got netip.Addr
	h := res.Middleware(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { got = clientip.FromContext(r.Context()) }))
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr = "10.0.0.1:1"
	r.Header.Set("X-Forwarded-For", "6.6.6.6, 198.51.100.7")
	h.ServeHTTP(httptest.NewRecorder(), r)
	if got.String() != "198.51.100.7" {
		t.Fatalf("context holds %v", got)
	}
	if a := clientip.FromContext(context.Background()); a.IsValid() {
		t.Fatalf("empty context gave %v", a)
	}
}
