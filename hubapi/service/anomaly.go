package service

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/notify"
)

// AnomalyConfig holds the thresholds of the anomaly rules (feature 5.4);
// a zero member takes its default (DefaultAnomalyConfig).
type AnomalyConfig struct {
	// Window is the period each run looks at (1 h).
	Window time.Duration
	// MinRequests: a key with fewer requests in the window is judged by no
	// ratio rule (20).
	MinRequests int
	// ErrorRate: more than this share of 4xx answers → high_error_rate (0.5).
	ErrorRate float64
	// Recent is the span whose average rate is compared to the baseline
	// (5 min); SpikeRate the rate, per minute, above which it may be a spike
	// (100); SpikeFactor how many times the baseline it must exceed (10).
	// The baseline is the key's rate over the 24 h before Recent (from its
	// creation when younger); a key younger than BaselineMin (30 min) has
	// none and is not judged.
	Recent      time.Duration
	SpikeRate   float64
	SpikeFactor float64
	BaselineMin time.Duration
	// NotFound and NotFoundShare: at least that many 404 answers making at
	// least that share of the requests → scanning_behavior (30, 0.2).
	NotFound      int
	NotFoundShare float64
	// UserAgents: at least that many different User-Agent values in the
	// window → suspicious_client (5).
	UserAgents int
	// ResolveAfter: an open anomaly not seen again for that long is
	// resolved (1 h).
	ResolveAfter time.Duration
	// Actions, per rule, what is done on a new anomaly besides telling the
	// admins: AnomalyActionRevoke revokes the key. None by default.
	Actions map[string]string
	// Notify receives each new anomaly after it is stored (a metric, a
	// Slack connector once it exists); mail and webhooks are sent anyway.
	Notify func(ctx context.Context, a hubapi.APIKeyAnomaly)
}

// AnomalyActionRevoke revokes the key of a new anomaly (AnomalyConfig.Actions).
const AnomalyActionRevoke = "revoke"

// DefaultAnomalyConfig is the configuration of the specification's rules.
var DefaultAnomalyConfig = AnomalyConfig{
	Window: time.Hour, MinRequests: 20, ErrorRate: 0.5,
	Recent: 5 * time.Minute, SpikeRate: 100, SpikeFactor: 10, BaselineMin: 30 * time.Minute,
	NotFound: 30, NotFoundShare: 0.2, UserAgents: 5, ResolveAfter: time.Hour,
}

func (c AnomalyConfig) withDefaults() AnomalyConfig {
	d := DefaultAnomalyConfig
	set := func(v *time.Duration, def time.Duration) {
		if *v <= 0 {
			*v = def
		}
	}
	set(&c.Window, d.Window)
	set(&c.Recent, d.Recent)
	set(&c.BaselineMin, d.BaselineMin)
	set(&c.ResolveAfter, d.ResolveAfter)
	if c.MinRequests <= 0 {
		c.MinRequests = d.MinRequests
	}
	if c.ErrorRate <= 0 {
		c.ErrorRate = d.ErrorRate
	}
	if c.SpikeRate <= 0 {
		c.SpikeRate = d.SpikeRate
	}
	if c.SpikeFactor <= 0 {
		c.SpikeFactor = d.SpikeFactor
	}
	if c.NotFound <= 0 {
		c.NotFound = d.NotFound
	}
	if c.NotFoundShare <= 0 {
		c.NotFoundShare = d.NotFoundShare
	}
	if c.UserAgents <= 0 {
		c.UserAgents = d.UserAgents
	}
	return c
}

// WithAnomalyConfig sets the anomaly rules' thresholds and actions.
func WithAnomalyConfig(c AnomalyConfig) Option { return func(s *deps) { s.anomaly = c } }

// keyActivity is one key's requests in the window, as the audit trail
// recorded them.
type keyActivity struct {
	APIKeyID     int64 `bun:"api_key_id"`
	Total        int64 `bun:"total"`
	ClientErrors int64 `bun:"client_errors"`
	NotFound     int64 `bun:"not_found"`
	Recent       int64 `bun:"recent"`
	Agents       int64 `bun:"agents"`
}

// AnomalyRun is what one detection found.
type AnomalyRun struct {
	Keys     int // keys seen in the window
	Opened   []hubapi.APIKeyAnomaly
	Seen     int // open anomalies seen again
	Resolved int
}

