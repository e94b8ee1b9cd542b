package service_test

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/service"
	"github.com/hubchantier/hubchantier/hubapi/store"
	"github.com/hubchantier/hubchantier/internal/testenv"
)

// auditRow is a response event of the audit trail, written straight into
// audit_events (the append-only triggers allow inserts): synthetic traffic.
type auditRow struct {
	bun.BaseModel `bun:"table:audit_events"`
	TS            time.Time `bun:"ts"`
	Chain         string    `bun:"chain"`
	Seq           int64     `bun:"seq"`
	PrevHash      string    `bun:"prev_hash"`
	Hash          string    `bun:"hash"`
	Stage         string    `bun:"stage"`
	UserID        int64     `bun:"user_id"`
	APIKeyID      int64     `bun:"api_key_id"`
	Method        string    `bun:"method"`
	Route         string    `bun:"route"`
	ResourceID    string    `bun:"resource_id"`
	Status        int       `bun:"status"`
	UserAgent     string    `bun:"user_agent"`
}

var auditSeq atomic.Int64

// request describes the i-th request of a synthetic traffic.
type request func(i int) (status int, route, userAgent string)

func steady(int) (int, string, string) { return 200, "/api/v1/chantiers", "erp-sync/2.1" }

// traffic writes n requests of key k spread evenly over [from, to).
func traffic(t *testing.T, db *store.DB, k *hubapi.APIKey, from, to time.Time, n int, req request) {
	t.Helper()
	if n == 0 {
		return
	}
	step := to.Sub(from) / time.Duration(n)
	rows := make([]auditRow, 0, 2000)
	flush := func() {
		if len(rows) == 0 {
			return
		}
		if _, err := db.NewInsert().Model(&rows).Exec(t.Context()); err != nil {
			t.Fatal(err)
		}
		rows = rows[:0]
	}
	for i := range n {
		status, route, ua := req(i)
		rows = append(rows, auditRow{TS: from.Add(time.Duration(i) * step), Chain: "synthetic", Seq: auditSeq.Add(1),
			Stage: "response", UserID: k.UserID, APIKeyID: k.ID, Method: "GET", Route: route, Status: status, UserAgent: ua,
			ResourceID: fmt.Sprint(i)})
		if len(rows) == cap(rows) {
			flush()
		}
	}
	flush()
}

func rulesOf(list []hubapi.APIKeyAnomaly, keyID int64) []string {
	var out []string
	for _, a := range list {
		if a.APIKeyID == keyID {
			out = append(out, a.Rule)
		}
	}
	slices.Sort(out)
	return out
}

