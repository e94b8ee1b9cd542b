package store

import (
	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/pagination"
)

// The keyset paging of connectors and of a connector's sync logs: newest
// first.
var (
	ConnectorPages = pagination.Spec[hubapi.Connector]{
		Resource: "connectors",
		Columns: map[string]pagination.Column[hubapi.Connector]{
			"created_at": col("created_at", func(c *hubapi.Connector) any { return c.CreatedAt }),
		},
		ID:            col("id", func(c *hubapi.Connector) any { return c.ID }),
		Default:       "-created_at",
		MaxSortFields: maxSortFields,
	}
	ConnectorSyncLogPages = pagination.Spec[hubapi.ConnectorSyncLog]{
		Resource: "connector_sync_logs",
		Columns: map[string]pagination.Column[hubapi.ConnectorSyncLog]{
			"started_at": col("started_at", func(c *hubapi.ConnectorSyncLog) any { return c.StartedAt }),
		},
		ID:            col("id", func(c *hubapi.ConnectorSyncLog) any { return c.ID }),
		Default:       "-started_at",
		MaxSortFields: maxSortFields,
	}
)
