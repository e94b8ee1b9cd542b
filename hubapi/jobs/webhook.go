package jobs

import (
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/riverqueue/river"
	"github.com/uptrace/bun"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/store"
	"github.com/hubchantier/hubchantier/notify"
	"github.com/hubchantier/hubchantier/secretbox"
	"github.com/hubchantier/hubchantier/webhooks"
)

// Defaults of WebhookConfig.
const (
	// DefaultWebhookWorkers is how many deliveries one instance sends at
	// once, on their own River queue (QueueWebhooks), apart from the other
	// jobs.
	DefaultWebhookWorkers = 200
	// DefaultWebhookInFlight is how many deliveries of one subscription one
	// instance sends at once: a slow endpoint holds at most that many
	// workers, whatever its backlog.
	DefaultWebhookInFlight = 4
	// DefaultWebhookDisableAfter is how long a subscription fails (every
	// attempt since its last success) before it is disabled.
	DefaultWebhookDisableAfter = 5 * 24 * time.Hour
)

// QueueWebhooks is the River queue of webhook deliveries.
const QueueWebhooks = "webhooks"

// maxLoggedBody is how much of a receiver's answer the attempt log keeps.
const maxLoggedBody = 1024

// WebhookConfig configures the delivery of webhooks (Config.Webhooks).
type WebhookConfig struct {
	// Keys open the sealed signing secrets of the subscriptions (required).
	Keys *secretbox.Keyring
	// Guard is the SSRF policy applied to every connection (see
	// webhooks.Guard.NewClient).
	Guard webhooks.Guard
	// Timeout bounds one attempt (default webhooks.DefaultTimeout).
	Timeout time.Duration
	// Workers (default DefaultWebhookWorkers) and InFlight (default
	// DefaultWebhookInFlight): see their defaults.
	Workers  int
	InFlight int
	// DisableAfter (default DefaultWebhookDisableAfter).
	DisableAfter time.Duration
	// Notifier, when set, mails the owner of a subscription that gets
	// disabled.
	Notifier notify.Notifier
	// UserAgent sent with every delivery (default "HubChantier-Webhooks/1").
	UserAgent string
}

// webhookDeliveryArgs is the job of one delivery (River kind
// "webhook_delivery"): the row of webhook_deliveries to send.
type webhookDeliveryArgs struct {
	DeliveryID int64 `json:"delivery_id"`
}

// Kind is River's job kind.
func (webhookDeliveryArgs) Kind() string { return "webhook_delivery" }

// InsertOpts puts deliveries on their own queue.
func (webhookDeliveryArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueWebhooks}
}

// EnqueueWebhookDelivery schedules the sending of delivery deliveryID (a
// pending row of webhook_deliveries) in tx, the transaction that created or
// reset it: the job exists exactly when tx commits.
func (q *Queue) EnqueueWebhookDelivery(ctx context.Context, tx bun.Tx, deliveryID int64) error {
	args := webhookDeliveryArgs{DeliveryID: deliveryID}
	if q.postgres {
		return q.insertPlain(ctx, tx, QueueWebhooks, args)
	}
	return q.InsertTx(ctx, tx, args, nil)
}

// deliverer sends webhook deliveries: the worker of "webhook_delivery" jobs.
type deliverer struct {
	river.WorkerDefaults[webhookDeliveryArgs]
	cfg    WebhookConfig
	db     *store.DB
	client *http.Client
	queue  *Queue // records webhook.disabled events
	log    *slog.Logger
	now    func() time.Time

	mu       sync.Mutex
	inFlight map[int64]*slots // subscription → its in-flight slots on this instance
}

