package graphql

import (
	"context"

	"github.com/hubchantier/hubchantier/hubapi"
)

// MaxPageSize bounds first and last, as on GitHub's GraphQL API.
const MaxPageSize = 100

// DefaultPageSize is the page size when neither first nor last is given.
const DefaultPageSize = 20

// pageRequest turns Relay arguments into a page request of a list use case.
// first goes forward from after; last goes backward from before (the
// startCursor of a page). Cursors are page cursors: the endCursor and
// startCursor of pageInfo.
func pageRequest(_ context.Context, first *int, after *string, last *int, before *string, sort string) (hubapi.PageRequest, error) {
	switch {
	case first != nil && last != nil:
		return hubapi.PageRequest{}, argError("last", "cannot be combined with first")
	case first != nil && (*first < 1 || *first > MaxPageSize):
		return hubapi.PageRequest{}, argError("first", "must be between 1 and 100")
	case last != nil && (*last < 1 || *last > MaxPageSize):
		return hubapi.PageRequest{}, argError("last", "must be between 1 and 100")
	case after != nil && before != nil:
		return hubapi.PageRequest{}, argError("before", "cannot be combined with after")
	case last != nil && before == nil:
		return hubapi.PageRequest{}, argError("last", "needs before (the startCursor of a page)")
	case before != nil && first != nil:
		return hubapi.PageRequest{}, argError("before", "goes with last, not first")
	case after != nil && last != nil:
		return hubapi.PageRequest{}, argError("after", "goes with first, not last")
	}
	pr := hubapi.PageRequest{Limit: DefaultPageSize, Sort: sort}
	switch {
	case first != nil:
		pr.Limit = *first
	case last != nil:
		pr.Limit = *last
	}
	switch {
	case after != nil:
		pr.Cursor = *after
	case before != nil:
		pr.Cursor = *before
	}
	if pr.Cursor == "" && (after != nil || before != nil) {
		return hubapi.PageRequest{}, argError(map[bool]string{true: "after", false: "before"}[after != nil], "must not be empty")
	}
	return pr, nil
}

// pageSize is the size a connection field asks for, for the complexity
// of the query (before any resolver runs).
func pageSize(first, last *int) int {
	switch {
	case first != nil && *first > 0:
		return min(*first, MaxPageSize)
	case last != nil && *last > 0:
		return min(*last, MaxPageSize)
	}
	return DefaultPageSize
}
