// Package service holds the Hub Chantier use cases. Every adapter (REST v1,
// later v2, GraphQL, batch) calls them: they authorize the caller from the
// principal in the context, validate input, write in a transaction with
// optimistic concurrency, record domain events in the write's transaction
// (the outbox) and publish them in-process after commit.
package service

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/uptrace/bun"

	"github.com/hubchantier/hubchantier/audit"
	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/store"
	"github.com/hubchantier/hubchantier/notify"
	"github.com/hubchantier/hubchantier/pagination"
	"github.com/hubchantier/hubchantier/secretbox"
	"github.com/hubchantier/hubchantier/webhooks"
)

// Service holds the use cases that act on behalf of a caller: every
// exported method that takes a context authorizes the principal in it
// (hubapi.PrincipalFrom) before doing anything. Adapters (REST, GraphQL,
// batch) get it through the hubapi service interfaces.
type Service struct{ *deps }

// Operator holds the operations that check no caller (see
// hubapi.OperatorService): only cmd and the server's wiring build one, with
// NewOperator, and no adapter is given it.
type Operator struct{ *deps }

// deps is what Service and Operator share: the operator's key revocations
// reach the callers' authentication cache at once.
type deps struct {
	db        *store.DB
	blobs     hubapi.BlobStore
	pub       hubapi.Publisher
	outbox    Outbox
	webhooks  WebhookQueue
	secrets   *secretbox.Keyring
	guard     webhooks.Guard
	now       func() time.Time
	maxUpload int64
	codec     *pagination.Codec
	pages     pagers
	auth      sync.Map // API key hash → authEntry
	authGen   atomic.Uint64
	authLive  atomic.Pointer[func() bool]
	// deferDB is db for units of work that defer their inserts
	deferOnce sync.Once
	deferDB   *store.DB
	// audit records the changes in their transaction (audit.go)
	audit *audit.Store
	// auditPages pages the audit trail (see auditPager)
	auditPages     *pagination.Paginator[audit.Event]
	auditPagerOnce sync.Once
	// GDPR rights (privacy.go)
	notifier   notify.Notifier
	auditTrail hubapi.AuditTrail
	grants     hubapi.OAuthGrants
	log        *slog.Logger
	// API key security (apikey_security.go, anomaly.go)
	rotationGrace time.Duration
	keyPage       string
	anomaly       AnomalyConfig
	// connectors (connector.go); nil: not configured
	connectors *ConnectorDeps
	// accounting resources (finance.go)
	finance financePagers
}

// Option configures a Service.
type Option func(*deps)

// WithPublisher sets where domain events go (default: discarded).
func WithPublisher(p hubapi.Publisher) Option { return func(d *deps) { d.pub = p } }

// WithClock sets the clock (tests).
func WithClock(now func() time.Time) Option {
	return func(d *deps) { d.now = func() time.Time { return now().UTC().Truncate(time.Microsecond) } }
}

// WithMaxUpload sets the document size limit in bytes (default 25 MiB).
func WithMaxUpload(n int64) Option { return func(d *deps) { d.maxUpload = n } }

// WithCursorCodec sets the codec that seals list cursors. Without it, a
// codec with a random key is made: cursors then hold only within this
// process.
func WithCursorCodec(c *pagination.Codec) Option { return func(d *deps) { d.codec = c } }

// New returns the use cases over db, storing document contents in blobs.
func New(db *store.DB, blobs hubapi.BlobStore, opts ...Option) *Service {
	d := &deps{db: db, blobs: blobs, pub: hubapi.PublisherFunc(func(context.Context, hubapi.Event) {}),
		now: store.Now, maxUpload: 25 << 20, log: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o(d)
	}
	if d.codec == nil {
		d.codec = pagination.MustNewCodec([][]byte{randomKey(pagination.KeySize)})
	}
	if d.secrets == nil {
		d.secrets, _ = secretbox.NewKeyring(secretbox.Key{ID: "process", Key: randomKey(secretbox.KeySize)})
	}
	if d.auditTrail == nil && d.audit != nil {
		d.auditTrail = storeTrail{st: d.audit}
	}
	d.pages = newPagers(d.codec)
	d.finance = newFinancePagers(d.codec)
	return &Service{d}
}

func randomKey(n int) []byte {
	key := make([]byte, n)
	_, _ = rand.Read(key) // crypto/rand.Read never fails (Go 1.24+)
	return key
}

// NewOperator returns the operations of s that check no caller. Give it only
// to operator code (CLI, server wiring), never to an adapter.
func NewOperator(s *Service) *Operator { return &Operator{s.deps} }

