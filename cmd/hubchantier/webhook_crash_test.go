package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/service"
	"github.com/hubchantier/hubchantier/hubapi/store"
	"github.com/hubchantier/hubchantier/internal/testenv"
	"github.com/hubchantier/hubchantier/secretbox"
	"github.com/hubchantier/hubchantier/webhooks"
)

// crashReceiver is a webhook endpoint that holds requests while blocked
// (until the sender goes away) and records the answered ones.
type crashReceiver struct {
	mu       sync.Mutex
	blocked  bool
	held     int
	answered map[string][]string // chantier id → webhook-ids answered 2xx
	seen     map[string][]string // chantier id → webhook-ids received
	verify   *standardwebhooks.Webhook
	invalid  int
	unblock  chan struct{}
}

func (r *crashReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	var msg struct {
		Data struct {
			ID int64 `json:"id"`
		} `json:"data"`
	}
	_ = json.Unmarshal(body, &msg)
	id, chantier := req.Header.Get("webhook-id"), strconv.FormatInt(msg.Data.ID, 10)
	r.mu.Lock()
	if r.verify.Verify(body, req.Header) != nil {
		r.invalid++
	}
	r.seen[chantier] = append(r.seen[chantier], id)
	blocked := r.blocked
	if blocked {
		r.held++
	}
	r.mu.Unlock()
	if blocked {
		select {
		case <-req.Context().Done(): // the sender was killed
		case <-r.unblock:
		}
		http.Error(w, "held", http.StatusServiceUnavailable)
		return
	}
	r.mu.Lock()
	r.answered[chantier] = append(r.answered[chantier], id)
	r.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// kill -9 of the server while deliveries are in flight (committed, sent,
// not yet answered) loses nothing: after a restart every committed event
// is delivered, with the same webhook-id as the attempts the killed
// process made.
func TestServeKilledWithDeliveriesInFlightDeliversEverything(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two servers and waits for the lost jobs to be rescued")
	}
	tdb := testenv.Postgres(t)
	keyring := "k1:" + secretbox.GenerateKey()
	keys, err := secretbox.ParseKeyring(keyring)
	if err != nil {
		t.Fatal(err)
	}
	secret, _, _ := webhooks.NewSecret()
	verify, _ := standardwebhooks.NewWebhook(secret)
	rcv := &crashReceiver{blocked: true, answered: map[string][]string{}, seen: map[string][]string{}, verify: verify, unblock: make(chan struct{})}
	srv := httptest.NewServer(rcv)
	t.Cleanup(srv.Close)

	env := []string{"HUB_DATABASE_URL=" + tdb.DSN, "HUB_BLOB_DIR=" + filepath.Join(t.TempDir(), "blobs"),
		"HUB_SECRET_KEYS=" + keyring, "HUB_WEBHOOK_ALLOW_HTTP=1", "HUB_WEBHOOK_ALLOW_PRIVATE=1",
		"HUB_JOBS_RESCUE_AFTER=20s"}
	listening := regexp.MustCompile(`listening on http://(\S+) `)
	first := startProcess(t, env, "serve", "--addr", "127.0.0.1:0")
	addr := first.waitFor(t, listening)

	// An admin, a key, and a subscription to every event (sealed as the
	// product seals it).
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
	now := store.Now()
	sub := &hubapi.WebhookSubscription{UserID: admin.ID, URL: srv.URL + "/hook", EventTypes: "chantier.created", Enabled: true,
		SecretKeyID: "-", SecretSealed: []byte{0}, CreatedAt: now, UpdatedAt: now, Version: 1}
	if _, err := db.NewInsert().Model(sub).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	if sub.SecretKeyID, sub.SecretSealed, err = keys.Seal([]byte(secret), []byte("webhook:"+strconv.FormatInt(sub.ID, 10))); err != nil {
		t.Fatal(err)
	}
	if _, err := db.NewUpdate().Model(sub).Column("secret_key_id", "secret_sealed").WherePK().Exec(ctx); err != nil {
		t.Fatal(err)
	}

	// Committed writes: each answered 201.
	const writes = 12
	var committed []string
	for i := range writes {
		b, _ := json.Marshal(map[string]any{"code": fmt.Sprintf("CR-%d", i), "nom": "Chantier", "adresse": "1 rue"})
		req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/api/v1/chantiers", bytes.NewReader(b))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var c hubapi.Chantier
		_ = json.NewDecoder(res.Body).Decode(&c)
		_ = res.Body.Close()
		if res.StatusCode != http.StatusCreated {
			t.Fatalf("create: %d", res.StatusCode)
		}
		committed = append(committed, strconv.FormatInt(c.ID, 10))
	}
	// Deliveries are in flight: the receiver holds them.
	waitUntil(t, "deliveries in flight", func() bool { rcv.mu.Lock(); defer rcv.mu.Unlock(); return rcv.held > 0 })
	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-first.exited
	first.exited <- nil
	rcv.mu.Lock()
	before := map[string][]string{}
	for c, ids := range rcv.seen {
		before[c] = slices.Clone(ids)
	}
	rcv.blocked = false
	rcv.mu.Unlock()
	close(rcv.unblock)

	second := startProcess(t, env, "serve", "--addr", "127.0.0.1:0")
	second.waitFor(t, listening)
	waitUntil(t, "every committed event delivered", func() bool {
		rcv.mu.Lock()
		defer rcv.mu.Unlock()
		for _, c := range committed {
			if len(rcv.answered[c]) == 0 {
				return false
			}
		}
		return true
	})
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	if rcv.invalid != 0 {
		t.Errorf("%d requests with an invalid signature", rcv.invalid)
	}
	inFlight := 0
	for _, c := range committed {
		ids := rcv.seen[c]
		for _, id := range ids {
			if id != ids[0] {
				t.Errorf("chantier %s delivered under several webhook-ids: %v", c, ids)
			}
		}
		if len(before[c]) > 0 {
			inFlight++
		}
	}
	if inFlight == 0 {
		t.Fatal("no delivery was in flight at the kill")
	}
	t.Logf("%d of %d deliveries were in flight at the kill", inFlight, writes)
	if err := second.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
}

// waitUntil polls cond for up to three minutes (the rescue of a killed
// instance's jobs takes up to HUB_JOBS_RESCUE_AFTER plus River's 30 s
// rescuer period).
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(3 * time.Minute); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("still waiting for %s", what)
		}
	}
}
