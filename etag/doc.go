// Package etag implements entity tags and conditional requests as defined by
// RFC 9110 §8.8.3 (ETag) and §13 (Conditional Requests), with the 428
// Precondition Required status of RFC 6585 §3.
//
// It has three parts:
//
//   - Entity tags: [Tag], [ParseTag], [ParseList] (the If-Match/If-None-Match
//     grammar), [Of] (a strong tag over bytes, SHA-256) and [VersionTag]
//     (a strong tag derived from a row version).
//   - [ConditionalGET], a middleware that gives every 200 answer to GET and
//     HEAD a strong ETag and answers If-None-Match / If-Modified-Since with
//     304 Not Modified.
//   - Preconditions for writes: [CheckPreconditions] evaluates If-Match,
//     If-Unmodified-Since and If-None-Match in the order of RFC 9110 §13.2.2
//     against the current validators of the resource, and
//     [RequirePrecondition] answers 428 to unconditional writes.
//
// Failures are written as RFC 9457 problem details through the problem
// package. Malformed client headers never cause a 5xx: they are handled as
// the RFC directs (ignored dates, unmatched tag lists), see [Evaluate].
//
// A precondition check alone cannot prevent lost updates: two writers may both
// pass it before either writes. Make the write itself conditional on the
// version that was checked (UPDATE ... WHERE id = ? AND version = ?) and answer
// 412 when no row was updated; the package README shows the pattern.
//
//	mux := http.NewServeMux()
//	mux.Handle("GET /chantiers/{id}", getChantier)
//	mux.Handle("PUT /chantiers/{id}", etag.RequirePrecondition(putChantier))
//	http.ListenAndServe(":8080", etag.ConditionalGET()(mux))
package etag