func newDeliverer(cfg WebhookConfig, db *store.DB, log *slog.Logger) (*deliverer, error) {
	if cfg.Keys == nil {
		return nil, errors.New("jobs: webhooks need a secret keyring")
	}
	cfg.Timeout = cmp.Or(cfg.Timeout, webhooks.DefaultTimeout)
	cfg.Workers = cmp.Or(cfg.Workers, DefaultWebhookWorkers)
	cfg.InFlight = cmp.Or(cfg.InFlight, DefaultWebhookInFlight)
	cfg.DisableAfter = cmp.Or(cfg.DisableAfter, DefaultWebhookDisableAfter)
	cfg.UserAgent = cmp.Or(cfg.UserAgent, "HubChantier-Webhooks/1")
	return &deliverer{cfg: cfg, db: db, client: cfg.Guard.NewClient(cfg.Timeout), log: log, now: func() time.Time { return time.Now().UTC().Truncate(time.Microsecond) },
		inFlight: map[int64]*slots{}}, nil
}

// Timeout bounds a job: the attempt plus the bookkeeping around it.
func (d *deliverer) Timeout(*river.Job[webhookDeliveryArgs]) time.Duration {
	return d.cfg.Timeout + 5*time.Second
}

// slots are the in-flight slots of one subscription on this instance.
type slots struct {
	ch     chan struct{}
	refs   int         // jobs holding or waiting for a slot
	starts []time.Time // when each held slot was taken
}

// slotWait is how long a delivery waits for a slot of its subscription
// before it gives its worker back (snoozed). It waits only while the
// subscription's requests in flight are younger than slotWait (a fast
// endpoint frees a slot within it); behind older ones (a slow endpoint) it
// gives its worker back at once, so a slow endpoint's backlog waits off the
// workers.
const slotWait = 200 * time.Millisecond

// acquire takes one of the subscription's in-flight slots of this instance;
// release gives it back.
func (d *deliverer) acquire(ctx context.Context, sub int64) (release func(), ok bool) {
	d.mu.Lock()
	s := d.inFlight[sub]
	if s == nil {
		s = &slots{ch: make(chan struct{}, d.cfg.InFlight)}
		d.inFlight[sub] = s
	}
	s.refs++
	d.mu.Unlock()
	done := func() {
		d.mu.Lock()
		if s.refs--; s.refs == 0 {
			delete(d.inFlight, sub)
		}
		d.mu.Unlock()
	}
	take := func() func() {
		start := time.Now()
		d.mu.Lock()
		s.starts = append(s.starts, start)
		d.mu.Unlock()
		return func() {
			d.mu.Lock()
			if i := slices.Index(s.starts, start); i >= 0 {
				s.starts = slices.Delete(s.starts, i, i+1)
			}
			d.mu.Unlock()
			<-s.ch
			done()
		}
	}
	select {
	case s.ch <- struct{}{}:
		return take(), true
	default:
	}
	d.mu.Lock()
	slow := len(s.starts) > 0 && time.Since(slices.MinFunc(s.starts, func(a, b time.Time) int { return a.Compare(b) })) >= slotWait
	d.mu.Unlock()
	if !slow {
		t := time.NewTimer(slotWait)
		defer t.Stop()
		select {
		case s.ch <- struct{}{}:
			return take(), true
		case <-t.C:
		case <-ctx.Done():
		}
	}
	done()
	return nil, false
}

// busySnooze is how long a delivery whose subscription stays at its
// in-flight cap waits before it is tried again (jittered, so the backlog of
// a slow endpoint does not come back in one wave).
func busySnooze() time.Duration {
	return 500*time.Millisecond + rand.N(500*time.Millisecond) // #nosec G404 -- jitter, not a secret
}

