package pagination

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

var errForeignRequest = errors.New("pagination: the request was built by another paginator")

// term is one column of a resolved order.
type term struct {
	sql      string
	nullable bool
	desc     bool // display direction
}

func (p *Paginator[T]) terms(req *Request) ([]term, error) {
	if req == nil || req.owner != p {
		return nil, errForeignRequest
	}
	ts := make([]term, len(req.sort))
	for i, k := range req.sort {
		c := p.cols[k.Field]
		ts[i] = term{sql: c.sql, nullable: c.nullable, desc: k.Desc}
	}
	return ts, nil
}

// Page turns rows fetched as [Paginator.Plan] describes (in the plan's scan
// order, up to Plan.Limit of them) into a page: it drops the extra row, puts
// rows in display order (reordering the slice in place) and builds the
// cursors.
//
// has_more is true when a next page exists. After a backward step it is
// true, as the row the cursor came from follows the page. A page emptied by
// concurrent deletions still carries a cursor back the way it came.
func (p *Paginator[T]) Page(req *Request, rows []T) (*Page[T], error) {
	if req == nil || req.owner != p {
		return nil, errForeignRequest
	}
	more := len(rows) > req.limit
	if more {
		rows = rows[:req.limit]
	}
	cur := req.cursor
	backward := cur != nil && cur.Backward
	if backward {
		slices.Reverse(rows)
	}
	if rows == nil {
		rows = []T{}
	}
	page := &Page[T]{Data: rows}
	info := &page.Pagination
	var err error
	switch {
	case len(rows) == 0:
		// Nothing on this side of the boundary: offer the way back, that is
		// the other side of the same boundary, unless the request already
		// came from there.
		if cur != nil && !cur.Inclusive {
			back := Cursor{Values: cur.Values, Backward: !cur.Backward, Inclusive: true}
			tok, e := p.codec.Encode(back, req.fp)
			if backward {
				info.NextCursor, err = tok, e
			} else {
				info.PrevCursor, err = tok, e
			}
		}
	case backward:
		if more {
			info.PrevCursor, err = p.cursorAt(req, &rows[0], true)
		}
		if err == nil && !cur.Inclusive {
			info.NextCursor, err = p.cursorAt(req, &rows[len(rows)-1], false)
		}
	default:
		if more {
			info.NextCursor, err = p.cursorAt(req, &rows[len(rows)-1], false)
		}
		if err == nil && cur != nil && !cur.Inclusive {
			info.PrevCursor, err = p.cursorAt(req, &rows[0], true)
		}
	}
	if err != nil {
		return nil, err
	}
	info.HasMore = info.NextCursor != ""
	return page, nil
}

// CursorAfter returns a cursor for the page that follows row in the
// request's order: the next_cursor of an offset (legacy) page whose last row
// is row, ordered by [Plan].DisplayOrderBy (bunkeyset.OrderBy on bun).
func (p *Paginator[T]) CursorAfter(req *Request, row *T) (string, error) {
	if req == nil || req.owner != p {
		return "", errForeignRequest
	}
	return p.cursorAt(req, row, false)
}

// CursorBefore returns a cursor for the page that precedes row (the
// prev_cursor of an offset page whose first row is row).
func (p *Paginator[T]) CursorBefore(req *Request, row *T) (string, error) {
	if req == nil || req.owner != p {
		return "", errForeignRequest
	}
	return p.cursorAt(req, row, true)
}

func (p *Paginator[T]) cursorAt(req *Request, row *T, backward bool) (string, error) {
	values := make([]any, len(req.sort))
	for i, k := range req.sort {
		c := p.cols[k.Field]
		v, err := normalizeValue(c.key(row))
		if err != nil {
			return "", fmt.Errorf("pagination: %s: key of %q: %w", p.resource, k.Field, err)
		}
		if v == nil && !c.nullable {
			return "", fmt.Errorf("pagination: %s: key of %q is NULL but the column is not marked Nullable", p.resource, k.Field)
		}
		values[i] = v
	}
	return p.codec.Encode(Cursor{Values: values, Backward: backward}, req.fp)
}

// orderExprs renders ORDER BY items for scanning in display order, or in
// reverse for a backward page. NULL sorts after every value ascending, as
// in PostgreSQL; saying so explicitly makes SQLite agree.
func orderExprs(ts []term, backward bool) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		desc := t.desc != backward
		var b strings.Builder
		b.WriteString(t.sql)
		if desc {
			b.WriteString(" DESC")
		} else {
			b.WriteString(" ASC")
		}
		if t.nullable {
			if desc {
				b.WriteString(" NULLS FIRST")
			} else {
				b.WriteString(" NULLS LAST")
			}
		}
		out[i] = b.String()
	}
	return out
}

