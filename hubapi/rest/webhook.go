package rest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gorilla/mux"

	"github.com/hubchantier/hubchantier/etag"
	"github.com/hubchantier/hubchantier/fields"
	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/problem"
)

// webhookView is a subscription as the API shows it: its event types as a
// list, never its secrets.
type webhookView struct {
	*hubapi.WebhookSubscription
	EventTypes []string `json:"event_types"`
}

func viewWebhook(w *hubapi.WebhookSubscription) *webhookView {
	return &webhookView{w, w.EventTypeList()}
}

// webhookWithSecret is the answer of a creation or a rotation: the only
// two responses that carry the signing secret.
type webhookWithSecret struct {
	*webhookView
	Secret string `json:"secret"`
}

// deliveryView is a delivery of the log with the body that was sent.
type deliveryView struct {
	*hubapi.WebhookDelivery
	Payload json.RawMessage `json:"payload"`
}

func viewDelivery(d *hubapi.WebhookDelivery) *deliveryView {
	v := &deliveryView{WebhookDelivery: d, Payload: json.RawMessage(d.Payload)}
	if d.AttemptLog == nil {
		d.AttemptLog = []hubapi.WebhookAttempt{}
	}
	if !json.Valid(v.Payload) {
		v.Payload = json.RawMessage("null")
	}
	return v
}

var (
	webhookSchema = fields.MustSchema(
		fields.F("id"), fields.F("user_id"), fields.F("url"), fields.F("event_types"), fields.F("description"),
		fields.F("enabled"), fields.F("previous_secret_expires_at"), fields.F("failing_since"), fields.F("disabled_reason"),
		fields.F("created_at"), fields.F("updated_at"), fields.F("version"),
	)
	deliverySchema = fields.MustSchema(
		fields.F("id"), fields.F("subscription_id"), fields.F("message_id"), fields.F("event_id"), fields.F("event_type"),
		fields.F("payload"), fields.F("status"), fields.F("attempts"), fields.F("last_attempt_at"), fields.F("created_at"),
		fields.F("updated_at"), fields.F("attempt_log"),
	)
	webhookSchemaV2 = fields.MustSchema(
		fields.F("id", "id"), fields.F("userId", "user_id"), fields.F("url", "url"), fields.F("eventTypes", "event_types"),
		fields.F("description", "description"), fields.F("enabled", "enabled"),
		fields.F("previousSecretExpiresAt", "previous_secret_expires_at"), fields.F("failingSince", "failing_since"),
		fields.F("disabledReason", "disabled_reason"), fields.F("createdAt", "created_at"), fields.F("updatedAt", "updated_at"),
		fields.F("version", "version"),
	)
	deliverySchemaV2 = fields.MustSchema(
		fields.F("id", "id"), fields.F("subscriptionId", "subscription_id"), fields.F("messageId", "message_id"),
		fields.F("eventId", "event_id"), fields.F("eventType", "event_type"), fields.F("payload", "payload"),
		fields.F("status", "status"), fields.F("attempts", "attempts"), fields.F("lastAttemptAt", "last_attempt_at"),
		fields.F("createdAt", "created_at"), fields.F("updatedAt", "updated_at"), fields.F("attemptLog", "attempt_log"),
	)
)

// mountWebhooks adds the webhook subscription routes.
func (a *API) mountWebhooks(route func(method, path string, scope hubapi.Scope, h http.HandlerFunc)) {
	s := a.o.Webhooks
	sc := hubapi.ScopeWebhooksManage
	res := &resource[webhookView, hubapi.WebhookInput]{name: "webhooks",
		get: func(ctx context.Context, id int64, _ *fields.Selection) (*webhookView, error) {
			w, err := s.GetWebhook(ctx, id)
			if err != nil {
				return nil, err
			}
			return viewWebhook(w), nil
		},
		patch: func(ctx context.Context, id int64, change func(hubapi.WebhookInput) (hubapi.WebhookInput, error), ifVersion int64) (*webhookView, error) {
			var v *int64
			if ifVersion != 0 {
				v = &ifVersion
			}
			w, err := s.PatchWebhook(ctx, id, change, v)
			if err != nil {
				return nil, err
			}
			return viewWebhook(w), nil
		},
		remove: func(ctx context.Context, id int64, ifVersion int64) error {
			var v *int64
			if ifVersion != 0 {
				v = &ifVersion
			}
			return s.DeleteWebhook(ctx, id, v)
		},
		id:      func(m *webhookView) int64 { return m.ID },
		version: func(m *webhookView) int64 { return m.Version },
		updated: func(m *webhookView) time.Time { return m.UpdatedAt },
		schema:  webhookSchema, schemaV2: webhookSchemaV2, dto: webhookDTO,
	}
	list := &lister[webhookView, hubapi.WebhookFilter]{
		schema: webhookSchema, schemaV2: webhookSchemaV2, dto: webhookDTO, filters: []string{"user_id"},
		filter: func(q *query) hubapi.WebhookFilter { return hubapi.WebhookFilter{UserID: q.int64("user_id", true)} },
		list: func(ctx context.Context, f hubapi.WebhookFilter, pr hubapi.PageRequest, _ *fields.Selection) (*hubapi.Page[webhookView], error) {
			pg, err := s.ListWebhooks(ctx, f, pr)
			if err != nil {
				return nil, err
			}
			out := &hubapi.Page[webhookView]{Items: make([]webhookView, len(pg.Items)), NextCursor: pg.NextCursor, PrevCursor: pg.PrevCursor,
				HasMore: pg.HasMore, Total: pg.Total, Limit: pg.Limit, Number: pg.Number}
			for i := range pg.Items {
				out.Items[i] = *viewWebhook(&pg.Items[i])
			}
			return out, nil
		},
		key: versionKey(func(m *webhookView) (int64, int64) { return m.ID, m.Version }),
	}
	route(http.MethodGet, "/webhooks", sc, list.handle(a))
	route(http.MethodPost, "/webhooks", sc, a.handler(a.createWebhook))
	route(http.MethodGet, "/webhooks/{id}", sc, res.handleGet(a))
	route(http.MethodPatch, "/webhooks/{id}", sc, res.handlePatch(a))
	route(http.MethodDelete, "/webhooks/{id}", sc, res.handleDelete(a))
	route(http.MethodPost, "/webhooks/{id}/rotate-secret", sc, a.handler(a.rotateWebhookSecret))
	route(http.MethodGet, "/webhooks/{id}/deliveries", sc, a.handler(a.listWebhookDeliveries))
	route(http.MethodPost, "/webhooks/{id}/deliveries/{did}/redeliver", sc, a.handler(a.redeliverWebhook))
	route(http.MethodPost, "/webhooks/{id}/test", sc, a.handler(a.testWebhook))
}

