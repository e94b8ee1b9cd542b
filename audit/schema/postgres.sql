-- Audit trail (package audit): append-only, hash-chained events, one chain
-- per calendar month (UTC), stored in one partition per month.
CREATE TABLE audit_events (
    id            BIGSERIAL NOT NULL,
    ts            TIMESTAMPTZ NOT NULL,
    chain         TEXT NOT NULL,
    seq           BIGINT NOT NULL,
    prev_hash     TEXT NOT NULL,
    hash          TEXT NOT NULL,
    stage         TEXT NOT NULL,
    request_id    TEXT NOT NULL DEFAULT '',
    user_id       BIGINT,
    api_key_id    BIGINT,
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
    anonymised_at TIMESTAMPTZ,
    PRIMARY KEY (ts, id)
) PARTITION BY RANGE (ts);
--bun:split
-- No separate (ts DESC) index: the primary key (ts, id), scanned backward,
-- serves time-ordered reads newest first.
--bun:split
CREATE INDEX audit_events_user_ts ON audit_events (user_id, ts DESC);
--bun:split
CREATE INDEX audit_events_resource ON audit_events (resource_type, resource_id);
--bun:split
CREATE INDEX audit_events_chain_seq ON audit_events (chain, seq);
--bun:split
-- The head of each month's chain: its last sequence number and hash. A
-- writer locks the row (SELECT ... FOR UPDATE) to append, so concurrent
-- writers never fork a chain.
CREATE TABLE audit_chain_heads (
    chain TEXT PRIMARY KEY,
    seq   BIGINT NOT NULL,
    hash  TEXT NOT NULL
);
--bun:split
-- Signed digests: a chain's head (seq, hash) at a time, signed with Ed25519.
CREATE TABLE audit_digests (
    id         BIGSERIAL PRIMARY KEY,
    chain      TEXT NOT NULL,
    seq        BIGINT NOT NULL,
    hash       TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    key_id     TEXT NOT NULL,
    public_key TEXT NOT NULL,
    signature  TEXT NOT NULL
);
--bun:split
CREATE INDEX audit_digests_chain_seq ON audit_digests (chain, seq);
--bun:split
-- audit_ensure_partition creates the partition of the month of m (UTC)
-- unless it exists.
CREATE FUNCTION audit_ensure_partition(m TIMESTAMP) RETURNS void AS $$
DECLARE
    start TIMESTAMP := date_trunc('month', m);
    name  TEXT := 'audit_events_' || to_char(date_trunc('month', m), 'YYYY_MM');
BEGIN
    IF to_regclass(name) IS NULL THEN
        EXECUTE format('CREATE TABLE IF NOT EXISTS %I PARTITION OF audit_events FOR VALUES FROM (%L) TO (%L)',
            name, to_char(start, 'YYYY-MM-DD') || ' 00:00:00+00', to_char(start + interval '1 month', 'YYYY-MM-DD') || ' 00:00:00+00');
    END IF;
END
$$ LANGUAGE plpgsql;
--bun:split
SELECT audit_ensure_partition((now() AT TIME ZONE 'UTC')::timestamp);
--bun:split
SELECT audit_ensure_partition((now() AT TIME ZONE 'UTC' + interval '1 month')::timestamp);
--bun:split
-- Append-only: UPDATE, DELETE and TRUNCATE are refused, except on the two
-- paths that set the transaction-local setting hub.audit_maintenance:
-- 'anonymise' may change client_ip, user_agent, pii_salt, changes,
-- changes_salt and anonymised_at only (the columns outside the chain); 'retention' may delete.
CREATE FUNCTION audit_events_guard() RETURNS trigger AS $$
DECLARE
    mode TEXT := coalesce(current_setting('hub.audit_maintenance', true), '');
BEGIN
    IF TG_OP = 'DELETE' AND mode = 'retention' THEN
        RETURN OLD;
    END IF;
    IF TG_OP = 'UPDATE' AND mode = 'anonymise' THEN
       IF (NEW.id, NEW.ts, NEW.chain, NEW.seq, NEW.prev_hash, NEW.hash, NEW.stage, NEW.request_id, NEW.user_id,
            NEW.api_key_id, NEW.oauth_client, NEW.action, NEW.resource_type, NEW.resource_id, NEW.method,
            NEW.route, NEW.status, NEW.pii_digest, NEW.body_sha256, NEW.changes_digest)
           IS NOT DISTINCT FROM
           (OLD.id, OLD.ts, OLD.chain, OLD.seq, OLD.prev_hash, OLD.hash, OLD.stage, OLD.request_id, OLD.user_id,
            OLD.api_key_id, OLD.oauth_client, OLD.action, OLD.resource_type, OLD.resource_id, OLD.method,
            OLD.route, OLD.status, OLD.pii_digest, OLD.body_sha256, OLD.changes_digest) THEN
        RETURN NEW;
       END IF;
    END IF;
    RAISE EXCEPTION 'audit_events is append-only (% refused)', TG_OP USING ERRCODE = '42501';
END
$$ LANGUAGE plpgsql;
--bun:split
CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_guard();
--bun:split
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_guard();
--bun:split
CREATE FUNCTION audit_digests_guard() RETURNS trigger AS $$
BEGIN
    IF coalesce(current_setting('hub.audit_maintenance', true), '') = 'retention' AND TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit_digests is append-only (% refused)', TG_OP USING ERRCODE = '42501';
END
$$ LANGUAGE plpgsql;
--bun:split
CREATE TRIGGER audit_digests_append_only BEFORE UPDATE OR DELETE ON audit_digests
    FOR EACH ROW EXECUTE FUNCTION audit_digests_guard();
