package server

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/jobs"
	"github.com/hubchantier/hubchantier/hubapi/service"
)

// Intervals of the key security jobs (features 5.4 and 5.5).
const (
	AnomalyScanInterval  = 5 * time.Minute
	KeyRotationInterval  = 24 * time.Hour
	anomalyCountCacheTTL = 15 * time.Second
)

// keySecurityJobs are the periodic jobs of API key security: the anomaly
// scan over the audit trail every 5 minutes (when the audit trail is on),
// and the daily automatic rotation.
func (s *Server) keySecurityJobs(log *slog.Logger) []jobs.Periodic {
	ps := []jobs.Periodic{{Name: "api-key-rotation", Interval: KeyRotationInterval, Run: func(ctx context.Context, _ time.Time) error {
		n, err := s.Operator.RotateDueAPIKeys(ctx)
		if n > 0 {
			log.InfoContext(ctx, "api keys rotated automatically", slog.Int("keys", n))
		}
		return err
	}}}
	if s.Audit == nil {
		return ps
	}
	return append(ps, jobs.Periodic{Name: "api-key-anomalies", Interval: AnomalyScanInterval, Run: func(ctx context.Context, _ time.Time) error {
		if s.AuditWriter != nil {
			// the events of the last requests are in the trail before it is read
			_ = s.AuditWriter.Flush(ctx)
		}
		_, err := s.Operator.DetectAnomalies(ctx)
		s.openAnomalies.invalidate()
		return err
	}})
}

// anomalyConfig is cfg.Anomalies.
func (s *Server) anomalyConfig(cfg Config) service.AnomalyConfig {
	a := cfg.Anomalies
	s.openAnomalies.count = func(ctx context.Context) (map[string]int, error) { return s.Operator.CountOpenAnomalies(ctx) }
	return a
}

// anomalyCounts caches the open anomalies per rule for the metric: a scrape
// reads the database at most every anomalyCountCacheTTL.
type anomalyCounts struct {
	mu     sync.Mutex
	count  func(ctx context.Context) (map[string]int, error)
	at     time.Time
	counts map[string]int
}

func (c *anomalyCounts) get() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.count == nil {
		return nil
	}
	if c.counts != nil && time.Since(c.at) < anomalyCountCacheTTL {
		return c.counts
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if m, err := c.count(ctx); err == nil {
		c.counts, c.at = m, time.Now()
	}
	return c.counts
}

func (c *anomalyCounts) invalidate() {
	c.mu.Lock()
	c.counts = nil
	c.mu.Unlock()
}

var _ hubapi.APIKeySecurityService = (*service.Service)(nil)