// writeSecret answers a creation or a rotation: the subscription with its
// secret, never cached.
func (a *API) writeSecret(w http.ResponseWriter, r *http.Request, status int, sub *hubapi.WebhookSubscription, secret string) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("ETag", etag.VersionTag(sub.Version).String())
	h.Set("Last-Modified", sub.UpdatedAt.UTC().Format(http.TimeFormat))
	a.writeJSON(w, r, status, webhookWithSecret{viewWebhook(sub), secret}, webhookDTO)
}

func (a *API) createWebhook(w http.ResponseWriter, r *http.Request) error {
	in, err := decodeInput[hubapi.WebhookInput](w, r, webhookInputDTO)
	if err != nil {
		return err
	}
	sub, secret, err := a.o.Webhooks.CreateWebhook(r.Context(), in)
	if err != nil {
		return err
	}
	w.Header().Set("Location", a.base+"/webhooks/"+strconv.FormatInt(sub.ID, 10))
	a.writeSecret(w, r, http.StatusCreated, sub, secret)
	return nil
}

func (a *API) rotateWebhookSecret(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if err := newQuery(r).err(); err != nil {
		return err
	}
	sub, secret, err := a.o.Webhooks.RotateWebhookSecret(r.Context(), id)
	if err != nil {
		return err
	}
	a.writeSecret(w, r, http.StatusOK, sub, secret)
	return nil
}

func (a *API) listWebhookDeliveries(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	l := &lister[deliveryView, int64]{
		schema: deliverySchema, schemaV2: deliverySchemaV2, dto: deliveryDTO, filter: func(*query) int64 { return id },
		list: func(ctx context.Context, id int64, pr hubapi.PageRequest, _ *fields.Selection) (*hubapi.Page[deliveryView], error) {
			pg, err := a.o.Webhooks.ListWebhookDeliveries(ctx, id, pr)
			if err != nil {
				return nil, err
			}
			out := &hubapi.Page[deliveryView]{Items: make([]deliveryView, len(pg.Items)), NextCursor: pg.NextCursor, PrevCursor: pg.PrevCursor,
				HasMore: pg.HasMore, Total: pg.Total, Limit: pg.Limit, Number: pg.Number}
			for i := range pg.Items {
				out.Items[i] = *viewDelivery(&pg.Items[i])
			}
			return out, nil
		},
		// A delivery changes with each attempt: its status, its attempt
		// count and its updated_at say which state the page shows.
		key: func(b []byte, d *deliveryView, _ *fields.Selection) []byte {
			return fmt.Appendf(b, "%d:%s:%d:%d:%d;", d.ID, d.Status, d.Attempts, len(d.AttemptLog), d.UpdatedAt.UnixMicro())
		},
	}
	l.handle(a).ServeHTTP(w, r)
	return nil
}

func (a *API) redeliverWebhook(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	did, err := strconv.ParseInt(mux.Vars(r)["did"], 10, 64)
	if err != nil || did <= 0 {
		return problem.New(http.StatusBadRequest, "invalid-id", "The delivery id in the path must be a positive integer.")
	}
	if err := newQuery(r).err(); err != nil {
		return err
	}
	d, err := a.o.Webhooks.RedeliverWebhook(r.Context(), id, did)
	if err != nil {
		return err
	}
	a.writeJSON(w, r, http.StatusAccepted, viewDelivery(d), deliveryDTO)
	return nil
}

func (a *API) testWebhook(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if err := newQuery(r).err(); err != nil {
		return err
	}
	d, err := a.o.Webhooks.TestWebhook(r.Context(), id)
	if err != nil {
		return err
	}
	a.writeJSON(w, r, http.StatusAccepted, viewDelivery(d), deliveryDTO)
	return nil
}
