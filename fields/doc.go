// Package fields implements sparse fieldsets for JSON APIs: clients ask only
// for the members they need, as in
//
//	GET /api/v1/chantiers?fields=id,nom,responsable(nom,prenom)
//
// The package has four parts:
//
//   - A grammar (Parse): comma lists, dotted paths (responsable.nom), groups
//     (responsable(nom,prenom)) and "*", in the spirit of Google partial
//     responses, JSON:API sparse fieldsets and Microsoft Graph $select.
//     Equivalent expressions give equal selections with one canonical String,
//     usable in cache keys and entity tags. Errors give the byte offset and the
//     reason; Problem turns them into RFC 9457 400 responses.
//   - A whitelist (Schema): a tree of the members a client may select, declared
//     next to the resource. Members not declared (password hashes, key hashes,
//     internal columns) can never be selected, at any depth. An unknown name
//     gets a 400 listing the allowed names and the closest one.
//   - Projection (Projector, Write, Middleware): a selection applied to any
//     JSON-encodable value, lists and list envelopes ({"data":[...]}) included,
//     without decoding the document. "id" is always returned.
//   - Push-down (Selection.Columns, Joins, Sub): the SQL columns and joins the
//     selection needs, so a handler reads only what it returns.
//
// A resource declares its schema once:
//
//	var userSummary = fields.MustSchema(
//		fields.F("id", "id"), fields.F("nom", "nom"), fields.F("prenom", "prenom"))
//
//	var ChantierSchema = fields.MustSchema(
//		fields.F("id", "id"), fields.F("nom", "nom"), fields.F("adresse", "adresse"),
//		fields.Nested("responsable", userSummary, fields.Join("Responsable")),
//	)
//
// and a handler parses, pushes down and writes:
//
//	sel, err := fields.ParseRequest(r, ChantierSchema)
//	if err != nil {
//		problem.Write(w, r, fields.Problem(err))
//		return
//	}
//	q := db.NewSelect().Model(&rows).Column(sel.Columns()...)
//	if sub := sel.Sub("responsable"); sub != nil {
//		q = q.Relation("Responsable", func(q *bun.SelectQuery) *bun.SelectQuery {
//			return q.Column(sub.Columns()...)
//		})
//	}
//	// ... scan, map to DTOs ...
//	_ = fields.Write(w, http.StatusOK, page, sel)
//
// Services that cannot change their handlers wrap them with Middleware, which
// buffers and projects their 200 JSON responses.
package fields
