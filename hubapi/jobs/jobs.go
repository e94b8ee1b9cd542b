package jobs

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"sync"
	"time"

	"github.com/riverqueue/river"
	"github.com/uptrace/bun"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/store"
)

// Defaults of Config.
const (
	DefaultMaxWorkers   = 20
	DefaultPollInterval = time.Second
	// DefaultCompletedRetention is how long completed jobs stay in the
	// queue's table (for "jobs status"), before River's cleaner removes them.
	DefaultCompletedRetention = time.Hour
)

// Config configures a Queue. The zero value is valid.
type Config struct {
	Logger *slog.Logger
	// Periodic jobs, run by one instance of the cluster each period.
	Periodic []Periodic
	// EventHandlers handle the domain events recorded by Enqueue, in order.
	EventHandlers []EventHandler
	// Register adds the workers of other job kinds.
	Register func(*river.Workers) error
	// MaxWorkers is how many jobs one instance works at once
	// (default DefaultMaxWorkers).
	MaxWorkers int
	// PollInterval is how often an instance looks for new jobs
	// (default DefaultPollInterval). PostgreSQL through database/sql has no
	// LISTEN, and SQLite no notifications: River polls.
	PollInterval time.Duration
	// CompletedRetention (default DefaultCompletedRetention).
	CompletedRetention time.Duration
	// Webhooks, when set, delivers the events to the webhook subscriptions:
	// a fan-out event handler, and the delivery jobs on their own queue.
	Webhooks *WebhookConfig
	// Connectors, when set, runs connector syncs on their own queue
	// (QueueConnectors), and schedules a sync of every enabled connector.
	Connectors *ConnectorConfig
	// RescueStuckJobsAfter is how long a job may stay running before it is
	// considered lost with its instance (killed) and run again (default:
	// River's, one hour). It must exceed the longest job: under a minute,
	// it is also the time after which a job is cancelled (River's job
	// timeout, otherwise a minute).
	RescueStuckJobsAfter time.Duration
	// testOnly shortens River's start-up staggering (tests in this package).
	testOnly bool
}

// Periodic is a job run every Interval on one instance of the cluster.
type Periodic struct {
	// Name identifies the job: lower-case letters, digits and dashes, unique
	// in a Config.
	Name     string
	Interval time.Duration
	// Run does the work of the period starting at period (the enqueue time
	// truncated to Interval, UTC). A failure is logged (the first of a
	// series, and the recovery) and not retried: the next period runs it
	// again.
	Run func(ctx context.Context, period time.Time) error
	// NotOnStart: the first run comes one Interval after the leader
	// starts, not at once (a daily job need not run at every restart).
	NotOnStart bool
	// Schedule, when set, gives the next run after a time (a wall-clock
	// time such as midnight) instead of every Interval from the start;
	// Interval still names the period a run is unique in.
	Schedule func(after time.Time) time.Time
}

// scheduleFunc adapts Periodic.Schedule to River.
type scheduleFunc func(time.Time) time.Time

func (f scheduleFunc) Next(t time.Time) time.Time { return f(t) }

// Queue is the job queue of one instance: a River client on the product's
// database.
type Queue struct {
	client    *river.Client[*sql.Tx]
	closePool func() error
	log       *slog.Logger
	started   bool
	postgres  bool
	// connectors runs connector syncs (nil: not configured)
	connectors *syncer
}

// periodicArgs are the arguments of a periodic job: its name (the unique
// key, with the period) and the start of the period it was enqueued for.
type periodicArgs struct {
	Name string    `json:"name" river:"unique"`
	Slot time.Time `json:"slot"`
}

// Kind is River's job kind.
func (periodicArgs) Kind() string { return "periodic" }

