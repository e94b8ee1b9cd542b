package audit_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hubchantier/hubchantier/audit"
	"github.com/hubchantier/hubchantier/internal/testenv"
)

// Old months are archived (the file verifies offline), then dropped; the
// current month stays; old IPs are anonymised, recent ones kept.
func TestRetireArchivesThenDrops(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, db *testenv.DB) {
		ctx := context.Background()
		now := time.Now().UTC()
		old := now.AddDate(0, -14, 0)
		at := old
		s := newStore(t, db, audit.WithClock(func() time.Time { return at }))
		appendN(t, s, 3, 1)
		at = now
		appendN(t, s, 2, 1)

		if n, err := s.AnonymiseBefore(ctx, now.AddDate(0, 0, -30)); err != nil || n != 3 {
			t.Fatalf("anonymised %d, err %v", n, err)
		}
		dir := t.TempDir()
		files, err := s.Retire(ctx, now.AddDate(-1, 0, 0), dir)
		if err != nil || len(files) != 1 || filepath.Base(files[0]) != "audit-"+old.Format("2006-01")+".jsonl.gz" {
			t.Fatalf("archives %v, err %v", files, err)
		}
		f, err := os.Open(files[0])
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		sg, _ := audit.NewSigner(make([]byte, 32))
		if b, err := audit.VerifyArchive(f, sg.PublicKey()); err != nil || b != nil {
			t.Fatalf("archive: %v %v", b, err)
		}
		left, _, err := s.List(ctx, audit.Filter{}, audit.Page{})
		if err != nil || len(left) != 2 || left[0].Chain != now.Format("2006-01") || left[0].ClientIP != "203.0.113.7" {
			t.Fatalf("left %d events, err %v", len(left), err)
		}
		if b, err := s.Verify(ctx, time.Time{}, time.Time{}, ""); err != nil || b != nil {
			t.Fatalf("verify after retention: %v %v", b, err)
		}
	})
}
