-- Connectors to vendors (see package connectors). The configuration is
-- sealed with AES-256-GCM in the application (key config_key_id of
-- HUB_CONNECTOR_KEYS), never stored in clear; so are vendors' OAuth tokens.
CREATE TABLE connectors (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id         BIGINT      NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    type            TEXT        NOT NULL,
    name            TEXT        NOT NULL,
    enabled         BOOLEAN     NOT NULL DEFAULT TRUE,
    config_key_id   TEXT        NOT NULL,
    config_sealed   BLOB       NOT NULL,
    token_key_id    TEXT,
    token_sealed    BLOB,
    -- The last committed checkpoint of the syncs (JSON).
    state           TEXT,
    last_sync_at    TIMESTAMP,
    -- never, queued, running, succeeded, failed.
    sync_status     TEXT        NOT NULL DEFAULT 'never',
    error_message   TEXT,
    -- The lease of the running sync: one instance at a time; a lease that
    -- was not renewed (its instance died) expires.
    lease_owner     TEXT,
    lease_until     TIMESTAMP,
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL,
    version         BIGINT      NOT NULL DEFAULT 1
);
CREATE INDEX connectors_user_id ON connectors (user_id, id);

-- One run of a sync (one job attempt).
CREATE TABLE connector_sync_logs (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    connector_id      BIGINT      NOT NULL REFERENCES connectors(id) ON DELETE CASCADE,
    started_at        TIMESTAMP NOT NULL,
    completed_at      TIMESTAMP,
    -- running, succeeded, failed.
    status            TEXT        NOT NULL,
    records_synced    BIGINT      NOT NULL DEFAULT 0,
    error_details     TEXT,
    state_checkpoint  TEXT,
    attempt           INTEGER     NOT NULL DEFAULT 1
);
CREATE INDEX connector_sync_logs_connector ON connector_sync_logs (connector_id, id DESC);

-- The records the syncs read, by (stream, id at the vendor): a record read
-- again replaces its row. Written with the checkpoint, in one transaction.
CREATE TABLE connector_records (
    connector_id  BIGINT      NOT NULL REFERENCES connectors(id) ON DELETE CASCADE,
    stream        TEXT        NOT NULL,
    external_id   TEXT        NOT NULL,
    data          TEXT        NOT NULL,
    synced_at     TIMESTAMP NOT NULL,
    PRIMARY KEY (connector_id, stream, external_id)
);

-- The state bound to an OAuth authorization in progress (GET
-- /integrations/{type}/authorize → callback): hashed, single use, bound to
-- the user, with its PKCE verifier sealed.
CREATE TABLE connector_oauth_states (
    state_hash      TEXT        PRIMARY KEY,
    user_id         BIGINT      NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    connector_id    BIGINT      NOT NULL REFERENCES connectors(id) ON DELETE CASCADE,
    verifier_key_id TEXT        NOT NULL,
    verifier_sealed BLOB       NOT NULL,
    expires_at      TIMESTAMP NOT NULL
);
