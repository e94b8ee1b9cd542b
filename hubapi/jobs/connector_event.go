package jobs

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/riverqueue/river"
	"github.com/uptrace/bun"

	"github.com/hubchantier/hubchantier/connectors"
	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/store"
)

// Defaults of the event deliveries to connectors (ConnectorConfig.Event*).
const (
	// DefaultConnectorEventWorkers is how many event deliveries one
	// instance sends at once, on their own River queue
	// (QueueConnectorEvents), apart from syncs and webhooks.
	DefaultConnectorEventWorkers = 10
	// DefaultConnectorEventInFlight is how many deliveries of one
	// connector one instance sends at once: a hanging vendor holds at most
	// that many workers, whatever its backlog; the others go on.
	DefaultConnectorEventInFlight = 2
	// DefaultConnectorEventMaxAttempts is how many times a delivery is
	// tried before it is given up (failed).
	DefaultConnectorEventMaxAttempts = 15
)

// DefaultConnectorEventRetry is the backoff between the attempts of a
// failing delivery (exponential, jittered: 5 s … 1 h).
var DefaultConnectorEventRetry = connectors.Backoff{Base: 5 * time.Second, Max: time.Hour}

// QueueConnectorEvents is the River queue of event deliveries to
// connectors.
const QueueConnectorEvents = "connector_events"

// maxDeliveryError bounds the error text kept on a delivery.
const maxDeliveryError = 1000

// connectorEventArgs is the job of one delivery (River kind
// "connector_event"): one product event to one connector.
type connectorEventArgs struct {
	DeliveryID int64 `json:"delivery_id"`
}

// Kind is River's job kind.
func (connectorEventArgs) Kind() string { return "connector_event" }

// eventRecipient is an enabled connector with its owner's role.
type eventRecipient struct {
	ID        int64       `bun:"id"`
	UserID    int64       `bun:"user_id"`
	Type      string      `bun:"type"`
	OwnerRole hubapi.Role `bun:"owner_role"`
}

// routeToConnectors is the event handler that turns each committed event
// into one delivery per enabled connector whose type handles it
// (connectors.Spec.Events) and whose owner may read the resource, each with
// its job, in one transaction. A repeated event (its job retried after a
// crash or a failure) adds nothing: a delivery is unique per connector and
// event.
func (q *Queue) routeToConnectors(db *store.DB, reg *connectors.Registry, maxAttempts int) EventHandler {
	return func(ctx context.Context, e EventArgs) error {
		var types []string
		for _, t := range reg.Types() {
			if spec, _ := reg.Spec(t); spec.HandlesEvent(string(e.Type)) {
				types = append(types, t)
			}
		}
		if len(types) == 0 {
			return nil
		}
		var rcpts []eventRecipient
		err := db.NewSelect().Model(&rcpts).ModelTableExpr("connectors AS c").
			ColumnExpr("c.id, c.user_id, c.type").ColumnExpr("u.role AS owner_role").
			Join("JOIN users AS u ON u.id = c.user_id").
			Where("c.enabled").Where("u.disabled_at IS NULL").Where("c.type IN (?)", bun.List(types)).
			OrderExpr("c.id").Scan(ctx)
		if err != nil {
			return err
		}
		rcpts = slices.DeleteFunc(rcpts, func(r eventRecipient) bool {
			return !wants(subscriber{WebhookSubscription: hubapi.WebhookSubscription{UserID: r.UserID, EventTypes: "*"}, OwnerRole: r.OwnerRole}, e)
		})
		if len(rcpts) == 0 {
			return nil
		}
		return db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			// As for webhooks: the data of an event about a person erased
			// since is not handed on.
			if erased, err := ownerErased(ctx, tx, e); err != nil {
				return err
			} else if erased {
				e.Data = nil
			}
			body, err := json.Marshal(e)
			if err != nil {
				return err
			}
			now := store.Now()
			var jobs []river.InsertManyParams
			for _, r := range rcpts {
				del := &hubapi.ConnectorDelivery{ConnectorID: r.ID, EventID: e.ID, EventType: string(e.Type), Event: string(body),
					Status: hubapi.ConnectorDeliveryPending, CreatedAt: now, UpdatedAt: now}
				err := tx.NewInsert().Model(del).On("CONFLICT (connector_id, event_id) DO NOTHING").Returning("id").Scan(ctx, &del.ID)
				if errors.Is(err, sql.ErrNoRows) {
					continue // routed already by an earlier run of this event
				} else if err != nil {
					return err
				}
				jobs = append(jobs, river.InsertManyParams{Args: connectorEventArgs{DeliveryID: del.ID},
					InsertOpts: &river.InsertOpts{Queue: QueueConnectorEvents, MaxAttempts: maxAttempts}})
			}
			if len(jobs) == 0 {
				return nil
			}
			_, err = q.client.InsertManyTx(ctx, tx.Tx, jobs)
			return err
		})
	}
}

