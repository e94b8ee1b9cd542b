package audit

import "net/netip"

// anonymiseIP returns the network of ip: its /24 for IPv4 (and IPv4-mapped
// IPv6), its /48 for IPv6, as "a.b.c.0/24" or "2001:db8:1::/48". What is
// not an address (already anonymised, empty) becomes "".
func anonymiseIP(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ""
	}
	a = a.Unmap().WithZone("")
	bits := 48
	if a.Is4() {
		bits = 24
	}
	p, _ := a.Prefix(bits)
	return p.String()
}