var (
	_ hubapi.ChantierService       = (*Service)(nil)
	_ hubapi.PointageService       = (*Service)(nil)
	_ hubapi.DocumentService       = (*Service)(nil)
	_ hubapi.SignalementService    = (*Service)(nil)
	_ hubapi.AffectationService    = (*Service)(nil)
	_ hubapi.APIKeyService         = (*Service)(nil)
	_ hubapi.APIKeySecurityService = (*Service)(nil)
	_ hubapi.UserService           = (*Service)(nil)
	_ hubapi.StatsService          = (*Service)(nil)
	_ hubapi.WebhookService        = (*Service)(nil)
	_ hubapi.PrivacyService        = (*Service)(nil)
	_ hubapi.ConnectorService      = (*Service)(nil)
	_ hubapi.OperatorService       = (*Operator)(nil)
	_ hubapi.UnitOfWork            = (*Service)(nil)
)

// allow returns the caller after checking that it may do a on some rows
// of r (hubapi.Can with no row), before anything is read.
func allow(ctx context.Context, r hubapi.Resource, a hubapi.Action) (*hubapi.Principal, error) {
	p := hubapi.PrincipalFrom(ctx)
	if err := hubapi.Can(p, r, a, nil); err != nil {
		return nil, err
	}
	return p, nil
}

// replaceWith is the change of a replacement (PUT): in, whatever the
// current fields are.
func replaceWith[In any](in In) func(In) (In, error) {
	return func(In) (In, error) { return in, nil }
}

// Outbox records domain events in the transaction of the write that caused
// them (hubapi/jobs enqueues them as jobs): an event exists exactly when its
// write committed.
type Outbox interface {
	Enqueue(ctx context.Context, tx bun.Tx, e hubapi.Event) error
}

// outboxMany is an Outbox that records several events with one statement:
// a unit of work records its events together, before its commit.
type outboxMany interface {
	EnqueueMany(ctx context.Context, tx bun.Tx, events []hubapi.Event) error
}

// WithOutbox sets where events are recorded in each write's transaction
// (default: nowhere; they are still published in-process after commit).
func WithOutbox(o Outbox) Option { return func(d *deps) { d.outbox = o } }

// pendingEvents collects the events of one transaction, published in-process
// once it has committed, and what else must wait for the commit.
type pendingEvents struct {
	events []hubapi.Event
	after  []func()
	// audits are the change events appended before the commit; before
	// holds the rows' states as locked, by resource/id (see noteBefore).
	audits []*audit.Event
	before map[string]any
}

type pendingKey struct{}

// unitOfWork is the transaction that the use cases called in an
// Atomically context join, with what waits for its commit.
type unitOfWork struct {
	tx      bun.Tx
	pending *pendingEvents
	// outboxed are the events waiting to be recorded together (outboxMany)
	outboxed []hubapi.Event
}

type unitOfWorkKey struct{}

func unitOfWorkFrom(ctx context.Context) *unitOfWork {
	u, _ := ctx.Value(unitOfWorkKey{}).(*unitOfWork)
	return u
}

// Atomically implements hubapi.UnitOfWork: the use cases that fn calls with
// the context it is given run in one transaction; their events are
// published, and their announcements made, after its commit only. A call
// inside another unit of work joins it. It serves callers only: without a
// principal in ctx it refuses (hubapi.ErrUnauthenticated); the use cases fn
// calls check their own permissions.
//
// On PostgreSQL the unit defers its inserts (store.Deferred): consecutive
// creations reach the database as one multi-row INSERT, written before any
// other statement of the unit and before the commit. When such a write
// fails, the row at fault is not known, so the unit is rolled back and fn
// is called again, in a new transaction that writes each row at once: the
// use cases then answer exactly as they would have alone.
func (s *Service) Atomically(ctx context.Context, fn func(ctx context.Context) error) error {
	if hubapi.PrincipalFrom(ctx) == nil {
		return hubapi.ErrUnauthenticated
	}
	if unitOfWorkFrom(ctx) != nil {
		return fn(ctx)
	}
	deferring := s.db.IsPostgres()
	for {
		retry, err := s.atomically(ctx, fn, deferring)
		if !retry {
			return err
		}
		deferring = false
	}
}

// atomically runs fn in one transaction, deferring its inserts or not. It
// asks for a retry without deferring when a deferred write failed.
func (s *Service) atomically(ctx context.Context, fn func(ctx context.Context) error, deferring bool) (retry bool, err error) {
	pending := &pendingEvents{}
	db := s.db
	if deferring {
		db = s.deferringDB()
	}
	err = db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		u := &unitOfWork{tx: tx, pending: pending}
		uctx := context.WithValue(ctx, unitOfWorkKey{}, u)
		var deferred *store.Deferred
		if deferring {
			deferred = store.NewDeferred(tx, hubapi.ExpectedCreates(ctx))
			uctx = store.WithDeferred(uctx, deferred)
		}
		ferr := fn(uctx)
		if deferred != nil {
			// A pending row that cannot be written belongs to a use case
			// that ran before whatever made fn fail: it failed first.
			if err := deferred.Flush(ctx); err != nil {
				retry = true
				return err
			}
		}
		if ferr != nil {
			return ferr
		}
		if len(u.outboxed) > 0 {
			if err := s.outbox.(outboxMany).EnqueueMany(ctx, tx, u.outboxed); err != nil {
				return fmt.Errorf("recording %d events: %w", len(u.outboxed), err)
			}
		}
		return s.appendAudit(ctx, tx, pending)
	})
	if retry && ctx.Err() == nil {
		return true, err
	}
	if err != nil {
		return false, err
	}
	s.flush(ctx, pending)
	return false, nil
}

