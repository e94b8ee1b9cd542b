// Package seed fills a Hub Chantier database with realistic French data:
// users of every role (French names, e-mails at seed.hubchantier.fr),
// chantiers with unique codes CH-YYYY-NNNNNNN, addresses in real communes
// with their postal codes and coordinates, budgets, planned dates and states
// that follow the calendar, and their pointages, signalements, affectations
// and documents.
//
// It is built for volume: `hubchantier seed --chantiers 1000000` loads a
// million chantiers and about 3.8 million related rows into PostgreSQL with
// binary COPY, and a benchmark command can call it directly:
//
//	res, err := seed.Run(ctx, db, seed.Options{Chantiers: 100_000, Seed: 1})
//
// Properties other code may rely on:
//   - Deterministic: the same Seed, options and Now give the same rows.
//   - Realistic orderings: created_at spreads over the past years (more
//     recent years hold more rows, as a growing company's would) and ids
//     follow created_at in every table, so keyset pagination on
//     (created_at, id) sees a realistic distribution.
//   - Valid: every row passes the domain validation of its type, foreign
//     keys hold, states agree with their dates (a chantier is en_cours
//     between its dates, a signalement has resolved_at exactly when it is
//     resolu or ferme, no pointage is dated in the future, nothing is
//     created after Now; only affectations are planned ahead).
//   - All or nothing: one transaction; a failed or cancelled run leaves the
//     database as it was.
//   - Seeded documents have a placeholder content when Options.Blobs is
//     set: one small valid file per format, hard-linked under each
//     document's storage key; the rows record its size and SHA-256.
//   - Appending gives the new chantiers related rows too, entered after
//     the rows already there, so ids keep following created_at.
package seed
