// Package cache is an in-process HTTP response cache for GET routes, built on
// allegro/bigcache/v3, with per-caller isolation, O(1) invalidation by
// resource type, invalidation broadcast between instances over Redis pub/sub,
// and stampede protection.
//
// # What is cached
//
// Only 200 responses to GET requests on configured routes are stored: the
// status, the body and a configurable list of headers (Content-Type, ETag,
// Link and Last-Modified by default). A response is not stored when the
// handler set a cookie (Set-Cookie), sent Cache-Control private, no-store or
// no-cache, sent Vary: * or a Vary on a request field the key does not
// include, set a Content-Encoding that is not stored, or when the body is
// larger than Config.MaxEntryBytes. HEAD requests are answered from a stored
// GET response; a HEAD miss is forwarded and not stored.
//
// # Key
//
// The key of a response is made of the route template (which carries the API
// version, e.g. /api/v1/chantiers), the query parameters sorted by name (each
// value optionally rewritten by a normaliser, e.g. the fields selection), the
// values of the request fields listed in Route.Vary, the value of
// Config.VaryFunc — what the caller may see: its role and sorted scopes — and
// the generation counter of every resource type the route depends on.
//
// # Authorization and isolation
//
// The middleware must run after authentication and authorization, so that a
// caller lacking a scope is refused (401/403) before the cache is consulted:
// a refusal is never cached (only 200 responses are) and a cached 200 is
// never served to a caller the authorization step would refuse. Requests
// carrying Authorization are cached even though RFC 9111 §3.5 forbids a
// shared cache to do so by default: this cache is part of the origin server
// and every entry is partitioned by VaryFunc, so a stored body is only served
// to callers with the same VaryFunc value. VaryFunc must therefore return
// every input of the caller's identity that changes the response — the role
// and scopes, plus the user or tenant ID when the handler filters rows by
// owner.
//
// # Invalidation
//
// Each resource type ("chantiers", "pointages", ...) has a generation counter
// that is part of the keys of the routes depending on it. Invalidate bumps the
// counters of the given types (O(1), whatever the number of entries); the old
// entries become unreachable and age out of bigcache. FlushAll bumps a global
// generation and empties the store, for erasure requests (GDPR right to be
// forgotten). With a Redis client configured, both are published on a Redis
// channel and applied by every instance subscribed to it; the subscriber
// reconnects with back-off and flushes the local cache after a reconnection,
// since invalidations may have been missed while it was disconnected.
//
// # Request directives (RFC 9111 §5.2.1)
//
// Cache-Control: no-cache (or Pragma: no-cache without Cache-Control) and
// max-age=0 in a request skip the stored response: the handler runs and its
// response replaces the stored one. max-age=N skips a stored response older
// than N seconds. no-store forwards the request without joining a
// concurrent identical one, and its response is not stored. Other request
// directives are ignored.
//
// # Cache-Status (RFC 9211)
//
// Every response passing through the middleware carries a Cache-Status field
// naming the cache (Config.Name, "hubchantier" by default):
//
//	hubchantier; hit                 served from the cache
//	hubchantier; fwd=miss            no usable entry; the handler ran
//	hubchantier; fwd=miss; collapsed same, served from a concurrent identical request's handler run
//	hubchantier; fwd=stale           the entry had expired; the handler ran
//	hubchantier; fwd=request         a fresh entry existed but the request directives forbade its use
//	hubchantier; fwd=bypass          the route is not cached or the request cannot be keyed
//	hubchantier; fwd=method          the method is not GET or HEAD
//
// fwd=uri-miss is never sent: keys mix the URI with the caller's partition,
// so a lookup cannot tell a URI miss from a Vary miss, and fwd=miss is the
// general value RFC 9211 §2.2 gives for that case.
//
// # Failures
//
// A cache failure (an entry that cannot be stored or decoded, a Redis error)
// never fails a request: it is logged, counted and reported to
// Config.OnEvent, and the request is served uncached.
package cache
