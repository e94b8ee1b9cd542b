// Package clientip establishes the address of the client behind a request:
// the TCP peer, or, when the peer is one of your reverse proxies, the address
// those proxies recorded in X-Forwarded-For (the de-facto header that
// RFC 7239 §7.5 describes; each proxy appends the address it received the
// request from).
//
// The left-most entries of X-Forwarded-For are whatever the client sent, so
// the list is read from the right: the answer is the right-most entry that is
// not a trusted proxy. Walking stops after a hop limit. A malformed entry or
// a chain longer than the limit never yields an address the client chose:
// the answer is then the last trusted proxy reached (the nearest address
// that a trusted party vouched for).
//
//	proxies, err := clientip.ParsePrefixes(os.Getenv("TRUSTED_PROXIES")) // "10.0.0.0/8, 192.168.1.1"
//	if err != nil { ... }                                               // names the bad entry
//	res, err := clientip.New(clientip.Config{TrustedProxies: proxies})
//	if err != nil { ... }
//	http.ListenAndServe(":8080", res.Middleware(mux))
//
//	// in a handler:
//	addr := clientip.FromContext(r.Context()) // netip.Addr; IsValid() false when unknown
//
// The package depends on the standard library only.
package clientip
