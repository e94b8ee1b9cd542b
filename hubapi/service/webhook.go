package service

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"maps"
	"strconv"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/store"
	"github.com/hubchantier/hubchantier/secretbox"
	"github.com/hubchantier/hubchantier/webhooks"
)

// SecretOverlap is how long the previous signing secret of a subscription
// keeps signing beside the new one after a rotation: receivers switch to the
// new secret within it.
const SecretOverlap = 24 * time.Hour

// urlCheckTimeout bounds the DNS resolution of a target URL at
// registration (a PATCH resolves under the row lock).
const urlCheckTimeout = 5 * time.Second

// WithSecretKeyring sets the keyring that seals webhook signing secrets.
// Without it, a keyring with a random key is made: sealed secrets then open
// only within this process.
func WithSecretKeyring(k *secretbox.Keyring) Option { return func(d *deps) { d.secrets = k } }

// WithWebhookGuard sets the rules that webhook target URLs must follow at
// registration (default: https only, public addresses only).
func WithWebhookGuard(g webhooks.Guard) Option { return func(d *deps) { d.guard = g } }

var webhookRows = rowKind[hubapi.WebhookSubscription]{hubapi.ResourceWebhooks, webhookRow,
	func(w *hubapi.WebhookSubscription) int64 { return w.Version }}

// webhookRow is what the permission rules see of a subscription: it belongs
// to its user.
func webhookRow(w *hubapi.WebhookSubscription) *hubapi.Row { return &hubapi.Row{Owner: w.UserID} }

// WebhookSecretAD is the additional data that binds the sealed current
// secret of subscription id to its row.
func WebhookSecretAD(id int64) []byte { return []byte("webhook:" + strconv.FormatInt(id, 10)) }

// WebhookPreviousSecretAD binds the sealed previous secret (during a
// rotation) of subscription id to its row.
func WebhookPreviousSecretAD(id int64) []byte {
	return []byte("webhook:" + strconv.FormatInt(id, 10) + ":previous")
}

// NewWebhookMessageID draws the webhook-id of a delivery: "msg_" and 32
// lowercase hex digits.
func NewWebhookMessageID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return "msg_" + hex.EncodeToString(b)
}

// WebhookBody is the body of a delivery.
func WebhookBody(t hubapi.EventType, at time.Time, data any) (string, error) {
	b, err := json.Marshal(struct {
		Type      hubapi.EventType `json:"type"`
		Timestamp string           `json:"timestamp"`
		Data      any              `json:"data"`
	}{t, at.UTC().Format(time.RFC3339), data})
	return string(b), err
}

// checkWebhookInput normalizes and validates in; when the URL is otherwise
// valid, it must pass the SSRF guard (after DNS resolution).
func (s *deps) checkWebhookInput(ctx context.Context, in *hubapi.WebhookInput, checkURL bool) error {
	in.Normalize()
	fields := map[string]string{}
	var ve *hubapi.ValidationError
	if err := in.Validate(); errors.As(err, &ve) {
		maps.Copy(fields, ve.Fields)
	} else if err != nil {
		return err
	}
	if _, bad := fields["url"]; !bad && checkURL {
		cctx, cancel := context.WithTimeout(ctx, urlCheckTimeout)
		err := s.guard.CheckURL(cctx, in.URL)
		cancel()
		if err != nil {
			fields["url"] = urlProblem(err)
		}
	}
	if len(fields) > 0 {
		return &hubapi.ValidationError{Fields: fields}
	}
	return nil
}

// urlProblem says why the guard refused a URL, without the resolver's
// text (which may name internal resolvers).
func urlProblem(err error) string {
	switch {
	case errors.Is(err, webhooks.ErrForbiddenAddress):
		return "resolves to a loopback, private, link-local, multicast or otherwise non-public address"
	case errors.Is(err, webhooks.ErrInvalidURL):
		_, why, _ := strings.Cut(err.Error(), webhooks.ErrInvalidURL.Error()+": ")
		if why == "" {
			why = "invalid URL"
		}
		return why
	}
	return "the host name could not be resolved"
}

// checkWebhookOwner reports a field error unless user id exists and its
// role may hold the webhooks:manage scope.
func checkWebhookOwner(ctx context.Context, db bun.IDB, id int64) error {
	u, err := store.Get[hubapi.User](ctx, db, id)
	if errors.Is(err, hubapi.ErrNotFound) {
		return &hubapi.ValidationError{Fields: map[string]string{"user_id": "does not exist"}}
	}
	if err != nil {
		return err
	}
	if !hubapi.RoleAllows(u.Role, hubapi.ScopeWebhooksManage) {
		return &hubapi.ValidationError{Fields: map[string]string{"user_id": "a " + string(u.Role) + " may not own webhook subscriptions"}}
	}
	return nil
}

