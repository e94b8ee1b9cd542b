package graphql

import (
	"context"
	"time"

	"github.com/vikstrous/dataloadgen"

	"github.com/hubchantier/hubchantier/hubapi"
)

// loaderWait is how long a loader collects keys before it reads: the
// resolvers of one list run concurrently and ask within microseconds.
const loaderWait = time.Millisecond

// loaders batch the references of one request: every chantier.responsable
// and every pointage.chantier (etc.) of a response is read in one query per
// kind, through the ReferenceService use cases. They live for one request
// (their cache is the request's), so they never serve another caller's
// data.
type loaders struct {
	users     *dataloadgen.Loader[int64, *hubapi.UserSummary]
	chantiers *dataloadgen.Loader[int64, *hubapi.Chantier]
}

type loadersKey struct{}

func newLoaders(refs hubapi.ReferenceService) *loaders {
	return &loaders{
		users: dataloadgen.NewLoader(func(ctx context.Context, ids []int64) ([]*hubapi.UserSummary, []error) {
			m, err := refs.UserSummaries(ctx, ids)
			return ordered(ids, m, err)
		}, dataloadgen.WithWait(loaderWait)),
		chantiers: dataloadgen.NewLoader(func(ctx context.Context, ids []int64) ([]*hubapi.Chantier, []error) {
			m, err := refs.ChantiersByID(ctx, ids)
			return ordered(ids, m, err)
		}, dataloadgen.WithWait(loaderWait)),
	}
}

// ordered lists m's values in the order of ids; a missing id is nil (a
// reference to a row the caller cannot see, or that is gone, reads null).
func ordered[V any](ids []int64, m map[int64]*V, err error) ([]*V, []error) {
	if err != nil {
		return nil, []error{err}
	}
	out := make([]*V, len(ids))
	for i, id := range ids {
		out[i] = m[id]
	}
	return out, nil
}

func withLoaders(ctx context.Context, l *loaders) context.Context {
	return context.WithValue(ctx, loadersKey{}, l)
}

func loadersFrom(ctx context.Context) *loaders {
	l, _ := ctx.Value(loadersKey{}).(*loaders)
	return l
}

// prefetchChantiers puts the chantiers a page refers to into one batch of
// the request's loader right away, when the query selects them, so that
// the batch does not depend on how the item resolvers are scheduled.
func prefetchChantiers[T any](ctx context.Context, items []*T, chantierID func(*T) int64) {
	l := loadersFrom(ctx)
	if l == nil || len(items) == 0 || !selectsNodeField(ctx, "chantier") {
		return
	}
	ids := make([]int64, len(items))
	for i, it := range items {
		ids[i] = chantierID(it)
	}
	_ = l.chantiers.LoadAllThunk(ctx, ids)
}
