package audit

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hubchantier/hubchantier/internal/txconn"
)

// errNoCopy reports a connection that is not pgx's (no COPY).
var errNoCopy = errors.New("audit: the connection is not pgx's")

// copyColumns are the columns COPY writes (the id is the sequence's).
var copyColumns = []string{"ts", "chain", "seq", "prev_hash", "hash", "stage", "request_id", "user_id", "api_key_id",
	"oauth_client", "action", "resource_type", "resource_id", "method", "route", "status", "client_ip", "user_agent",
	"pii_salt", "pii_digest", "body_sha256", "changes", "changes_salt", "changes_digest", "anonymised_at"}

// appendCopy appends events in a transaction of its own on PostgreSQL with
// COPY (binary, no statement to parse, no value formatted as SQL text):
// the asynchronous writer's path, the bulk of the events. IDs are not
// read back. errNoCopy when the database is not on pgx.
func (s *Store) appendCopy(ctx context.Context, now time.Time, events []*Event) error {
	conn, err := s.db.DB.Conn(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close() }()
	return conn.Raw(func(dc any) error {
		pc := txconn.Pgx(dc)
		if pc == nil {
			return errNoCopy
		}
		tx, err := pc.Begin(ctx)
		if err != nil {
			return err
		}
		defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
		month := chainOf(now)
		names := shardChains(month)
		var chain, prev string
		var seq int64
		lock := "SELECT chain, seq, hash FROM audit_chain_heads WHERE chain = ANY($1) ORDER BY chain LIMIT 1 FOR UPDATE SKIP LOCKED"
		err = tx.QueryRow(ctx, lock, names).Scan(&chain, &seq, &prev)
		if errors.Is(err, pgx.ErrNoRows) {
			// every chain busy, or the month's heads missing: create them,
			// then wait for the first chain
			if _, err = tx.Exec(ctx, "INSERT INTO audit_chain_heads (chain, seq, hash) SELECT c, 0, $2 FROM unnest($1::text[]) AS c "+
				"ON CONFLICT (chain) DO NOTHING", names, GenesisHash); err != nil {
				return err
			}
			chain = month
			err = tx.QueryRow(ctx, "SELECT seq, hash FROM audit_chain_heads WHERE chain = $1 FOR UPDATE", chain).Scan(&seq, &prev)
		}
		if err != nil {
			return fmt.Errorf("audit: chain head: %w", err)
		}
		seq, prev = s.link(events, now, chain, seq, prev)
		rows := make([][]any, len(events))
		for i, e := range events {
			rows[i] = copyRow(e)
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"audit_events"}, copyColumns, pgx.CopyFromRows(rows)); err != nil {
			return fmt.Errorf("audit: append: %w", err)
		}
		if _, err := tx.Exec(ctx, "UPDATE audit_chain_heads SET seq = $1, hash = $2 WHERE chain = $3", seq, prev, chain); err != nil {
			return fmt.Errorf("audit: chain head: %w", err)
		}
		return tx.Commit(ctx)
	})
}

// copyRow is e's values in copyColumns' order.
func copyRow(e *Event) []any {
	nullable := func(v int64) any {
		if v == 0 {
			return nil
		}
		return v
	}
	var anonymised any
	if e.AnonymisedAt != nil {
		anonymised = *e.AnonymisedAt
	}
	return []any{e.Time, e.Chain, e.Seq, e.PrevHash, e.Hash, e.Stage, e.RequestID, nullable(e.UserID), nullable(e.APIKeyID),
		e.OAuthClient, e.Action, e.ResourceType, e.ResourceID, e.Method, e.Route, int32(e.Status), e.ClientIP, e.UserAgent, // #nosec G115 -- an HTTP status
		e.PIISalt, e.PIIDigest, e.BodySHA256, e.Changes, e.ChangesSalt, e.ChangesDigest, anonymised}
}
