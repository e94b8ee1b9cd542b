package audit

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/uptrace/bun"
)

// ArchiveFormat names the format of exported archives.
const ArchiveFormat = "hubchantier-audit-archive-v1"

// archiveLine is one line of an archive: exactly one field is set. The
// first line is the header, then the events in seq order, then the
// chain's digests.
type archiveLine struct {
	Format string  `json:"format,omitempty"`
	Chain  string  `json:"chain,omitempty"`
	Event  *Event  `json:"event,omitempty"`
	Digest *Digest `json:"digest,omitempty"`
}

var chainRe = regexp.MustCompile(`^[0-9]{4}-(0[1-9]|1[0-2])$`)

// ParseMonth checks a chain name, "YYYY-MM".
func ParseMonth(month string) (time.Time, error) {
	if !chainRe.MatchString(month) {
		return time.Time{}, fmt.Errorf("audit: month %q is not YYYY-MM", month)
	}
	return time.Parse("2006-01", month)
}

// Export writes the chain of month ("YYYY-MM") to w as gzip-compressed
// JSON Lines: a header {"format":...,"chain":...}, one {"event":...} per
// event in chain order, then one {"digest":...} per signed digest. With a
// signer, the chain's head is signed first, so the archive ends with a
// digest of its last event and VerifyArchive checks it offline with the
// public key alone.
func (s *Store) Export(ctx context.Context, w io.Writer, month string) (events int64, err error) {
	if _, err := ParseMonth(month); err != nil {
		return 0, err
	}
	if s.Signer() != nil {
		if _, err := s.Digest(ctx); err != nil {
			return 0, err
		}
	}
	zw := gzip.NewWriter(w)
	enc := json.NewEncoder(zw)
	if err := enc.Encode(archiveLine{Format: ArchiveFormat, Chain: month}); err != nil {
		return 0, err
	}
	next := int64(1)
	for {
		var batch []Event
		if err := s.db.NewSelect().Model(&batch).Where("chain = ? AND seq >= ?", month, next).Order("seq").Limit(verifyBatch).Scan(ctx); err != nil {
			return events, err
		}
		for i := range batch {
			if err := enc.Encode(archiveLine{Event: &batch[i]}); err != nil {
				return events, err
			}
			events++
			next = batch[i].Seq + 1
		}
		if len(batch) < verifyBatch {
			break
		}
	}
	var digests []Digest
	if err := s.db.NewSelect().Model(&digests).Where("chain = ?", month).Order("seq", "id").Scan(ctx); err != nil {
		return events, err
	}
	for i := range digests {
		if err := enc.Encode(archiveLine{Digest: &digests[i]}); err != nil {
			return events, err
		}
	}
	return events, zw.Close()
}

// ErrArchive reports an archive that is not one (wrapped).
var ErrArchive = errors.New("audit: not a valid archive")

// VerifyArchive checks an archive written by Export, offline: the chain's
// links, every digest's signature with pub (base64 Ed25519 public key; ""
// trusts the key the digests carry), and that a digest covers the last
// event. It returns the first broken link, or nil.
func VerifyArchive(r io.Reader, pub string) (*Break, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrArchive, err)
	}
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	var header archiveLine
	var events []Event
	var digests []Digest
	first := true
	for sc.Scan() {
		var l archiveLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrArchive, err)
		}
		switch {
		case first:
			if l.Format != ArchiveFormat {
				return nil, fmt.Errorf("%w: format %q", ErrArchive, l.Format)
			}
			header, first = l, false
		case l.Event != nil:
			events = append(events, *l.Event)
		case l.Digest != nil:
			digests = append(digests, *l.Digest)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrArchive, err)
	}
	if first {
		return nil, fmt.Errorf("%w: empty", ErrArchive)
	}
	v := newVerifier(header.Chain, digests, pub)
	v.start(1, "")
	for i := range events {
		if b := v.feed(&events[i]); b != nil {
			return b, nil
		}
	}
	if b := v.finish(0); b != nil {
		return b, nil
	}
	if len(events) > 0 && len(v.digests[v.lastSeen]) == 0 {
		return &Break{Chain: header.Chain, Seq: v.lastSeen, Reason: "no signed digest covers the last event"}, nil
	}
	return nil, nil
}

// Retire archives and drops the chains of the months that ended before
// before (the retention job): each month is exported to
// dir/audit-YYYY-MM.jsonl.gz, the file is synced and verified, and only
// then are its events, digests and head dropped (a partition dropped on
// PostgreSQL; rows deleted on the retention path on SQLite). It returns
// the archive files written.
func (s *Store) Retire(ctx context.Context, before time.Time, dir string) ([]string, error) {
	var chains []string
	if err := s.db.NewSelect().TableExpr("audit_chain_heads").Column("chain").Where("chain < ?", chainOf(before)).
		Order("chain").Scan(ctx, &chains); err != nil {
		return nil, err
	}
	var files []string
	for _, chain := range chains {
		path, err := s.archive(ctx, chain, dir)
		if err != nil {
			return files, err
		}
		files = append(files, path)
		if err := s.dropChain(ctx, chain); err != nil {
			return files, err
		}
	}
	return files, nil
}

func (s *Store) archive(ctx context.Context, chain, dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", err
	}
	path := filepath.Join(dir, "audit-"+chain+".jsonl.gz")
	tmp, err := os.CreateTemp(dir, ".audit-"+chain+"-*.tmp")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	if _, err := s.Export(ctx, tmp, chain); err != nil {
		_ = tmp.Close()
		return "", err
	}
	if err := tmp.Sync(); err != nil {
		_ = tmp.Close()
		return "", err
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		_ = tmp.Close()
		return "", err
	}
	pub := ""
	if sg := s.Signer(); sg != nil {
		pub = sg.PublicKey()
	}
	b, err := VerifyArchive(tmp, pub)
	_ = tmp.Close()
	if err != nil {
		return "", err
	}
	if b != nil && b.Reason != "no signed digest covers the last event" {
		return "", fmt.Errorf("audit: not archiving %s: %w", chain, b)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", err
	}
	return path, nil
}

func (s *Store) dropChain(ctx context.Context, chain string) error {
	return s.maintenance(ctx, "retention", func(ctx context.Context, tx bun.Tx) error {
		if s.pg {
			t, _ := ParseMonth(chain)
			part := "audit_events_" + t.Format("2006_01")
			if _, err := tx.ExecContext(ctx, "DROP TABLE IF EXISTS ?", bun.Ident(part)); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM audit_events WHERE chain = ?", chain); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM audit_digests WHERE chain = ?", chain); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, "DELETE FROM audit_chain_heads WHERE chain = ?", chain)
		return err
	})
}