// CreateWebhook implements hubapi.WebhookService. The subscription belongs
// to in.UserID when set (admins), to the caller otherwise.
func (s *Service) CreateWebhook(ctx context.Context, in hubapi.WebhookInput) (*hubapi.WebhookSubscription, string, error) {
	p, err := allow(ctx, hubapi.ResourceWebhooks, hubapi.ActionCreate)
	if err != nil {
		return nil, "", err
	}
	if in.UserID == 0 {
		in.UserID = p.UserID
	}
	if err := hubapi.Can(p, hubapi.ResourceWebhooks, hubapi.ActionCreate, &hubapi.Row{Owner: in.UserID}); err != nil {
		return nil, "", err
	}
	return s.createWebhook(ctx, in)
}

// CreateWebhookFor creates a subscription for in.UserID without checking a
// caller (the administration CLI). The owner's role must allow the
// webhooks:manage scope.
func (s *Operator) CreateWebhookFor(ctx context.Context, in hubapi.WebhookInput) (*hubapi.WebhookSubscription, string, error) {
	return s.createWebhook(ctx, in)
}

func (s *deps) createWebhook(ctx context.Context, in hubapi.WebhookInput) (*hubapi.WebhookSubscription, string, error) {
	if err := s.checkWebhookInput(ctx, &in, true); err != nil {
		return nil, "", err
	}
	secret, _, err := webhooks.NewSecret()
	if err != nil {
		return nil, "", err
	}
	now := s.now()
	w := &hubapi.WebhookSubscription{UserID: in.UserID, URL: in.URL, EventTypes: hubapi.JoinEventTypes(in.EventTypes),
		Description: in.Description, Enabled: in.Enabled == nil || *in.Enabled, SecretSealed: []byte{},
		CreatedAt: now, UpdatedAt: now, Version: 1}
	err = s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if err := checkWebhookOwner(ctx, tx, in.UserID); err != nil {
			return err
		}
		if err := store.Insert(ctx, tx, w); err != nil {
			return err
		}
		// The sealed secret is bound to the row's id, known only now.
		if w.SecretKeyID, w.SecretSealed, err = s.secrets.Seal([]byte(secret), WebhookSecretAD(w.ID)); err != nil {
			return err
		}
		if _, err := tx.NewUpdate().Model(w).Column("secret_key_id", "secret_sealed").WherePK().Exec(ctx); err != nil {
			return err
		}
		s.recordChange(ctx, "create_webhook", "webhooks", w.ID, w)
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	return w, secret, nil
}

// GetWebhook implements hubapi.WebhookService.
func (s *Service) GetWebhook(ctx context.Context, id int64) (*hubapi.WebhookSubscription, error) {
	p, err := allow(ctx, hubapi.ResourceWebhooks, hubapi.ActionRead)
	if err != nil {
		return nil, err
	}
	return s.readWebhook(ctx, s.db, p, id)
}

// readWebhook loads subscription id if p may read it (another user's reads
// as absent).
func (s *Service) readWebhook(ctx context.Context, db bun.IDB, p *hubapi.Principal, id int64) (*hubapi.WebhookSubscription, error) {
	w, err := store.Get[hubapi.WebhookSubscription](ctx, db, id)
	if err != nil {
		return nil, err
	}
	if err := hubapi.Can(p, hubapi.ResourceWebhooks, hubapi.ActionRead, webhookRow(w)); err != nil {
		return nil, err
	}
	return w, nil
}

// ListWebhooks implements hubapi.WebhookService: newest first; a caller
// who is not an admin lists only their own subscriptions.
func (s *Service) ListWebhooks(ctx context.Context, f hubapi.WebhookFilter, pr hubapi.PageRequest) (hubapi.Page[hubapi.WebhookSubscription], error) {
	p, err := allow(ctx, hubapi.ResourceWebhooks, hubapi.ActionRead)
	if err != nil {
		return hubapi.Page[hubapi.WebhookSubscription]{}, err
	}
	var visible bool
	f.UserID, visible = ownScope(p, hubapi.ResourceWebhooks, f.UserID)
	query := func() *bun.SelectQuery {
		q := s.db.NewSelect().Model((*hubapi.WebhookSubscription)(nil))
		switch {
		case !visible:
			q = q.Where("1 = 0")
		case f.UserID != 0:
			q = q.Where("?TableAlias.user_id = ?", f.UserID)
		}
		return q
	}
	pg, err := page(ctx, listing[hubapi.WebhookSubscription]{pager: s.pages.webhooks, filter: f, query: query(),
		count: func() (int, error) { return countOf(ctx, query()) }}, pr, nil)
	if err != nil {
		return hubapi.Page[hubapi.WebhookSubscription]{}, err
	}
	return *pg, nil
}

