package jobs

import (
	"cmp"
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/uptrace/bun"

	"github.com/hubchantier/hubchantier/connectors"
	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/store"
)

// Defaults of ConnectorConfig.
const (
	// DefaultConnectorWorkers is how many syncs one instance runs at once,
	// on their own River queue (QueueConnectors): a hanging vendor holds
	// at most its own sync's worker, never the other jobs.
	DefaultConnectorWorkers = 10
	// DefaultConnectorLease is how long a sync's lease lasts unless
	// renewed (every third of it, and at every checkpoint): an instance
	// killed mid-sync frees its connector after at most that long.
	DefaultConnectorLease = 2 * time.Minute
	// DefaultConnectorMaxAttempts is how many times a failing sync is
	// tried (from its last checkpoint) before it is given up.
	DefaultConnectorMaxAttempts = 10
	// DefaultConnectorMaxDuration bounds one job of a sync: a longer sync
	// goes on in a new job from its checkpoint (so River's rescue of the
	// job of a killed instance is never held back longer than that).
	DefaultConnectorMaxDuration = 10 * time.Minute
	// DefaultConnectorSyncInterval is the period of the scheduled sync of
	// every enabled connector; at this period, it runs at midnight
	// (ConnectorConfig.SyncLocation, default UTC).
	DefaultConnectorSyncInterval = 24 * time.Hour
)

// DefaultConnectorRetry is the backoff between the attempts of a failing
// sync (exponential, jittered).
var DefaultConnectorRetry = connectors.Backoff{Base: 30 * time.Second, Max: time.Hour}

// QueueConnectors is the River queue of connector syncs.
const QueueConnectors = "connectors"

// maxSyncError bounds the error text kept on a sync log.
const maxSyncError = 2000

// ConnectorConfig configures connector syncs (Config.Connectors).
type ConnectorConfig struct {
	Registry *connectors.Registry
	// Sealer opens the sealed configurations (required).
	Sealer *connectors.Sealer
	// Runner configures each sync (call timeout, tries, rate limiter,
	// breakers).
	Runner connectors.RunnerConfig
	// Options gives the options of connectors of a type (HTTP client;
	// base URL only when the registry allows overrides).
	Options func(typ string) connectors.Options
	// Workers (default DefaultConnectorWorkers), Lease
	// (DefaultConnectorLease), MaxAttempts (DefaultConnectorMaxAttempts),
	// Retry (DefaultConnectorRetry), MaxDuration
	// (DefaultConnectorMaxDuration).
	Workers     int
	Lease       time.Duration
	MaxAttempts int
	Retry       connectors.Backoff
	MaxDuration time.Duration
	// EventWorkers (default DefaultConnectorEventWorkers), EventInFlight
	// (DefaultConnectorEventInFlight), EventMaxAttempts
	// (DefaultConnectorEventMaxAttempts), EventRetry
	// (DefaultConnectorEventRetry): the deliveries of product events to
	// connectors (connectors.Spec.Events).
	EventWorkers     int
	EventInFlight    int
	EventMaxAttempts int
	EventRetry       connectors.Backoff
	// Blobs, when set, lets document events carry their file
	// (connectors.Event.Content).
	Blobs hubapi.BlobStore
	// Tokens gives the OAuth tokens of the connectors of a type (nil, or
	// nil for a type: none); they reach the connector's calls through
	// connectors.TokenSourceFrom.
	Tokens func(typ string) *connectors.Tokens
	// SyncInterval schedules a sync of every enabled connector (default
	// DefaultConnectorSyncInterval; negative: none).
	SyncInterval time.Duration
	// SyncLocation is the time zone of the nightly sync's midnight
	// (default UTC).
	SyncLocation *time.Location
	// InTx, when set, runs each commit's transaction (the service's, so
	// that the domain events of imported rows are published and audited);
	// default: a plain transaction.
	InTx func(ctx context.Context, fn func(ctx context.Context, tx bun.Tx) error) error
	// Import, when set, turns the records of the streams a connector
	// imports (Spec.Imports) into rows, in the commit's transaction.
	Import func(ctx context.Context, tx bun.Tx, connectorID int64, imports []string, recs []connectors.Record) error
	// Prepare, when set, completes a connector's opened configuration
	// before its sync (OAuth connectors: their fresh access token, see
	// service.ConnectorAccess).
	Prepare func(ctx context.Context, id int64, typ string, cfg connectors.Config) (connectors.Config, error)
	// NoMonthlyPayroll turns off the monthly payroll export (the 1st of
	// each month, UTC: the previous month to every enabled connector of
	// PayrollTypes).
	NoMonthlyPayroll bool
	// Channels opens and renews the push channels of connectors whose
	// vendor notifies changes (connectors.Watcher); nil: none.
	Channels *ChannelConfig
}

