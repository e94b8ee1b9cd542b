// Package audit records an exhaustive, append-only, tamper-evident audit
// trail of an HTTP API, on bun (PostgreSQL or SQLite). It never imports the
// product: the server gives it small funcs (route template, request id,
// client IP) and the use cases attach what they did through the context.
//
// # Capture and durability
//
// [Capture.Middleware] records one event per request, refused ones (401,
// 403, 429) included: method, route template (never the raw path), status,
// request id, actor ([SetActor], called by the authentication), client IP
// (the server's resolver), user agent and the SHA-256 of the body (never
// the body). Those events go through a bounded asynchronous [Writer]: its
// loss window and back-pressure are documented on the type.
//
// A change is different: the use case builds its event with [NewChange]
// (action, resource, {before, after} with secrets redacted by [Redact]) and
// appends it with [Store.Append] in the transaction of the change, so a
// change commits with its event or not at all. Its stage is [StageChange];
// the request's own event follows through the writer.
//
// # Storage
//
// [SchemaSQL] creates the tables. PostgreSQL: audit_events is partitioned
// by month (RANGE on ts); the migration creates the current and next
// months' partitions, [Store.EnsurePartition] creates one ahead (a periodic
// job) and on demand before the first append of a month, so an insert never
// finds no partition. SQLite: one plain table. Indexes: (ts DESC),
// (user_id, ts DESC), (resource_type, resource_id), and (chain, seq).
//
// # Append-only
//
// Triggers refuse UPDATE and DELETE of audit_events and audit_digests (and
// TRUNCATE on PostgreSQL), except on two paths the store opens inside one
// transaction:
//
//   - PostgreSQL: the transaction-local setting hub.audit_maintenance
//     (set_config(..., true)) is 'anonymise' (UPDATE of client_ip,
//     user_agent, pii_salt, changes, changes_salt and anonymised_at only
//     (the columns outside the chain); any other column
//     changed is refused) or 'retention' (DELETE);
//   - SQLite: a row 'anonymise' or 'retention' in audit_maintenance,
//     inserted at the start of the transaction and deleted before its
//     commit (SQLite runs one write transaction at a time, so no other
//     writer sees it).
//
// The triggers stop the application and mistakes, not the database's
// owner: a superuser can disable triggers (session_replication_role) or
// drop a partition. That is what the hash chain is for: [Store.Verify]
// finds the edit.
//
// # Hash chain and canonical encoding
//
// Each calendar month (UTC) has its chains: "YYYY-MM" (the partition's
// month) and, on PostgreSQL, "YYYY-MM.1" to "YYYY-MM.15" ([ChainShards]).
// An event's Seq counts from 1 in its chain; its PrevHash is the Hash of
// the event before ([GenesisHash] for the first); its Hash is hex SHA-256
// of its canonical encoding (version 1, see [ComputeHash]): the netstrings
// ("<len>:<bytes>,") of a fixed list of fields. Netstrings need no JSON
// canonicalisation, so any language recomputes them. Appends lock a chain's
// head row (audit_chain_heads) until their transaction commits, so
// concurrent writers never fork a chain; on PostgreSQL an append takes the
// first of the month's chains that no other transaction holds (FOR UPDATE
// SKIP LOCKED), so changes committing at the same time do not queue behind
// one row (they did: 8 to 12 of 50 connections waiting on it under
// cmd/hubbench's mix). A lone writer appends to "YYYY-MM" only. The
// asynchronous writer's batches are written with COPY on pgx.
//
// The client IP and user agent are not hashed directly: the chain covers
// PIIDigest = SHA-256(netstrings of a random salt, the IP, the user agent).
// Anonymisation (30 days, or a GDPR erasure: [Store.AnonymiseUser],
// [Store.AnonymiseBefore]) rewrites the IP to its /24 or /48 network, drops
// the user agent and erases the salt: the chain still verifies, and what
// remains cannot be brute-forced back to an address. The changes are
// committed the same way (ChangesDigest = SHA-256(netstrings of another
// salt, the changes)): a GDPR erasure drops the changes of the person's
// events and of other people's events about their rows, with the salt;
// while the salt is there, Verify checks the changes against the digest.
//
// # Signed digests
//
// [Store.Digest] (a periodic job) signs each chain's head (chain, seq,
// hash, time) with Ed25519 ([Signer]) into audit_digests. A digest pins
// the chain up to its seq: deleting a digested tail, or rewriting and
// re-hashing the whole chain, is caught. Verifiers check signatures with
// the public key; the private key stays with the server.
//
// # Retention and cold storage
//
// [Store.Export] writes a month as gzip JSON Lines, one section per chain
// (header, events in chain order, digests; the heads are signed first)
// that [VerifyArchive]
// checks offline. [Store.Retire] exports each month older than the
// retention, verifies the file, then drops the month (its partition on
// PostgreSQL).
package audit
