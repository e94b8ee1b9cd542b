package pagination

// Condition is a boolean SQL expression with "?" placeholders for Args, in
// order.
type Condition struct {
	SQL  string
	Args []any
}

// Plan is the database-neutral description of a page query, for the code
// that runs it (package bunkeyset for bun, or hand-written SQL): add a
// keyset condition to the caller's query, order it by OrderBy, fetch Limit
// rows and pass them, in that order, to [Paginator.Page].
//
// The SQL text is built from the trusted [Column.SQL] expressions, copied
// verbatim (bun's named placeholders such as ?TableAlias stay for bun to
// expand), with "?" for every value; a driver that numbers its placeholders
// ($1, $2, ...) needs them renumbered. ORDER BY items state NULLS FIRST or
// NULLS LAST for nullable columns, which PostgreSQL and SQLite (3.30+)
// understand.
type Plan struct {
	// Where keeps the rows beyond the request's cursor, as one expression.
	// Its SQL is "" on a first page (no cursor).
	Where Condition
	// Ranges is the same condition as one or two index-range conditions in
	// scan order: every row matching Ranges[0] comes before every row
	// matching Ranges[1]. Query them in turn, the second only for the rows
	// the first did not provide (Limit minus the rows already fetched).
	// There are two only when the first sort column is nullable and the
	// page crosses the block of NULLs, where Where would make the database
	// read the rows before the boundary; otherwise Ranges is {Where}. It is
	// empty on a first page.
	Ranges []Condition
	// OrderBy is the scan order, as ORDER BY items ("c.date_debut DESC
	// NULLS FIRST", "c.id ASC"): the request's order, reversed on a page
	// reached backward.
	OrderBy []string
	// DisplayOrderBy is the request's order, whatever the direction of the
	// scan: for offset (legacy) pages whose rows are then turned into
	// cursors with [Paginator.CursorAfter].
	DisplayOrderBy []string
	// Limit is the number of rows to fetch: the page size plus one, which
	// tells whether more rows follow.
	Limit int
}

// Plan returns the query plan of req, a request built by p. The only error
// is a request of another paginator (a programming error).
func (p *Paginator[T]) Plan(req *Request) (*Plan, error) {
	ts, err := p.terms(req)
	if err != nil {
		return nil, err
	}
	plan := &Plan{DisplayOrderBy: orderExprs(ts, false), Limit: req.limit + 1}
	plan.OrderBy = plan.DisplayOrderBy
	c := req.cursor
	if c == nil {
		return plan, nil
	}
	if c.Backward {
		plan.OrderBy = orderExprs(ts, true)
	}
	where, args := keysetWhere(ts, c.Values, c.Backward, c.Inclusive)
	plan.Where = Condition{SQL: where, Args: args}
	if head, args, tail := keysetSplit(ts, c.Values, c.Backward, c.Inclusive); tail != "" {
		plan.Ranges = []Condition{{SQL: head, Args: args}, {SQL: tail}}
	} else {
		plan.Ranges = []Condition{plan.Where}
	}
	return plan, nil
}
