package service

import (
	"context"
	"database/sql/driver"
	"fmt"
	"hash/fnv"
	"strconv"
	"sync"

	"golang.org/x/oauth2"

	"github.com/hubchantier/hubchantier/connectors"
	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/store"
)

// connectorTokenLockClass is the first key of the PostgreSQL advisory lock
// that serialises the token refreshes of one connector ("HUBT").
const connectorTokenLockClass = 0x48554254

// ConnectorTokens keeps vendors' OAuth tokens of connectors (key: the
// connector id) sealed in their row (token_key_id, token_sealed), bound to
// the connector; it is the product's connectors.TokenStore and
// connectors.Locker. On PostgreSQL the lock is a session advisory lock per
// connector, held on its own connection while a refresh runs, so one
// instance of the cluster refreshes at a time; SQLite serves one instance,
// where a mutex per connector does.
type ConnectorTokens struct {
	db     *store.DB
	sealer *connectors.Sealer
	mu     sync.Mutex
	locks  map[string]*sync.Mutex
}

var (
	_ connectors.TokenStore = (*ConnectorTokens)(nil)
	_ connectors.Locker     = (*ConnectorTokens)(nil)
)

// NewConnectorTokens returns the token store of db.
func NewConnectorTokens(db *store.DB, sealer *connectors.Sealer) *ConnectorTokens {
	return &ConnectorTokens{db: db, sealer: sealer, locks: map[string]*sync.Mutex{}}
}

func connectorID(key string) (int64, error) {
	id, err := strconv.ParseInt(key, 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("connector tokens: key %q is not a connector id", key)
	}
	return id, nil
}

// LoadToken implements connectors.TokenStore.
func (t *ConnectorTokens) LoadToken(ctx context.Context, key string) (*oauth2.Token, error) {
	id, err := connectorID(key)
	if err != nil {
		return nil, err
	}
	c, err := store.Get[hubapi.Connector](ctx, t.db, id)
	if err != nil {
		return nil, err
	}
	if c.TokenKeyID == nil || len(c.TokenSealed) == 0 {
		return nil, connectors.ErrNoToken
	}
	return t.sealer.OpenToken(*c.TokenKeyID, c.TokenSealed, ConnectorBinding(id))
}

// SaveToken implements connectors.TokenStore.
func (t *ConnectorTokens) SaveToken(ctx context.Context, key string, tok *oauth2.Token) error {
	id, err := connectorID(key)
	if err != nil {
		return err
	}
	kid, sealed, err := t.sealer.SealToken(tok, ConnectorBinding(id))
	if err != nil {
		return err
	}
	res, err := t.db.NewUpdate().Model((*hubapi.Connector)(nil)).Set("token_key_id = ?", kid).Set("token_sealed = ?", sealed).
		Where("id = ?", id).Exec(ctx)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return hubapi.ErrNotFound
	}
	return nil
}

// Lock implements connectors.Locker.
func (t *ConnectorTokens) Lock(ctx context.Context, key string) (func(), error) {
	t.mu.Lock()
	m := t.locks[key]
	if m == nil {
		m = &sync.Mutex{}
		t.locks[key] = m
	}
	t.mu.Unlock()
	m.Lock()
	if !t.db.IsPostgres() {
		return m.Unlock, nil
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(key))
	conn, err := t.db.DB.DB.Conn(ctx) // database/sql: $1 placeholders, one session
	if err != nil {
		m.Unlock()
		return nil, err
	}
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1, $2)", connectorTokenLockClass, int32(h.Sum32())); err != nil { // #nosec G115 -- a hash, wrapping is fine
		_ = conn.Close()
		m.Unlock()
		return nil, err
	}
	return func() {
		_, err := conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1, $2)", connectorTokenLockClass, int32(h.Sum32())) // #nosec G115 -- same hash
		if err != nil {
			// the session ends with the connection: closing it releases the lock
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		}
		_ = conn.Close()
		m.Unlock()
	}, nil
}
