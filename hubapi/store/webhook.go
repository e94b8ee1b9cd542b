package store

import (
	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/pagination"
)

// The keyset paging of webhook subscriptions and of a subscription's
// delivery log: newest first.
var (
	WebhookPages = pagination.Spec[hubapi.WebhookSubscription]{
		Resource: "webhooks",
		Columns: map[string]pagination.Column[hubapi.WebhookSubscription]{
			"created_at": col("created_at", func(c *hubapi.WebhookSubscription) any { return c.CreatedAt }),
		},
		ID:            col("id", func(c *hubapi.WebhookSubscription) any { return c.ID }),
		Default:       "-created_at",
		MaxSortFields: maxSortFields,
	}
	WebhookDeliveryPages = pagination.Spec[hubapi.WebhookDelivery]{
		Resource: "webhook_deliveries",
		Columns: map[string]pagination.Column[hubapi.WebhookDelivery]{
			"created_at": col("created_at", func(c *hubapi.WebhookDelivery) any { return c.CreatedAt }),
		},
		ID:            col("id", func(c *hubapi.WebhookDelivery) any { return c.ID }),
		Default:       "-created_at",
		MaxSortFields: maxSortFields,
	}
)
