package jobs

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/riverqueue/river"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/store"
)

// resourceWebhooks is the Resource of webhook.disabled events: the
// subscription.
const resourceWebhooks = "webhooks"

// scopeWebhooksManage is the scope of the subscription routes: the owner's
// role must be allowed to hold it for the owner's subscriptions to receive
// anything.
const scopeWebhooksManage = hubapi.Scope("webhooks:manage")

// webhookResources are the resources whose events webhooks carry, each
// read-checked for the subscription's owner.
var webhookResources = []hubapi.Resource{hubapi.ResourceChantiers, hubapi.ResourcePointages,
	hubapi.ResourceDocuments, hubapi.ResourceSignalements, hubapi.ResourceAffectations}

// NewMessageID draws a webhook-id: "msg_" + 32 lower-case hex digits, drawn
// once per delivery and sent on every attempt.
func NewMessageID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return "msg_" + hex.EncodeToString(b)
}

// WebhookPayload is the body of a delivery, per the Standard Webhooks
// specification.
type WebhookPayload struct {
	Type      string          `json:"type"`
	Timestamp time.Time       `json:"timestamp"`
	Data      json.RawMessage `json:"data"`
}

// webhookPayload is the body of event e: its data is the resource after the
// change, or {"id": …} for a deletion.
func webhookPayload(e EventArgs) (string, error) {
	data := e.Data
	if len(data) == 0 || string(data) == "null" {
		data, _ = json.Marshal(map[string]int64{"id": e.ResourceID})
	}
	b, err := json.Marshal(WebhookPayload{Type: string(e.Type), Timestamp: e.At.UTC(), Data: data})
	return string(b), err
}

// subscriber is a subscription with what the fan-out checks of its owner.
type subscriber struct {
	hubapi.WebhookSubscription `bun:",extend"`
	OwnerRole                  hubapi.Role `bun:"owner_role"`
}

// fanOut is the event handler that turns each committed event into one
// delivery per enabled subscription that asked for its type and whose owner
// may read the resource through the API, each with its job, in one
// transaction. A repeated event (the event job retried) adds nothing: a
// delivery is unique per subscription and event.
func (q *Queue) fanOut(db *store.DB) EventHandler {
	return func(ctx context.Context, e EventArgs) error {
		var subs []subscriber
		err := db.NewSelect().Model(&subs).ModelTableExpr("webhook_subscriptions AS s").
			ColumnExpr("s.*").ColumnExpr("u.role AS owner_role").
			Join("JOIN users AS u ON u.id = s.user_id").
			Where("s.enabled").Where("u.disabled_at IS NULL").OrderExpr("s.id").Scan(ctx)
		if err != nil {
			return err
		}
		subs = slices.DeleteFunc(subs, func(s subscriber) bool { return !wants(s, e) })
		if len(subs) == 0 {
			return nil
		}
		return db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			// The data of an event about a person erased since (GDPR) is
			// not sent: the erasure scrubbed the recorded events, but this
			// one was already being handled. The owner's row is read with a
			// share lock, so that an erasure running now either commits
			// first (seen here) or waits for these deliveries (and scrubs
			// them).
			if erased, err := ownerErased(ctx, tx, e); err != nil {
				return err
			} else if erased {
				e.Data = nil
			}
			payload, err := webhookPayload(e)
			if err != nil {
				return err
			}
			var jobs []river.InsertManyParams
			now := store.Now()
			for _, s := range subs {
				del := &hubapi.WebhookDelivery{SubscriptionID: s.ID, MessageID: NewMessageID(), EventID: e.ID,
					EventType: string(e.Type), Payload: payload, Status: hubapi.DeliveryPending, CreatedAt: now, UpdatedAt: now}
				err := tx.NewInsert().Model(del).On("CONFLICT (subscription_id, event_id) DO NOTHING").Returning("id").Scan(ctx, &del.ID)
				if errors.Is(err, sql.ErrNoRows) {
					continue // delivered already by an earlier run of this event
				} else if err != nil {
					return err
				}
				jobs = append(jobs, river.InsertManyParams{Args: webhookDeliveryArgs{DeliveryID: del.ID}})
			}
			if len(jobs) == 0 {
				return nil
			}
			_, err = q.client.InsertManyTx(ctx, tx.Tx, jobs)
			return err
		})
	}
}

