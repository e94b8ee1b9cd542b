package jobs

import (
	"cmp"
	"context"
	crand "crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"log/slog"
	"time"

	"github.com/riverqueue/river"
	"github.com/uptrace/bun"

	"github.com/hubchantier/hubchantier/connectors"
	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/store"
)

// Defaults of ChannelConfig.
const (
	// DefaultChannelTTL is the life asked for a push channel (Google's
	// default for events: a week).
	DefaultChannelTTL = 7 * 24 * time.Hour
	// DefaultChannelRenewBefore: a channel expiring sooner is replaced.
	DefaultChannelRenewBefore = 24 * time.Hour
	// DefaultChannelInterval is the period of the renewal check.
	DefaultChannelInterval = time.Hour
)

// ChannelConfig configures connectors' push channels (see
// connectors.Watcher): opened once a connector is authorized, renewed
// before they expire (a new channel, then the old one stopped at the
// vendor), by a periodic job and one job per connector.
type ChannelConfig struct {
	// Address is the public URL a vendor posts the notifications of
	// connectors of type typ to ("": no channel for that type).
	Address func(typ string) string
	// TTL (DefaultChannelTTL), RenewBefore (DefaultChannelRenewBefore),
	// Interval (DefaultChannelInterval).
	TTL         time.Duration
	RenewBefore time.Duration
	Interval    time.Duration
}

// connectorWatchArgs is the job that opens or renews a connector's channel
// (River kind "connector_watch"), unique by connector while pending.
type connectorWatchArgs struct {
	ConnectorID int64 `json:"connector_id" river:"unique"`
}

// Kind is River's job kind.
func (connectorWatchArgs) Kind() string { return "connector_watch" }

// EnqueueConnectorWatch queues the opening or renewal of connector id's
// push channel in tx (no-op when channels are not configured).
func (q *Queue) EnqueueConnectorWatch(ctx context.Context, tx bun.Tx, id int64) error {
	if q.connectors == nil || q.connectors.cfg.Channels == nil {
		return nil
	}
	_, err := q.client.InsertTx(ctx, tx.Tx, connectorWatchArgs{ConnectorID: id}, &river.InsertOpts{Queue: QueueConnectors,
		MaxAttempts: q.connectors.cfg.MaxAttempts, UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: connectorUniqueStates}})
	return err
}

// channelWorker works connector_watch jobs.
type channelWorker struct {
	river.WorkerDefaults[connectorWatchArgs]
	sy  *syncer
	cfg ChannelConfig
}

func newChannelWorker(sy *syncer) *channelWorker {
	cfg := *sy.cfg.Channels
	cfg.TTL = cmp.Or(cfg.TTL, DefaultChannelTTL)
	cfg.RenewBefore = cmp.Or(cfg.RenewBefore, DefaultChannelRenewBefore)
	cfg.Interval = cmp.Or(cfg.Interval, DefaultChannelInterval)
	if cfg.Address == nil {
		cfg.Address = func(string) string { return "" }
	}
	return &channelWorker{sy: sy, cfg: cfg}
}

// NextRetry is the syncs' backoff.
func (w *channelWorker) NextRetry(j *river.Job[connectorWatchArgs]) time.Time {
	return time.Now().Add(w.sy.cfg.Retry.Delay(j.Attempt))
}

