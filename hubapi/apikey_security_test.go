package hubapi_test

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/hubchantier/hubchantier/hubapi"
)

func TestParseIPAllowlist(t *testing.T) {
	tests := []struct {
		name    string
		in      []string
		want    string // normalised, comma-joined
		badPart string // the entry named by the error
	}{
		{"nil → no restriction", nil, "<nil>", ""},
		{"empty list → refuses everything", []string{}, "", ""},
		{"IPv4 address → /32", []string{"192.168.1.100"}, "192.168.1.100/32", ""},
		{"IPv4 CIDR is masked", []string{"10.1.2.3/8"}, "10.0.0.0/8", ""},
		{"IPv6 CIDR", []string{"2001:db8::/32"}, "2001:db8::/32", ""},
		{"IPv6 address → /128", []string{"2001:db8::1"}, "2001:db8::1/128", ""},
		{"IPv4-mapped IPv6 → IPv4", []string{"::ffff:10.0.0.1"}, "10.0.0.1/32", ""},
		{"duplicates dropped, spaces trimmed", []string{" 10.0.0.0/8", "10.0.0.0/8 "}, "10.0.0.0/8", ""},
		{"prefix too long → 422 naming it", []string{"10.0.0.0/8", "10.0.0.0/33"}, "", "10.0.0.0/33"},
		{"not an address", []string{"example.com"}, "", "example.com"},
		{"a zone", []string{"fe80::1%eth0"}, "", "fe80::1%eth0"},
		{"a list in one entry", []string{"10.0.0.1,10.0.0.2"}, "", "10.0.0.1,10.0.0.2"},
		{"an empty entry", []string{""}, "", "entry 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := hubapi.ParseIPAllowlist(tc.in)
			if tc.badPart != "" {
				var ve *hubapi.ValidationError
				if !errors.As(err, &ve) || !strings.Contains(ve.Fields["ip_allowlist"], tc.badPart) {
					t.Fatalf("err %v, want one naming %q", err, tc.badPart)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			s := "<nil>"
			if got != nil {
				s = strings.Join(got, ",")
			}
			if s != tc.want {
				t.Fatalf("got %q, want %q", s, tc.want)
			}
		})
	}
}

func TestAllowsIP(t *testing.T) {
	list, err := hubapi.ParseIPAllowlist([]string{"10.0.0.0/8", "2001:db8::/32"})
	if err != nil {
		t.Fatal(err)
	}
	nets := list.Prefixes()
	for _, tc := range []struct {
		ip         string
		restricted bool
		want       bool
	}{
		{"10.20.30.40", true, true},
		{"11.0.0.1", true, false},
		{"::ffff:10.0.0.1", true, true}, // mapped form of an allowed IPv4
		{"2001:db8:ffff::1", true, true},
		{"2001:db9::1", true, false},
		{"", true, false}, // unknown address
		{"", false, true}, // no allow-list
		{"203.0.113.1", false, true},
	} {
		a, _ := netip.ParseAddr(tc.ip)
		if got := hubapi.AllowsIP(nets, tc.restricted, a); got != tc.want {
			t.Errorf("AllowsIP(%q, restricted=%v) = %v", tc.ip, tc.restricted, got)
		}
	}
	if (&hubapi.Principal{IPRestricted: true}).AllowsIP(netip.MustParseAddr("10.0.0.1")) {
		t.Error("an empty allow-list allowed an address")
	}
}

// FuzzParseIPAllowlist: any entry is accepted or refused with a
// ValidationError naming it, never a panic; what is accepted parses again
// to itself and matches what it contains.
func FuzzParseIPAllowlist(f *testing.F) {
	for _, s := range []string{"10.0.0.0/8", "2001:db8::/32", "::ffff:1.2.3.4/120", "1.2.3.4", "fe80::1%eth0", "10.0.0.0/33", "",
		"0.0.0.0/0", "::/0", "1.2.3.4/-1", "\x00", "1.2.3.4,5.6.7.8", strings.Repeat("1", 100)} {
		f.Add(s, "192.168.0.1")
	}
	f.Fuzz(func(t *testing.T, entry, second string) {
		got, err := hubapi.ParseIPAllowlist([]string{entry, second})
		if err != nil {
			var ve *hubapi.ValidationError
			if !errors.As(err, &ve) || ve.Fields["ip_allowlist"] == "" || !utf8.ValidString(ve.Fields["ip_allowlist"]) {
				t.Fatalf("error %v", err)
			}
			return
		}
		again, err := hubapi.ParseIPAllowlist(got)
		if err != nil || strings.Join(again, ",") != strings.Join(got, ",") {
			t.Fatalf("not stable: %v → %v (%v)", got, again, err)
		}
		nets := got.Prefixes()
		if len(nets) != len(got) {
			t.Fatalf("%d prefixes for %v", len(nets), got)
		}
		for _, p := range nets {
			if !hubapi.AllowsIP(nets, true, p.Addr()) {
				t.Fatalf("%v does not contain its own address", p)
			}
		}
	})
}
