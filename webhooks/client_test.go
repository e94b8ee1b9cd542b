package webhooks_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hubchantier/hubchantier/webhooks"
)

func TestForbiddenAddresses(t *testing.T) {
	forbidden := []string{
		"127.0.0.1", "127.8.9.1", "::1", // loopback
		"10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1", "fc00::1", "fd12:3456::1", // private
		"169.254.169.254", "fd00:ec2::254", // cloud metadata (AWS IPv4 and IPv6, GCP, Azure)
		"169.254.1.1", "fe80::1", // link-local
		"224.0.0.1", "239.1.2.3", "ff02::1", "ff05::2", // multicast
		"0.0.0.0", "::", "0.1.2.3", // unspecified, "this network"
		"100.64.0.1", "100.127.255.254", // carrier-grade NAT
		"255.255.255.255", "240.0.0.1", // broadcast, reserved
		"::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254", // IPv4-mapped
		"64:ff9b::a00:1", "2002:a00:1::1", // NAT64 and 6to4 embedding private IPv4
		"198.18.0.1", "192.0.0.8",
	}
	public := []string{"93.184.216.34", "8.8.8.8", "1.1.1.1", "172.32.0.1", "100.128.0.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"}
	for _, s := range forbidden {
		if !webhooks.Forbidden(netip.MustParseAddr(s)) {
			t.Errorf("%s is allowed", s)
		}
	}
	for _, s := range public {
		if webhooks.Forbidden(netip.MustParseAddr(s)) {
			t.Errorf("%s is refused", s)
		}
	}
}

// fakeResolver answers from a list, one answer per lookup (the last one
// repeats), counting lookups: DNS that changes its answer between checks.
type fakeResolver struct {
	mu      sync.Mutex
	answers [][]netip.Addr
	n       int
}

func (f *fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !strings.HasSuffix(host, ".example") {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	a := f.answers[min(f.n, len(f.answers)-1)]
	f.n++
	return a, nil
}

func addrs(s ...string) []netip.Addr {
	var out []netip.Addr
	for _, x := range s {
		out = append(out, netip.MustParseAddr(x))
	}
	return out
}

func TestCheckURL(t *testing.T) {
	ctx := context.Background()
	dns := &fakeResolver{answers: [][]netip.Addr{addrs("93.184.216.34")}}
	mixed := &fakeResolver{answers: [][]netip.Addr{addrs("93.184.216.34", "10.0.0.5")}}
	strict := webhooks.Guard{Resolver: dns}
	tests := []struct {
		name  string
		guard webhooks.Guard
		url   string
		want  error // nil: accepted
	}{
		{"https to a public host → accepted", strict, "https://hooks.example/in", nil},
		{"http → refused", strict, "http://hooks.example/in", webhooks.ErrInvalidURL},
		{"http with AllowHTTP → accepted", webhooks.Guard{Resolver: dns, AllowHTTP: true}, "http://hooks.example/in", nil},
		{"ftp with AllowHTTP → refused", webhooks.Guard{Resolver: dns, AllowHTTP: true}, "ftp://hooks.example/in", webhooks.ErrInvalidURL},
		{"relative → refused", strict, "/in", webhooks.ErrInvalidURL},
		{"no host → refused", strict, "https:///in", webhooks.ErrInvalidURL},
		{"user information → refused", strict, "https://u:p@hooks.example/in", webhooks.ErrInvalidURL},
		{"loopback literal → forbidden", strict, "https://127.0.0.1:8443/in", webhooks.ErrForbiddenAddress},
		{"IPv6 loopback literal → forbidden", strict, "https://[::1]/in", webhooks.ErrForbiddenAddress},
		{"metadata address → forbidden", strict, "https://169.254.169.254/latest/meta-data/", webhooks.ErrForbiddenAddress},
		{"private literal → forbidden", strict, "https://192.168.0.10/in", webhooks.ErrForbiddenAddress},
		{"a name with one private address among public ones → forbidden", webhooks.Guard{Resolver: mixed}, "https://hooks.example/in", webhooks.ErrForbiddenAddress},
		{"private literal with AllowPrivate → accepted", webhooks.Guard{AllowPrivate: true}, "https://192.168.0.10/in", nil},
		{"unknown host → refused", strict, "https://nowhere.invalid/in", nil /* checked below: an error that is neither */},
		{"does not parse → refused", strict, "https://[::1/in", webhooks.ErrInvalidURL},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.guard.CheckURL(ctx, tc.url)
			switch {
			case strings.HasPrefix(tc.name, "unknown host"):
				if err == nil {
					t.Fatal("accepted")
				}
			case tc.want == nil && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != nil && !errors.Is(err, tc.want):
				t.Fatalf("err %v, want %v", err, tc.want)
			}
		})
	}
}

