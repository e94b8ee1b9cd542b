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
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/uptrace/bun"
)

// ArchiveFormat names the format of exported archives.
const ArchiveFormat = "hubchantier-audit-archive-v1"

// archiveLine is one line of an archive: exactly one field is set. Each
// chain's section starts with its header, then its events in seq order,
// then its digests.
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

// Export writes the chains of month ("YYYY-MM") to w as gzip-compressed
// JSON Lines, one section per chain ("YYYY-MM", then "YYYY-MM.1", ...): a
// header {"format":...,"chain":...}, one {"event":...} per event in chain
// order, then one {"digest":...} per signed digest. With a signer, the
// heads are signed first, so each section ends with a digest of its last
// event and VerifyArchive checks it offline with the public key alone.
func (s *Store) Export(ctx context.Context, w io.Writer, month string) (events int64, err error) {
	if _, err := ParseMonth(month); err != nil {
		return 0, err
	}
	if s.Signer() != nil {
		if _, err := s.Digest(ctx); err != nil {
			return 0, err
		}
	}
	chains, err := s.chainsOf(ctx, month)
	if err != nil {
		return 0, err
	}
	if len(chains) == 0 {
		chains = []string{month} // an empty archive still names its month
	}
	zw := gzip.NewWriter(w)
	enc := json.NewEncoder(zw)
	for _, chain := range chains {
		n, err := s.exportChain(ctx, enc, chain)
		events += n
		if err != nil {
			return events, err
		}
	}
	return events, zw.Close()
}

// chainsOf returns the names of month's chains that have a head, in order.
func (s *Store) chainsOf(ctx context.Context, month string) ([]string, error) {
	var all, chains []string
	if err := s.db.NewSelect().TableExpr("audit_chain_heads").Column("chain").
		Where("chain = ? OR chain LIKE ?", month, month+".%").Scan(ctx, &all); err != nil {
		return nil, err
	}
	for _, c := range all {
		if monthOf(c) == month {
			chains = append(chains, c)
		}
	}
	sort.Slice(chains, func(i, j int) bool { return chainOrder(chains[i]) < chainOrder(chains[j]) })
	return chains, nil
}

// chainOrder is a chain's shard number (0 for "YYYY-MM").
func chainOrder(chain string) int {
	_, n, _ := strings.Cut(chain, ".")
	i, _ := strconv.Atoi(n)
	return i
}

func (s *Store) exportChain(ctx context.Context, enc *json.Encoder, chain string) (events int64, err error) {
	if err := enc.Encode(archiveLine{Format: ArchiveFormat, Chain: chain}); err != nil {
		return 0, err
	}
	next := int64(1)
	for {
		var batch []Event
		if err := s.db.NewSelect().Model(&batch).Where("chain = ? AND seq >= ?", chain, next).Order("seq").Limit(verifyBatch).Scan(ctx); err != nil {
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
	if err := s.db.NewSelect().Model(&digests).Where("chain = ?", chain).Order("seq", "id").Scan(ctx); err != nil {
		return events, err
	}
	for i := range digests {
		if err := enc.Encode(archiveLine{Digest: &digests[i]}); err != nil {
			return events, err
		}
	}
	return events, nil
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
	type section struct {
		chain   string
		events  []Event
		digests []Digest
	}
	var sections []*section
	for sc.Scan() {
		var l archiveLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrArchive, err)
		}
		switch {
		case l.Format != "":
			if l.Format != ArchiveFormat {
				return nil, fmt.Errorf("%w: format %q", ErrArchive, l.Format)
			}
			sections = append(sections, &section{chain: l.Chain})
		case len(sections) == 0:
			return nil, fmt.Errorf("%w: no header", ErrArchive)
		case l.Event != nil:
			cur := sections[len(sections)-1]
			cur.events = append(cur.events, *l.Event)
		case l.Digest != nil:
			cur := sections[len(sections)-1]
			cur.digests = append(cur.digests, *l.Digest)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrArchive, err)
	}
	if len(sections) == 0 {
		return nil, fmt.Errorf("%w: empty", ErrArchive)
	}
	for _, sec := range sections {
		v := newVerifier(sec.chain, sec.digests, pub)
		v.start(1, "")
		for i := range sec.events {
			if b := v.feed(&sec.events[i]); b != nil {
				return b, nil
			}
		}
		if b := v.finish(0); b != nil {
			return b, nil
		}
		if len(sec.events) > 0 && len(v.digests[v.lastSeen]) == 0 {
			return &Break{Chain: sec.chain, Seq: v.lastSeen, Reason: "no signed digest covers the last event"}, nil
		}
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
	var chains, months []string
	if err := s.db.NewSelect().TableExpr("audit_chain_heads").Column("chain").Where("chain < ?", chainOf(before)).
		Order("chain").Scan(ctx, &chains); err != nil {
		return nil, err
	}
	for _, c := range chains {
		if m := monthOf(c); m < chainOf(before) && !slices.Contains(months, m) {
			months = append(months, m)
		}
	}
	var files []string
	for _, month := range months {
		path, err := s.archive(ctx, month, dir)
		if err != nil {
			return files, err
		}
		files = append(files, path)
		if err := s.dropMonth(ctx, month); err != nil {
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

// dropMonth drops the events, digests and heads of month's chains.
func (s *Store) dropMonth(ctx context.Context, month string) error {
	return s.maintenance(ctx, "retention", func(ctx context.Context, tx bun.Tx) error {
		if s.pg {
			t, _ := ParseMonth(month)
			part := "audit_events_" + t.Format("2006_01")
			if _, err := tx.ExecContext(ctx, "DROP TABLE IF EXISTS ?", bun.Ident(part)); err != nil {
				return err
			}
		}
		for _, table := range []string{"audit_events", "audit_digests", "audit_chain_heads"} {
			if _, err := tx.ExecContext(ctx, "DELETE FROM ? WHERE chain = ? OR chain LIKE ?", bun.Ident(table), month, month+".%"); err != nil {
				return err
			}
		}
		return nil
	})
}