var periodicName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// New builds the queue; Start starts working it.
func New(ctx context.Context, db *store.DB, cfg Config) (*Queue, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	workers := river.NewWorkers()
	q := &Queue{log: log, postgres: db.IsPostgres()}
	ps := cfg.Periodic
	if cfg.Connectors != nil {
		if iv := cmp.Or(cfg.Connectors.SyncInterval, DefaultConnectorSyncInterval); iv > 0 {
			ps = append(slices.Clip(ps), q.scheduledSyncs(db, iv, cfg.Connectors.SyncLocation))
		}
		if !cfg.Connectors.NoMonthlyPayroll {
			ps = append(slices.Clip(ps), q.monthlyPayroll(db))
		}
	}
	var routeConnectors EventHandler
	if cfg.Connectors != nil && cfg.Connectors.Registry != nil {
		routeConnectors = q.routeToConnectors(db, cfg.Connectors.Registry, cmp.Or(cfg.Connectors.EventMaxAttempts, DefaultConnectorEventMaxAttempts))
		if handlesEvent(cfg.Connectors.Registry, hubapi.EventHoursWeeklySummary) {
			ps = append(slices.Clip(ps), q.weeklyHours(db, routeConnectors))
		}
	}
	handlers := cfg.EventHandlers
	queues := map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: cmp.Or(cfg.MaxWorkers, DefaultMaxWorkers)}}
	if cfg.Webhooks != nil {
		d, err := newDeliverer(*cfg.Webhooks, db, log)
		if err != nil {
			return nil, err
		}
		d.queue = q
		if err := river.AddWorkerSafely(workers, river.Worker[webhookDeliveryArgs](d)); err != nil {
			return nil, fmt.Errorf("jobs: %w", err)
		}
		queues[QueueWebhooks] = river.QueueConfig{MaxWorkers: d.cfg.Workers}
		handlers = append(slices.Clip(handlers), q.fanOut(db))
	}
	if cfg.Connectors != nil {
		sy, err := newSyncer(*cfg.Connectors, db, log)
		if err != nil {
			return nil, err
		}
		q.connectors = sy
		if err := river.AddWorkerSafely(workers, river.Worker[connectorSyncArgs](sy)); err != nil {
			return nil, fmt.Errorf("jobs: %w", err)
		}
		if err := river.AddWorkerSafely(workers, river.Worker[payrollExportArgs](&payrollExporter{s: sy})); err != nil {
			return nil, fmt.Errorf("jobs: %w", err)
		}
		queues[QueueConnectors] = river.QueueConfig{MaxWorkers: sy.cfg.Workers}
		ed := newEventDeliverer(*cfg.Connectors, db, log)
		if err := river.AddWorkerSafely(workers, river.Worker[connectorEventArgs](ed)); err != nil {
			return nil, fmt.Errorf("jobs: %w", err)
		}
		queues[QueueConnectorEvents] = river.QueueConfig{MaxWorkers: ed.cfg.EventWorkers}
		handlers = append(slices.Clip(handlers), routeConnectors)
		if sy.cfg.Channels != nil {
			cw := newChannelWorker(sy)
			if err := river.AddWorkerSafely(workers, river.Worker[connectorWatchArgs](cw)); err != nil {
				return nil, fmt.Errorf("jobs: %w", err)
			}
			ps = append(slices.Clip(ps), q.channelRenewals(cw))
		}
	}
	periodic, err := periodicJobs(workers, ps, log)
	if err != nil {
		return nil, err
	}
	if err := river.AddWorkerSafely(workers, eventWorker(handlers)); err != nil {
		return nil, fmt.Errorf("jobs: %w", err)
	}
	if cfg.Register != nil {
		if err := cfg.Register(workers); err != nil {
			return nil, fmt.Errorf("jobs: %w", err)
		}
	}
	pool, closePool, err := db.RiverPool(ctx)
	if err != nil {
		return nil, fmt.Errorf("jobs: %w", err)
	}
	poll := cmp.Or(cfg.PollInterval, DefaultPollInterval)
	client, err := river.NewClient(db.RiverDriver(pool), &river.Config{
		Logger:                      log,
		Queues:                      queues,
		Workers:                     workers,
		PeriodicJobs:                periodic,
		FetchPollInterval:           poll,
		FetchCooldown:               min(poll, river.FetchCooldownDefault),
		CompletedJobRetentionPeriod: cmp.Or(cfg.CompletedRetention, DefaultCompletedRetention),
		RescueStuckJobsAfter:        cfg.RescueStuckJobsAfter,
		JobTimeout:                  jobTimeout(cfg.RescueStuckJobsAfter),
		TestOnly:                    cfg.testOnly,
	})
	if err != nil {
		_ = closePool()
		return nil, fmt.Errorf("jobs: %w", err)
	}
	q.client, q.closePool = client, closePool
	return q, nil
}

