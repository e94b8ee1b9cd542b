package audit_test

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/hubchantier/hubchantier/audit"
	"github.com/hubchantier/hubchantier/internal/testenv"
)

func TestChainVerifies(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, db *testenv.DB) {
		ctx := context.Background()
		s := newStore(t, db)
		appendN(t, s, 5, 7)
		if _, err := s.Digest(ctx); err != nil {
			t.Fatal(err)
		}
		appendN(t, s, 3, 8)
		b, err := s.Verify(ctx, time.Time{}, time.Time{}, "")
		if err != nil || b != nil {
			t.Fatalf("intact chain: break %v, err %v", b, err)
		}
		evs, next, err := s.List(ctx, audit.Filter{UserID: 7}, audit.Page{Limit: 3})
		if err != nil || len(evs) != 3 || next == nil {
			t.Fatalf("first page of user 7: %d events, next %v, err %v", len(evs), next, err)
		}
		more, next, err := s.List(ctx, audit.Filter{UserID: 7}, audit.Page{Limit: 3, Before: next})
		if err != nil || len(more) != 2 || next != nil {
			t.Fatalf("second page of user 7: %d events, next %v, err %v", len(more), next, err)
		}
		if evs[0].Seq != 5 || more[1].Seq != 1 || evs[0].UserID != 7 {
			t.Fatalf("newest first: got seqs %d..%d", evs[0].Seq, more[1].Seq)
		}
	})
}

func TestConcurrentAppendsNeverFork(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, db *testenv.DB) {
		ctx := context.Background()
		s := newStore(t, db)
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for g := range 8 {
			wg.Go(func() {
				for range 10 {
					err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
						return s.Append(ctx, tx, event(int64(g), "create_chantier"), event(int64(g), "update_chantier"))
					})
					if err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		var n int
		if err := db.NewSelect().TableExpr("audit_events").ColumnExpr("count(*)").Scan(ctx, &n); err != nil || n != 160 {
			t.Fatalf("%d events, err %v; want 160", n, err)
		}
		if b, err := s.Verify(ctx, time.Time{}, time.Time{}, ""); err != nil || b != nil {
			t.Fatalf("break %v, err %v", b, err)
		}
	})
}

func TestDirectUpdateAndDeleteFail(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, db *testenv.DB) {
		ctx := context.Background()
		s := newStore(t, db)
		appendN(t, s, 2, 1)
		for _, stmt := range []string{
			"UPDATE audit_events SET action = 'nothing' WHERE seq = 1",
			"UPDATE audit_events SET client_ip = '' WHERE seq = 1",
			"DELETE FROM audit_events WHERE seq = 2",
			"DELETE FROM audit_events",
		} {
			_, err := db.ExecContext(ctx, stmt)
			if err == nil || !strings.Contains(err.Error(), "append-only") {
				t.Errorf("%s: err %v, want the append-only refusal", stmt, err)
			}
		}
		if db.Name == "postgres" {
			if _, err := db.ExecContext(ctx, "TRUNCATE audit_events"); err == nil || !strings.Contains(err.Error(), "append-only") {
				t.Errorf("TRUNCATE: err %v", err)
			}
		}
		if _, err := s.Digest(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(ctx, "DELETE FROM audit_digests"); err == nil {
			t.Error("deleting digests succeeded")
		}
		if b, err := s.Verify(ctx, time.Time{}, time.Time{}, ""); err != nil || b != nil {
			t.Fatalf("after refused edits: break %v, err %v", b, err)
		}
	})
}

// disableTriggers is what a database superuser can do.
func disableTriggers(t *testing.T, db *testenv.DB, stmt string) {
	t.Helper()
	ctx := context.Background()
	if db.Name == "postgres" {
		err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			if _, err := tx.ExecContext(ctx, "SET LOCAL session_replication_role = replica"); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, stmt)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return
	}
	for _, tr := range []string{"audit_events_no_update", "audit_events_no_delete"} {
		if _, err := db.ExecContext(ctx, "DROP TRIGGER "+tr); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.ExecContext(ctx, stmt); err != nil {
		t.Fatal(err)
	}
}

