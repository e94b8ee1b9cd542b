package hubapi

import "context"

// ReferenceService resolves references between resources in batches, for
// adapters that follow them across a whole response at once (GraphQL
// dataloaders): one query per batch, however many rows refer.
type ReferenceService interface {
	// UserSummaries returns the public face of the users among ids that
	// exist. It needs chantiers:read, the scope under which users appear
	// (as responsables). Errors: ErrForbidden.
	UserSummaries(ctx context.Context, ids []int64) (map[int64]*UserSummary, error)
	// ChantiersByID returns the chantiers among ids that exist. It needs
	// chantiers:read. Errors: ErrForbidden.
	ChantiersByID(ctx context.Context, ids []int64) (map[int64]*Chantier, error)
}