// DetectAnomalies runs the rules over the audit trail of the window ending
// now (the 5-minute job): per API key, one aggregate query over the
// window's response events, then a baseline query for the few keys fast
// enough to be spiking. A finding opens an anomaly, or refreshes the open
// one of its key and rule; new anomalies are recorded with their
// api_key.anomaly event (webhooks) and mailed to the admins.
func (s *Operator) DetectAnomalies(ctx context.Context) (*AnomalyRun, error) {
	cfg := s.anomaly.withDefaults()
	now := s.now()
	from, recent := now.Add(-cfg.Window), now.Add(-cfg.Recent)
	var acts []keyActivity
	err := s.db.NewSelect().TableExpr("audit_events AS e").
		ColumnExpr("e.api_key_id").
		ColumnExpr("COUNT(*) AS total").
		ColumnExpr("SUM(CASE WHEN e.status >= 400 AND e.status < 500 THEN 1 ELSE 0 END) AS client_errors").
		ColumnExpr("SUM(CASE WHEN e.status = 404 THEN 1 ELSE 0 END) AS not_found").
		ColumnExpr("SUM(CASE WHEN e.ts >= ? THEN 1 ELSE 0 END) AS recent", recent).
		ColumnExpr("COUNT(DISTINCT NULLIF(e.user_agent, '')) AS agents").
		Where("e.ts >= ? AND e.ts < ?", from, now).
		Where("e.api_key_id IS NOT NULL").Where("e.stage = 'response'").
		GroupExpr("e.api_key_id").Scan(ctx, &acts)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("anomalies: %w", err)
	}
	run := &AnomalyRun{Keys: len(acts)}
	var findings []hubapi.APIKeyAnomaly
	for _, a := range acts {
		fs, err := s.judge(ctx, cfg, a, now)
		if err != nil {
			return nil, err
		}
		findings = append(findings, fs...)
	}
	for _, f := range findings {
		opened, err := s.record(ctx, f, now)
		if err != nil {
			return nil, err
		}
		if opened == nil {
			run.Seen++
			continue
		}
		run.Opened = append(run.Opened, *opened)
		s.actOn(ctx, cfg, *opened)
	}
	res, err := s.db.NewUpdate().Model((*hubapi.APIKeyAnomaly)(nil)).Set("resolved_at = ?", now).
		Where("resolved_at IS NULL").Where("last_seen_at < ?", now.Add(-cfg.ResolveAfter)).Exec(ctx)
	if err != nil {
		return nil, fmt.Errorf("anomalies: %w", err)
	}
	n, _ := res.RowsAffected()
	run.Resolved = int(n)
	return run, nil
}

// judge applies the rules to one key's activity.
func (s *Operator) judge(ctx context.Context, cfg AnomalyConfig, a keyActivity, now time.Time) ([]hubapi.APIKeyAnomaly, error) {
	var out []hubapi.APIKeyAnomaly
	add := func(rule string, observed, threshold float64, detail string) {
		out = append(out, hubapi.APIKeyAnomaly{APIKeyID: a.APIKeyID, Rule: rule, Observed: observed, Threshold: threshold, Detail: detail})
	}
	window := cfg.Window.String()
	if a.Total >= int64(cfg.MinRequests) {
		if share := float64(a.ClientErrors) / float64(a.Total); share > cfg.ErrorRate {
			add(hubapi.AnomalyHighErrorRate, share, cfg.ErrorRate,
				fmt.Sprintf("%d of %d requests answered 4xx in %s", a.ClientErrors, a.Total, window))
		}
		if share := float64(a.NotFound) / float64(a.Total); a.NotFound >= int64(cfg.NotFound) && share >= cfg.NotFoundShare {
			add(hubapi.AnomalyScanning, float64(a.NotFound), float64(cfg.NotFound),
				fmt.Sprintf("%d requests for resources that do not exist (%d%% of %d) in %s", a.NotFound, int(share*100), a.Total, window))
		}
	}
	if a.Agents >= int64(cfg.UserAgents) {
		add(hubapi.AnomalySuspiciousClient, float64(a.Agents), float64(cfg.UserAgents),
			fmt.Sprintf("%d different User-Agent values in %s", a.Agents, window))
	}
	rate := float64(a.Recent) / cfg.Recent.Minutes()
	if rate > cfg.SpikeRate {
		base, ok, err := s.baseline(ctx, cfg, a.APIKeyID, now)
		if err != nil {
			return nil, err
		}
		if ok && rate > cfg.SpikeFactor*base {
			add(hubapi.AnomalyTrafficSpike, rate, cfg.SpikeFactor*base,
				fmt.Sprintf("%.0f requests per minute over the last %s, against %.1f per minute before", rate, cfg.Recent, base))
		}
	}
	return out, nil
}

// baseline is a key's rate (per minute) over the day before the recent
// span, counted from the key's creation when it is younger; ok is false
// for a key younger than cfg.BaselineMin.
func (s *Operator) baseline(ctx context.Context, cfg AnomalyConfig, keyID int64, now time.Time) (float64, bool, error) {
	var k hubapi.APIKey
	if err := s.db.NewSelect().Model(&k).Column("id", "user_id", "created_at").Where("id = ?", keyID).Scan(ctx); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return 0, false, nil
		}
		return 0, false, err
	}
	end := now.Add(-cfg.Recent)
	start := now.Add(-24 * time.Hour)
	if k.CreatedAt.After(start) {
		start = k.CreatedAt
	}
	if end.Sub(start) < cfg.BaselineMin {
		return 0, false, nil
	}
	n, err := s.db.NewSelect().TableExpr("audit_events AS e").
		Where("e.api_key_id = ?", keyID).Where("e.ts >= ? AND e.ts < ?", start, end).Where("e.stage = 'response'").Count(ctx)
	if err != nil {
		return 0, false, err
	}
	return float64(n) / end.Sub(start).Minutes(), true, nil
}

