package service

import (
	"context"

	"github.com/uptrace/bun"
)

// WebhookQueue schedules the sending of a webhook delivery (a row of
// webhook_deliveries) in the transaction that wrote or reset the row:
// the delivery is sent exactly when that transaction commits, and a
// rolled-back transaction sends nothing. hubapi/jobs implements it with a
// River job.
type WebhookQueue interface {
	EnqueueWebhookDelivery(ctx context.Context, tx bun.Tx, deliveryID int64) error
}

// WithWebhookQueue sets where webhook deliveries are scheduled (default:
// nowhere; deliveries are recorded but not sent).
func WithWebhookQueue(q WebhookQueue) Option { return func(d *deps) { d.webhooks = q } }
