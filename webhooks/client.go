package webhooks

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"syscall"
	"time"
)

// DefaultTimeout bounds one delivery: connection, request and response.
const DefaultTimeout = 10 * time.Second

// ErrForbiddenAddress is returned (wrapped) when a target resolves to an
// address webhooks must not reach.
var ErrForbiddenAddress = errors.New("webhooks: the target resolves to a loopback, private, link-local, multicast or otherwise non-public address")

// ErrInvalidURL is returned (wrapped) by CheckURL for a URL that is not an
// absolute https URL (or http when allowed) with a host and no credentials.
var ErrInvalidURL = errors.New("webhooks: invalid target URL")

// Resolver looks host names up; *net.Resolver is one.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Guard holds the rules for targets given by users.
type Guard struct {
	// AllowHTTP accepts http:// targets (tests, on-premises receivers);
	// otherwise only https.
	AllowHTTP bool
	// AllowPrivate lifts the address checks (tests, on-premises receivers
	// on a private network).
	AllowPrivate bool
	// Resolver (default net.DefaultResolver).
	Resolver Resolver
}

func (g Guard) resolver() Resolver {
	if g.Resolver != nil {
		return g.Resolver
	}
	return net.DefaultResolver
}

// extraForbidden are non-public ranges that netip's predicates do not cover.
var extraForbidden = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),   // carrier-grade NAT (RFC 6598)
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("192.0.2.0/24"),    // documentation
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("198.51.100.0/24"), // documentation
	netip.MustParsePrefix("203.0.113.0/24"),  // documentation
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, broadcast
	netip.MustParsePrefix("64:ff9b::/96"),    // NAT64: reaches IPv4 through a gateway
	netip.MustParsePrefix("64:ff9b:1::/48"),  // local-use NAT64
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	netip.MustParsePrefix("2002::/16"),       // 6to4: embeds an IPv4 address
	netip.MustParsePrefix("100::/64"),        // discard
	netip.MustParsePrefix("fec0::/10"),       // site-local (deprecated)
}

// Forbidden reports whether a is an address webhooks must not reach:
// loopback, private (RFC 1918, fc00::/7 — which holds the EC2 metadata
// address fd00:ec2::254), link-local (169.254.0.0/16, with the cloud metadata
// address 169.254.169.254; fe80::/10), multicast, unspecified, carrier-grade
// NAT, and the reserved, documentation and translation ranges. IPv4-mapped
// IPv6 addresses are judged as their IPv4 address.
func Forbidden(a netip.Addr) bool {
	a = a.Unmap()
	if !a.IsValid() || a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() ||
		a.IsInterfaceLocalMulticast() || a.IsMulticast() || a.IsUnspecified() {
		return true
	}
	for _, p := range extraForbidden {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// CheckURL checks a target when it is registered: an absolute https URL
// (http when AllowHTTP) with a host, no user information, and — unless
// AllowPrivate — a host whose every address is public. The client checks the
// address again when it connects: a name may resolve differently then.
func (g Guard) CheckURL(ctx context.Context, raw string) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return fmt.Errorf("%w: does not parse", ErrInvalidURL)
	case u.Scheme != "https" && !(g.AllowHTTP && u.Scheme == "http"):
		if g.AllowHTTP {
			return fmt.Errorf("%w: the scheme must be https or http", ErrInvalidURL)
		}
		return fmt.Errorf("%w: the scheme must be https", ErrInvalidURL)
	case u.Hostname() == "":
		return fmt.Errorf("%w: no host", ErrInvalidURL)
	case u.User != nil:
		return fmt.Errorf("%w: user information is not allowed", ErrInvalidURL)
	case u.Fragment != "" || u.Opaque != "":
		return fmt.Errorf("%w: no fragment or opaque part", ErrInvalidURL)
	}
	if g.AllowPrivate {
		return nil
	}
	addrs, err := g.lookup(ctx, u.Hostname())
	if err != nil {
		return err
	}
	for _, a := range addrs {
		if Forbidden(a) {
			return fmt.Errorf("%w (%s)", ErrForbiddenAddress, u.Hostname())
		}
	}
	return nil
}

func (g Guard) lookup(ctx context.Context, host string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{a}, nil
	}
	addrs, err := g.resolver().LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil, fmt.Errorf("webhooks: resolving %s: %w", host, err)
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("webhooks: %s has no address", host)
	}
	return addrs, nil
}

// NewClient returns the client that delivers to user-given URLs:
//   - it refuses to connect to a forbidden address (see Forbidden) unless
//     AllowPrivate, checking the address actually dialled after resolution,
//     so a name that resolved to a public address when registered and to a
//     private one now (DNS rebinding) is refused;
//   - it refuses http:// unless AllowHTTP;
//   - it does not follow redirects (the 3xx response is returned) and uses no
//     proxy from the environment;
//   - each request is bounded by timeout (≤ 0: DefaultTimeout).
func (g Guard) NewClient(timeout time.Duration) *http.Client {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	dialer := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}
	if !g.AllowPrivate {
		dialer.Control = func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil || Forbidden(ap.Addr()) {
				return ErrForbiddenAddress
			}
			return nil
		}
	}
	t := &http.Transport{
		Proxy: nil, // a proxy would resolve the target itself, out of our checks
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, port, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			ips, err := g.lookup(ctx, host)
			if err != nil {
				return nil, err
			}
			var errs []error
			for _, ip := range ips {
				c, err := dialer.DialContext(ctx, network, net.JoinHostPort(ip.String(), port))
				if err == nil {
					return c, nil
				}
				errs = append(errs, err)
			}
			return nil, errors.Join(errs...)
		},
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           100,
		MaxIdleConnsPerHost:    32,
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    timeout,
		ResponseHeaderTimeout:  timeout,
		MaxResponseHeaderBytes: 64 << 10,
	}
	return &http.Client{
		Transport: schemeGuard{allowHTTP: g.AllowHTTP, next: t},
		Timeout:   timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// schemeGuard refuses plain http unless allowed.
type schemeGuard struct {
	allowHTTP bool
	next      http.RoundTripper
}

func (s schemeGuard) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Scheme != "https" && !(s.allowHTTP && r.URL.Scheme == "http") {
		if r.Body != nil {
			_ = r.Body.Close()
		}
		return nil, fmt.Errorf("%w: scheme %q", ErrInvalidURL, r.URL.Scheme)
	}
	return s.next.RoundTrip(r)
}
