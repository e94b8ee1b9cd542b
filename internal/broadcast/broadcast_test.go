package broadcast_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hubchantier/hubchantier/internal/broadcast"
	"github.com/hubchantier/hubchantier/internal/testenv"
)

type recorder struct {
	mu       sync.Mutex
	messages []string
	ups      []bool
	downs    int
}

func (r *recorder) config(rdb redis.UniversalClient) broadcast.Config {
	return broadcast.Config{
		Redis: rdb, Name: "test:broadcast",
		OnMessage: func(p string) { r.mu.Lock(); r.messages = append(r.messages, p); r.mu.Unlock() },
		OnUp:      func(resync bool) { r.mu.Lock(); r.ups = append(r.ups, resync); r.mu.Unlock() },
		OnDown:    func(error) { r.mu.Lock(); r.downs++; r.mu.Unlock() },
	}
}

func (r *recorder) snapshot() ([]string, []bool, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.messages...), append([]bool(nil), r.ups...), r.downs
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 15 s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestChannelIsLiveOnlyWhileSubscribed(t *testing.T) {
	rs := testenv.StartPrivateRedis(t)
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr})
	t.Cleanup(func() { _ = rdb.Close() })
	var ra, rb recorder
	a, err := broadcast.New(ra.config(rdb))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := broadcast.New(rb.config(rdb))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for _, c := range []*broadcast.Channel{a, b} {
		select {
		case <-c.Ready():
		case <-time.After(10 * time.Second):
			t.Fatal("not subscribed")
		}
	}
	if !a.Live() || !b.Live() {
		t.Fatal("subscribed but not live")
	}
	if _, ups, _ := ra.snapshot(); len(ups) != 1 || ups[0] {
		t.Fatalf("first OnUp: %v, want one without resync", ups)
	}

	t.Run("a published message reaches every subscriber", func(t *testing.T) {
		if err := a.Publish(context.Background(), []byte("hello")); err != nil {
			t.Fatal(err)
		}
		eventually(t, "b receives", func() bool { m, _, _ := rb.snapshot(); return len(m) == 1 && m[0] == "hello" })
		eventually(t, "a receives its own", func() bool { m, _, _ := ra.snapshot(); return len(m) == 1 })
	})
	t.Run("Redis down: not live, and a publish fails", func(t *testing.T) {
		rs.Stop()
		eventually(t, "not live", func() bool { return !a.Live() && !b.Live() })
		if err := a.Publish(context.Background(), []byte("lost")); err == nil {
			t.Fatal("publish succeeded with Redis down")
		}
		if _, _, downs := ra.snapshot(); downs == 0 {
			t.Fatal("OnDown not called")
		}
	})
	t.Run("Redis back: OnUp with resync, then live", func(t *testing.T) {
		rs.Start()
		eventually(t, "live again", func() bool { return a.Live() && b.Live() })
		if _, ups, _ := ra.snapshot(); len(ups) < 2 || !ups[len(ups)-1] {
			t.Fatalf("OnUp calls %v, want a resync last", ups)
		}
	})
	t.Run("closed: not live", func(t *testing.T) {
		a.Close()
		if a.Live() {
			t.Fatal("live after Close")
		}
	})
}

func TestNewChecksItsConfig(t *testing.T) {
	if _, err := broadcast.New(broadcast.Config{Name: "x"}); err == nil {
		t.Fatal("no Redis accepted")
	}
	if _, err := broadcast.New(broadcast.Config{Redis: redis.NewClient(&redis.Options{})}); err == nil {
		t.Fatal("no channel name accepted")
	}
}
