package server_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hubchantier/hubchantier/hubapi/server"
	"github.com/hubchantier/hubchantier/hubapi/store"
	"github.com/hubchantier/hubchantier/internal/testenv"
)

// A server started while PostgreSQL refuses connections starts its job
// queue once the database answers, and then works its periodic jobs.
func TestJobQueueStartsWhenTheDatabaseComesBack(t *testing.T) {
	tdb := testenv.Postgres(t)
	if err := store.Wrap(tdb.DB).Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(tdb.DSN)
	if err != nil {
		t.Fatal(err)
	}
	upstream := u.Host
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	proxyAddr := ln.Addr().String()
	_ = ln.Close() // refused until the proxy below listens
	u.Host = proxyAddr

	srv, _, logs := startFromEnv(t, func(c *server.Config) { c.SkipMigrate = true },
		"HUB_DATABASE_URL="+u.String(), "HUB_CURSOR_KEYS="+b64(bytes.Repeat([]byte{7}, 32)),
		"HUB_SECRET_KEYS=k1:"+b64(bytes.Repeat([]byte{8}, 32)))
	if !strings.Contains(logs.String(), "job queue not started") {
		t.Fatalf("no warning:\n%s", logs.String())
	}

	// The database comes back: a TCP proxy to the real server on that port.
	ln, err = net.Listen("tcp", proxyAddr)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var conns sync.Map
	t.Cleanup(func() {
		_ = ln.Close()
		conns.Range(func(k, _ any) bool { _ = k.(net.Conn).Close(); return true })
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", upstream)
			if err != nil {
				_ = c.Close()
				continue
			}
			conns.Store(c, true)
			conns.Store(up, true)
			wg.Go(func() { _, _ = io.Copy(up, c); _ = up.Close() })
			wg.Go(func() { _, _ = io.Copy(c, up); _ = c.Close() })
		}
	})
	for deadline := time.Now().Add(10 * server.JobStartRetry); !strings.Contains(logs.String(), `"msg":"job queue started"`); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("queue not started:\n%s", logs.String())
		}
	}
	// Its leader compacts counters: a periodic job has run.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		var n int
		if err := tdb.QueryRowContext(context.Background(), `SELECT count(*) FROM river_job WHERE kind = 'periodic' AND state = 'completed'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no periodic job completed")
		}
	}
	srv.Close() // before the proxy goes away
}
