package audit

import (
	"context"
	"database/sql"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"

	"github.com/hubchantier/hubchantier/internal/sqlscript"
	"github.com/hubchantier/hubchantier/internal/txconn"
)

//go:embed schema/postgres.sql
var schemaPostgres string

//go:embed schema/sqlite.sql
var schemaSQLite string

// SchemaSQL returns the statements that create the package's tables,
// triggers and (PostgreSQL) partitioning function for a bun dialect,
// separated by "--bun:split" lines, for an embedding product's migrations.
func SchemaSQL(d dialect.Name) string {
	if d == dialect.PG {
		return schemaPostgres
	}
	return schemaSQLite
}

// CreateSchema runs SchemaSQL on db (tests and programs without a migration
// tool of their own).
func CreateSchema(ctx context.Context, db bun.IDB) error {
	return sqlscript.Exec(ctx, db, SchemaSQL(db.Dialect().Name()))
}

// ErrAppendOnly is what the database answers to an UPDATE or DELETE of the
// audit tables outside the retention and anonymisation paths (wrapped).
var ErrAppendOnly = errors.New("audit: the audit log is append-only")

// Store appends events to the audit tables and reads them back.
type Store struct {
	db      *bun.DB
	pg      bool
	now     func() time.Time
	signer  *Signer
	mu      sync.Mutex
	ensured map[string]bool // months whose partition exists (PostgreSQL)
}

// Option configures a Store.
type Option func(*Store)

// WithClock sets the clock (tests).
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// WithSigner sets the key that signs digests (see Store.Digest).
func WithSigner(sg *Signer) Option { return func(s *Store) { s.signer = sg } }

// NewStore returns the store on db, whose schema is SchemaSQL's.
func NewStore(db *bun.DB, opts ...Option) *Store {
	s := &Store{db: db, pg: db.Dialect().Name() == dialect.PG, now: time.Now, ensured: map[string]bool{}}
	for _, o := range opts {
		o(s)
	}
	return s
}

// SetSigner sets the key that signs digests (when it could not be read
// at start: the database was unreachable).
func (s *Store) SetSigner(sg *Signer) {
	s.mu.Lock()
	s.signer = sg
	s.mu.Unlock()
}

// Signer returns the key that signs digests (nil: none yet).
func (s *Store) Signer() *Signer {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.signer
}

// DB returns the store's database.
func (s *Store) DB() *bun.DB { return s.db }

func (s *Store) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// EnsurePartition creates the partition of t's month unless it exists
// (PostgreSQL; nothing to do on SQLite). The server calls it at start for
// the current and next months, the partition job ahead of time, and Append
// before the first append of a month.
func (s *Store) EnsurePartition(ctx context.Context, t time.Time) error {
	return s.ensurePartition(ctx, s.db, t)
}

// ensurePartition runs audit_ensure_partition on db. On a transaction (an
// append in the transaction of a change) it creates the partition in that
// transaction, so it never waits for a second connection of the pool; the
// month is remembered only once created outside one (a rolled-back
// creation is no creation).
func (s *Store) ensurePartition(ctx context.Context, db bun.IDB, t time.Time) error {
	if !s.pg {
		return nil
	}
	chain := chainOf(t)
	s.mu.Lock()
	done := s.ensured[chain]
	s.mu.Unlock()
	if done {
		return nil
	}
	month := time.Date(t.UTC().Year(), t.UTC().Month(), 1, 0, 0, 0, 0, time.UTC).Format("2006-01-02 15:04:05")
	_, isDB := db.(*bun.DB)
	var err error
	for range 3 { // two instances creating one partition: one loses with 23505/42P07, then sees it
		if _, err = db.ExecContext(ctx, "SELECT audit_ensure_partition(?::timestamp)", month); err == nil || !isDB {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("audit: partition %s: %w", chain, err)
	}
	if isDB {
		// The month's chain heads exist before its first change: a
		// change then never waits for another's uncommitted head.
		if err := s.createHeads(ctx, db, chain); err != nil {
			return fmt.Errorf("audit: chain heads %s: %w", chain, err)
		}
		s.mu.Lock()
		s.ensured[chain] = true
		s.mu.Unlock()
	}
	return nil
}

// Append appends events to their chains in db, which should be the
// transaction of the change they record (or any bun.IDB: Append then runs
// in a transaction of its own when db is the store's *bun.DB). It sets
// Time, Chain, Seq, PrevHash, Hash and the personal-data commitment, and
// ID unless the events were copied (on PostgreSQL: two or more in a
// transaction of Append's own, as the writer's batches, or at least
// copyEventsFrom in db when its connection was recorded with txconn).
//
// To append, it locks the chain's head row until the transaction ends:
// appends to one chain are serialised, and the chain never forks. Call it
// last in a transaction, so the lock is held only until the commit.
func (s *Store) Append(ctx context.Context, db bun.IDB, events ...*Event) error {
	if len(events) == 0 {
		return nil
	}
	now := s.clock()
	if err := s.ensurePartition(ctx, db, now); err != nil {
		return err
	}
	if bdb, ok := db.(*bun.DB); ok {
		// A transaction of its own (the writer's batches), on a connection
		// recorded for COPY: a batch of two events or more is copied.
		conn, err := bdb.Conn(ctx)
		if err != nil {
			return err
		}
		defer func() { _ = conn.Close() }()
		return conn.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			return s.append(txconn.With(ctx, tx.Tx, conn.Conn), tx, now, events, 2)
		})
	}
	return s.append(ctx, db, now, events, copyEventsFrom)
}