// eventDeliverer hands events to connectors: the worker of
// "connector_event" jobs.
type eventDeliverer struct {
	river.WorkerDefaults[connectorEventArgs]
	cfg    ConnectorConfig
	db     *store.DB
	runner *connectors.Runner
	log    *slog.Logger
	now    func() time.Time

	mu       sync.Mutex
	inFlight map[int64]int // connector → its deliveries in flight on this instance
}

func newEventDeliverer(cfg ConnectorConfig, db *store.DB, log *slog.Logger) *eventDeliverer {
	cfg.EventWorkers = cmp.Or(cfg.EventWorkers, DefaultConnectorEventWorkers)
	cfg.EventInFlight = cmp.Or(cfg.EventInFlight, DefaultConnectorEventInFlight)
	cfg.EventMaxAttempts = cmp.Or(cfg.EventMaxAttempts, DefaultConnectorEventMaxAttempts)
	if cfg.EventRetry.Base <= 0 {
		cfg.EventRetry = DefaultConnectorEventRetry
	}
	if cfg.Options == nil {
		cfg.Options = func(string) connectors.Options { return connectors.Options{} }
	}
	if cfg.Runner.Logger == nil {
		cfg.Runner.Logger = log
	}
	return &eventDeliverer{cfg: cfg, db: db, runner: connectors.NewRunner(cfg.Runner), log: log,
		now: func() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }, inFlight: map[int64]int{}}
}

// Timeout bounds a job: the longest event timeout of the registry's
// types (connectors.Runner.Deliver abandons a connector that ignores its
// context there), plus the bookkeeping. River also rescues the job of a
// killed instance after it.
func (d *eventDeliverer) Timeout(*river.Job[connectorEventArgs]) time.Duration {
	longest := cmp.Or(d.cfg.Runner.CallTimeout, connectors.DefaultCallTimeout)
	for _, t := range d.cfg.Registry.Types() {
		if spec, _ := d.cfg.Registry.Spec(t); len(spec.Events) > 0 {
			longest = max(longest, spec.EventTimeout)
		}
	}
	return longest + 5*time.Second
}

// NextRetry is the exponential backoff with jitter of EventRetry.
func (d *eventDeliverer) NextRetry(j *river.Job[connectorEventArgs]) time.Time {
	return time.Now().Add(d.cfg.EventRetry.Delay(j.Attempt))
}

// take reserves one of the connector's in-flight slots on this instance.
func (d *eventDeliverer) take(id int64) (release func(), ok bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.inFlight[id] >= d.cfg.EventInFlight {
		return nil, false
	}
	d.inFlight[id]++
	return func() {
		d.mu.Lock()
		if d.inFlight[id]--; d.inFlight[id] <= 0 {
			delete(d.inFlight, id)
		}
		d.mu.Unlock()
	}, true
}

// eventBusySnooze is how long a delivery waits when its connector is at
// its in-flight cap (jittered).
func eventBusySnooze() time.Duration {
	return 500*time.Millisecond + rand.N(500*time.Millisecond) // #nosec G404 -- jitter, not a secret
}

// Work makes one attempt of a delivery and logs it on the delivery's row;
// then success, a retry (River's, on EventRetry's backoff, or snoozed for
// the vendor's Retry-After) or failure (a refusal that retrying cannot
// cure, or the last attempt).
func (d *eventDeliverer) Work(ctx context.Context, j *river.Job[connectorEventArgs]) error {
	del, err := store.Get[hubapi.ConnectorDelivery](ctx, d.db, j.Args.DeliveryID)
	if errors.Is(err, hubapi.ErrNotFound) {
		return nil // its connector was deleted
	} else if err != nil {
		return err
	}
	switch del.Status {
	case hubapi.ConnectorDeliveryDelivered, hubapi.ConnectorDeliveryFailed, hubapi.ConnectorDeliverySkipped:
		return nil
	}
	c, err := store.Get[hubapi.Connector](ctx, d.db, del.ConnectorID)
	if errors.Is(err, hubapi.ErrNotFound) {
		return nil
	} else if err != nil {
		return err
	}
	if !c.Enabled {
		return d.record(ctx, del, hubapi.ConnectorDeliverySkipped, false, nil)
	}
	release, ok := d.take(c.ID)
	if !ok {
		return river.JobSnooze(eventBusySnooze())
	}
	defer release()

	cfg, err := d.cfg.Sealer.Open(c.ConfigKeyID, c.ConfigSealed, ConnectorConfigBinding(c.ID))
	if err != nil {
		// A wrong or missing key: retrying does not help.
		return river.JobCancel(errors.Join(err, d.record(ctx, del, hubapi.ConnectorDeliveryFailed, true, err)))
	}
	conn, spec, err := d.cfg.Registry.New(c.Type, d.cfg.Options(c.Type))
	if err != nil {
		return river.JobCancel(errors.Join(err, d.record(ctx, del, hubapi.ConnectorDeliveryFailed, true, err)))
	}
	if !spec.HandlesEvent(del.EventType) {
		return d.record(ctx, del, hubapi.ConnectorDeliverySkipped, false, nil)
	}
	ev, err := d.event(ctx, del)
	if err != nil {
		return err
	}
	if d.cfg.Tokens != nil {
		if ts := d.cfg.Tokens(c.Type); ts != nil {
			ctx = connectors.WithTokenSource(ctx, ts.Source(ConnectorConfigBinding(c.ID)))
		}
	}
	err = d.runner.Deliver(ctx, conn, spec, cfg, ev)
	if err == nil {
		return d.record(ctx, del, hubapi.ConnectorDeliveryDelivered, true, nil)
	}
	d.log.WarnContext(ctx, "connector event delivery failed", slog.Int64("connector", c.ID), slog.String("event_type", del.EventType),
		slog.Int64("delivery", del.ID), slog.Int("attempt", j.Attempt), slog.String("error", truncateUTF8(err.Error(), 300)))
	var e *connectors.Error
	switch {
	case errors.As(err, &e) && !e.Temporary():
		return river.JobCancel(errors.Join(err, d.record(ctx, del, hubapi.ConnectorDeliveryFailed, true, err)))
	case j.Attempt >= j.MaxAttempts:
		return errors.Join(err, d.record(ctx, del, hubapi.ConnectorDeliveryFailed, true, err))
	}
	if rerr := d.record(ctx, del, hubapi.ConnectorDeliveryRetrying, true, err); rerr != nil {
		return rerr
	}
	if e != nil && e.RetryAfter > 0 && e.RetryAfter > d.cfg.EventRetry.Delay(j.Attempt) {
		return river.JobSnooze(e.RetryAfter) // the vendor's Retry-After
	}
	return err
}