// record opens anomaly f, or refreshes the open one of its key and rule
// (then it returns nil). A new anomaly and its api_key.anomaly event commit
// together.
func (s *Operator) record(ctx context.Context, f hubapi.APIKeyAnomaly, now time.Time) (*hubapi.APIKeyAnomaly, error) {
	var opened *hubapi.APIKeyAnomaly
	err := s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		res, err := tx.NewUpdate().Model((*hubapi.APIKeyAnomaly)(nil)).
			Set("last_seen_at = ?", now).Set("occurrences = occurrences + 1").
			Set("observed = ?", f.Observed).Set("threshold = ?", f.Threshold).Set("detail = ?", f.Detail).
			Where("api_key_id = ? AND rule = ? AND resolved_at IS NULL", f.APIKeyID, f.Rule).Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n > 0 {
			return nil
		}
		var k hubapi.APIKey
		if err := tx.NewSelect().Model(&k).Where("id = ?", f.APIKeyID).Scan(ctx); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return nil // deleted with its user since
			}
			return err
		}
		a := f
		a.UserID, a.Occurrences, a.FirstSeenAt, a.LastSeenAt = k.UserID, 1, now, now
		if act := s.anomaly.Actions[f.Rule]; act == AnomalyActionRevoke && k.RevokedAt == nil {
			a.Action = AnomalyActionRevoke
		}
		if _, err := tx.NewInsert().Model(&a).Exec(ctx); err != nil {
			return err
		}
		opened = &a
		return s.emit(ctx, tx, nil, hubapi.EventAPIKeyAnomaly, "api_keys", k.ID,
			hubapi.APIKeyEventData{ID: k.ID, UserID: k.UserID, Name: k.Name, Prefix: k.Prefix, Anomaly: &a})
	})
	return opened, err
}

// actOn takes the configured action on a new anomaly and tells the admins.
func (s *Operator) actOn(ctx context.Context, cfg AnomalyConfig, a hubapi.APIKeyAnomaly) {
	if a.Action == AnomalyActionRevoke {
		if err := s.revokeAPIKey(ctx, nil, a.APIKeyID); err != nil {
			s.log.WarnContext(ctx, "anomaly: key not revoked", slog.Int64("api_key", a.APIKeyID), slog.String("error", err.Error()))
		}
	}
	if cfg.Notify != nil {
		cfg.Notify(ctx, a)
	}
	s.log.WarnContext(ctx, "api key anomaly", slog.Int64("api_key", a.APIKeyID), slog.String("rule", a.Rule), slog.String("detail", a.Detail))
	if s.notifier == nil {
		return
	}
	var admins []hubapi.User
	if err := s.db.NewSelect().Model(&admins).Column("id", "email").Where("role = ?", hubapi.RoleAdmin).
		Where("disabled_at IS NULL").Where("email <> ''").Order("id").Limit(50).Scan(ctx); err != nil || len(admins) == 0 {
		return
	}
	to := make([]string, len(admins))
	for i, u := range admins {
		to[i] = u.Email
	}
	text := fmt.Sprintf("Anomaly %s on API key %d (user %d): %s.\n", a.Rule, a.APIKeyID, a.UserID, a.Detail)
	if a.Action != "" {
		text += "Action taken: the key was revoked.\n"
	}
	text += "\nList: GET /api/v1/admin/anomalies?api_key_id=" + fmt.Sprint(a.APIKeyID) + "\n"
	if err := s.notifier.Send(ctx, notify.Message{To: to, Subject: "API key anomaly: " + strings.ReplaceAll(a.Rule, "_", " "), Text: text}); err != nil {
		s.log.WarnContext(ctx, "anomaly: mail not sent", slog.String("error", err.Error()))
	}
}

// CountOpenAnomalies counts the open anomalies per rule (the metric).
func (s *Operator) CountOpenAnomalies(ctx context.Context) (map[string]int, error) {
	var rows []struct {
		Rule string `bun:"rule"`
		N    int    `bun:"n"`
	}
	err := s.db.NewSelect().Model((*hubapi.APIKeyAnomaly)(nil)).ColumnExpr("rule, COUNT(*) AS n").
		Where("resolved_at IS NULL").GroupExpr("rule").Scan(ctx, &rows)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, err
	}
	out := map[string]int{}
	for _, r := range hubapi.AnomalyRules {
		out[r] = 0
	}
	for _, r := range rows {
		out[r.Rule] = r.N
	}
	return out, nil
}