// append appends events in db, with COPY from copyFrom events on when db
// is a transaction whose connection ctx records (txconn).
func (s *Store) append(ctx context.Context, db bun.IDB, now time.Time, events []*Event, copyFrom int) error {
	month := chainOf(now)
	chain, seq, prev, err := s.lockHead(ctx, db, month)
	if err != nil {
		return fmt.Errorf("audit: chain head: %w", err)
	}
	seq, prev = s.link(events, now, chain, seq, prev)
	head := db.NewRaw("UPDATE audit_chain_heads SET seq = ?, hash = ? WHERE chain = ?", seq, prev, chain)
	if tx, ok := db.(bun.Tx); ok && s.pg && len(events) >= copyFrom {
		// Many events: COPY inside the transaction when its connection is
		// known (txconn), else the insert below.
		_, err := txconn.CopyFrom(ctx, tx.Tx, "audit_events", copyColumns, copyRows(events))
		if err == nil {
			if _, err := head.Exec(ctx); err != nil {
				return fmt.Errorf("audit: chain head: %w", err)
			}
			return nil
		}
		if !errors.Is(err, txconn.ErrNoCopy) {
			return fmt.Errorf("audit: append: %w", err)
		}
	}
	if s.pg {
		// One round trip: the head moves in a data-modifying WITH of the
		// insert (run once, whether or not the insert reads it), so a
		// change's transaction holds the head's lock one round trip less.
		if _, err := db.NewInsert().With("head", head).Model(&events).Returning("id").Exec(ctx); err != nil {
			return fmt.Errorf("audit: append: %w", err)
		}
		return nil
	}
	if _, err := db.NewInsert().Model(&events).Returning("id").Exec(ctx); err != nil {
		return fmt.Errorf("audit: append: %w", err)
	}
	if _, err := head.Exec(ctx); err != nil {
		return fmt.Errorf("audit: chain head: %w", err)
	}
	return nil
}

// copyEventsFrom is the number of events from which Append copies them
// into a caller's transaction whose connection it knows: COPY takes one round trip
// more than the insert (pgx describes the table first), and parses no
// statement.
const copyEventsFrom = 8

// link places events after (seq, prev) in chain, the head locked, and
// seals them; it returns the new head. The time is read again under the
// lock: a chain's times never go back.
func (s *Store) link(events []*Event, now time.Time, chain string, seq int64, prev string) (int64, string) {
	if t := s.clock(); t.After(now) && chainOf(t) == monthOf(chain) {
		now = t
	}
	for _, e := range events {
		seq++
		e.Time, e.Chain, e.Seq, e.PrevHash = now, chain, seq, prev
		if e.Stage == "" {
			e.Stage = StageResponse
		}
		e.sealPII()
		e.Hash = ComputeHash(e)
		prev = e.Hash
	}
	return seq, prev
}

