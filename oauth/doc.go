// Package oauth is an OAuth 2 authorization server for net/http services:
// the authorization code grant with PKCE (S256) and refresh tokens, RFC
// 9068 JWT access tokens, revocation (RFC 7009), introspection (RFC 7662),
// metadata (RFC 8414) and the iss authorization response parameter (RFC
// 9207), following the OAuth 2.0 Security BCP (RFC 9700). It also checks
// the access tokens it issues, for the service's API (ValidateAccessToken,
// Middleware).
//
// It is built on go-oauth2/oauth2/v4's manager, whose unsafe defaults are
// closed here, each by a test:
//   - redirect URIs match a registered one exactly (go-oauth2: host
//     suffix), and a mismatch is shown to the user, never redirected to;
//   - the client authenticates on refresh, the refresh token must be its
//     own, and the scope may only narrow (go-oauth2: none of these);
//   - codes and refresh tokens are consumed atomically by one conditional
//     UPDATE (go-oauth2: read then delete), a replayed code revokes what
//     it issued and a replayed refresh token revokes its whole family;
//   - only the code and refresh grants exist (go-oauth2: implicit and
//     password too), PKCE S256 is required of every client, and a missing
//     or wrong verifier is invalid_grant (go-oauth2: a 500);
//   - access tokens are RFC 9068 JWTs signed ES256 with a kid (go-oauth2:
//     aud, sub and exp only);
//   - only SHA-256 hashes of codes, tokens and client secrets are stored,
//     and a confidential client never authenticates with an empty secret.
//
// The service provides the users (Authenticator) and, optionally, what
// each user may grant (Config.AllowedScopes); the tables live in its
// database (SchemaSQL, SQLite or PostgreSQL, through bun).
//
//	srv, err := oauth.New(ctx, oauth.Config{DB: db, Issuer: "https://api.example.com",
//		Authenticator: users, Scopes: []string{"read", "write"}, SessionKey: key,
//		Sealer: keyring, // *secretbox.Keyring: seals the signing keys in db
//		Active: users.Enabled}) // refuse tokens to disabled users
//	mux.Handle("/oauth/", srv.Handler())
//	mux.Handle("/.well-known/oauth-authorization-server", srv.Handler())
//	mux.Handle("/api/", srv.Middleware(api)) // oauth.TokenFrom(r.Context())
//
// Revocations reach every instance without a database round trip per
// request: each instance keeps the ids of revoked tokens, learns new ones
// at once through Config.Broadcaster and, in any case, by reading the
// database every Config.RevocationPoll (one second by default).
package oauth