// PatchWebhook implements hubapi.WebhookService: change merges onto the
// current fields under the row lock. A new URL passes the SSRF guard again;
// enabling a disabled subscription clears its failure state.
func (s *Service) PatchWebhook(ctx context.Context, id int64, change func(hubapi.WebhookInput) (hubapi.WebhookInput, error), ifVersion *int64) (*hubapi.WebhookSubscription, error) {
	p, err := allow(ctx, hubapi.ResourceWebhooks, hubapi.ActionChange)
	if err != nil {
		return nil, err
	}
	var out *hubapi.WebhookSubscription
	err = s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		cur, err := webhookRows.lock(ctx, tx, p, hubapi.ActionChange, id, versionOf(ifVersion))
		if err != nil {
			return err
		}
		in, err := change(cur.Input())
		if err != nil {
			return err
		}
		if in.Enabled == nil {
			in.Enabled = &cur.Enabled
		}
		if err := s.checkWebhookInput(ctx, &in, strings.TrimSpace(in.URL) != cur.URL); err != nil {
			return err
		}
		if *in.Enabled && !cur.Enabled {
			cur.FailingSince, cur.DisabledReason = nil, nil
		}
		old, now := cur.Version, s.now()
		cur.URL, cur.EventTypes, cur.Description, cur.Enabled = in.URL, hubapi.JoinEventTypes(in.EventTypes), in.Description, *in.Enabled
		cur.Version, cur.UpdatedAt = old+1, now
		out = cur
		s.recordChange(ctx, "update_webhook", "webhooks", id, cur)
		return store.UpdateVersioned(ctx, tx, cur, id, old)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func versionOf(v *int64) int64 {
	if v == nil {
		return 0
	}
	return *v
}

// DeleteWebhook implements hubapi.WebhookService; the subscription's
// deliveries and their attempts go with it.
func (s *Service) DeleteWebhook(ctx context.Context, id int64, ifVersion *int64) error {
	p, err := allow(ctx, hubapi.ResourceWebhooks, hubapi.ActionDelete)
	if err != nil {
		return err
	}
	return s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		cur, err := webhookRows.lock(ctx, tx, p, hubapi.ActionDelete, id, versionOf(ifVersion))
		if err != nil {
			return err
		}
		s.recordChange(ctx, "delete_webhook", "webhooks", id, nil)
		return store.DeleteVersioned[hubapi.WebhookSubscription](ctx, tx, id, cur.Version)
	})
}

// RotateWebhookSecret implements hubapi.WebhookService: the current secret
// becomes the previous one, which keeps signing for SecretOverlap. A
// previous secret still in its overlap is dropped.
func (s *Service) RotateWebhookSecret(ctx context.Context, id int64) (*hubapi.WebhookSubscription, string, error) {
	p, err := allow(ctx, hubapi.ResourceWebhooks, hubapi.ActionChange)
	if err != nil {
		return nil, "", err
	}
	secret, _, err := webhooks.NewSecret()
	if err != nil {
		return nil, "", err
	}
	var out *hubapi.WebhookSubscription
	err = s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		cur, err := webhookRows.lock(ctx, tx, p, hubapi.ActionChange, id, 0)
		if err != nil {
			return err
		}
		old, err := s.secrets.Open(cur.SecretKeyID, cur.SecretSealed, WebhookSecretAD(id))
		if err != nil {
			return err
		}
		prevKID, prevSealed, err := s.secrets.Seal(old, WebhookPreviousSecretAD(id))
		if err != nil {
			return err
		}
		kid, sealed, err := s.secrets.Seal([]byte(secret), WebhookSecretAD(id))
		if err != nil {
			return err
		}
		now := s.now()
		until := now.Add(SecretOverlap)
		cur.PreviousSecretKeyID, cur.PreviousSecretSealed, cur.PreviousSecretExpiresAt = &prevKID, prevSealed, &until
		cur.SecretKeyID, cur.SecretSealed = kid, sealed
		version := cur.Version
		cur.Version, cur.UpdatedAt = version+1, now
		out = cur
		s.recordChange(ctx, "rotate_webhook_secret", "webhooks", id, cur)
		return store.UpdateVersioned(ctx, tx, cur, id, version)
	})
	if err != nil {
		return nil, "", err
	}
	return out, secret, nil
}

