// Package batch serves POST /api/v1/batch and POST /api/v2/batch: up to
// 100 operations in one request, each dispatched in-process to the API's
// router as a request of its own, so that it passes the same scope
// check, permissions, validation, preconditions (If-Match per operation),
// field selection, ETags and response cache as if sent alone, with the
// batch caller's principal. There is no shortcut to the use cases: an operation the caller
// may not perform fails alone with its own 403.
//
// A batch is best effort by default: each operation commits on its own, in
// request order, or with "parallel": true on a bounded pool of workers as
// soon as the operations it depends on are done. "atomic": true runs every
// operation in one unit of work (hubapi.UnitOfWork, one transaction): the
// first failure rolls everything back, keeps its own status and marks the
// others 424; domain events and cache invalidations happen on commit only.
// An atomic batch runs one operation after the other even with "parallel":
// a transaction is one connection, which runs one statement at a time.
//
// Operations refer to earlier results: {"$ref": "op1.body.id"} anywhere in
// a body is replaced by that JSON value; {op1.body.id} in a path or header
// by its text (escaped as one path segment). Unknown, cyclic and forward
// references, nested batches and batches of more than MaxOperations are
// refused with a 400 problem naming the operation.
//
//	h, err := batch.New(batch.Config{Target: router, UnitOfWork: svc, Limit: opsLimiter.Middleware})
//
// One handler serves one API version: Config.Prefix is what its operation
// paths are relative to (a path of another version is refused), and
// Config.Naming spells the envelope's members like that version
// (depends_on in v1, dependsOn with CamelCase for v2).
//
// See docs/BATCH.md for the wire format and examples.
package batch
