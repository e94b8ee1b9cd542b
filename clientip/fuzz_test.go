package clientip_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/hubchantier/hubchantier/clientip"
)

// FuzzResolve feeds arbitrary peers and X-Forwarded-For values. The answer
// is never a client-chosen address unless it is the right-most untrusted
// entry within the hop limit: it is the peer, a trusted proxy, or an entry
// of the header; and it never panics.
func FuzzResolve(f *testing.F) {
	f.Add("10.1.0.2:443", "192.168.10.20, 10.1.0.3")
	f.Add("10.1.0.2:443", "[fd00::1]:80,garbage")
	f.Add("[::ffff:10.1.9.9%eth0]:1", ",,")
	f.Add("@", strings.Repeat("10.1.0.1,", 40))
	f.Add("10.1.0.2:1", "203.0.113.1,"+strings.Repeat("10.1.0.1,", 5))
	res := mustResolver(f, "10.1.0.0/16, fd00::/8", 4)
	f.Fuzz(func(t *testing.T, remote, xff string) {
		r := &http.Request{Header: http.Header{"X-Forwarded-For": {xff}}, RemoteAddr: remote}
		got := res.Resolve(r)
		peer, ok := clientip.ParseAddr(remote)
		switch {
		case !ok:
			if got.IsValid() {
				t.Fatalf("unparsable peer %q gave %v", remote, got)
			}
		case !res.Trusted(peer):
			if got != peer {
				t.Fatalf("untrusted peer %v: got %v", peer, got)
			}
		case got == peer || res.Trusted(got):
			// the peer or a trusted proxy vouched for by the chain
		default:
			// An untrusted answer must be the first untrusted entry from
			// the right, with only trusted, well-formed entries after it.
			var entries []string
			for _, e := range strings.Split(xff, ",") {
				if e = strings.TrimSpace(e); e != "" {
					entries = append(entries, e)
				}
			}
			hops := 0
			for i := len(entries) - 1; i >= 0; i-- {
				hops++
				a, ok := clientip.ParseAddr(entries[i])
				if !ok || hops > 4 {
					t.Fatalf("client-chosen %v past a bad entry or the hop limit in %q", got, xff)
				}
				if !res.Trusted(a) {
					if a != got {
						t.Fatalf("got %v, want %v for %q", got, a, xff)
					}
					return
				}
			}
			t.Fatalf("got %v, not in %q", got, xff)
		}
	})
}

// FuzzParsePrefixes: a parsed list prints back to a list that parses to the
// same networks.
func FuzzParsePrefixes(f *testing.F) {
	for _, s := range []string{"10.0.0.0/8, 192.168.1.1", "::ffff:10.0.0.0/104", "fe80::1%eth0", ",", "1.2.3.4/33"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		nets, err := clientip.ParsePrefixes(s)
		if err != nil {
			return
		}
		parts := make([]string, len(nets))
		for i, n := range nets {
			if !n.IsValid() || n != n.Masked() || n.Addr().Is4In6() {
				t.Fatalf("%q gave %v", s, n)
			}
			parts[i] = n.String()
		}
		again, err := clientip.ParsePrefixes(strings.Join(parts, ","))
		if err != nil || len(again) != len(nets) {
			t.Fatalf("round trip of %q: %v %v", s, again, err)
		}
		for i := range again {
			if again[i] != nets[i] {
				t.Fatalf("round trip of %q: %v != %v", s, again[i], nets[i])
			}
		}
	})
}
