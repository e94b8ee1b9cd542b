package hubapi

// PageRequest asks a list use case for one page.
type PageRequest struct {
	// Cursor is the next_cursor or prev_cursor of an earlier page of the
	// same list (same filter and sort); "" asks for the first page.
	Cursor string
	// Page, when not zero, asks for a legacy offset page (from 1). It
	// cannot be combined with Cursor. The page then carries the exact Total
	// and a NextCursor, so that a client can switch to keyset paging.
	Page int
	// Limit is the page size: 0 for the default (20), at most 100.
	Limit int
	// Sort is the order in the "sort" syntax ("-created_at,nom": fields of
	// the resource's whitelist, "-" for descending); "" for the default.
	Sort string
}

// Page is one page of a list.
type Page[T any] struct {
	Items []T
	// NextCursor and PrevCursor continue the list ("" when there is no
	// such page).
	NextCursor, PrevCursor string
	// HasMore reports that a next page exists.
	HasMore bool
	// Total counts every row the filter selects on legacy offset pages; it
	// is -1 on keyset pages.
	Total int
	// Limit is the page size applied; Number the legacy page number (0 on
	// keyset pages).
	Limit, Number int
}

// Errors of the list use cases: an invalid cursor, sort or limit is a
// *pagination.RequestError (its Problem is the 400 answer); a cursor and a
// page number together is a *ValidationError naming "page".