// Work sends one delivery: one attempt, logged; then success, a retry
// (snoozed per webhooks.RetryDelay, which keeps River's own attempts for
// failures of the queue itself) or, once the schedule is exhausted, failure.
func (d *deliverer) Work(ctx context.Context, j *river.Job[webhookDeliveryArgs]) error {
	var row pendingDelivery
	err := d.db.NewSelect().Model(&row).ModelTableExpr("webhook_deliveries AS d").
		ColumnExpr("s.*").ColumnExpr("d.id AS d_id, d.message_id AS d_message_id, d.payload AS d_payload, d.status AS d_status, d.attempts AS d_attempts").
		Join("JOIN webhook_subscriptions AS s ON s.id = d.subscription_id").Where("d.id = ?", j.Args.DeliveryID).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil // deleted with its subscription
	} else if err != nil {
		return err
	}
	sub := &row.WebhookSubscription
	del := &hubapi.WebhookDelivery{ID: row.DeliveryID, SubscriptionID: sub.ID, MessageID: row.MessageID, Payload: row.Payload,
		Status: row.Status, Attempts: row.Attempts}
	if del.Status != hubapi.DeliveryPending {
		return nil // sent already (a repeated job), or given up
	}
	if !sub.Enabled {
		_, err := d.db.NewUpdate().Model((*hubapi.WebhookDelivery)(nil)).
			Set("status = ?", hubapi.DeliveryFailed).Set("updated_at = ?", d.now()).
			Where("id = ? AND status = ?", del.ID, hubapi.DeliveryPending).Exec(ctx)
		return err
	}
	release, ok := d.acquire(ctx, sub.ID)
	if !ok {
		return river.JobSnooze(busySnooze())
	}
	defer release()

	at := d.now()
	res := d.send(ctx, sub, del, at)
	return d.record(ctx, sub, del, at, res)
}

// pendingDelivery is a delivery with its subscription, read in one query.
type pendingDelivery struct {
	hubapi.WebhookSubscription `bun:",extend"`
	DeliveryID                 int64  `bun:"d_id"`
	MessageID                  string `bun:"d_message_id"`
	Payload                    string `bun:"d_payload"`
	Status                     string `bun:"d_status"`
	Attempts                   int    `bun:"d_attempts"`
}

// attemptResult is what one HTTP attempt gave.
type attemptResult struct {
	status   int
	body     string
	err      string
	duration time.Duration
}

func (r attemptResult) ok() bool { return r.err == "" && r.status >= 200 && r.status < 300 }

// send makes one attempt.
func (d *deliverer) send(ctx context.Context, sub *hubapi.WebhookSubscription, del *hubapi.WebhookDelivery, at time.Time) attemptResult {
	keys, err := d.signingKeys(sub, at)
	if err != nil {
		return attemptResult{err: err.Error()}
	}
	body := []byte(del.Payload)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, sub.URL, bytes.NewReader(body))
	if err != nil {
		return attemptResult{err: "invalid target URL"}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", d.cfg.UserAgent)
	webhooks.SetHeaders(req.Header, del.MessageID, at, body, keys...)
	start := time.Now()
	resp, err := d.client.Do(req)
	if err != nil {
		return attemptResult{err: d.attemptError(err), duration: time.Since(start)}
	}
	defer func() { _ = resp.Body.Close() }()
	head, err := io.ReadAll(io.LimitReader(resp.Body, maxLoggedBody))
	res := attemptResult{status: resp.StatusCode, body: validUTF8(head)}
	if err == nil {
		// Read a little more so the connection can be reused; a receiver
		// that streams on is cut off by the client's timeout.
		_, err = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	}
	res.duration = time.Since(start)
	if err != nil && !res.ok() {
		res.err = d.attemptError(err)
	}
	return res
}

