// Package problem writes RFC 9457 "Problem Details for HTTP APIs" responses.
//
// The reusable packages of this module (pagination, fields, etag, ratelimit)
// report client errors through it, so that a server embedding them answers
// with one consistent error format:
//
//	problem.Write(w, r, problem.New(http.StatusBadRequest, "invalid-cursor", "The cursor is not valid."))
//
// The response has media type application/problem+json and a body such as
//
//	{"type":"https://example.com/problems/invalid-cursor","title":"Bad Request",
//	 "status":400,"detail":"The cursor is not valid.","instance":"/orders"}
//
// # Type URIs
//
// New takes a short type code ("invalid-cursor"); the "type" member is that
// code resolved against a type base when the problem is written. The base is
// chosen per use, not per process: the [WithTypeBase] middleware puts it in
// the request context, where [Write] reads it. Wrap it outside every handler
// and middleware that writes problems (a panic recoverer included), so that
// all of them see it:
//
//	handler = problem.WithTypeBase("https://example.com/problems/")(handler)
//
// Without a base, the type is the path-absolute reference "/problems/<code>"
// ([DefaultTypeBase]). RFC 9457 §3.1.1 lets "type" be a relative URI
// reference, resolved against the document's base URI, and makes the
// resolved URI the problem type's primary identifier. A path-absolute
// reference resolves to the same URI for every endpoint of a host, whereas a
// bare code would resolve against each request's path and give one problem
// type a different identifier per endpoint.
//
// A type that is already a URI reference (it contains ':' or '/', such as
// "https://example.com/problems/x" or "about:blank") is written unchanged;
// an empty type is written as "about:blank" (RFC 9457 §4.2.1).
package problem
