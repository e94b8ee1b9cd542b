// Package bunkeyset runs the keyset pages of package pagination on bun
// queries (github.com/uptrace/bun), on PostgreSQL and SQLite.
//
// The root package plans a page without any database library
// ([pagination.Paginator.Plan]); this package adds the plan to a
// *bun.SelectQuery and scans it:
//
//   - [Fetch] runs the page (in two index-range queries when the first
//     sort column is nullable and the page crosses the NULL block) and
//     returns it in display order with its cursors;
//   - [Apply] adds the keyset condition, ORDER BY and LIMIT to a query the
//     caller scans, before [pagination.Paginator.Page];
//   - [OrderBy] adds the request's order alone, for offset (legacy) pages
//     whose last row becomes a cursor with
//     [pagination.Paginator.CursorAfter].
//
// The caller's query carries the model, filters and joins, and no ORDER BY,
// LIMIT or OFFSET of its own:
//
//	page, err := bunkeyset.Fetch(ctx, chantiers, db.NewSelect().Model((*Chantier)(nil)).Where("c.statut = ?", statut), req)
package bunkeyset
