package hubapi

import (
	"context"
	"net/netip"

	"github.com/hubchantier/hubchantier/clientip"
)

// WithClientIP returns ctx carrying the caller's address. It is the
// clientip package's context value: the server stores it with
// clientip.Resolver.Middleware (X-Forwarded-For trusted only from configured
// proxies), and use cases read it here.
func WithClientIP(ctx context.Context, ip netip.Addr) context.Context {
	return clientip.NewContext(ctx, ip)
}

// ClientIPFrom returns the caller's address, or the zero Addr.
func ClientIPFrom(ctx context.Context) netip.Addr {
	return clientip.FromContext(ctx)
}
