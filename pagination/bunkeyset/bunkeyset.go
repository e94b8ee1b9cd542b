package bunkeyset

import (
	"context"
	"errors"
	"fmt"

	"github.com/uptrace/bun"

	"github.com/hubchantier/hubchantier/pagination"
)

// Apply adds the keyset condition, the ORDER BY and LIMIT limit+1 to q and
// returns it. Scan the rows in query order and pass them to
// [pagination.Paginator.Page]; [Fetch] does both. q must have no ORDER BY,
// LIMIT or OFFSET of its own.
//
// Apply expresses the page as one query. When the first sort column is
// nullable, Fetch may instead run two (see [Fetch]), which keeps deep pages
// cheap; prefer Fetch.
func Apply[T any](q *bun.SelectQuery, p *pagination.Paginator[T], req *pagination.Request) *bun.SelectQuery {
	plan, err := p.Plan(req)
	if err != nil {
		return q.Err(err)
	}
	return scan(q, plan.Where, plan.OrderBy, plan.Limit)
}

// OrderBy adds only the request's ORDER BY (display order) to q: for offset
// (legacy) pages whose last row is then turned into a cursor with
// [pagination.Paginator.CursorAfter].
func OrderBy[T any](q *bun.SelectQuery, p *pagination.Paginator[T], req *pagination.Request) *bun.SelectQuery {
	plan, err := p.Plan(req)
	if err != nil {
		return q.Err(err)
	}
	for _, o := range plan.DisplayOrderBy {
		q = q.OrderExpr(o)
	}
	return q
}

// Fetch runs the page query: q (a select with the caller's model, filters
// and joins, but no ORDER BY, LIMIT or OFFSET; it is cloned, not modified)
// plus the keyset condition. It returns the page's rows in display order and
// its cursors. Errors are database errors or programming errors (a request
// of another paginator, an unsupported key type): answer them with 500.
//
// When the first sort column is nullable and the page starts outside the
// block of NULLs but runs toward it (or starts inside it and runs toward
// the values), no single index range covers the page. Fetch then queries
// the part on the boundary's side first and, if the page is not full, the
// rest in a second query, so that both use an index range.
//
// Fetch scans with q.Scan(ctx, &rows). For has-many relations, which bun
// only loads through Model, use [Apply], scan yourself, then
// [pagination.Paginator.Page].
func Fetch[T any](ctx context.Context, p *pagination.Paginator[T], q *bun.SelectQuery, req *pagination.Request) (*pagination.Page[T], error) {
	plan, err := p.Plan(req)
	if err != nil {
		return nil, err
	}
	if q == nil {
		return nil, errors.New("bunkeyset: nil query")
	}
	rows := make([]T, 0, plan.Limit)
	if len(plan.Ranges) <= 1 {
		err = scan(q.Clone(), plan.Where, plan.OrderBy, plan.Limit).Scan(ctx, &rows)
	} else {
		for _, r := range plan.Ranges {
			if len(rows) == plan.Limit {
				break
			}
			more := make([]T, 0, plan.Limit-len(rows))
			if err = scan(q.Clone(), r, plan.OrderBy, plan.Limit-len(rows)).Scan(ctx, &more); err != nil {
				break
			}
			rows = append(rows, more...)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("bunkeyset: page query: %w", err)
	}
	return p.Page(req, rows)
}

// scan adds the condition (if any), the order and the limit to q.
func scan(q *bun.SelectQuery, where pagination.Condition, order []string, limit int) *bun.SelectQuery {
	if where.SQL != "" {
		q = q.Where(where.SQL, where.Args...)
	}
	for _, o := range order {
		q = q.OrderExpr(o)
	}
	return q.Limit(int64(limit))
}
