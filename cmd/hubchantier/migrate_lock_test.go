package main

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/uptrace/bun/migrate"

	"github.com/hubchantier/hubchantier/hubapi/store"
	"github.com/hubchantier/hubchantier/internal/testenv"
)

// hubProcess is one hubchantier process of the test.
type hubProcess struct {
	cmd       *exec.Cmd
	out       syncBuffer
	stderr    bytes.Buffer // read only after Wait
	started   time.Time
	listening chan struct{} // closed when "listening on" is printed
	once      sync.Once
}

func (p *hubProcess) Write(b []byte) (int, error) {
	n, err := p.out.Write(b)
	if strings.Contains(p.out.String(), "listening on") {
		p.once.Do(func() { close(p.listening) })
	}
	return n, err
}

// startServe starts `hubchantier serve` on 127.0.0.1 (a port of its own)
// against dsn. The environment's other HUB_* variables are not passed on.
func startServe(t *testing.T, bin, dsn, blobs string) *hubProcess {
	t.Helper()
	p := &hubProcess{listening: make(chan struct{})}
	p.cmd = exec.Command(bin, "serve", "--addr", "127.0.0.1:0")
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "HUB_") {
			p.cmd.Env = append(p.cmd.Env, kv)
		}
	}
	p.cmd.Env = append(p.cmd.Env, "HUB_DATABASE_URL="+dsn, "HUB_BLOB_DIR="+blobs)
	p.cmd.Stdout, p.cmd.Stderr = p, &p.stderr
	p.started = time.Now()
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { // only if the test failed before reaping it
		if p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Kill()
			_ = p.cmd.Wait()
		}
	})
	return p
}

// stop waits until p listens, then stops it with SIGTERM and checks it
// exited cleanly; it returns the time p took to start.
func (p *hubProcess) stop(t *testing.T, name string) time.Duration {
	t.Helper()
	exited := make(chan error, 1)
	go func() { exited <- p.cmd.Wait() }()
	select {
	case <-p.listening:
	case err := <-exited:
		t.Errorf("%s exited before listening (%v): %s", name, err, p.stderr.String())
		return 0
	case <-time.After(45 * time.Second):
		_ = p.cmd.Process.Kill()
		<-exited
		t.Errorf("%s did not listen within 45s: %s", name, p.stderr.String())
		return 0
	}
	startup := time.Since(p.started)
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("%s: exit %v: %s", name, err, p.stderr.String())
		}
	case <-time.After(40 * time.Second):
		_ = p.cmd.Process.Kill()
		<-exited
		t.Errorf("%s did not stop on SIGTERM", name)
	}
	return startup
}

func buildHubchantier(t *testing.T) string {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go tool not in PATH")
	}
	bin := filepath.Join(t.TempDir(), "hubchantier")
	build := exec.Command(gobin, "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func appliedMigrations(t *testing.T, tdb *testenv.DB) (rows, distinct int) {
	t.Helper()
	if err := tdb.QueryRowContext(context.Background(),
		"SELECT count(*), count(DISTINCT name) FROM bun_migrations").Scan(&rows, &distinct); err != nil {
		t.Fatal(err)
	}
	return rows, distinct
}