// event is the connector's view of a delivery's event: with the
// chantier it belongs to, and, for a document, its file.
func (d *eventDeliverer) event(ctx context.Context, del *hubapi.ConnectorDelivery) (connectors.Event, error) {
	var e EventArgs
	if err := json.Unmarshal([]byte(del.Event), &e); err != nil {
		return connectors.Event{}, river.JobCancel(fmt.Errorf("delivery %d: undecodable event: %w", del.ID, err))
	}
	ev := connectors.Event{ID: e.ID, Type: string(e.Type), OccurredAt: e.At, Data: e.Data, Resource: e.Resource, ResourceID: e.ResourceID}
	if len(e.Data) > 0 {
		var ref struct {
			ChantierID int64 `json:"chantier_id"`
		}
		if json.Unmarshal(e.Data, &ref) == nil && ref.ChantierID > 0 {
			var ch struct {
				ID   int64  `bun:"id" json:"id"`
				Code string `bun:"code" json:"code"`
				Nom  string `bun:"nom" json:"nom"`
			}
			err := d.db.NewSelect().Model((*hubapi.Chantier)(nil)).Column("id", "code", "nom").Where("id = ?", ref.ChantierID).Scan(ctx, &ch.ID, &ch.Code, &ch.Nom)
			switch {
			case err == nil:
				b, _ := json.Marshal(ch)
				ev.Related = map[string]json.RawMessage{"chantier": b}
			case !errors.Is(err, sql.ErrNoRows):
				return ev, err
			}
		}
	}
	if e.Resource == string(hubapi.ResourceDocuments) && d.cfg.Blobs != nil && e.Type != hubapi.EventDocumentDeleted {
		id := e.ResourceID
		ev.Content = func(ctx context.Context) (io.ReadCloser, error) {
			doc, err := store.Get[hubapi.Document](ctx, d.db, id)
			if errors.Is(err, hubapi.ErrNotFound) {
				return nil, &connectors.Error{Kind: connectors.KindRejected, Msg: "document " + strconv.FormatInt(id, 10) + " no longer exists"}
			} else if err != nil {
				return nil, err
			}
			return d.cfg.Blobs.Open(ctx, doc.StorageKey)
		}
	}
	return ev, nil
}

// record logs an attempt (attempted) or a decision on the delivery.
func (d *eventDeliverer) record(ctx context.Context, del *hubapi.ConnectorDelivery, status string, attempted bool, cause error) error {
	ctx = context.WithoutCancel(ctx)
	now := d.now()
	u := d.db.NewUpdate().Model((*hubapi.ConnectorDelivery)(nil)).Set("status = ?", status).Set("updated_at = ?", now).
		Where("id = ?", del.ID)
	if attempted {
		u = u.Set("attempts = attempts + 1").Set("last_attempt_at = ?", now)
	}
	if cause != nil {
		u = u.Set("last_error = ?", truncateUTF8(cause.Error(), maxDeliveryError))
	}
	if status == hubapi.ConnectorDeliveryDelivered {
		u = u.Set("delivered_at = ?", now).Set("last_error = NULL")
	}
	_, err := u.Exec(ctx)
	return err
}
