package clientip

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
)

// DefaultMaxHops is the hop limit of a Config that sets none: how many
// X-Forwarded-For entries at most a Resolver examines.
const DefaultMaxHops = 32

// Config configures a Resolver.
type Config struct {
	// TrustedProxies are the networks of the reverse proxies whose
	// X-Forwarded-For is believed. Empty: X-Forwarded-For is ignored and the
	// TCP peer is the client.
	TrustedProxies []netip.Prefix
	// MaxHops bounds the X-Forwarded-For entries examined (0 means
	// DefaultMaxHops). Set it to the number of proxies in front of the
	// server, or a little more.
	MaxHops int
}

// Resolver finds the client address of requests. It is safe for concurrent
// use.
type Resolver struct {
	trusted []netip.Prefix
	maxHops int
}

// New checks cfg and returns its Resolver. IPv4-mapped IPv6 networks are
// turned into their IPv4 form, since addresses are unmapped before matching.
func New(cfg Config) (*Resolver, error) {
	if cfg.MaxHops < 0 {
		return nil, fmt.Errorf("clientip: MaxHops %d is negative", cfg.MaxHops)
	}
	r := &Resolver{maxHops: cfg.MaxHops}
	if r.maxHops == 0 {
		r.maxHops = DefaultMaxHops
	}
	for _, p := range cfg.TrustedProxies {
		n, ok := normalizePrefix(p)
		if !ok {
			return nil, fmt.Errorf("clientip: invalid trusted proxy network %v", p)
		}
		r.trusted = append(r.trusted, n)
	}
	return r, nil
}

// Trusted reports whether a is in one of the trusted proxy networks.
func (res *Resolver) Trusted(a netip.Addr) bool {
	return Contains(res.trusted, a)
}

// Resolve returns the client address of r: the TCP peer (r.RemoteAddr) when
// it is not a trusted proxy; otherwise the right-most X-Forwarded-For entry
// that is not a trusted proxy (entries of repeated header lines in order).
// When every entry examined is a trusted proxy, when an entry is malformed or
// when the hop limit is reached, it returns the last trusted proxy reached.
// The zero Addr means r.RemoteAddr is not an address.
func (res *Resolver) Resolve(r *http.Request) netip.Addr {
	peer, ok := ParseAddr(r.RemoteAddr)
	if !ok {
		return netip.Addr{}
	}
	if len(res.trusted) == 0 || !res.Trusted(peer) {
		return peer
	}
	values := r.Header.Values("X-Forwarded-For")
	last, hops := peer, 0 // last: the left-most trusted proxy reached
	for i := len(values) - 1; i >= 0; i-- {
		v := values[i]
		// Right to left without splitting: a long header costs no allocation.
		for end := len(v); end >= 0; {
			start := strings.LastIndexByte(v[:end], ',') + 1
			entry := strings.TrimSpace(v[start:end])
			end = start - 1
			if entry == "" {
				continue
			}
			if hops++; hops > res.maxHops {
				return last
			}
			a, ok := ParseAddr(entry)
			if !ok {
				return last
			}
			if !res.Trusted(a) {
				return a
			}
			last = a
		}
	}
	return last
}

// Middleware stores the client address of each request (Resolve) in its
// context, for FromContext.
func (res *Resolver) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(NewContext(r.Context(), res.Resolve(r))))
	})
}

type contextKey struct{}

// NewContext returns ctx carrying the client address a.
func NewContext(ctx context.Context, a netip.Addr) context.Context {
	return context.WithValue(ctx, contextKey{}, a)
}

// FromContext returns the client address stored by Middleware (or
// NewContext), or the zero Addr.
func FromContext(ctx context.Context) netip.Addr {
	a, _ := ctx.Value(contextKey{}).(netip.Addr)
	return a
}

// ParsePrefixes parses a comma-separated list of CIDR networks or single
// addresses ("10.0.0.0/8, 192.168.1.1, fd00::/8"). Networks are masked, and
// IPv4 addresses written in IPv6 form are unmapped. Spaces and empty entries
// are ignored; the error names the first bad entry.
func ParsePrefixes(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if !strings.Contains(f, "/") {
			a, err := netip.ParseAddr(f)
			if err != nil || a.Zone() != "" {
				return nil, &EntryError{Entry: f, Msg: "not an IP address"}
			}
			a = a.Unmap()
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, &EntryError{Entry: f, Msg: "not a CIDR network"}
		}
		n, ok := normalizePrefix(p)
		if !ok {
			return nil, &EntryError{Entry: f, Msg: "an IPv4-mapped network needs at least 96 bits"}
		}
		out = append(out, n)
	}
	return out, nil
}

// EntryError reports the bad entry of a list given to ParsePrefixes.
type EntryError struct {
	Entry string
	Msg   string
}

func (e *EntryError) Error() string { return fmt.Sprintf("invalid entry %q: %s", e.Entry, e.Msg) }

// ParseAddr parses "ip", "ip:port" or "[ipv6]:port" (r.RemoteAddr and
// X-Forwarded-For forms), dropping any zone and unmapping IPv4-mapped IPv6
// addresses.
func ParseAddr(s string) (netip.Addr, bool) {
	// An address with a port is "[ipv6]:port" or "ipv4:port" (one colon);
	// choosing the parser first spares an error allocation per request.
	if strings.HasPrefix(s, "[") || strings.Count(s, ":") == 1 {
		if ap, err := netip.ParseAddrPort(s); err == nil {
			return ap.Addr().WithZone("").Unmap(), true
		}
		s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.WithZone("").Unmap(), true
}

// Contains reports whether a (zone dropped, unmapped) is in one of nets.
func Contains(nets []netip.Prefix, a netip.Addr) bool {
	a = a.WithZone("").Unmap()
	for _, p := range nets {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// normalizePrefix masks p and turns an IPv4-mapped IPv6 prefix into its IPv4
// form.
func normalizePrefix(p netip.Prefix) (netip.Prefix, bool) {
	if !p.IsValid() || p.Addr().Zone() != "" {
		return netip.Prefix{}, false
	}
	if p.Addr().Is4In6() {
		if p.Bits() < 96 {
			return netip.Prefix{}, false
		}
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	return p.Masked(), true
}