func randomToken() string {
	b := make([]byte, 32)
	_, _ = crand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Work opens a channel when the connector has none that lasts beyond
// RenewBefore, then stops every older channel at the vendor.
func (w *channelWorker) Work(ctx context.Context, j *river.Job[connectorWatchArgs]) error {
	sy := w.sy
	c, err := store.Get[hubapi.Connector](ctx, sy.db, j.Args.ConnectorID)
	if errors.Is(err, hubapi.ErrNotFound) {
		return nil
	} else if err != nil {
		return err
	}
	addr := w.cfg.Address(c.Type)
	if len(c.TokenSealed) == 0 || addr == "" {
		return nil
	}
	conn, spec, err := sy.cfg.Registry.New(c.Type, sy.cfg.Options(c.Type))
	if err != nil {
		return river.JobCancel(err)
	}
	wt, ok := conn.(connectors.Watcher)
	if !ok {
		return nil
	}
	cfg, err := sy.cfg.Sealer.Open(c.ConfigKeyID, c.ConfigSealed, ConnectorConfigBinding(c.ID))
	if err != nil {
		return river.JobCancel(err)
	}
	ctx = sy.withTokens(ctx, c)
	var chans []hubapi.ConnectorChannel
	if err := sy.db.NewSelect().Model(&chans).Where("connector_id = ?", c.ID).OrderExpr("expires_at DESC").Scan(ctx); err != nil {
		return err
	}
	now := sy.now()
	call := func(f func(ctx context.Context) error) error {
		if err := sy.cfg.Runner.Limiter.Wait(ctx, spec.VendorKey(), spec.RateLimit); err != nil {
			return err
		}
		cctx, cancel := context.WithTimeout(ctx, cmp.Or(sy.cfg.Runner.CallTimeout, connectors.DefaultCallTimeout))
		defer cancel()
		err := f(cctx)
		if err != nil {
			e := connectors.AsError(err)
			return &connectors.Error{Kind: e.Kind, Status: e.Status, RetryAfter: e.RetryAfter, Msg: cfg.Redact(e.Msg)}
		}
		return nil
	}
	if c.Enabled && (len(chans) == 0 || chans[0].ExpiresAt.Before(now.Add(w.cfg.RenewBefore))) {
		b := make([]byte, 16)
		_, _ = crand.Read(b)
		req := connectors.Channel{ID: "hub-" + hex.EncodeToString(b), Token: randomToken(), Address: addr}
		var ch connectors.Channel
		err := call(func(ctx context.Context) (err error) { ch, err = wt.Watch(ctx, cfg, req, w.cfg.TTL); return err })
		if err != nil {
			return w.failed(ctx, c.ID, err)
		}
		row := hubapi.ConnectorChannel{ID: ch.ID, ConnectorID: c.ID, TokenHash: connectors.HashChannelToken(req.Token),
			ResourceID: ch.ResourceID, ExpiresAt: ch.Expiration.UTC(), CreatedAt: now}
		if _, err := sy.db.NewInsert().Model(&row).Exec(ctx); err != nil {
			_ = call(func(ctx context.Context) error { return wt.StopWatch(ctx, cfg, ch) })
			return err
		}
		chans = append([]hubapi.ConnectorChannel{row}, chans...)
	}
	keep := 1
	if !c.Enabled {
		keep = 0
	}
	for _, old := range chans[min(keep, len(chans)):] {
		err := call(func(ctx context.Context) error {
			return wt.StopWatch(ctx, cfg, connectors.Channel{ID: old.ID, ResourceID: old.ResourceID})
		})
		if err != nil && connectors.Temporary(err) && old.ExpiresAt.After(now) {
			return w.failed(ctx, c.ID, err)
		}
		if _, err := sy.db.NewDelete().Model((*hubapi.ConnectorChannel)(nil)).Where("id = ?", old.ID).Exec(ctx); err != nil {
			return err
		}
	}
	return nil
}

func (w *channelWorker) failed(ctx context.Context, id int64, err error) error {
	w.sy.log.WarnContext(ctx, "connector push channel not renewed", slog.Int64("connector", id), slog.String("error", truncateUTF8(err.Error(), 300)))
	var e *connectors.Error
	if errors.As(err, &e) && !e.Temporary() {
		return river.JobCancel(err)
	}
	return err
}

// channelRenewals is the periodic job that queues a connector_watch job
// for every enabled, authorized connector of a type with channels whose
// newest channel expires within RenewBefore (or that has none), and for
// every disabled one that still has channels (the job stops them).
func (q *Queue) channelRenewals(w *channelWorker) Periodic {
	return Periodic{Name: "connector-channels", Interval: w.cfg.Interval, Run: func(ctx context.Context, _ time.Time) error {
		sy := w.sy
		var types []string
		for _, t := range sy.cfg.Registry.Types() {
			if w.cfg.Address(t) == "" {
				continue
			}
			if c, _, err := sy.cfg.Registry.New(t, sy.cfg.Options(t)); err == nil {
				if _, ok := c.(connectors.Watcher); ok {
					types = append(types, t)
				}
			}
		}
		if len(types) == 0 {
			return nil
		}
		// Due: an enabled connector without a channel lasting beyond
		// RenewBefore, or a disabled one whose channels are still open.
		var ids []int64
		err := sy.db.NewSelect().Model((*hubapi.Connector)(nil)).Column("id").Where("token_sealed IS NOT NULL").
			Where("type IN (?)", bun.List(types)).
			WhereGroup(" AND ", func(q *bun.SelectQuery) *bun.SelectQuery {
				return q.Where("enabled AND NOT EXISTS (SELECT 1 FROM connector_channels AS ch WHERE ch.connector_id = connector.id AND ch.expires_at > ?)",
					sy.now().Add(w.cfg.RenewBefore)).
					WhereOr("NOT enabled AND EXISTS (SELECT 1 FROM connector_channels AS ch WHERE ch.connector_id = connector.id)")
			}).
			Scan(ctx, &ids)
		if err != nil {
			return err
		}
		for _, id := range ids {
			if err := sy.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error { return q.EnqueueConnectorWatch(ctx, tx, id) }); err != nil {
				return err
			}
		}
		return nil
	}}
}
