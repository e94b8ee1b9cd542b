// Package client is the Go SDK of the Hub Chantier API. It depends on no
// server package: import it alone.
//
//	c, err := client.New("https://hub.example.com", client.WithAPIKey(os.Getenv("HUB_API_KEY")))
//	for ch, err := range c.V2.Chantiers.List(ctx, &apiv2.ListChantiersParams{Status: &enCours}) {
//		if err != nil { return err }
//		fmt.Println(ch.Code, ch.Name)
//	}
//
// c.V2 is API v2 with the types of package apiv2; c.V1 the deprecated v1
// with those of apiv1. The types (apiv2.Chantier, apiv2.ChantierPatch, ...)
// are generated from each version's OpenAPI document, so they follow it
// exactly. On top of them the client adds:
//
//   - iterators (iter.Seq2) over every element or every page of a list,
//     following the pages' cursors (Link rel="next", next_cursor);
//   - conditional GETs: the last representations read are kept with their
//     ETag in a small LRU cache and revalidated with If-None-Match; a 304
//     (which costs no rate-limit quota) returns the cached copy;
//   - conditional writes: IfVersion(v) sends If-Match: "v<version>", and a
//     concurrent write turns into ErrPreconditionFailed instead of a lost
//     update;
//   - retries of 429 and 503 after Retry-After plus jitter, bounded per
//     request and by a retry budget shared by the client, and never for a
//     write that could be applied twice (see RetryPolicy);
//   - authentication by API key (WithAPIKey) or by an OAuth 2 token source
//     (WithTokenSource), never over clear-text HTTP to another host;
//   - errors as *Error, the RFC 9457 problem the server answered, usable
//     with errors.As and errors.Is;
//   - a report of the Deprecation and Sunset of a version still in use
//     (WithOnDeprecation);
//   - a context on every call, a configurable http.Client and base URL, a
//     User-Agent naming the SDK and, optionally, the application.
package client