// connectorSyncArgs is the job of one connector's sync (River kind
// "connector_sync"). It is unique by connector while queued, running or
// waiting for a retry: a sync asked for meanwhile joins it.
type connectorSyncArgs struct {
	ConnectorID int64 `json:"connector_id" river:"unique"`
	// Follow marks the sync queued behind a running one (see
	// EnqueueConnectorSyncAfter): unique apart from the others.
	Follow bool `json:"follow,omitempty" river:"unique"`
}

// Kind is River's job kind.
func (connectorSyncArgs) Kind() string { return "connector_sync" }

// connectorUniqueStates excludes completed, cancelled and discarded jobs:
// a finished sync does not prevent the next.
var connectorUniqueStates = []rivertype.JobState{rivertype.JobStateAvailable, rivertype.JobStatePending,
	rivertype.JobStateRunning, rivertype.JobStateRetryable, rivertype.JobStateScheduled}

// EnqueueConnectorSync queues a sync of connector id in tx, unless one is
// already queued, running or waiting for a retry (then it reports false).
func (q *Queue) EnqueueConnectorSync(ctx context.Context, tx bun.Tx, id int64) (bool, error) {
	if q.connectors == nil {
		return false, errors.New("jobs: connector syncs are not configured")
	}
	res, err := q.client.InsertTx(ctx, tx.Tx, connectorSyncArgs{ConnectorID: id}, q.connectors.insertOpts())
	if err != nil {
		return false, err
	}
	return !res.UniqueSkippedAsDuplicate, nil
}

// EnqueueConnectorSyncAfter queues a sync of connector id that reads what
// changed until now: a vendor's change notification. When a sync is
// already running (it may have read past the change), a second one is
// queued behind it; it reports false only when one waits already.
func (q *Queue) EnqueueConnectorSyncAfter(ctx context.Context, tx bun.Tx, id int64) (bool, error) {
	queued, err := q.EnqueueConnectorSync(ctx, tx, id)
	if err != nil || queued {
		return queued, err
	}
	res, err := q.client.InsertTx(ctx, tx.Tx, connectorSyncArgs{ConnectorID: id, Follow: true}, q.connectors.insertOpts())
	if err != nil {
		return false, err
	}
	return !res.UniqueSkippedAsDuplicate, nil
}

func (s *syncer) insertOpts() *river.InsertOpts {
	return &river.InsertOpts{Queue: QueueConnectors, MaxAttempts: s.cfg.MaxAttempts,
		UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: connectorUniqueStates}}
}

// syncer runs connector syncs: the worker of "connector_sync" jobs.
type syncer struct {
	river.WorkerDefaults[connectorSyncArgs]
	cfg      ConnectorConfig
	db       *store.DB
	runner   *connectors.Runner
	log      *slog.Logger
	instance string
	now      func() time.Time
}

func newSyncer(cfg ConnectorConfig, db *store.DB, log *slog.Logger) (*syncer, error) {
	if cfg.Registry == nil || cfg.Sealer == nil {
		return nil, errors.New("jobs: connector syncs need a registry and a sealer")
	}
	cfg.Workers = cmp.Or(cfg.Workers, DefaultConnectorWorkers)
	cfg.Lease = cmp.Or(cfg.Lease, DefaultConnectorLease)
	cfg.MaxAttempts = cmp.Or(cfg.MaxAttempts, DefaultConnectorMaxAttempts)
	cfg.MaxDuration = cmp.Or(cfg.MaxDuration, DefaultConnectorMaxDuration)
	if cfg.Retry.Base <= 0 {
		cfg.Retry = DefaultConnectorRetry
	}
	if cfg.Options == nil {
		cfg.Options = func(string) connectors.Options { return connectors.Options{} }
	}
	if cfg.Runner.Logger == nil {
		cfg.Runner.Logger = log
	}
	b := make([]byte, 6)
	_, _ = crand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return &syncer{cfg: cfg, db: db, runner: connectors.NewRunner(cfg.Runner), log: log, instance: hex.EncodeToString(b),
		now: func() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }}, nil
}

// sliceMargin is the time a job keeps, after its sync stops at
// MaxDuration, to record where it stopped.
const sliceMargin = 30 * time.Second

// Timeout bounds a job: MaxDuration of sync, then the bookkeeping.
func (s *syncer) Timeout(*river.Job[connectorSyncArgs]) time.Duration {
	return s.cfg.MaxDuration + sliceMargin
}