// jobTimeout is River's job timeout: its default, or the rescue delay when
// shorter (a job outliving it would run twice).
func jobTimeout(rescueAfter time.Duration) time.Duration {
	if rescueAfter > 0 && rescueAfter < river.JobTimeoutDefault {
		return rescueAfter
	}
	return 0
}

// periodicJobs registers the worker of periodic jobs and returns River's
// schedule for them.
func periodicJobs(workers *river.Workers, ps []Periodic, log *slog.Logger) ([]*river.PeriodicJob, error) {
	runs := map[string]*periodicRun{}
	var out []*river.PeriodicJob
	for _, p := range ps {
		switch {
		case !periodicName.MatchString(p.Name):
			return nil, fmt.Errorf("jobs: periodic job name %q: want lower-case letters, digits and dashes", p.Name)
		case runs[p.Name] != nil:
			return nil, fmt.Errorf("jobs: periodic job %q configured twice", p.Name)
		case p.Interval < time.Second: // River's uniqueness per period counts in seconds
			return nil, fmt.Errorf("jobs: periodic job %q: interval %s under 1s", p.Name, p.Interval)
		case p.Run == nil:
			return nil, fmt.Errorf("jobs: periodic job %q has no Run", p.Name)
		}
		runs[p.Name] = &periodicRun{Periodic: p}
		interval := p.Interval
		name := p.Name
		onStart := !p.NotOnStart
		var sched river.PeriodicSchedule = river.PeriodicInterval(interval)
		if p.Schedule != nil {
			sched = scheduleFunc(p.Schedule)
		}
		out = append(out, river.NewPeriodicJob(sched, func() (river.JobArgs, *river.InsertOpts) {
			return periodicArgs{Name: name, Slot: time.Now().UTC().Truncate(interval)}, &river.InsertOpts{
				MaxAttempts: 1,
				UniqueOpts:  river.UniqueOpts{ByArgs: true, ByPeriod: interval},
			}
		}, &river.PeriodicJobOpts{ID: name, RunOnStart: onStart}))
	}
	return out, river.AddWorkerSafely(workers, river.WorkFunc(func(ctx context.Context, j *river.Job[periodicArgs]) error {
		r := runs[j.Args.Name]
		if r == nil {
			return river.JobCancel(fmt.Errorf("no periodic job %q on this instance", j.Args.Name))
		}
		return r.run(ctx, j.Args.Slot, log)
	}))
}

// periodicRun logs the first failure of a series and the recovery, not every
// period.
type periodicRun struct {
	Periodic
	mu      sync.Mutex
	failing bool
}

func (r *periodicRun) run(ctx context.Context, period time.Time, log *slog.Logger) error {
	err := r.Run(ctx, period)
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case err != nil && !r.failing:
		r.failing = true
		log.WarnContext(ctx, "periodic job failing", slog.String("job", r.Name), slog.String("error", err.Error()))
	case err == nil && r.failing:
		r.failing = false
		log.InfoContext(ctx, "periodic job recovered", slog.String("job", r.Name))
	}
	return err
}

// Start starts working jobs (and, on the leader, enqueueing periodic ones).
// ctx bounds start-up only: Stop ends the work.
func (q *Queue) Start(ctx context.Context) error {
	// River stops when the context given to Start is cancelled: detach it.
	if err := q.client.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("jobs: %w", err)
	}
	q.started = true
	return nil
}

// Stop waits for running jobs to finish, until ctx ends; then it cancels
// them (they are retried later, on this instance or another) and releases
// River's pool.
func (q *Queue) Stop(ctx context.Context) error {
	var err error
	if q.started {
		q.started = false
		if err = q.client.Stop(ctx); errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			err = q.client.StopAndCancel(cctx)
			cancel()
		}
	}
	return errors.Join(err, q.closePool())
}

// InsertTx enqueues a job in the transaction tx of a bun write: the job
// exists if and only if tx commits.
func (q *Queue) InsertTx(ctx context.Context, tx bun.Tx, args river.JobArgs, opts *river.InsertOpts) error {
	_, err := q.client.InsertTx(ctx, tx.Tx, args, opts)
	return err
}

// Client is the River client, for what Queue does not wrap (listing jobs).
func (q *Queue) Client() *river.Client[*sql.Tx] { return q.client }
