package server

import (
	"time"

	"github.com/hubchantier/hubchantier/connectors"
	"github.com/hubchantier/hubchantier/hubapi/jobs"
)

// ConnectorJobsForTests are quick sync jobs: short lease and retries.
func ConnectorJobsForTests() jobs.ConnectorConfig {
	return jobs.ConnectorConfig{Lease: 5 * time.Second, Retry: connectors.Backoff{Base: 100 * time.Millisecond, Max: 300 * time.Millisecond}, SyncInterval: -1}
}