// errSliceEnd stops a job's sync at MaxDuration; it goes on in the next.
var errSliceEnd = errors.New("jobs: the sync goes on in a new job")

// NextRetry is the exponential backoff with jitter of Retry.
func (s *syncer) NextRetry(j *river.Job[connectorSyncArgs]) time.Time {
	return time.Now().Add(s.cfg.Retry.Delay(j.Attempt))
}

// errLeaseLost ends a sync whose lease another instance took (this one
// was presumed dead): it commits nothing more.
var errLeaseLost = errors.New("jobs: the connector's sync lease was lost")

// leaseBusySnooze is how long a sync waits when another instance holds
// the connector's lease.
func leaseBusySnooze() time.Duration {
	return 2*time.Second + rand.N(2*time.Second) // #nosec G404 -- jitter, not a secret
}

// ConnectorConfigBinding binds a connector's sealed configuration (and
// token) to its row.
func ConnectorConfigBinding(id int64) string { return strconv.FormatInt(id, 10) }

// Work runs one sync of a connector from its last checkpoint, under its
// lease, logging the run in connector_sync_logs.
func (s *syncer) Work(ctx context.Context, j *river.Job[connectorSyncArgs]) error {
	id := j.Args.ConnectorID
	c, err := store.Get[hubapi.Connector](ctx, s.db, id)
	if errors.Is(err, hubapi.ErrNotFound) {
		return nil // deleted
	} else if err != nil {
		return err
	}
	if !c.Enabled {
		return nil
	}
	owner := s.instance + ":" + strconv.FormatInt(j.ID, 10) + ":" + strconv.Itoa(j.Attempt)
	got, err := s.acquire(ctx, id, owner)
	if err != nil {
		return err
	}
	if !got {
		return river.JobSnooze(leaseBusySnooze()) // another instance runs it
	}
	defer s.release(context.WithoutCancel(ctx), id, owner)

	logID, err := s.startLog(ctx, id, owner, j.Attempt)
	if err != nil {
		return err
	}
	cfg, err := s.cfg.Sealer.Open(c.ConfigKeyID, c.ConfigSealed, ConnectorConfigBinding(id))
	if err != nil {
		// A wrong or missing key: retrying does not help; nothing is
		// written over the sealed configuration.
		s.finish(ctx, id, owner, logID, 0, err)
		return river.JobCancel(err)
	}
	conn, spec, err := s.cfg.Registry.New(c.Type, s.cfg.Options(c.Type))
	if err != nil {
		s.finish(ctx, id, owner, logID, 0, err)
		return river.JobCancel(err)
	}
	if s.cfg.Prepare != nil {
		if cfg, err = s.cfg.Prepare(ctx, id, c.Type, cfg); err != nil {
			s.finish(ctx, id, owner, logID, 0, err)
			if !connectors.Temporary(err) {
				return river.JobCancel(err)
			}
			return err
		}
	}
	var state connectors.State
	if c.State != nil {
		state = connectors.State(*c.State)
	}

	ctx = s.withTokens(ctx, c)
	sctx, cancelSlice := context.WithTimeoutCause(ctx, s.cfg.MaxDuration, errSliceEnd)
	defer cancelSlice()
	rctx, cancel := context.WithCancelCause(sctx)
	defer cancel(nil)
	stopBeat := s.heartbeat(rctx, id, owner, cancel)
	defer stopBeat()

	var records int64
	sink := connectors.CheckpointFunc(func(ctx context.Context, recs []connectors.Record, st connectors.State) error {
		err := s.commit(ctx, id, c.Type, owner, logID, spec.Imports, recs, st)
		if err == nil {
			records += int64(len(recs))
		}
		return err
	})
	_, err = s.runner.Run(rctx, connectors.Job{Key: strconv.FormatInt(id, 10), Connector: conn, Spec: spec, Config: cfg, State: state, Sink: sink})
	if err == nil {
		var n int64
		n, err = s.pushInvoices(rctx, c, owner, conn, cfg)
		records += n
		if n > 0 {
			_, _ = s.db.NewUpdate().Model((*hubapi.ConnectorSyncLog)(nil)).Set("records_synced = records_synced + ?", n).Where("id = ?", logID).Exec(ctx)
		}
	}
	if cause := context.Cause(rctx); err != nil && errors.Is(cause, errLeaseLost) {
		err = errLeaseLost
	} else if err != nil && errors.Is(cause, errSliceEnd) && ctx.Err() == nil {
		s.finish(ctx, id, owner, logID, records, errSliceEnd)
		return river.JobSnooze(time.Millisecond) // goes on from the checkpoint
	}
	s.finish(ctx, id, owner, logID, records, err)
	if err == nil {
		return nil
	}
	var e *connectors.Error
	if errors.As(err, &e) {
		switch {
		case !e.Temporary():
			return river.JobCancel(err)
		case e.Kind == connectors.KindCircuitOpen || e.RetryAfter > 0 && e.RetryAfter > s.cfg.Retry.Delay(j.Attempt):
			return river.JobSnooze(max(e.RetryAfter, time.Second))
		}
	}
	return err
}