// lockHead locks the head of one of month's chains until the transaction
// ends and returns the chain, its last sequence number and hash. On
// PostgreSQL it takes the first chain no other transaction holds (SKIP
// LOCKED): one writer at a time appends to "YYYY-MM" alone, concurrent
// ones overflow to the month's other chains;
// when every one is held, or the month's heads do not exist yet, it
// creates the missing heads and waits for a chain picked at random.
func (s *Store) lockHead(ctx context.Context, db bun.IDB, month string) (chain string, seq int64, prev string, err error) {
	if !s.pg {
		lock := "SELECT seq, hash FROM audit_chain_heads WHERE chain = ?"
		err = db.QueryRowContext(ctx, lock, month).Scan(&seq, &prev)
		if errors.Is(err, sql.ErrNoRows) {
			if _, err = db.ExecContext(ctx, "INSERT OR IGNORE INTO audit_chain_heads (chain, seq, hash) VALUES (?, 0, ?)", month, GenesisHash); err != nil {
				return "", 0, "", err
			}
			err = db.QueryRowContext(ctx, lock, month).Scan(&seq, &prev)
		}
		return month, seq, prev, err
	}
	names := shardChains(month)
	free := func() error {
		return db.QueryRowContext(ctx, "SELECT chain, seq, hash FROM audit_chain_heads WHERE chain IN (?) "+
			"ORDER BY chain LIMIT 1 FOR UPDATE SKIP LOCKED", bun.List(names)).Scan(&chain, &seq, &prev)
	}
	if err = free(); !errors.Is(err, sql.ErrNoRows) {
		return chain, seq, prev, err
	}
	if err = s.createHeads(ctx, db, month); err != nil {
		return "", 0, "", err
	}
	if err = free(); !errors.Is(err, sql.ErrNoRows) {
		return chain, seq, prev, err
	}
	chain = names[rand.IntN(len(names))] // #nosec G404 -- spreads waiters over the chains; protects nothing
	err = db.QueryRowContext(ctx, "SELECT seq, hash FROM audit_chain_heads WHERE chain = ? FOR UPDATE", chain).Scan(&seq, &prev)
	return chain, seq, prev, err
}

// createHeads creates the missing heads of month's chains (PostgreSQL).
func (s *Store) createHeads(ctx context.Context, db bun.IDB, month string) error {
	names := shardChains(month)
	values := strings.TrimSuffix(strings.Repeat("(?, 0, ?), ", len(names)), ", ")
	args := make([]any, 0, 2*len(names))
	for _, n := range names {
		args = append(args, n, GenesisHash)
	}
	_, err := db.ExecContext(ctx, "INSERT INTO audit_chain_heads (chain, seq, hash) VALUES "+values+
		" ON CONFLICT (chain) DO NOTHING", args...)
	return err
}

// maintenance runs fn in a transaction on the allowed path mode
// ("anonymise" or "retention") of the append-only triggers: a
// transaction-local setting on PostgreSQL (SET LOCAL
// hub.audit_maintenance), a flag row in audit_maintenance on SQLite,
// deleted before the commit.
func (s *Store) maintenance(ctx context.Context, mode string, fn func(ctx context.Context, tx bun.Tx) error) error {
	return s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if s.pg {
			if _, err := tx.ExecContext(ctx, "SELECT set_config('hub.audit_maintenance', ?, true)", mode); err != nil {
				return err
			}
		} else if _, err := tx.ExecContext(ctx, "INSERT INTO audit_maintenance (mode) VALUES (?)", mode); err != nil {
			return err
		}
		if err := fn(ctx, tx); err != nil {
			return err
		}
		if s.pg {
			_, err := tx.ExecContext(ctx, "SELECT set_config('hub.audit_maintenance', '', true)")
			return err
		}
		_, err := tx.ExecContext(ctx, "DELETE FROM audit_maintenance WHERE mode = ?", mode)
		return err
	})
}

// anonymise rewrites client_ip to its network (/24 or /48, done in Go
// for both dialects: see anonymiseIP), drops the user agent and erases the
// salt of the personal-data commitment; erase also drops the changes and
// their salt (a person's erasure).
func (s *Store) anonymise(ctx context.Context, erase bool, where string, args ...any) (int64, error) {
	var n int64
	err := s.maintenance(ctx, "anonymise", func(ctx context.Context, tx bun.Tx) error {
		var rows []anonymiseRow
		q := tx.NewSelect().TableExpr("audit_events").Column("id", "ts", "client_ip", "anonymised_at").Where(where, args...)
		if erase {
			q = q.Where("(anonymised_at IS NULL OR changes_salt <> '')")
		} else {
			q = q.Where("anonymised_at IS NULL")
		}
		if err := q.Scan(ctx, &rows); err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		n = int64(len(rows))
		return s.anonymiseRows(ctx, tx, rows, true, erase)
	})
	return n, err
}