// signingKeys opens the subscription's secret, and during a rotation the
// previous one, which signs beside it until it expires.
func (d *deliverer) signingKeys(sub *hubapi.WebhookSubscription, at time.Time) ([][]byte, error) {
	open := func(kid string, sealed []byte, ad string) ([]byte, error) {
		plain, err := d.cfg.Keys.Open(kid, sealed, []byte(ad))
		if err != nil {
			return nil, errors.New("the signing secret cannot be opened with the server's keys")
		}
		key, err := webhooks.ParseSecret(string(plain))
		if err != nil {
			return nil, errors.New("the signing secret is malformed")
		}
		return key, nil
	}
	ad := "webhook:" + strconv.FormatInt(sub.ID, 10)
	key, err := open(sub.SecretKeyID, sub.SecretSealed, ad)
	if err != nil {
		return nil, err
	}
	keys := [][]byte{key}
	if sub.PreviousSecretKeyID != nil && len(sub.PreviousSecretSealed) > 0 && sub.PreviousSecretExpiresAt != nil && at.Before(*sub.PreviousSecretExpiresAt) {
		prev, err := open(*sub.PreviousSecretKeyID, sub.PreviousSecretSealed, ad+":previous")
		if err != nil {
			return nil, err
		}
		keys = append(keys, prev)
	}
	return keys, nil
}

// attemptError is the text of a failed attempt for the log, without the
// URL (which may carry a receiver's token in its query).
func (d *deliverer) attemptError(err error) string {
	var ne interface{ Timeout() bool }
	if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Sprintf("Timeout: no complete answer within %s", d.cfg.Timeout)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if errors.Is(err, webhooks.ErrForbiddenAddress) {
		return webhooks.ErrForbiddenAddress.Error()
	}
	msg := err.Error()
	if len(msg) > maxLoggedBody {
		msg = msg[:maxLoggedBody]
	}
	return validUTF8([]byte(msg))
}

// validUTF8 keeps b as text a database column accepts (PostgreSQL refuses
// NUL and invalid UTF-8).
func validUTF8(b []byte) string {
	s := string(bytes.ToValidUTF8(bytes.ReplaceAll(b, []byte{0}, nil), []byte("\uFFFD")))
	if len(s) > maxLoggedBody {
		s = s[:maxLoggedBody]
	}
	for !utf8.ValidString(s) { // a character cut by the bound
		s = s[:len(s)-1]
	}
	return s
}

// record logs the attempt and moves the delivery and its subscription on,
// in one transaction; it returns the job's outcome.
func (d *deliverer) record(ctx context.Context, sub *hubapi.WebhookSubscription, del *hubapi.WebhookDelivery, at time.Time, res attemptResult) error {
	n := del.Attempts + 1
	status := hubapi.DeliveryPending
	var retry time.Duration
	switch {
	case res.ok():
		status = hubapi.DeliverySucceeded
	default:
		var more bool
		if retry, more = webhooks.RetryDelay(n); !more {
			status = hubapi.DeliveryFailed
		}
	}
	attempt := &hubapi.WebhookAttempt{DeliveryID: del.ID, Attempt: n, AttemptedAt: at,
		DurationMS: int(res.duration.Milliseconds()), ResponseStatus: res.status, ResponseBody: res.body, Error: res.err}
	update := func(db bun.IDB) *bun.UpdateQuery {
		return db.NewUpdate().Model((*hubapi.WebhookDelivery)(nil)).
			Set("status = ?", status).Set("attempts = ?", n).Set("last_attempt_at = ?", at).Set("updated_at = ?", d.now()).
			Where("id = ?", del.ID)
	}
	if res.ok() && sub.FailingSince == nil && d.db.IsPostgres() {
		// The common case in one statement: no transaction to open.
		_, err := update(d.db).With("attempt", d.db.NewInsert().Model(attempt)).Exec(ctx)
		return err
	}
	var disabled bool
	err := d.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.NewInsert().Model(attempt).Exec(ctx); err != nil {
			return err
		}
		if _, err := update(tx).Exec(ctx); err != nil {
			return err
		}
		if res.ok() {
			_, err := tx.NewUpdate().Model((*hubapi.WebhookSubscription)(nil)).Set("failing_since = NULL").
				Where("id = ? AND failing_since IS NOT NULL", sub.ID).Exec(ctx)
			return err
		}
		if _, err := tx.NewUpdate().Model((*hubapi.WebhookSubscription)(nil)).Set("failing_since = ?", at).
			Where("id = ? AND failing_since IS NULL", sub.ID).Exec(ctx); err != nil {
			return err
		}
		var err error
		disabled, err = d.disableIfFailing(ctx, tx, sub, at)
		return err
	})
	if err != nil {
		return err
	}
	switch {
	case disabled:
		d.notifyDisabled(ctx, sub)
		return nil
	case status == hubapi.DeliveryPending:
		return river.JobSnooze(retry)
	}
	return nil
}

