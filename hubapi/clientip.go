package hubapi

import (
	"context"
	"net/netip"
)

type clientIPKey struct{}

// WithClientIP returns ctx carrying the caller's address as established by
// the server (X-Forwarded-For is trusted only from configured proxies).
func WithClientIP(ctx context.Context, ip netip.Addr) context.Context {
	return context.WithValue(ctx, clientIPKey{}, ip)
}

// ClientIPFrom returns the caller's address, or the zero Addr.
func ClientIPFrom(ctx context.Context) netip.Addr {
	ip, _ := ctx.Value(clientIPKey{}).(netip.Addr)
	return ip
}