type anonymiseRow struct {
	ID           int64      `bun:"id"`
	Time         time.Time  `bun:"ts"`
	ClientIP     string     `bun:"client_ip"`
	AnonymisedAt *time.Time `bun:"anonymised_at"`
}

// anonymiseRows anonymises the address of rows (address) and drops their
// changes (erase), on the anonymisation path.
func (s *Store) anonymiseRows(ctx context.Context, tx bun.Tx, rows []anonymiseRow, address, erase bool) error {
	now := s.clock()
	for _, r := range rows {
		u := tx.NewUpdate().TableExpr("audit_events")
		if address {
			u = u.Set("user_agent = ''").Set("pii_salt = ''")
			if r.AnonymisedAt == nil { // an address already anonymised stays its network
				u = u.Set("client_ip = ?", anonymiseIP(r.ClientIP)).Set("anonymised_at = ?", now)
			}
		}
		if erase {
			u = u.Set("changes = ''").Set("changes_salt = ''")
		}
		if _, err := u.Where("id = ? AND ts = ?", r.ID, r.Time).Exec(ctx); err != nil {
			return err
		}
	}
	return nil
}

// eraseOwnedChanges drops the changes of other people's events about rows
// that belong to user userID: their user record, and the rows whose
// before or after names them as user_id (their API keys, pointages,
// affectations, webhook subscriptions...). Those events keep their actor's
// address.
func (s *Store) eraseOwnedChanges(ctx context.Context, userID int64) error {
	return s.maintenance(ctx, "anonymise", func(ctx context.Context, tx bun.Tx) error {
		type row struct {
			anonymiseRow
			ResourceType string `bun:"resource_type"`
			ResourceID   string `bun:"resource_id"`
			Changes      string `bun:"changes"`
		}
		var rows []row
		id := strconv.FormatInt(userID, 10)
		err := tx.NewSelect().TableExpr("audit_events").Column("id", "ts", "client_ip", "anonymised_at", "resource_type", "resource_id", "changes").
			Where("changes_salt <> ''").
			Where("((resource_type = 'users' AND resource_id = ?) OR changes LIKE ?)", id, `%"user_id":`+id+`%`).
			Scan(ctx, &rows)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		var owned []anonymiseRow
		for _, r := range rows {
			if (r.ResourceType == "users" && r.ResourceID == id) || changesOwnedBy(r.Changes, userID) {
				owned = append(owned, r.anonymiseRow)
			}
		}
		return s.anonymiseRows(ctx, tx, owned, false, true)
	})
}

// changesOwnedBy reports whether the before or the after of changes has
// user_id userID.
func changesOwnedBy(changes string, userID int64) bool {
	var c struct {
		Before, After *struct {
			UserID *int64 `json:"user_id"`
		}
	}
	if json.Unmarshal([]byte(changes), &c) != nil {
		return false
	}
	for _, side := range []*struct {
		UserID *int64 `json:"user_id"`
	}{c.Before, c.After} {
		if side != nil && side.UserID != nil && *side.UserID == userID {
			return true
		}
	}
	return false
}

// AnonymiseUser anonymises the events of user userID now (erasure). The
// events they made: client IPs become their /24 (IPv4) or /48 (IPv6)
// network, user agents and changes are dropped. Other people's events
// about their user record or about rows of theirs (user_id): the changes
// are dropped (they may hold their name, e-mail or texts). The chain stays
// verifiable (see Event.PIIDigest and Event.ChangesDigest).
func (s *Store) AnonymiseUser(ctx context.Context, userID int64) error {
	if _, err := s.anonymise(ctx, true, "user_id = ?", userID); err != nil {
		return err
	}
	return s.eraseOwnedChanges(ctx, userID)
}

// AnonymiseBefore anonymises every event older than t, and returns how many
// it changed (the 30-day retention job).
func (s *Store) AnonymiseBefore(ctx context.Context, t time.Time) (int64, error) {
	return s.anonymise(ctx, false, "ts < ?", t.UTC())
}
