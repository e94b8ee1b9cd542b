package service

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/uptrace/bun"

	"github.com/hubchantier/hubchantier/connectors"
	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/store"
)

// ConnectorNotifications receives vendors' push notifications on the
// server's public route. Its caller is the vendor, not a user: it is its
// own type (built by the server only), which trusts nothing of the request
// but a channel id whose token matches the kept hash, and never does more
// than queue a sync.
type ConnectorNotifications struct {
	db    *store.DB
	queue NotificationQueue
	now   func() time.Time
}

// NotificationQueue queues the sync a notification asks for: one that
// starts after it, even when a sync is running (hubapi/jobs).
type NotificationQueue interface {
	EnqueueConnectorSyncAfter(ctx context.Context, tx bun.Tx, id int64) (bool, error)
}

// NewConnectorNotifications returns the receiver of db's channels.
func NewConnectorNotifications(db *store.DB, queue NotificationQueue) *ConnectorNotifications {
	return &ConnectorNotifications{db: db, queue: queue, now: time.Now}
}

// Notification is what a vendor's push notification says (Google's
// X-Goog-* headers).
type Notification struct {
	ChannelID  string
	Token      string
	ResourceID string
	// State: "sync" (the channel opened), "exists", "not_exists".
	State string
}

// ErrChannelToken answers a notification whose token (or resource) does
// not match its channel's.
var ErrChannelToken = hubapi.Errorf(hubapi.ErrUnauthenticated, "the channel token does not match")

// Notify checks n against its channel (a connector of type typ) and
// queues a sync of the connector. Errors: hubapi.ErrNotFound (unknown or
// expired channel, another type's), ErrChannelToken.
func (r *ConnectorNotifications) Notify(ctx context.Context, typ string, n Notification) error {
	if n.ChannelID == "" || len(n.ChannelID) > 200 {
		return hubapi.ErrNotFound
	}
	var ch hubapi.ConnectorChannel
	err := r.db.NewSelect().Model(&ch).Where("id = ?", n.ChannelID).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return hubapi.ErrNotFound
	} else if err != nil {
		return err
	}
	if !connectors.ChannelTokenMatches(ch.TokenHash, n.Token) || (n.ResourceID != "" && n.ResourceID != ch.ResourceID) {
		return ErrChannelToken
	}
	if !r.now().Before(ch.ExpiresAt) {
		return hubapi.ErrNotFound
	}
	c, err := store.Get[hubapi.Connector](ctx, r.db, ch.ConnectorID)
	if err != nil {
		return err
	}
	if c.Type != typ {
		return hubapi.ErrNotFound
	}
	if !c.Enabled || n.State == "sync" || r.queue == nil {
		return nil // the opening handshake, or nothing to do
	}
	return r.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		queued, err := r.queue.EnqueueConnectorSyncAfter(ctx, tx, c.ID)
		if err == nil && queued {
			_, err = tx.NewUpdate().Model((*hubapi.Connector)(nil)).Set("sync_status = ?", hubapi.SyncQueued).
				Where("id = ? AND lease_owner IS NULL", c.ID).Exec(ctx)
		}
		return err
	})
}