// ListWebhookDeliveries implements hubapi.WebhookService: the deliveries
// of a subscription, newest first, each with its attempts (newest first).
func (s *Service) ListWebhookDeliveries(ctx context.Context, id int64, pr hubapi.PageRequest) (hubapi.Page[hubapi.WebhookDelivery], error) {
	var none hubapi.Page[hubapi.WebhookDelivery]
	p, err := allow(ctx, hubapi.ResourceWebhooks, hubapi.ActionRead)
	if err != nil {
		return none, err
	}
	if _, err := s.readWebhook(ctx, s.db, p, id); err != nil {
		return none, err
	}
	query := func() *bun.SelectQuery {
		return s.db.NewSelect().Model((*hubapi.WebhookDelivery)(nil)).Where("?TableAlias.subscription_id = ?", id)
	}
	pg, err := page(ctx, listing[hubapi.WebhookDelivery]{pager: s.pages.deliveries,
		filter: struct {
			SubscriptionID int64 `json:"subscription_id"`
		}{id}, query: query(),
		count: func() (int, error) { return countOf(ctx, query()) }}, pr, nil)
	if err != nil {
		return none, err
	}
	if err := s.loadAttempts(ctx, pg.Items); err != nil {
		return none, err
	}
	return *pg, nil
}

// loadAttempts fills the AttemptLog of each delivery, in one query.
func (s *deps) loadAttempts(ctx context.Context, ds []hubapi.WebhookDelivery) error {
	if len(ds) == 0 {
		return nil
	}
	ids := make([]int64, len(ds))
	byID := make(map[int64]*hubapi.WebhookDelivery, len(ds))
	for i := range ds {
		ids[i] = ds[i].ID
		ds[i].AttemptLog = []hubapi.WebhookAttempt{}
		byID[ds[i].ID] = &ds[i]
	}
	var attempts []hubapi.WebhookAttempt
	if err := s.db.NewSelect().Model(&attempts).Where("delivery_id IN (?)", bun.List(ids)).
		Order("delivery_id", "attempt DESC").Scan(ctx); err != nil {
		return err
	}
	for _, a := range attempts {
		if d := byID[a.DeliveryID]; d != nil {
			d.AttemptLog = append(d.AttemptLog, a)
		}
	}
	return nil
}

// lockEnabledWebhook locks subscription id for a send on the caller's
// behalf: the caller may change it, and it is enabled (ErrConflict).
func lockEnabledWebhook(ctx context.Context, tx bun.Tx, p *hubapi.Principal, id int64) (*hubapi.WebhookSubscription, error) {
	w, err := webhookRows.lock(ctx, tx, p, hubapi.ActionChange, id, 0)
	if err != nil {
		return nil, err
	}
	if !w.Enabled {
		return nil, hubapi.Errorf(hubapi.ErrConflict, "the subscription is disabled: enable it (PATCH enabled: true) first")
	}
	return w, nil
}

// enqueueDelivery schedules delivery id in tx, when a queue is set.
func (s *deps) enqueueDelivery(ctx context.Context, tx bun.Tx, id int64) error {
	if s.webhooks == nil {
		return nil
	}
	return s.webhooks.EnqueueWebhookDelivery(ctx, tx, id)
}

// RedeliverWebhook implements hubapi.WebhookService: the same delivery
// (same webhook-id, same body) goes back to pending and is scheduled in
// the same transaction. Errors: ErrConflict when the subscription is
// disabled.
func (s *Service) RedeliverWebhook(ctx context.Context, id, deliveryID int64) (*hubapi.WebhookDelivery, error) {
	p, err := allow(ctx, hubapi.ResourceWebhooks, hubapi.ActionChange)
	if err != nil {
		return nil, err
	}
	d := &hubapi.WebhookDelivery{}
	err = s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if _, err := lockEnabledWebhook(ctx, tx, p, id); err != nil {
			return err
		}
		res, err := tx.NewUpdate().Model((*hubapi.WebhookDelivery)(nil)).
			Set("status = ?", hubapi.DeliveryPending).Set("updated_at = ?", s.now()).
			Where("id = ?", deliveryID).Where("subscription_id = ?", id).Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return hubapi.ErrNotFound
		}
		if err := tx.NewSelect().Model(d).Where("?TableAlias.id = ?", deliveryID).Scan(ctx); err != nil {
			return err
		}
		s.recordChange(ctx, "redeliver_webhook", "webhooks", id, map[string]int64{"delivery_id": deliveryID})
		return s.enqueueDelivery(ctx, tx, deliveryID)
	})
	if err != nil {
		return nil, err
	}
	one := []hubapi.WebhookDelivery{*d}
	if err := s.loadAttempts(ctx, one); err != nil {
		return nil, err
	}
	return &one[0], nil
}