// disableReason is the disabled_reason of a subscription that failed for
// too long.
func disableReason(after time.Duration) string {
	return fmt.Sprintf("every delivery failed for %d days", int(after/(24*time.Hour)))
}

// disableIfFailing disables sub when it has been failing for DisableAfter:
// its pending deliveries are given up and a webhook.disabled event is
// recorded (it reaches the owner's other subscriptions that ask for it).
func (d *deliverer) disableIfFailing(ctx context.Context, tx bun.Tx, sub *hubapi.WebhookSubscription, at time.Time) (bool, error) {
	reason := disableReason(d.cfg.DisableAfter)
	var disabled hubapi.WebhookSubscription
	err := tx.NewUpdate().Model(&disabled).
		Set("enabled = ?", false).Set("disabled_reason = ?", reason).
		Set("updated_at = ?", d.now()).Set("version = version + 1").
		Where("id = ? AND enabled AND failing_since IS NOT NULL AND failing_since <= ?", sub.ID, at.Add(-d.cfg.DisableAfter)).
		Returning("*").Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && disabled.ID == 0) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	*sub = disabled
	if _, err := tx.NewUpdate().Model((*hubapi.WebhookDelivery)(nil)).
		Set("status = ?", hubapi.DeliveryFailed).Set("updated_at = ?", d.now()).
		Where("subscription_id = ? AND status = ?", sub.ID, hubapi.DeliveryPending).Exec(ctx); err != nil {
		return false, err
	}
	d.log.WarnContext(ctx, "webhook subscription disabled", slog.Int64("subscription", sub.ID), slog.String("reason", reason))
	if d.queue == nil {
		return true, nil
	}
	return true, d.queue.Enqueue(ctx, tx, hubapi.Event{ID: hubapi.NewEventID(), Type: hubapi.EventWebhookDisabled,
		Resource: resourceWebhooks, ResourceID: sub.ID, ActorID: sub.UserID, At: d.now(), Data: sub})
}

// notifyDisabled mails the owner of a disabled subscription, when a
// notifier is configured. A failure is logged: the event was recorded.
func (d *deliverer) notifyDisabled(ctx context.Context, sub *hubapi.WebhookSubscription) {
	if d.cfg.Notifier == nil {
		return
	}
	var owner hubapi.User
	if err := d.db.NewSelect().Model(&owner).Column("id", "email").Where("id = ?", sub.UserID).Scan(ctx); err != nil {
		d.log.WarnContext(ctx, "webhook disabled: owner not found", slog.Int64("subscription", sub.ID))
		return
	}
	u, _ := url.Parse(sub.URL)
	host := ""
	if u != nil {
		host = u.Host // the path and query may carry a receiver's token
	}
	reason := ""
	if sub.DisabledReason != nil {
		reason = *sub.DisabledReason
	}
	msg := notify.Message{To: []string{owner.Email},
		Subject: fmt.Sprintf("Webhook %d disabled", sub.ID),
		Text: fmt.Sprintf("Your webhook subscription %d (%s) was disabled: %s.\n\n"+
			"Fix the receiver, then enable the subscription again (PATCH /api/v1/webhooks/%d with \"enabled\": true).\n",
			sub.ID, host, reason, sub.ID)}
	if err := d.cfg.Notifier.Send(ctx, msg); err != nil {
		d.log.WarnContext(ctx, "webhook disabled: mail not sent", slog.Int64("subscription", sub.ID), slog.String("error", err.Error()))
	}
}