// keysetWhere renders the condition "row comes after the boundary vals in
// the scan order" (before it, in display order, when backward), with "?"
// placeholders.
//
// The scan order is a list of columns, each compared with ">" ("greater")
// or "<". When a run of trailing columns is NOT NULL and shares one
// comparison, it becomes one row-value comparison, (a, b, id) > (?, ?, ?),
// which both PostgreSQL and SQLite answer from a matching index. Otherwise
// the expanded form a > ? OR (a = ? AND (...)) is used, with NULL-safe
// comparisons for nullable columns (NULL being greater than every value).
//
// At the top level, when the first column can be bounded, the form is
// a >= ? AND (a <> ? OR (...)): the bound is an index range for the planner,
// and the OR has no indexable branch of its own, which keeps PostgreSQL from
// answering with a bitmap scan and a sort instead of walking the index.
func keysetWhere(ts []term, vals []any, backward, inclusive bool) (string, []any) {
	b := keysetBuilder{ts: ts, vals: vals, backward: backward, inclusive: inclusive}
	if len(ts) < 2 || b.rowValueFrom(0) {
		b.expr(0)
		return b.sb.String(), b.args
	}
	t, v, g := ts[0], vals[0], b.greater(0)
	switch {
	case v != nil && (!t.nullable || !g):
		// a >= v excludes NULL, which is only beyond v when greater and
		// nullable (handled below).
		b.cmp(t.sql, g, true, v)
		b.sb.WriteString(" AND (")
		b.sb.WriteString(t.sql)
		b.sb.WriteString(" <> ? OR ")
		b.args = append(b.args, v)
		b.expr(1)
		b.sb.WriteByte(')')
	case v == nil && g:
		// nothing is beyond NULL: stay in the NULL group
		b.sb.WriteString(t.sql)
		b.sb.WriteString(" IS NULL AND ")
		b.expr(1)
	default:
		b.expr(0)
	}
	return b.sb.String(), b.args
}

// keysetSplit handles the two cases where the first column is nullable and
// keysetWhere cannot bound it: the rows beyond the boundary are then the
// rows of head (on the boundary's side of the NULL block, bounded), followed
// in scan order by every row of tail. tail is "" in the other cases.
func keysetSplit(ts []term, vals []any, backward, inclusive bool) (head string, args []any, tail string) {
	if len(ts) < 2 || !ts[0].nullable {
		return "", nil, ""
	}
	b := keysetBuilder{ts: ts, vals: vals, backward: backward, inclusive: inclusive}
	a, v, g := ts[0].sql, vals[0], b.greater(0)
	switch {
	case v != nil && g: // values beyond v, then the NULLs (greatest)
		b.cmp(a, true, true, v)
		b.sb.WriteString(" AND (" + a + " <> ? OR ")
		b.args = append(b.args, v)
		b.expr(1)
		b.sb.WriteByte(')')
		tail = a + " IS NULL"
	case v == nil && !g: // the rest of the NULL block, then every value
		b.sb.WriteString(a + " IS NULL AND ")
		b.expr(1)
		tail = a + " IS NOT NULL"
	default:
		return "", nil, ""
	}
	return b.sb.String(), b.args, tail
}

type keysetBuilder struct {
	ts        []term
	vals      []any
	backward  bool
	inclusive bool
	sb        strings.Builder
	args      []any
}

func (b *keysetBuilder) greater(i int) bool { return b.ts[i].desc == b.backward }

// rowValueFrom reports whether columns i.. can be compared as one row value.
func (b *keysetBuilder) rowValueFrom(i int) bool {
	if len(b.ts)-i < 2 {
		return false
	}
	g := b.greater(i)
	for j := i; j < len(b.ts); j++ {
		if b.ts[j].nullable || b.greater(j) != g {
			return false
		}
	}
	return true
}

func (b *keysetBuilder) cmp(sql string, greater, orEqual bool, v any) {
	b.sb.WriteString(sql)
	switch {
	case greater && orEqual:
		b.sb.WriteString(" >= ?")
	case greater:
		b.sb.WriteString(" > ?")
	case orEqual:
		b.sb.WriteString(" <= ?")
	default:
		b.sb.WriteString(" < ?")
	}
	b.args = append(b.args, v)
}

// expr writes the condition on columns i.. given equality on columns ..i-1.
func (b *keysetBuilder) expr(i int) {
	last := i == len(b.ts)-1
	if b.rowValueFrom(i) {
		b.sb.WriteByte('(')
		for j := i; j < len(b.ts); j++ {
			if j > i {
				b.sb.WriteString(", ")
			}
			b.sb.WriteString(b.ts[j].sql)
		}
		b.sb.WriteString(") ")
		switch g := b.greater(i); {
		case g && b.inclusive:
			b.sb.WriteString(">=")
		case g:
			b.sb.WriteString(">")
		case b.inclusive:
			b.sb.WriteString("<=")
		default:
			b.sb.WriteString("<")
		}
		b.sb.WriteString(" (")
		for j := i; j < len(b.ts); j++ {
			if j > i {
				b.sb.WriteString(", ")
			}
			b.sb.WriteByte('?')
			b.args = append(b.args, b.vals[j])
		}
		b.sb.WriteByte(')')
		return
	}
	t, v, g := b.ts[i], b.vals[i], b.greater(i)
	if last { // the id column: NOT NULL
		b.cmp(t.sql, g, b.inclusive, v)
		return
	}
	// strictly beyond v on this column, or equal and beyond on the next ones
	b.sb.WriteByte('(')
	switch {
	case !t.nullable || v != nil && !g:
		b.cmp(t.sql, g, false, v)
		b.sb.WriteString(" OR (")
	case v != nil && g:
		b.sb.WriteByte('(')
		b.cmp(t.sql, true, false, v)
		b.sb.WriteString(" OR " + t.sql + " IS NULL) OR (")
	case v == nil && !g:
		b.sb.WriteString(t.sql + " IS NOT NULL OR (")
	default: // v NULL, greater: nothing is beyond NULL, only the equality
	}
	if v == nil {
		b.sb.WriteString(t.sql + " IS NULL AND ")
	} else {
		b.sb.WriteString(t.sql + " = ? AND ")
		b.args = append(b.args, v)
	}
	b.expr(i + 1)
	if !(v == nil && g) {
		b.sb.WriteByte(')')
	}
	b.sb.WriteByte(')')
}
