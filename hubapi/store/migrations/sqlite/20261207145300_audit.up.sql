-- Audit trail (package audit): append-only, hash-chained events, one chain
-- per calendar month (UTC), in one table.
CREATE TABLE audit_events (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    ts            TIMESTAMP NOT NULL,
    chain         TEXT NOT NULL,
    seq           INTEGER NOT NULL,
    prev_hash     TEXT NOT NULL,
    hash          TEXT NOT NULL,
    stage         TEXT NOT NULL,
    request_id    TEXT NOT NULL DEFAULT '',
    user_id       INTEGER,
    api_key_id    INTEGER,
    oauth_client  TEXT NOT NULL DEFAULT '',
    action        TEXT NOT NULL DEFAULT '',
    resource_type TEXT NOT NULL DEFAULT '',
    resource_id   TEXT NOT NULL DEFAULT '',
    method        TEXT NOT NULL DEFAULT '',
    route         TEXT NOT NULL DEFAULT '',
    status        INTEGER NOT NULL DEFAULT 0,
    client_ip     TEXT NOT NULL DEFAULT '',
    user_agent    TEXT NOT NULL DEFAULT '',
    pii_salt      TEXT NOT NULL DEFAULT '',
    pii_digest    TEXT NOT NULL DEFAULT '',
    body_sha256   TEXT NOT NULL DEFAULT '',
    changes       TEXT NOT NULL DEFAULT '',
    changes_salt  TEXT NOT NULL DEFAULT '',
    changes_digest TEXT NOT NULL DEFAULT '',
    anonymised_at TIMESTAMP
);
--bun:split
CREATE INDEX audit_events_ts ON audit_events (ts DESC);
--bun:split
CREATE INDEX audit_events_user_ts ON audit_events (user_id, ts DESC);
--bun:split
CREATE INDEX audit_events_resource ON audit_events (resource_type, resource_id);
--bun:split
CREATE UNIQUE INDEX audit_events_chain_seq ON audit_events (chain, seq);
--bun:split
CREATE TABLE audit_chain_heads (
    chain TEXT PRIMARY KEY,
    seq   INTEGER NOT NULL,
    hash  TEXT NOT NULL
);
--bun:split
CREATE TABLE audit_digests (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    chain      TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    hash       TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    key_id     TEXT NOT NULL,
    public_key TEXT NOT NULL,
    signature  TEXT NOT NULL
);
--bun:split
CREATE INDEX audit_digests_chain_seq ON audit_digests (chain, seq);
--bun:split
-- The maintenance flag: the retention and anonymisation paths insert their
-- mode here at the start of their transaction and delete it before the
-- commit. SQLite runs one write transaction at a time, so no other writer
-- ever sees the flag.
CREATE TABLE audit_maintenance (
    mode TEXT PRIMARY KEY
);
--bun:split
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
WHEN NOT EXISTS (SELECT 1 FROM audit_maintenance WHERE mode = 'retention')
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only (DELETE refused)');
END;
--bun:split
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
WHEN NOT EXISTS (SELECT 1 FROM audit_maintenance WHERE mode = 'anonymise')
  OR NEW.id IS NOT OLD.id OR NEW.ts IS NOT OLD.ts OR NEW.chain IS NOT OLD.chain OR NEW.seq IS NOT OLD.seq
  OR NEW.prev_hash IS NOT OLD.prev_hash OR NEW.hash IS NOT OLD.hash OR NEW.stage IS NOT OLD.stage
  OR NEW.request_id IS NOT OLD.request_id OR NEW.user_id IS NOT OLD.user_id OR NEW.api_key_id IS NOT OLD.api_key_id
  OR NEW.oauth_client IS NOT OLD.oauth_client OR NEW.action IS NOT OLD.action OR NEW.resource_type IS NOT OLD.resource_type
  OR NEW.resource_id IS NOT OLD.resource_id OR NEW.method IS NOT OLD.method OR NEW.route IS NOT OLD.route
  OR NEW.status IS NOT OLD.status OR NEW.pii_digest IS NOT OLD.pii_digest OR NEW.body_sha256 IS NOT OLD.body_sha256
  OR NEW.changes_digest IS NOT OLD.changes_digest
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only (UPDATE refused)');
END;
--bun:split
CREATE TRIGGER audit_digests_no_delete BEFORE DELETE ON audit_digests
WHEN NOT EXISTS (SELECT 1 FROM audit_maintenance WHERE mode = 'retention')
BEGIN
    SELECT RAISE(ABORT, 'audit_digests is append-only (DELETE refused)');
END;
--bun:split
CREATE TRIGGER audit_digests_no_update BEFORE UPDATE ON audit_digests
BEGIN
    SELECT RAISE(ABORT, 'audit_digests is append-only (UPDATE refused)');
END;