// TestWebhook implements hubapi.WebhookService: a ping delivery
// ({"subscription_id": id}) recorded and scheduled in one transaction.
// Errors: ErrConflict when the subscription is disabled.
func (s *Service) TestWebhook(ctx context.Context, id int64) (*hubapi.WebhookDelivery, error) {
	p, err := allow(ctx, hubapi.ResourceWebhooks, hubapi.ActionChange)
	if err != nil {
		return nil, err
	}
	now := s.now()
	body, err := WebhookBody(hubapi.EventWebhookPing, now, map[string]int64{"subscription_id": id})
	if err != nil {
		return nil, err
	}
	d := &hubapi.WebhookDelivery{SubscriptionID: id, MessageID: NewWebhookMessageID(), EventID: hubapi.NewEventID(),
		EventType: string(hubapi.EventWebhookPing), Payload: body, Status: hubapi.DeliveryPending,
		CreatedAt: now, UpdatedAt: now, AttemptLog: []hubapi.WebhookAttempt{}}
	err = s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if _, err := lockEnabledWebhook(ctx, tx, p, id); err != nil {
			return err
		}
		if err := store.Insert(ctx, tx, d); err != nil {
			return err
		}
		s.recordChange(ctx, "test_webhook", "webhooks", id, map[string]int64{"delivery_id": d.ID})
		return s.enqueueDelivery(ctx, tx, d.ID)
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}

// WebhookOwner is a subscription with its owner's e-mail, as the
// administration CLI lists it.
type WebhookOwner struct {
	hubapi.WebhookSubscription `bun:",extend"`
	OwnerEmail                 string `bun:"owner_email"`
}

// AllWebhooks lists every subscription with its owner's e-mail, oldest
// first (the administration CLI).
func (s *Operator) AllWebhooks(ctx context.Context) ([]WebhookOwner, error) {
	var rows []WebhookOwner
	err := s.db.NewSelect().Model(&rows).ColumnExpr("webhook_subscription.*").ColumnExpr("u.email AS owner_email").
		Join("JOIN users AS u ON u.id = webhook_subscription.user_id").Order("webhook_subscription.id").Scan(ctx)
	return rows, err
}

// ResealWebhookSecrets seals every stored signing secret (current and
// previous) under the keyring's current key, and returns how many
// subscriptions it rewrote. Run it after putting a new key first in
// HUB_SECRET_KEYS; the old key may leave the list once it has run.
func (s *Operator) ResealWebhookSecrets(ctx context.Context) (int, error) {
	n := 0
	var last int64
	for {
		var batch []hubapi.WebhookSubscription
		if err := s.db.NewSelect().Model(&batch).Column("id").Where("id > ?", last).Order("id").Limit(100).Scan(ctx); err != nil {
			return n, err
		}
		if len(batch) == 0 {
			return n, nil
		}
		for _, b := range batch {
			last = b.ID
			changed, err := s.resealWebhook(ctx, b.ID)
			if err != nil {
				return n, err
			}
			if changed {
				n++
			}
		}
	}
}

func (s *Operator) resealWebhook(ctx context.Context, id int64) (bool, error) {
	changed := false
	err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		w, err := store.GetForUpdate[hubapi.WebhookSubscription](ctx, tx, id)
		if errors.Is(err, hubapi.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		cols := []string{}
		if w.SecretKeyID != s.secrets.CurrentKeyID() {
			if w.SecretKeyID, w.SecretSealed, err = s.secrets.Reseal(w.SecretKeyID, w.SecretSealed, WebhookSecretAD(id)); err != nil {
				return err
			}
			cols = append(cols, "secret_key_id", "secret_sealed")
		}
		if k := w.PreviousSecretKeyID; k != nil && *k != s.secrets.CurrentKeyID() {
			kid, sealed, err := s.secrets.Reseal(*k, w.PreviousSecretSealed, WebhookPreviousSecretAD(id))
			if err != nil {
				return err
			}
			w.PreviousSecretKeyID, w.PreviousSecretSealed = &kid, sealed
			cols = append(cols, "previous_secret_key_id", "previous_secret_sealed")
		}
		if len(cols) == 0 {
			return nil
		}
		changed = true
		_, err = tx.NewUpdate().Model(w).Column(cols...).WherePK().Exec(ctx)
		return err
	})
	return changed, err
}

func countOf(ctx context.Context, q *bun.SelectQuery) (int, error) {
	n, err := q.Count(ctx)
	return int(n), err
}