// withTokens hands the connector's OAuth token source to its calls.
func (s *syncer) withTokens(ctx context.Context, c *hubapi.Connector) context.Context {
	if s.cfg.Tokens == nil {
		return ctx
	}
	if t := s.cfg.Tokens(c.Type); t != nil {
		return connectors.WithTokenSource(ctx, t.Source(ConnectorConfigBinding(c.ID)))
	}
	return ctx
}

// acquire takes the connector's lease unless a live one is held.
func (s *syncer) acquire(ctx context.Context, id int64, owner string) (bool, error) {
	now := s.now()
	res, err := s.db.NewUpdate().Model((*hubapi.Connector)(nil)).
		Set("lease_owner = ?", owner).Set("lease_until = ?", now.Add(s.cfg.Lease)).
		Set("sync_status = ?", hubapi.SyncRunning).
		Where("id = ?", id).Where("(lease_until IS NULL OR lease_until < ?)", now).Exec(ctx)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// release frees the lease if this run still holds it.
func (s *syncer) release(ctx context.Context, id int64, owner string) {
	_, err := s.db.NewUpdate().Model((*hubapi.Connector)(nil)).Set("lease_owner = NULL").Set("lease_until = NULL").
		Where("id = ? AND lease_owner = ?", id, owner).Exec(ctx)
	if err != nil {
		s.log.WarnContext(ctx, "connector lease not released (it expires)", slog.Int64("connector", id), slog.String("error", err.Error()))
	}
}

// heartbeat renews the lease every third of its length; when the lease
// is lost, it cancels the run.
func (s *syncer) heartbeat(ctx context.Context, id int64, owner string, cancel context.CancelCauseFunc) (stop func()) {
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(s.cfg.Lease / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				ok, err := s.renew(ctx, s.db, id, owner)
				if err == nil && !ok {
					cancel(errLeaseLost)
					return
				}
			}
		}
	}()
	return func() { close(done) }
}

func (s *syncer) renew(ctx context.Context, db bun.IDB, id int64, owner string) (bool, error) {
	res, err := db.NewUpdate().Model((*hubapi.Connector)(nil)).Set("lease_until = ?", s.now().Add(s.cfg.Lease)).
		Where("id = ? AND lease_owner = ?", id, owner).Exec(ctx)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

func (s *syncer) startLog(ctx context.Context, id int64, owner string, attempt int) (int64, error) {
	l := &hubapi.ConnectorSyncLog{ConnectorID: id, StartedAt: s.now(), Status: hubapi.SyncRunning, Attempt: attempt}
	if err := store.Insert(ctx, s.db, l); err != nil {
		return 0, err
	}
	return l.ID, nil
}

// commit stores one call's records and the checkpoint after them in one
// transaction, fenced by the lease: a run that lost its lease commits
// nothing.
func (s *syncer) commit(ctx context.Context, id int64, typ, owner string, logID int64, imports []string, recs []connectors.Record, st connectors.State) error {
	now := s.now()
	inTx := s.cfg.InTx
	if inTx == nil {
		inTx = func(ctx context.Context, fn func(ctx context.Context, tx bun.Tx) error) error {
			return s.db.RunInTx(ctx, nil, fn)
		}
	}
	return inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		ok, err := s.renew(ctx, tx, id, owner)
		if err != nil {
			return err
		}
		if !ok {
			return errLeaseLost
		}
		if len(recs) > 0 {
			rows := make([]hubapi.ConnectorRecord, len(recs))
			for i, r := range recs {
				rows[i] = hubapi.ConnectorRecord{ConnectorID: id, Stream: r.Stream, ExternalID: r.ID, Data: r.Data, SyncedAt: now}
			}
			if _, err := tx.NewInsert().Model(&rows).On("CONFLICT (connector_id, stream, external_id) DO UPDATE").
				Set("data = EXCLUDED.data").Set("synced_at = EXCLUDED.synced_at").Exec(ctx); err != nil {
				return err
			}
			if err := importRecords(ctx, tx, typ, id, recs, now); err != nil {
				return err
			}
			if s.cfg.Import != nil && len(imports) > 0 {
				if err := s.cfg.Import(ctx, tx, id, imports, recs); err != nil {
					return fmt.Errorf("importing the records: %w", err)
				}
			}
		}
		state := string(st)
		if _, err := tx.NewUpdate().Model((*hubapi.Connector)(nil)).Set("state = ?", nullIfEmpty(state)).
			Where("id = ?", id).Exec(ctx); err != nil {
			return err
		}
		_, err = tx.NewUpdate().Model((*hubapi.ConnectorSyncLog)(nil)).
			Set("records_synced = records_synced + ?", len(recs)).Set("state_checkpoint = ?", nullIfEmpty(state)).
			Where("id = ?", logID).Exec(ctx)
		return err
	})
}