func TestSuperuserEditIsCaught(t *testing.T) {
	cases := []struct {
		name, stmt string
		seq        int64
	}{
		{"edited action", "UPDATE audit_events SET action = 'nothing' WHERE seq = 3", 3},
		{"edited user", "UPDATE audit_events SET user_id = 99 WHERE seq = 2", 2},
		{"edited IP", "UPDATE audit_events SET client_ip = '198.51.100.1' WHERE seq = 4", 4},
		{"deleted event", "DELETE FROM audit_events WHERE seq = 2", 2},
		{"deleted digested tail", "DELETE FROM audit_events WHERE seq >= 5", 5},
		{"rehashed event", "UPDATE audit_events SET action = 'x', hash = 'ab' WHERE seq = 1", 1},
		{"edited changes", `UPDATE audit_events SET changes = '{"after":{"nom":"X"}}' WHERE seq = 3`, 3},
		{"changes without their salt", `UPDATE audit_events SET changes = '{"after":{}}', changes_salt = '' WHERE seq = 4`, 4},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			testenv.EachDB(t, func(t *testing.T, db *testenv.DB) {
				ctx := context.Background()
				s := newStore(t, db)
				appendN(t, s, 6, 1)
				if _, err := s.Digest(ctx); err != nil {
					t.Fatal(err)
				}
				disableTriggers(t, db, c.stmt)
				b, err := s.Verify(ctx, time.Time{}, time.Time{}, "")
				if err != nil {
					t.Fatal(err)
				}
				if b == nil || b.Seq != c.seq {
					t.Fatalf("break %v, want one at seq %d", b, c.seq)
				}
			})
		})
	}
}

func TestAnonymiseUserKeepsTheChain(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, db *testenv.DB) {
		ctx := context.Background()
		s := newStore(t, db)
		appendN(t, s, 2, 1)
		v6 := event(2, "read_x")
		v6.ClientIP = "2001:db8:abcd:12::1"
		if err := s.Append(ctx, db.DB, event(2, "read_y"), v6); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Digest(ctx); err != nil {
			t.Fatal(err)
		}
		// an admin's change of user 2's record, and one of another user's
		about := event(1, "update_user")
		about.ResourceType, about.ResourceID, about.Changes = "users", "2", `{"before":{"nom":"Durand"},"after":{"nom":"Martin"}}`
		other := event(1, "update_user")
		other.ResourceType, other.ResourceID, other.Changes = "users", "3", `{"before":{"nom":"Petit"},"after":{"nom":"Grand"}}`
		if err := s.Append(ctx, db.DB, about, other); err != nil {
			t.Fatal(err)
		}
		if err := s.AnonymiseUser(ctx, 2); err != nil {
			t.Fatal(err)
		}
		evs, _, err := s.List(ctx, audit.Filter{UserID: 2}, audit.Page{})
		if err != nil || len(evs) != 2 {
			t.Fatalf("%d events, err %v", len(evs), err)
		}
		byAdmin, _, err := s.List(ctx, audit.Filter{UserID: 1}, audit.Page{})
		if err != nil || len(byAdmin) != 4 {
			t.Fatalf("%d events of user 1, err %v", len(byAdmin), err)
		}
		for _, e := range byAdmin {
			switch e.ResourceID {
			case "2":
				// the admin's own address is not the erased person's
				if e.Changes != "" || e.ChangesSalt != "" || e.ClientIP != "203.0.113.7" {
					t.Errorf("the change of the erased user's record keeps %q (salt %q, IP %q)", e.Changes, e.ChangesSalt, e.ClientIP)
				}
			case "3":
				if e.Changes == "" || e.ChangesSalt == "" || e.ClientIP != "203.0.113.7" {
					t.Errorf("another user's change lost its changes: %+v", e)
				}
			}
		}
		if evs[0].ClientIP != "2001:db8:abcd::/48" || evs[1].ClientIP != "203.0.113.0/24" {
			t.Errorf("anonymised IPs %q, %q", evs[0].ClientIP, evs[1].ClientIP)
		}
		for _, e := range evs {
			if e.UserAgent != "" || e.PIISalt != "" || e.AnonymisedAt == nil {
				t.Errorf("event %d keeps UA %q salt %q", e.Seq, e.UserAgent, e.PIISalt)
			}
		}
		if byAdmin[2].ClientIP != "203.0.113.7" || byAdmin[2].UserAgent != "curl/8" {
			t.Errorf("another user's event changed: %+v", byAdmin[2])
		}
		if b, err := s.Verify(ctx, time.Time{}, time.Time{}, ""); err != nil || b != nil {
			t.Fatalf("after anonymisation: break %v, err %v", b, err)
		}
	})
}