// Each rule is triggered by synthetic traffic made for it, and by nothing
// else; a steady client at 1,000 requests per minute and a client paging
// through 10,000 items trigger none.
func TestAnomalyRules(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, tdb *testenv.DB) {
		f := newKeyFixture(t, tdb)
		db, ctx := f.db, t.Context()
		now := f.clock.now()
		// keys created a day ago (a full baseline) unless said otherwise
		f.clock.set(now.Add(-24 * time.Hour))
		key := func(name string) *hubapi.APIKey { k, _ := f.issue(t, hubapi.APIKeyInput{Name: name}); return k }
		errors, scanner, spike, agents, pager, quiet := key("errors"), key("scanner"), key("spike"), key("agents"), key("pager"), key("quiet")
		// the steady client has run at the same rate since its key exists
		f.clock.set(now.Add(-45 * time.Minute))
		steadyKey := key("steady")
		f.clock.set(now)

		// high_error_rate: 60 of 100 requests refused (403/400/422, no 404)
		traffic(t, db, errors, now.Add(-50*time.Minute), now, 100, func(i int) (int, string, string) {
			if i%5 < 3 {
				return []int{403, 400, 422}[i%3], "/api/v1/chantiers", "erp/1"
			}
			return 200, "/api/v1/chantiers", "erp/1"
		})
		// scanning_behavior: 120 of 400 requests ask for missing ids (30 %:
		// under the error rate)
		traffic(t, db, scanner, now.Add(-40*time.Minute), now, 400, func(i int) (int, string, string) {
			if i%10 < 3 {
				return 404, "/api/v1/chantiers/{id}", "curl/8"
			}
			return 200, "/api/v1/chantiers/{id}", "curl/8"
		})
		// traffic_spike: 5 requests a minute for three hours, then 150 a
		// minute for the last five minutes
		traffic(t, db, spike, now.Add(-3*time.Hour), now.Add(-5*time.Minute), 5*175, steady)
		traffic(t, db, spike, now.Add(-5*time.Minute), now, 750, steady)
		// suspicious_client: 60 requests from 6 different user agents
		traffic(t, db, agents, now.Add(-30*time.Minute), now, 60, func(i int) (int, string, string) {
			return 200, "/api/v1/chantiers", fmt.Sprintf("client-%d", i%6)
		})
		// no anomaly: 1,000 requests a minute, all its life (45 minutes)
		traffic(t, db, steadyKey, now.Add(-45*time.Minute), now, 45*1000, steady)
		// no anomaly: 10,000 items paged by 100 (100 pages in two minutes),
		// the last page empty
		traffic(t, db, pager, now.Add(-2*time.Minute), now, 101, func(int) (int, string, string) {
			return 200, "/api/v1/pointages", "payroll-export/1"
		})
		// no anomaly: a few requests, half refused (too few to judge)
		traffic(t, db, quiet, now.Add(-30*time.Minute), now, 10, func(i int) (int, string, string) {
			return 200 + 204*(i%2), "/api/v1/chantiers/{id}", "erp/1"
		})

		run, err := f.op.DetectAnomalies(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := map[*hubapi.APIKey][]string{
			errors: {hubapi.AnomalyHighErrorRate}, scanner: {hubapi.AnomalyScanning}, spike: {hubapi.AnomalyTrafficSpike},
			agents: {hubapi.AnomalySuspiciousClient}, steadyKey: nil, pager: nil, quiet: nil,
		}
		for k, rules := range want {
			if got := rulesOf(run.Opened, k.ID); !slices.Equal(got, rules) {
				t.Errorf("key %q: anomalies %v, want %v", k.Name, got, rules)
			}
		}
		if run.Keys != len(want) {
			t.Errorf("%d keys judged, want %d", run.Keys, len(want))
		}

		t.Run("each new anomaly is published for the webhooks and mailed to the admins", func(t *testing.T) {
			evs := f.events.of(hubapi.EventAPIKeyAnomaly)
			if len(evs) != 4 {
				t.Fatalf("%d anomaly events, want 4", len(evs))
			}
			mails := 0
			for _, m := range f.mail.all() {
				if slices.Equal(m.To, []string{f.admin.Email}) {
					mails++
				}
			}
			if mails != 4 {
				t.Fatalf("%d mails to the admin, want 4", mails)
			}
		})

		t.Run("a second run refreshes the open anomalies instead of opening new ones", func(t *testing.T) {
			f.clock.add(time.Minute)
			run2, err := f.op.DetectAnomalies(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(run2.Opened) != 0 || run2.Seen != 4 {
				t.Fatalf("opened %d, seen %d", len(run2.Opened), run2.Seen)
			}
			list, err := f.svc.ListAnomalies(f.adminCtx(t), hubapi.AnomalyFilter{APIKeyID: scanner.ID, OpenOnly: true})
			if err != nil {
				t.Fatal(err)
			}
			if len(list) != 1 || list[0].Occurrences != 2 || list[0].Rule != hubapi.AnomalyScanning {
				t.Fatalf("scanner's open anomalies: %+v", list)
			}
			counts, err := f.op.CountOpenAnomalies(ctx)
			if err != nil || counts[hubapi.AnomalyScanning] != 1 || counts[hubapi.AnomalyHighErrorRate] != 1 {
				t.Fatalf("counts %v %v", counts, err)
			}
		})

		t.Run("an hour without the behaviour resolves them; the list keeps 7 days", func(t *testing.T) {
			f.clock.add(3 * time.Hour)
			run3, err := f.op.DetectAnomalies(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if run3.Resolved != 4 || len(run3.Opened) != 0 {
				t.Fatalf("resolved %d, opened %d", run3.Resolved, len(run3.Opened))
			}
			all, err := f.svc.ListAnomalies(f.adminCtx(t), hubapi.AnomalyFilter{})
			if err != nil || len(all) != 4 {
				t.Fatalf("list: %d %v", len(all), err)
			}
			open, _ := f.svc.ListAnomalies(f.adminCtx(t), hubapi.AnomalyFilter{OpenOnly: true})
			if len(open) != 0 {
				t.Fatalf("%d still open", len(open))
			}
			f.clock.add(8 * 24 * time.Hour)
			if old, _ := f.svc.ListAnomalies(f.adminCtx(t), hubapi.AnomalyFilter{}); len(old) != 0 {
				t.Fatalf("%d anomalies older than 7 days listed", len(old))
			}
		})
	})
}

// The optional action of a rule revokes the key of a new anomaly; without
// it, the key keeps working.
func TestAnomalyActionRevokesTheKey(t *testing.T) {
	f := newKeyFixture(t, testenv.SQLite(t), service.WithAnomalyConfig(service.AnomalyConfig{
		Actions: map[string]string{hubapi.AnomalyScanning: service.AnomalyActionRevoke}}))
	now := f.clock.now()
	scanner, secret := f.issue(t, hubapi.APIKeyInput{Name: "scanner"})
	agents, agentsSecret := f.issue(t, hubapi.APIKeyInput{Name: "agents"})
	traffic(t, f.db, scanner, now.Add(-10*time.Minute), now, 100, func(int) (int, string, string) { return 404, "/api/v1/chantiers/{id}", "x" })
	traffic(t, f.db, agents, now.Add(-10*time.Minute), now, 50, func(i int) (int, string, string) {
		return 200, "/api/v1/chantiers", fmt.Sprint("ua-", i%7)
	})
	run, err := f.op.DetectAnomalies(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(run.Opened) != 3 { // scanner: high_error_rate and scanning_behavior; agents: suspicious_client
		t.Fatalf("opened %+v", run.Opened)
	}
	if _, err := f.op.Authenticate(t.Context(), secret); err == nil {
		t.Fatal("the scanning key still authenticates")
	}
	if _, err := f.op.Authenticate(t.Context(), agentsSecret); err != nil {
		t.Fatalf("a key without an action configured for its rule: %v", err)
	}
	var actions []string
	for _, a := range run.Opened {
		actions = append(actions, a.Rule+"="+a.Action)
	}
	slices.Sort(actions)
	if want := []string{"high_error_rate=", "scanning_behavior=revoke", "suspicious_client="}; !slices.Equal(actions, want) {
		t.Fatalf("actions %v, want %v", actions, want)
	}
}

var _ = context.Background
