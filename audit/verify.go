package audit

import (
	"context"
	"fmt"
	"sort"
	"time"
)

// Break is the first broken link of a chain found by a verification.
type Break struct {
	Chain string
	// Seq is the position where the chain breaks; ID the event there (0
	// when the event is missing).
	Seq    int64
	ID     int64
	Reason string
}

func (b *Break) Error() string {
	return fmt.Sprintf("audit chain %s broken at seq %d (event id %d): %s", b.Chain, b.Seq, b.ID, b.Reason)
}

// verifier checks one chain, event by event in seq order.
type verifier struct {
	chain    string
	pub      string
	next     int64  // expected seq
	prev     string // expected prev_hash (unknown when "" and next > 1)
	digests  map[int64][]Digest
	lastSeen int64
}

func newVerifier(chain string, digests []Digest, pub string) *verifier {
	v := &verifier{chain: chain, pub: pub, digests: map[int64][]Digest{}}
	for _, d := range digests {
		v.digests[d.Seq] = append(v.digests[d.Seq], d)
	}
	return v
}

// start positions the verifier before seq, whose predecessor hashed to prev
// ("" when seq is 1: GenesisHash).
func (v *verifier) start(seq int64, prev string) {
	v.next, v.prev = seq, prev
	if seq <= 1 {
		v.next, v.prev = 1, GenesisHash
	}
}

func (v *verifier) feed(e *Event) *Break {
	brk := func(reason string) *Break { return &Break{Chain: v.chain, Seq: e.Seq, ID: e.ID, Reason: reason} }
	switch {
	case e.Chain != v.chain:
		return brk("event of chain " + e.Chain + " in chain " + v.chain)
	case e.Seq > v.next:
		return &Break{Chain: v.chain, Seq: v.next, Reason: fmt.Sprintf("event missing (next present is seq %d)", e.Seq)}
	case e.Seq < v.next:
		return brk("sequence number repeated")
	case v.prev != "" && e.PrevHash != v.prev:
		return brk("prev_hash does not match the hash of the event before")
	case ComputeHash(e) != e.Hash:
		return brk("hash does not match the event's content")
	case chainOf(e.Time) != monthOf(e.Chain):
		return brk("time outside the chain's month")
	case e.AnonymisedAt == nil && piiDigest(e.PIISalt, e.ClientIP, e.UserAgent) != e.PIIDigest:
		return brk("client IP or user agent does not match its digest")
	case e.AnonymisedAt != nil && (e.UserAgent != "" || e.PIISalt != "" || (e.ClientIP != "" && anonymiseIP(e.ClientIP) != "")):
		return brk("anonymised event still holds an address, a user agent or a salt")
	case e.ChangesSalt != "" && changesDigest(e.ChangesSalt, e.Changes) != e.ChangesDigest:
		return brk("changes do not match their digest")
	case e.ChangesSalt == "" && e.Changes != "":
		return brk("changes without their salt")
	}
	for _, d := range v.digests[e.Seq] {
		if d.Hash != e.Hash {
			return brk("hash differs from the signed digest " + d.CreatedAt.Format(time.RFC3339))
		}
		if err := d.Check(v.pub); err != nil {
			return brk(fmt.Sprintf("digest %d: %v", d.ID, err))
		}
	}
	v.next, v.prev, v.lastSeen = e.Seq+1, e.Hash, e.Seq
	return nil
}

// finish checks that no signed digest (or the chain head, headSeq > 0)
// names events beyond the last one seen.
func (v *verifier) finish(headSeq int64) *Break {
	var beyond []int64
	for seq := range v.digests {
		if seq > v.lastSeen {
			beyond = append(beyond, seq)
		}
	}
	if len(beyond) > 0 {
		sort.Slice(beyond, func(i, j int) bool { return beyond[i] < beyond[j] })
		return &Break{Chain: v.chain, Seq: v.lastSeen + 1, Reason: fmt.Sprintf("events missing: a signed digest covers seq %d", beyond[0])}
	}
	if headSeq > v.lastSeen {
		return &Break{Chain: v.chain, Seq: v.lastSeen + 1, Reason: fmt.Sprintf("events missing: the chain head is at seq %d", headSeq)}
	}
	return nil
}

// verifyBatch is how many events Verify reads per query.
const verifyBatch = 1000

// Verify checks the chains of the events whose time is in [from, to] (a
// zero bound is open) and returns the first broken link, or nil when every
// link holds: each event's hash matches its content, its prev_hash the
// hash of the one before, no sequence number is missing, every signed
// digest matches the event it names and verifies with pub (base64 Ed25519
// public key; "" trusts the key the digest carries, see Digest.Check), and
// the undigested tail reaches the chain's head. An error is a failure to
// read.
func (s *Store) Verify(ctx context.Context, from, to time.Time, pub string) (*Break, error) {
	var all []string
	if err := s.db.NewSelect().TableExpr("audit_chain_heads").Column("chain").Order("chain").Scan(ctx, &all); err != nil {
		return nil, err
	}
	for _, chain := range all {
		if m := monthOf(chain); (!from.IsZero() && m < chainOf(from)) || (!to.IsZero() && m > chainOf(to)) {
			continue
		}
		if b, err := s.verifyChain(ctx, chain, from, to, pub); b != nil || err != nil {
			return b, err
		}
	}
	return nil, nil
}

func (s *Store) verifyChain(ctx context.Context, chain string, from, to time.Time, pub string) (*Break, error) {
	var digests []Digest
	if err := s.db.NewSelect().Model(&digests).Where("chain = ?", chain).Order("seq", "id").Scan(ctx); err != nil {
		return nil, err
	}
	var headSeq int64
	if err := s.db.NewSelect().TableExpr("audit_chain_heads").Column("seq").Where("chain = ?", chain).Scan(ctx, &headSeq); err != nil {
		return nil, err
	}
	v := newVerifier(chain, digests, pub)
	startSeq := int64(1)
	if !from.IsZero() && chainOf(from) == monthOf(chain) {
		var first []int64
		if err := s.db.NewSelect().TableExpr("audit_events").Column("seq").Where("chain = ? AND ts >= ?", chain, from.UTC()).
			Order("seq").Limit(1).Scan(ctx, &first); err != nil {
			return nil, err
		}
		if len(first) == 0 {
			return nil, nil
		}
		startSeq = first[0]
	}
	prev := ""
	if startSeq > 1 {
		var before []string
		if err := s.db.NewSelect().TableExpr("audit_events").Column("hash").Where("chain = ? AND seq = ?", chain, startSeq-1).
			Scan(ctx, &before); err != nil {
			return nil, err
		}
		if len(before) == 1 {
			prev = before[0]
		}
		v.lastSeen = startSeq - 1
		for seq := range v.digests { // digests before the range are not checked
			if seq < startSeq {
				delete(v.digests, seq)
			}
		}
	}
	v.start(startSeq, prev)
	bounded := !to.IsZero() && chainOf(to) == monthOf(chain)
	for {
		var batch []Event
		q := s.db.NewSelect().Model(&batch).Where("chain = ? AND seq >= ?", chain, v.next).Order("seq").Limit(verifyBatch)
		if err := q.Scan(ctx); err != nil {
			return nil, err
		}
		for i := range batch {
			if bounded && batch[i].Time.After(to) {
				return nil, nil
			}
			if b := v.feed(&batch[i]); b != nil {
				return b, nil
			}
		}
		if len(batch) < verifyBatch {
			break
		}
	}
	if bounded {
		return nil, nil
	}
	return v.finish(headSeq), nil
}
