package hubapi

import (
	"context"
	"slices"
	"strings"
	"time"
)

// WebhookSubscription is an endpoint that receives domain events, signed
// per the Standard Webhooks specification. It belongs to a user: users see
// their own subscriptions, admins see all. The signing secret is sealed in
// the database (never in clear) and shown once, at creation or rotation.
type WebhookSubscription struct {
	ID     int64  `bun:"id,pk,autoincrement" json:"id"`
	UserID int64  `bun:"user_id,notnull" json:"user_id"`
	URL    string `bun:"url,notnull" json:"url"`
	// EventTypes is a comma-separated list of event types, or "*".
	EventTypes  string `bun:"event_types,notnull" json:"-"`
	Description string `bun:"description,notnull" json:"description"`
	Enabled     bool   `bun:"enabled,notnull" json:"enabled"`

	SecretKeyID             string     `bun:"secret_key_id,notnull" json:"-"`
	SecretSealed            []byte     `bun:"secret_sealed,notnull" json:"-"`
	PreviousSecretKeyID     *string    `bun:"previous_secret_key_id" json:"-"`
	PreviousSecretSealed    []byte     `bun:"previous_secret_sealed" json:"-"`
	PreviousSecretExpiresAt *time.Time `bun:"previous_secret_expires_at" json:"previous_secret_expires_at,omitempty"`

	// FailingSince is the first failed delivery since the last success.
	FailingSince   *time.Time `bun:"failing_since" json:"failing_since"`
	DisabledReason *string    `bun:"disabled_reason" json:"disabled_reason"`

	CreatedAt time.Time `bun:"created_at,notnull" json:"created_at"`
	UpdatedAt time.Time `bun:"updated_at,notnull" json:"updated_at"`
	Version   int64     `bun:"version,notnull" json:"version"`
}

// Delivery states.
const (
	DeliveryPending   = "pending"
	DeliverySucceeded = "succeeded"
	DeliveryFailed    = "failed"
)

// WebhookDelivery is one event sent to one subscription, over one or more
// attempts. MessageID is the webhook-id header: the same on every attempt
// and on a redelivery, so receivers deduplicate by it.
type WebhookDelivery struct {
	ID             int64      `bun:"id,pk,autoincrement" json:"id"`
	SubscriptionID int64      `bun:"subscription_id,notnull" json:"subscription_id"`
	MessageID      string     `bun:"message_id,notnull" json:"message_id"`
	EventID        string     `bun:"event_id,notnull" json:"event_id"`
	EventType      string     `bun:"event_type,notnull" json:"event_type"`
	Payload        string     `bun:"payload,notnull" json:"-"`
	Status         string     `bun:"status,notnull" json:"status"`
	Attempts       int        `bun:"attempts,notnull" json:"attempts"`
	LastAttemptAt  *time.Time `bun:"last_attempt_at" json:"last_attempt_at"`
	CreatedAt      time.Time  `bun:"created_at,notnull" json:"created_at"`
	UpdatedAt      time.Time  `bun:"updated_at,notnull" json:"updated_at"`

	// AttemptLog is filled by the delivery log use case (newest first).
	AttemptLog []WebhookAttempt `bun:"-" json:"attempt_log"`
}

// WebhookAttempt is one HTTP attempt of a delivery. ResponseStatus is 0
// when no HTTP answer came (connection refused, timeout, address refused by
// the SSRF guard); ResponseBody holds at most the first 1 KiB.
type WebhookAttempt struct {
	ID             int64     `bun:"id,pk,autoincrement" json:"-"`
	DeliveryID     int64     `bun:"delivery_id,notnull" json:"-"`
	Attempt        int       `bun:"attempt,notnull" json:"attempt"`
	AttemptedAt    time.Time `bun:"attempted_at,notnull" json:"attempted_at"`
	DurationMS     int       `bun:"duration_ms,notnull" json:"duration_ms"`
	ResponseStatus int       `bun:"response_status,notnull" json:"response_status"`
	ResponseBody   string    `bun:"response_body,notnull" json:"response_body"`
	Error          string    `bun:"error,notnull" json:"error"`
}

// Webhook event types beyond the domain events.
const (
	// EventWebhookPing is sent by POST /webhooks/{id}/test.
	EventWebhookPing EventType = "ping"
	// EventWebhookDisabled tells a subscription's owner that it was
	// disabled after failing for 5 days.
	EventWebhookDisabled EventType = "webhook.disabled"
)

