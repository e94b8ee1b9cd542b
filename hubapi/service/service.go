// Package service holds the Hub Chantier use cases. Every adapter (REST v1,
// later v2, GraphQL, batch) calls them: they authorize the caller from the
// principal in the context, validate input, write in a transaction with
// optimistic concurrency, and publish domain events after commit.
package service

import (
	"context"
	"sync"
	"time"

	"github.com/uptrace/bun"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/store"
)

// Service implements the hubapi service interfaces.
type Service struct {
	db        *store.DB
	blobs     hubapi.BlobStore
	pub       hubapi.Publisher
	now       func() time.Time
	maxUpload int64
	auth      sync.Map // API key hash → authEntry
}

// Option configures a Service.
type Option func(*Service)

// WithPublisher sets where domain events go (default: discarded).
func WithPublisher(p hubapi.Publisher) Option { return func(s *Service) { s.pub = p } }

// WithClock sets the clock (tests).
func WithClock(now func() time.Time) Option {
	return func(s *Service) { s.now = func() time.Time { return now().UTC().Truncate(time.Microsecond) } }
}

// WithMaxUpload sets the document size limit in bytes (default 25 MiB).
func WithMaxUpload(n int64) Option { return func(s *Service) { s.maxUpload = n } }

// New returns the use cases over db, storing document contents in blobs.
func New(db *store.DB, blobs hubapi.BlobStore, opts ...Option) *Service {
	s := &Service{db: db, blobs: blobs, pub: hubapi.PublisherFunc(func(context.Context, hubapi.Event) {}),
		now: store.Now, maxUpload: 25 << 20}
	for _, o := range opts {
		o(s)
	}
	return s
}

// DB returns the underlying store.
func (s *Service) DB() *store.DB { return s.db }

var (
	_ hubapi.ChantierService    = (*Service)(nil)
	_ hubapi.PointageService    = (*Service)(nil)
	_ hubapi.DocumentService    = (*Service)(nil)
	_ hubapi.SignalementService = (*Service)(nil)
	_ hubapi.AffectationService = (*Service)(nil)
	_ hubapi.APIKeyService      = (*Service)(nil)
	_ hubapi.UserService        = (*Service)(nil)
	_ hubapi.StatsService       = (*Service)(nil)
)

// caller returns the principal after checking scope.
func caller(ctx context.Context, scope hubapi.Scope) (*hubapi.Principal, error) {
	p := hubapi.PrincipalFrom(ctx)
	if err := p.Require(scope); err != nil {
		return nil, err
	}
	return p, nil
}

func (s *Service) tx(ctx context.Context, fn func(ctx context.Context, tx bun.Tx) error) error {
	return s.db.RunInTx(ctx, nil, fn)
}

func (s *Service) emit(ctx context.Context, p *hubapi.Principal, t hubapi.EventType, resource string, id int64, data any) {
	var actor int64
	if p != nil {
		actor = p.UserID
	}
	s.pub.Publish(ctx, hubapi.Event{Type: t, Resource: resource, ResourceID: id, ActorID: actor, At: s.now(), Data: data})
}

// checkVersion reports ErrPrecondition when the caller based its write on a
// version other than the stored one (ifVersion 0 = unconditional).
func checkVersion(stored, ifVersion int64) error {
	if ifVersion != 0 && stored != ifVersion {
		return hubapi.Errorf(hubapi.ErrPrecondition, "the resource has changed (version %d, expected %d)", stored, ifVersion)
	}
	return nil
}

// mustExist reports a field error when the referenced row does not exist.
func mustExist[T any](ctx context.Context, db bun.IDB, id int64, field string) error {
	if id == 0 {
		return nil
	}
	ok, err := store.Exists[T](ctx, db, id)
	if err != nil {
		return err
	}
	if !ok {
		return &hubapi.ValidationError{Fields: map[string]string{field: "does not exist"}}
	}
	return nil
}

// ownOnly reports whether p may only see its own rows (compagnons).
func ownOnly(p *hubapi.Principal) bool { return p.Role == hubapi.RoleCompagnon }

// MaxUpload returns the document size limit in bytes.
func (s *Service) MaxUpload() int64 { return s.maxUpload }