// deferringDB is s.db with the hook that writes a unit's deferred inserts
// before its other statements.
func (s *deps) deferringDB() *store.DB {
	s.deferOnce.Do(func() { s.deferDB = s.db.WithDeferredFlush() })
	return s.deferDB
}

// flush publishes the events of a committed transaction and runs what
// waited for the commit.
func (s *deps) flush(ctx context.Context, pending *pendingEvents) {
	for _, e := range pending.events {
		s.pub.Publish(ctx, e)
	}
	for _, f := range pending.after {
		f()
	}
}

// idb is where a use case reads and writes outside s.tx: the transaction
// of the unit of work in ctx (so that it sees what the unit wrote), or the
// database.
func (s *deps) idb(ctx context.Context) bun.IDB {
	if u := unitOfWorkFrom(ctx); u != nil {
		return u.tx
	}
	return s.db
}

// afterCommit runs f now, or, inside a unit of work, once it has committed
// (never after a rollback).
func (s *deps) afterCommit(ctx context.Context, f func()) {
	if u := unitOfWorkFrom(ctx); u != nil {
		u.pending.after = append(u.pending.after, f)
		return
	}
	f()
}

// tx runs fn in a transaction. The events fn emits are recorded in the
// outbox inside it, and published to the in-process subscribers (cache
// invalidation) after the commit, never after a rollback. Inside a unit of
// work, fn runs in the unit's transaction and its events wait for the
// unit's commit.
func (s *deps) tx(ctx context.Context, fn func(ctx context.Context, tx bun.Tx) error) error {
	if u := unitOfWorkFrom(ctx); u != nil {
		return fn(context.WithValue(ctx, pendingKey{}, u.pending), u.tx)
	}
	pending := &pendingEvents{}
	err := s.db.RunInTx(context.WithValue(ctx, pendingKey{}, pending), nil, func(ctx context.Context, tx bun.Tx) error {
		if err := fn(ctx, tx); err != nil {
			return err
		}
		return s.appendAudit(ctx, tx, pending)
	})
	if err != nil {
		return err
	}
	s.flush(ctx, pending)
	return nil
}

// announce publishes event t in-process only, outside any transaction: for
// the announcements that need no durability (a revocation already written;
// the other instances forget their caches). Inside a unit of work it waits
// for the commit.
func (s *deps) announce(ctx context.Context, p *hubapi.Principal, t hubapi.EventType, resource string, id int64) {
	var actor int64
	if p != nil {
		actor = p.UserID
	}
	e := hubapi.Event{ID: hubapi.NewEventID(), Type: t, Resource: resource, ResourceID: id, ActorID: actor, At: s.now()}
	s.afterCommit(ctx, func() { s.pub.Publish(ctx, e) })
}

// emit records event t in tx (the outbox) and queues it for the in-process
// publication that follows the commit. Call it inside s.tx, after the write.
func (s *deps) emit(ctx context.Context, tx bun.Tx, p *hubapi.Principal, t hubapi.EventType, resource string, id int64, data any) error {
	var actor int64
	if p != nil {
		actor = p.UserID
	}
	e := hubapi.Event{ID: hubapi.NewEventID(), Type: t, Resource: resource, ResourceID: id, ActorID: actor, At: s.now(), Data: data}
	s.recordChange(ctx, auditAction(t), resource, id, data)
	if _, many := s.outbox.(outboxMany); many {
		if u := unitOfWorkFrom(ctx); u != nil {
			// recorded with the unit's other events, in its transaction,
			// before it commits
			u.outboxed = append(u.outboxed, e)
			s.queue(ctx, e)
			return nil
		}
	}
	if s.outbox != nil {
		if err := s.outbox.Enqueue(ctx, tx, e); err != nil {
			return fmt.Errorf("recording event %s: %w", t, err)
		}
	}
	s.queue(ctx, e)
	return nil
}

// queue keeps e for the in-process publication after the commit.
func (s *deps) queue(ctx context.Context, e hubapi.Event) {
	if pending, ok := ctx.Value(pendingKey{}).(*pendingEvents); ok {
		pending.events = append(pending.events, e)
	}
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

// MaxUpload implements hubapi.DocumentService: the document size limit in
// bytes.
func (s *Service) MaxUpload() int64 { return s.maxUpload }