func TestExportVerifiesOffline(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, db *testenv.DB) {
		ctx := context.Background()
		s := newStore(t, db)
		appendN(t, s, 4, 1)
		month := time.Now().UTC().Format("2006-01")
		var buf bytes.Buffer
		n, err := s.Export(ctx, &buf, month)
		if err != nil || n != 4 {
			t.Fatalf("exported %d, err %v", n, err)
		}
		sg, _ := audit.NewSigner(make([]byte, 32))
		if b, err := audit.VerifyArchive(bytes.NewReader(buf.Bytes()), sg.PublicKey()); err != nil || b != nil {
			t.Fatalf("archive: break %v, err %v", b, err)
		}
		other, _ := audit.NewSigner(bytes.Repeat([]byte{1}, 32))
		if b, _ := audit.VerifyArchive(bytes.NewReader(buf.Bytes()), other.PublicKey()); b == nil {
			t.Fatal("archive verified with another key")
		}
	})
}

// TestConcurrentChangesTakeFreeChains checks on PostgreSQL that a change
// does not wait for another transaction holding the month's first chain:
// it appends to the next free chain ("YYYY-MM.1") at once. Both chains
// verify, in place and in an archive of the month (one section each), and
// retiring the month drops both.
func TestConcurrentChangesTakeFreeChains(t *testing.T) {
	db := testenv.Postgres(t)
	ctx := context.Background()
	s := newStore(t, db)
	month := time.Now().UTC().Format("2006-01")
	// as the server at start and the partition job ahead of each month
	if err := s.EnsurePartition(ctx, time.Now()); err != nil {
		t.Fatal(err)
	}
	first := event(1, "create_chantier")
	tx1, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx1.Rollback() }()
	if err := s.Append(ctx, tx1, first); err != nil {
		t.Fatal(err)
	}
	// tx1 holds the first chain's head until it commits.
	second := event(2, "update_chantier")
	quick, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := db.RunInTx(quick, nil, func(ctx context.Context, tx bun.Tx) error { return s.Append(ctx, tx, second) }); err != nil {
		t.Fatalf("a second change waited for the first's transaction: %v", err)
	}
	if err := tx1.Commit(); err != nil {
		t.Fatal(err)
	}
	if first.Chain != month || second.Chain != month+".1" || first.Seq != 1 || second.Seq != 1 {
		t.Fatalf("chains %s#%d and %s#%d", first.Chain, first.Seq, second.Chain, second.Seq)
	}
	appendN(t, s, 3, 1) // sequential appends: the first chain again
	var n int
	if err := db.NewSelect().TableExpr("audit_events").ColumnExpr("count(*)").Where("chain = ?", month).Scan(ctx, &n); err != nil || n != 4 {
		t.Fatalf("%d events on %s, err %v", n, month, err)
	}
	if b, err := s.Verify(ctx, time.Time{}, time.Time{}, ""); err != nil || b != nil {
		t.Fatalf("verify: %v %v", b, err)
	}
	var buf bytes.Buffer
	if n, err := s.Export(ctx, &buf, month); err != nil || n != 5 {
		t.Fatalf("exported %d, err %v", n, err)
	}
	sg, _ := audit.NewSigner(make([]byte, 32))
	if b, err := audit.VerifyArchive(bytes.NewReader(buf.Bytes()), sg.PublicKey()); err != nil || b != nil {
		t.Fatalf("archive: %v %v", b, err)
	}
	// An edit in the second chain is found there.
	disableTriggers(t, db, "UPDATE audit_events SET action = 'x' WHERE chain = '"+month+".1'")
	if b, err := s.Verify(ctx, time.Time{}, time.Time{}, ""); err != nil || b == nil || b.Chain != month+".1" || b.Seq != 1 {
		t.Fatalf("verify after an edit of %s.1: %v %v", month, b, err)
	}
	files, err := s.Retire(ctx, time.Now().AddDate(0, 2, 0), t.TempDir())
	if err == nil {
		t.Fatalf("retired a month whose chain is broken: %v", files)
	}
}
