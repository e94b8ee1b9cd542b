package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hubchantier/hubchantier/audit"
	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/service"
	"github.com/hubchantier/hubchantier/hubapi/store"
	"github.com/hubchantier/hubchantier/internal/testenv"
)

// kill -9 of the server during a burst of writes: every chantier that
// committed (answered 201 or not) has its audit event, and the chain
// verifies.
func TestServeKilledDuringWritesKeepsEveryAuditRow(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server process")
	}
	tdb := testenv.Postgres(t)
	env := []string{"HUB_DATABASE_URL=" + tdb.DSN, "HUB_BLOB_DIR=" + filepath.Join(t.TempDir(), "blobs"),
		"HUB_RATE_LIMITS=POST /api/v1/chantiers=1000000/m"}
	p := startProcess(t, env, "serve", "--addr", "127.0.0.1:0")
	addr := p.waitFor(t, regexp.MustCompile(`listening on http://(\S+) `))

	ctx := context.Background()
	db := store.Wrap(tdb.DB)
	op := service.NewOperator(service.New(db, nil))
	admin := &hubapi.User{Email: "admin@example.com", Nom: "A", Prenom: "B", Role: hubapi.RoleAdmin}
	if err := op.CreateUser(ctx, admin, ""); err != nil {
		t.Fatal(err)
	}
	_, key, err := op.IssueAPIKey(ctx, hubapi.APIKeyInput{UserID: admin.ID, Name: "crash", Scopes: hubapi.RoleScopes(hubapi.RoleAdmin)})
	if err != nil {
		t.Fatal(err)
	}

	var answered atomic.Int64
	var mu sync.Mutex
	var created []int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 10 * time.Second}
	for w := range 6 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				b, _ := json.Marshal(map[string]any{"code": fmt.Sprintf("K-%d-%d", w, i), "nom": "Chantier", "adresse": "1 rue"})
				req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/api/v1/chantiers", bytes.NewReader(b))
				req.Header.Set("Authorization", "Bearer "+key)
				req.Header.Set("Content-Type", "application/json")
				res, err := client.Do(req)
				if err != nil {
					return // the server is gone
				}
				var c hubapi.Chantier
				_ = json.NewDecoder(res.Body).Decode(&c)
				_ = res.Body.Close()
				if res.StatusCode == http.StatusCreated {
					answered.Add(1)
					mu.Lock()
					created = append(created, c.ID)
					mu.Unlock()
				}
			}
		})
	}
	for deadline := time.Now().Add(time.Minute); answered.Load() < 30 && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.exited
	p.exited <- nil
	close(stop)
	wg.Wait()

	var ids []int64
	if err := db.NewSelect().TableExpr("chantiers").Column("id").Scan(ctx, &ids); err != nil {
		t.Fatal(err)
	}
	if len(ids) < len(created) {
		t.Fatalf("%d chantiers in the database, %d answered 201", len(ids), len(created))
	}
	var audited []string
	if err := db.NewSelect().TableExpr("audit_events").Column("resource_id").
		Where("stage = ? AND action = ? AND resource_type = ?", audit.StageChange, "create_chantier", "chantiers").Scan(ctx, &audited); err != nil {
		t.Fatal(err)
	}
	has := map[string]bool{}
	for _, id := range audited {
		has[id] = true
	}
	for _, id := range ids {
		if !has[strconv.FormatInt(id, 10)] {
			t.Errorf("chantier %d committed without its audit event", id)
		}
	}
	if len(audited) != len(ids) {
		t.Errorf("%d creation events for %d chantiers", len(audited), len(ids))
	}
	b, err := audit.NewStore(tdb.DB).Verify(ctx, time.Time{}, time.Time{}, "")
	if err != nil || b != nil {
		t.Fatalf("chain after the kill: %v %v", b, err)
	}
	t.Logf("%d chantiers committed (%d answered 201) before the kill, each with its audit event", len(ids), len(created))
}
