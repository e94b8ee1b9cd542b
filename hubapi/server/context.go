package server

import "context"

type routeHolder struct{ template string }

type routeHolderKey struct{}

func withRouteHolder(ctx context.Context, h *routeHolder) context.Context {
	return context.WithValue(ctx, routeHolderKey{}, h)
}

func routeHolderFrom(ctx context.Context) *routeHolder {
	h, _ := ctx.Value(routeHolderKey{}).(*routeHolder)
	return h
}
