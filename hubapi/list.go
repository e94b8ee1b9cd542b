package hubapi

// SortField is one column of an ORDER BY, chosen from a per-resource
// whitelist by the adapter.
type SortField struct {
	Field string
	Desc  bool
}

// ListParams is the legacy offset pagination and the sort order.
type ListParams struct {
	Offset int
	Limit  int
	Sort   []SortField
	// NoCount skips counting the total (Total is then -1).
	NoCount bool
}

// List is one page of a list.
type List[T any] struct {
	Items []T
	Total int // -1 when not counted
}