// ownerErased reports whether the person whose words event e's data holds
// has been erased (hubapi.User.ErasedAt).
func ownerErased(ctx context.Context, tx bun.Tx, e EventArgs) (bool, error) {
	owner := rowOwner(hubapi.Resource(e.Resource), e.Data)
	if owner == 0 {
		return false, nil
	}
	var erasedAt []time.Time
	q := tx.NewSelect().Model((*hubapi.User)(nil)).Column("erased_at").Where("id = ?", owner).Where("erased_at IS NOT NULL")
	if tx.Dialect().Name() == dialect.PG {
		q = q.For("SHARE")
	}
	if err := q.Scan(ctx, &erasedAt); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return false, err
	}
	return len(erasedAt) > 0, nil
}

// wants reports whether subscription s receives event e: its types match,
// its owner may hold webhooks:manage, and the owner may read the resource
// the event is about, by the same rules as the API's read use cases (a
// compagnon's subscription never carries another worker's pointage).
func wants(s subscriber, e EventArgs) bool {
	if !matchesType(s.EventTypes, string(e.Type)) || !mayOwnWebhooks(s.OwnerRole) {
		return false
	}
	if e.Resource == resourceWebhooks {
		// Events about a subscription reach its owner only.
		return rowOwner(resourceWebhooks, e.Data) == s.UserID
	}
	if e.Resource == string(hubapi.ResourceAPIKeys) {
		// A rotation reaches the key's owner; an anomaly, the admins.
		if e.Type == hubapi.EventAPIKeyAnomaly {
			return s.OwnerRole == hubapi.RoleAdmin
		}
		return rowOwner(resourceWebhooks, e.Data) == s.UserID
	}
	r := hubapi.Resource(e.Resource)
	if !slices.Contains(webhookResources, r) {
		return false
	}
	p := &hubapi.Principal{UserID: s.UserID, Role: s.OwnerRole, Scopes: hubapi.RoleScopes(s.OwnerRole)}
	return hubapi.Can(p, r, hubapi.ActionRead, &hubapi.Row{Owner: rowOwner(r, e.Data)}) == nil
}

// mayOwnWebhooks reports whether a user of role may hold webhooks:manage.
// A product without that scope lets every role own subscriptions.
func mayOwnWebhooks(role hubapi.Role) bool {
	if !slices.Contains(hubapi.AllScopes, scopeWebhooksManage) {
		return role.Valid()
	}
	return hubapi.RoleAllows(role, scopeWebhooksManage)
}

// matchesType reports whether a subscription's types ("*" or a
// comma-separated list) include t.
func matchesType(types, t string) bool {
	for x := range strings.SplitSeq(types, ",") {
		if x = strings.TrimSpace(x); x == "*" || x == t {
			return true
		}
	}
	return false
}

// rowOwner is the user a resource's row belongs to, read from the event's
// data (0 when unknown: a deletion, which then reaches only the roles that
// read every row).
func rowOwner(r hubapi.Resource, data json.RawMessage) int64 {
	if len(data) == 0 {
		return 0
	}
	var o struct {
		UserID     int64 `json:"user_id"`
		CreatedBy  int64 `json:"created_by"`
		UploadedBy int64 `json:"uploaded_by"`
	}
	if json.Unmarshal(data, &o) != nil {
		return 0
	}
	switch r {
	case hubapi.ResourcePointages, hubapi.ResourceAffectations, resourceWebhooks:
		return o.UserID
	case hubapi.ResourceSignalements:
		return o.CreatedBy
	case hubapi.ResourceDocuments:
		return o.UploadedBy
	}
	return 0
}
