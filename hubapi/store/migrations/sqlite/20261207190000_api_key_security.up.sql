-- API key security (issue 18): IP allow-lists, rotation with a grace period,
-- anomalies detected over the audit trail.
ALTER TABLE api_keys ADD COLUMN ip_allowlist TEXT;
--bun:split
ALTER TABLE api_keys ADD COLUMN auto_rotate BOOLEAN NOT NULL DEFAULT FALSE;
--bun:split
ALTER TABLE api_keys ADD COLUMN rotation_interval_days INTEGER NOT NULL DEFAULT 90;
--bun:split
ALTER TABLE api_keys ADD COLUMN last_rotated_at TIMESTAMP;
--bun:split
-- The secret replaced by the last rotation: accepted until
-- previous_expires_at, then answered "rotated" (not "invalid").
ALTER TABLE api_keys ADD COLUMN previous_key_hash TEXT;
--bun:split
CREATE UNIQUE INDEX api_keys_previous_key_hash ON api_keys (previous_key_hash);
--bun:split
ALTER TABLE api_keys ADD COLUMN previous_expires_at TIMESTAMP;
--bun:split
-- The secret drawn by an automatic rotation, sealed (AES-256-GCM, the
-- server's secret keys) until an admin collects it once.
ALTER TABLE api_keys ADD COLUMN pending_secret_key_id TEXT;
--bun:split
ALTER TABLE api_keys ADD COLUMN pending_secret_sealed BLOB;
--bun:split
CREATE INDEX api_keys_auto_rotate ON api_keys (id) WHERE auto_rotate AND revoked_at IS NULL;
--bun:split
CREATE TABLE api_key_anomalies (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    api_key_id    BIGINT NOT NULL REFERENCES api_keys(id) ON DELETE CASCADE,
    user_id       BIGINT NOT NULL,
    rule          TEXT NOT NULL,
    detail        TEXT NOT NULL DEFAULT '',
    observed      REAL NOT NULL DEFAULT 0,
    threshold     REAL NOT NULL DEFAULT 0,
    occurrences   INTEGER NOT NULL DEFAULT 1,
    action        TEXT NOT NULL DEFAULT '',
    first_seen_at TIMESTAMP NOT NULL,
    last_seen_at  TIMESTAMP NOT NULL,
    resolved_at   TIMESTAMP
);
--bun:split
-- One open anomaly per key and rule.
CREATE UNIQUE INDEX api_key_anomalies_open ON api_key_anomalies (api_key_id, rule) WHERE resolved_at IS NULL;
--bun:split
CREATE INDEX api_key_anomalies_seen ON api_key_anomalies (last_seen_at DESC, id DESC);
--bun:split
-- The detection job reads the audit trail per key and time.
CREATE INDEX audit_events_key_ts ON audit_events (api_key_id, ts DESC) WHERE api_key_id IS NOT NULL;
