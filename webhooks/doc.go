// Package webhooks implements the sending and receiving sides of the
// Standard Webhooks specification (https://www.standardwebhooks.com):
//
//   - secrets ("whsec_" + base64 of 32 random bytes), NewSecret, ParseSecret;
//   - signatures: Sign and SetHeaders write webhook-id, webhook-timestamp and
//     webhook-signature ("v1," + base64 HMAC-SHA256 of "id.timestamp.body"),
//     one signature per secret, so a receiver keeps verifying while a secret
//     is rotated;
//   - Verifier, for receivers: checks the headers, the timestamp (5 minutes
//     of tolerance, against replays) and the signature in constant time;
//   - NewClient: an http.Client for user-given URLs, guarded against SSRF on
//     the address actually dialled (after DNS, so DNS rebinding fails), with
//     no redirects, no proxy and a 10 s timeout; CheckURL for the same rules
//     when a URL is registered;
//   - the retry schedule (RetryDelay): exponential with jitter, about three
//     days in all.
//
// It carries no product identity: any Go service can send or receive
// webhooks with it.
package webhooks