// WebhookService is the use cases of webhook subscriptions. Callers need
// the webhooks:manage scope; users manage their own subscriptions, admins
// every subscription. Errors: ErrUnauthenticated, ErrForbidden,
// ErrNotFound (another user's subscription reads as absent), ErrInvalid
// (URL refused by the SSRF policy, unknown event type), ErrConflict.
type WebhookService interface {
	// CreateWebhook returns the subscription and its signing secret
	// ("whsec_" + base64), which is never shown again.
	CreateWebhook(ctx context.Context, in WebhookInput) (*WebhookSubscription, string, error)
	ListWebhooks(ctx context.Context, filter WebhookFilter, req PageRequest) (Page[WebhookSubscription], error)
	GetWebhook(ctx context.Context, id int64) (*WebhookSubscription, error)
	PatchWebhook(ctx context.Context, id int64, change func(WebhookInput) (WebhookInput, error), ifVersion *int64) (*WebhookSubscription, error)
	DeleteWebhook(ctx context.Context, id int64, ifVersion *int64) error
	// RotateWebhookSecret draws a new secret; the old one keeps signing
	// beside it for 24 hours.
	RotateWebhookSecret(ctx context.Context, id int64) (*WebhookSubscription, string, error)
	// ListWebhookDeliveries is the delivery log, newest first.
	ListWebhookDeliveries(ctx context.Context, id int64, req PageRequest) (Page[WebhookDelivery], error)
	// RedeliverWebhook sends a delivery again, with the same webhook-id.
	RedeliverWebhook(ctx context.Context, id, deliveryID int64) (*WebhookDelivery, error)
	// TestWebhook sends a ping event to the subscription.
	TestWebhook(ctx context.Context, id int64) (*WebhookDelivery, error)
}

// WebhookInput is the body of POST /webhooks and the state a PATCH merges
// onto.
type WebhookInput struct {
	UserID      int64    `json:"-"`
	URL         string   `json:"url"`
	EventTypes  []string `json:"event_types"`
	Description string   `json:"description"`
	Enabled     *bool    `json:"enabled"`
}

// WebhookFilter narrows ListWebhooks (UserID: admins only; others always
// see their own).
type WebhookFilter struct {
	UserID int64
}

// WebhookEventTypes are the event types a subscription may name (besides
// "*", every type): the domain events of the resources, and
// webhook.disabled. The credential announcements (api_key.revoked,
// user.disabled) stay inside the servers; ping is sent to one subscription
// on request, whatever its types.
var WebhookEventTypes = []EventType{
	EventChantierCreated, EventChantierUpdated, EventChantierDeleted,
	EventPointageCreated, EventPointageUpdated, EventPointageDeleted, EventPointageValidated,
	EventDocumentCreated, EventDocumentUpdated, EventDocumentDeleted,
	EventSignalementCreated, EventSignalementUpdated, EventSignalementDeleted, EventSignalementUrgent,
	EventAffectationCreated, EventAffectationUpdated, EventAffectationDeleted,
	EventWebhookDisabled, EventAPIKeyRotated, EventAPIKeyAnomaly,
}

// WebhookAllEvents, alone in a subscription's event types, selects every
// type of WebhookEventTypes, present and future.
const WebhookAllEvents = "*"

// MaxWebhookDescription bounds a subscription's description, in characters.
const MaxWebhookDescription = 500

// MaxWebhookURL bounds a subscription's URL, in bytes.
const MaxWebhookURL = 2048

// EventTypeList returns the event types of s as a list (["*"] for all).
func (s *WebhookSubscription) EventTypeList() []string {
	if s.EventTypes == "" {
		return []string{}
	}
	return strings.Split(s.EventTypes, ",")
}

// Wants reports whether s subscribes to events of type t.
func (s *WebhookSubscription) Wants(t EventType) bool {
	return s.EventTypes == WebhookAllEvents || slices.Contains(s.EventTypeList(), string(t))
}

// Input returns the writable fields of s, the base a PATCH merges onto.
func (s *WebhookSubscription) Input() WebhookInput {
	enabled := s.Enabled
	return WebhookInput{UserID: s.UserID, URL: s.URL, EventTypes: s.EventTypeList(), Description: s.Description, Enabled: &enabled}
}

// Normalize trims the URL and the event types, and sorts and deduplicates
// the event types.
func (in *WebhookInput) Normalize() {
	in.URL = strings.TrimSpace(in.URL)
	types := make([]string, 0, len(in.EventTypes))
	for _, t := range in.EventTypes {
		if t = strings.TrimSpace(t); !slices.Contains(types, t) {
			types = append(types, t)
		}
	}
	slices.Sort(types)
	in.EventTypes = types
}

// Validate checks the fields that need no network: the URL's length and
// text (the SSRF policy is the use case's, after DNS), the event types
// (known types, or "*" alone) and the description.
func (in *WebhookInput) Validate() error {
	var v validator
	switch {
	case in.URL == "":
		v.add("url", "is required")
	case len(in.URL) > MaxWebhookURL:
		v.add("url", "must be at most %d bytes", MaxWebhookURL)
	default:
		if p := TextProblem(in.URL); p != "" {
			v.add("url", "%s", p)
		}
	}
	switch {
	case len(in.EventTypes) == 0:
		v.add("event_types", "at least one event type is required (or \"*\" for every type)")
	case slices.Contains(in.EventTypes, WebhookAllEvents) && len(in.EventTypes) > 1:
		v.add("event_types", "\"*\" selects every type and cannot be combined with others")
	default:
		for _, t := range in.EventTypes {
			if t != WebhookAllEvents && !slices.Contains(WebhookEventTypes, EventType(t)) {
				v.add("event_types", "unknown event type %q", strings.ToValidUTF8(truncate(t, 64), "?"))
				break
			}
		}
	}
	checkLines(&v, "description", in.Description, 0, MaxWebhookDescription)
	return v.err()
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// JoinEventTypes is the stored form of a list of event types.
func JoinEventTypes(types []string) string { return strings.Join(types, ",") }