// receiver counts the requests that reach it.
func receiver(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		if h != nil {
			h(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func TestClientRefusesForbiddenAddressesWhenDialling(t *testing.T) {
	srv, hits := receiver(t, nil)
	port := srv.URL[strings.LastIndexByte(srv.URL, ':'):]

	t.Run("a loopback receiver → refused at connection, nothing received", func(t *testing.T) {
		c := webhooks.Guard{AllowHTTP: true}.NewClient(0)
		_, err := c.Get(srv.URL)
		if !errors.Is(err, webhooks.ErrForbiddenAddress) || hits.Load() != 0 {
			t.Fatalf("err %v, %d requests received", err, hits.Load())
		}
	})

	t.Run("DNS rebinding: public when checked, loopback when dialled → refused", func(t *testing.T) {
		dns := &fakeResolver{answers: [][]netip.Addr{addrs("93.184.216.34"), addrs("127.0.0.1")}}
		g := webhooks.Guard{AllowHTTP: true, Resolver: dns}
		url := "http://rebind.example" + port + "/"
		if err := g.CheckURL(context.Background(), url); err != nil {
			t.Fatalf("the first answer is public: %v", err)
		}
		_, err := g.NewClient(0).Get(url)
		if !errors.Is(err, webhooks.ErrForbiddenAddress) || hits.Load() != 0 {
			t.Fatalf("err %v, %d requests received", err, hits.Load())
		}
	})

	t.Run("AllowPrivate → delivered", func(t *testing.T) {
		dns := &fakeResolver{answers: [][]netip.Addr{addrs("127.0.0.1")}}
		resp, err := webhooks.Guard{AllowHTTP: true, AllowPrivate: true, Resolver: dns}.NewClient(0).Get("http://local.example" + port + "/")
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if hits.Load() != 1 {
			t.Fatalf("%d requests received", hits.Load())
		}
	})

	t.Run("http without AllowHTTP → refused before connecting", func(t *testing.T) {
		before := hits.Load()
		_, err := webhooks.Guard{AllowPrivate: true}.NewClient(0).Get(srv.URL)
		if !errors.Is(err, webhooks.ErrInvalidURL) || hits.Load() != before {
			t.Fatalf("err %v", err)
		}
	})
}

func TestClientDoesNotFollowRedirects(t *testing.T) {
	target, targetHits := receiver(t, nil)
	srv, _ := receiver(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL, http.StatusFound)
	})
	resp, err := webhooks.Guard{AllowHTTP: true, AllowPrivate: true}.NewClient(0).Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusFound || targetHits.Load() != 0 {
		t.Fatalf("status %d, redirect target hit %d times", resp.StatusCode, targetHits.Load())
	}
}

func TestClientTimesOut(t *testing.T) {
	release := make(chan struct{})
	srv, _ := receiver(t, func(http.ResponseWriter, *http.Request) { <-release })
	defer close(release)
	_, err := webhooks.Guard{AllowHTTP: true, AllowPrivate: true}.NewClient(100 * time.Millisecond).Get(srv.URL)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("err %v, want a timeout", err)
	}
}