// Instances started together on one fresh PostgreSQL schema all start, and
// instances killed with SIGKILL during start-up never block the next start.
func TestServeConcurrentStartsAndKilledStarts(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts 40 processes")
	}
	if testenv.PostgresURL() == "" {
		t.Skip("HUB_TEST_POSTGRES_URL not set")
	}
	files, err := filepath.Glob("../../hubapi/store/migrations/postgres/*.up.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("migration files: %v %v", files, err)
	}
	bin := buildHubchantier(t)
	blobs := t.TempDir()

	var slowest time.Duration
	t.Run("10 serve started at once on a fresh schema → all listen, each migration applied once", func(t *testing.T) {
		tdb := testenv.Postgres(t)
		procs := make([]*hubProcess, 10)
		for i := range procs {
			procs[i] = startServe(t, bin, tdb.DSN, blobs)
		}
		for i, p := range procs {
			slowest = max(slowest, p.stop(t, "instance "+string(rune('0'+i))))
		}
		if rows, distinct := appliedMigrations(t, tdb); rows != len(files) || distinct != len(files) {
			t.Errorf("bun_migrations: %d rows, %d names; want each of the %d migrations once", rows, distinct, len(files))
		}
	})
	if t.Failed() {
		return
	}

	t.Run("30 starts killed at a random moment of start-up, half of them while migrating → the next start succeeds", func(t *testing.T) {
		tdb := testenv.Postgres(t)
		ctx := context.Background()
		var schema string
		if err := tdb.QueryRowContext(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
			t.Fatal(err)
		}
		// Even rounds start on an emptied schema and are killed within the
		// time a start that migrates takes; odd rounds within the time the
		// last start took, which follows what is seen.
		migrating := min(max(slowest, 300*time.Millisecond), 3*time.Second)
		window := migrating
		killedBeforeListening, killedWithPending := 0, 0
		deadline := time.Now().Add(40 * time.Second)
		for i := 0; i < 30 && time.Now().Before(deadline); i++ {
			wait := window
			if i%2 == 0 {
				if _, err := tdb.ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE; CREATE SCHEMA "+schema); err != nil {
					t.Fatal(err)
				}
				wait = migrating
			}
			p := startServe(t, bin, tdb.DSN, blobs)
			select {
			case <-time.After(rand.N(wait)):
			case <-p.listening:
				if i%2 == 1 {
					window = max(time.Since(p.started)*5/4, 20*time.Millisecond)
				}
			}
			select {
			case <-p.listening:
			default:
				killedBeforeListening++
			}
			if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatalf("kill %d: %v", p.cmd.Process.Pid, err)
			}
			_ = p.cmd.Wait()
			var applied int
			_ = tdb.QueryRowContext(ctx, "SELECT count(*) FROM bun_migrations").Scan(&applied)
			if applied < len(files) {
				killedWithPending++
			}
		}
		t.Logf("%d of 30 killed before listening, %d with migrations still pending", killedBeforeListening, killedWithPending)
		p := startServe(t, bin, tdb.DSN, blobs)
		p.stop(t, "start after the kills")
		if rows, distinct := appliedMigrations(t, tdb); rows != len(files) || distinct != len(files) {
			t.Errorf("bun_migrations: %d rows, %d names; want each of the %d migrations once", rows, distinct, len(files))
		}
		var held int
		if err := tdb.QueryRowContext(context.Background(), "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = ?::oid AND objid = hashtext(current_schema())::oid",
			int64(0x48554243)).Scan(&held); err != nil || held != 0 {
			t.Errorf("migration advisory locks still held: %d, %v", held, err)
		}
	})
}

// migrate --unlock removes the lock row an earlier version left, then migrates.
func TestMigrateUnlock(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "hub.db")
	t.Setenv("HUB_DATABASE_URL", "sqlite:"+path)
	t.Setenv("HUB_BLOB_DIR", filepath.Join(dir, "blobs"))
	ctx := context.Background()
	db, err := store.Open("sqlite:" + path)
	if err != nil {
		t.Fatal(err)
	}
	old := migrate.NewMigrator(db.DB, migrate.NewMigrations())
	if err := errors.Join(old.Init(ctx), old.Lock(ctx)); err != nil {
		t.Fatal(err)
	}
	_ = db.Close()
	var out, errOut syncBuffer
	if err := run(ctx, []string{"migrate", "--unlock"}, strings.NewReader(""), &out, &errOut); err != nil {
		t.Fatalf("migrate --unlock: %v %s", err, errOut.String())
	}
	if got := out.String(); !strings.Contains(got, "removed 1 stale migration lock row(s)") || !strings.Contains(got, "migrations applied") {
		t.Errorf("output %q", got)
	}
}