// NextMidnight is the first midnight in loc (nil: UTC) strictly after t:
// when the nightly sync of every enabled connector is queued.
func NextMidnight(t time.Time, loc *time.Location) time.Time {
	if loc == nil {
		loc = time.UTC
	}
	l := t.In(loc)
	return time.Date(l.Year(), l.Month(), l.Day()+1, 0, 0, 0, 0, loc)
}

func nullIfEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// finish records the end of a run on its log and its connector.
func (s *syncer) finish(ctx context.Context, id int64, owner string, logID, records int64, runErr error) {
	ctx = context.WithoutCancel(ctx)
	now := s.now()
	status, msg := hubapi.SyncSucceeded, (*string)(nil)
	switch {
	case errors.Is(runErr, errSliceEnd):
		status, runErr = hubapi.SyncContinued, nil
	case runErr != nil:
		status = hubapi.SyncFailed
		m := truncateUTF8(runErr.Error(), maxSyncError)
		msg = &m
	}
	connStatus := status
	if status == hubapi.SyncContinued {
		connStatus = hubapi.SyncQueued
	}
	err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.NewUpdate().Model((*hubapi.ConnectorSyncLog)(nil)).Set("completed_at = ?", now).
			Set("status = ?", status).Set("error_details = ?", msg).Where("id = ?", logID).Exec(ctx); err != nil {
			return err
		}
		// The lease goes with the status: a sync asked for from now on
		// runs at once.
		_, err := tx.NewUpdate().Model((*hubapi.Connector)(nil)).Set("last_sync_at = ?", now).Set("sync_status = ?", connStatus).
			Set("error_message = ?", msg).Set("lease_owner = NULL").Set("lease_until = NULL").
			Where("id = ? AND lease_owner = ?", id, owner).Exec(ctx)
		return err
	})
	if err != nil {
		s.log.WarnContext(ctx, "connector sync log not recorded", slog.Int64("connector", id), slog.String("error", err.Error()))
	}
	if runErr != nil {
		s.log.WarnContext(ctx, "connector sync failed", slog.Int64("connector", id), slog.Int64("records", records),
			slog.String("error", truncateUTF8(runErr.Error(), 300)))
	}
}

func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// scheduledSyncs is the periodic job that queues a sync of every enabled
// connector.
func (q *Queue) scheduledSyncs(db *store.DB, interval time.Duration, loc *time.Location) Periodic {
	var schedule func(time.Time) time.Time
	if interval == 24*time.Hour {
		schedule = func(t time.Time) time.Time { return NextMidnight(t, loc) }
	}
	return Periodic{Name: "connector-sync", Interval: interval, NotOnStart: true, Schedule: schedule, Run: func(ctx context.Context, _ time.Time) error {
		var ids []int64
		// Payroll connectors have nothing to read: their monthly export is
		// their schedule (monthlyPayroll).
		if err := db.NewSelect().Model((*hubapi.Connector)(nil)).Column("id").Where("enabled").
			Where("type NOT IN (?)", bun.List(PayrollTypes)).Scan(ctx, &ids); err != nil {
			return err
		}
		for _, id := range ids {
			err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
				queued, err := q.EnqueueConnectorSync(ctx, tx, id)
				if err == nil && queued {
					_, err = tx.NewUpdate().Model((*hubapi.Connector)(nil)).Set("sync_status = ?", hubapi.SyncQueued).
						Where("id = ? AND lease_owner IS NULL", id).Exec(ctx)
				}
				return err
			})
			if err != nil {
				return fmt.Errorf("queueing the sync of connector %d: %w", id, err)
			}
		}
		return nil
	}}
}
