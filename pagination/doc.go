// Package pagination implements keyset ("cursor") pagination for HTTP list
// endpoints: constant-cost pages at any depth, with opaque, authenticated
// cursors bound to the query they belong to.
//
// The package has four parts, usable together or alone, and links no
// database library:
//
//   - [Codec] seals a [Cursor] (the boundary row's sort-key values, the
//     direction and a [Fingerprint] of the query) with XChaCha20-Poly1305
//     under a server key and encodes it as base64url. Clients cannot read or
//     forge it. Keys rotate: the newest key seals, every listed key opens.
//     Cursors expire (24 hours by default). Every decoding failure is a
//     [*CursorError] matching [ErrInvalidCursor]; decoding never panics.
//   - [Paginator.ParseRequest] reads the cursor, limit (1–100, default 20)
//     and sort query parameters. Sort fields come from a per-resource
//     whitelist ([Spec]); "sort=-date_debut,nom" mixes directions, and the
//     order is always tie-broken on the unique id column. Invalid input is a
//     [*RequestError] carrying an RFC 9457 problem (HTTP 400) that reveals
//     nothing of the cursor format.
//   - [Paginator.Plan] describes the page query as SQL text with "?"
//     placeholders, for PostgreSQL and SQLite: a row-value comparison when
//     the sort columns share one direction, the expanded OR form otherwise,
//     NULL-safe for nullable columns, always with an index range on the
//     first column; the ORDER BY items; limit+1 rows, to know whether more
//     follow. [Paginator.Page] turns the fetched rows into a page in display
//     order with its cursors. Package bunkeyset runs the plan on a bun
//     query; [Paginator.CursorAfter] gives offset (legacy) pages a
//     next_cursor.
//   - [Page] and [Info] form the response envelope
//     {"data":[...],"pagination":{"next_cursor":..,"prev_cursor":..,"has_more":..}};
//     [LinkHeader] and [WriteLink] build the RFC 8288 Link header with
//     rel="next" and rel="prev".
//
// A typical handler, with bunkeyset:
//
//	req, err := chantiers.ParseRequest(r.URL.Query(), filters.Encode())
//	if d, ok := pagination.Problem(err); ok {
//		problem.Write(w, r, d) // 400 application/problem+json
//		return
//	}
//	page, err := bunkeyset.Fetch(ctx, chantiers, db.NewSelect().Model((*Chantier)(nil)).Where(...), req)
//	if err != nil { ... } // a database error: 500
//	pagination.WriteLink(w, r.URL, page.Pagination)
//	json.NewEncoder(w).Encode(page)
//
// # The sort parameter
//
// "sort" lists fields separated by ",", each optionally prefixed by "-" for
// descending order, at most [Spec.MaxSortFields] of them, none repeated.
// There is one form only: no spaces and no "+" prefix (a query string
// decodes "+" to a space, so "sort=+nom" arrives as " nom" and is an
// unknown field). Adapters that report errors their own way read the field
// errors from [RequestError].Problem.Errors and the sortable fields from
// [Paginator.Allowed].
//
// # Ordering of NULL values
//
// Nullable sort columns ([Column.Nullable]) order NULL after every value in
// ascending order and first in descending order, on both dialects. This is
// PostgreSQL's default, so plain PostgreSQL indexes match the ORDER BY.
package pagination
