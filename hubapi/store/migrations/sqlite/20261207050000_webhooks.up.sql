-- Outgoing webhooks (Standard Webhooks). A subscription belongs to a user;
-- its signing secret is sealed with AES-256-GCM under the key secret_key_id
-- of the server's secret keyring (never stored in clear). During a rotation
-- the previous secret signs too, until previous_secret_expires_at.
CREATE TABLE webhook_subscriptions (
    id                          INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id                     BIGINT      NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    url                         TEXT        NOT NULL,
    -- Comma-separated event types, or "*" for every type.
    event_types                 TEXT        NOT NULL,
    description                 TEXT        NOT NULL DEFAULT '',
    enabled                     BOOLEAN     NOT NULL DEFAULT TRUE,
    secret_key_id               TEXT        NOT NULL,
    secret_sealed               BLOB        NOT NULL,
    previous_secret_key_id      TEXT,
    previous_secret_sealed      BYTEA,
    previous_secret_expires_at  TIMESTAMP,
    -- Set at the first failed delivery after a success; cleared by a success.
    -- A subscription failing for 5 days is disabled (disabled_reason).
    failing_since               TIMESTAMP,
    disabled_reason             TEXT,
    created_at                  TIMESTAMP   NOT NULL,
    updated_at                  TIMESTAMP   NOT NULL,
    version                     BIGINT      NOT NULL DEFAULT 1
);
CREATE INDEX webhook_subscriptions_user_id ON webhook_subscriptions (user_id, id);

-- One message of one event to one subscription. message_id is the stable
-- webhook-id header, the same on every attempt and on a redelivery.
CREATE TABLE webhook_deliveries (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    subscription_id  BIGINT      NOT NULL REFERENCES webhook_subscriptions(id) ON DELETE CASCADE,
    message_id       TEXT        NOT NULL,
    event_id         TEXT        NOT NULL,
    event_type       TEXT        NOT NULL,
    -- The body sent: {"type", "timestamp", "data"}.
    payload          TEXT        NOT NULL,
    -- pending, succeeded, failed (retries exhausted or subscription disabled).
    status           TEXT        NOT NULL,
    attempts         INTEGER     NOT NULL DEFAULT 0,
    last_attempt_at  TIMESTAMP,
    created_at       TIMESTAMP   NOT NULL,
    updated_at       TIMESTAMP   NOT NULL,
    UNIQUE (subscription_id, event_id)
);
CREATE INDEX webhook_deliveries_subscription ON webhook_deliveries (subscription_id, id DESC);

-- The log of every attempt: what the receiver answered (first 1 KiB).
CREATE TABLE webhook_attempts (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id      BIGINT      NOT NULL REFERENCES webhook_deliveries(id) ON DELETE CASCADE,
    attempt          INTEGER     NOT NULL,
    attempted_at     TIMESTAMP   NOT NULL,
    duration_ms      INTEGER     NOT NULL,
    -- 0 when no HTTP answer came (refused, timeout, guard).
    response_status  INTEGER     NOT NULL,
    response_body    TEXT        NOT NULL DEFAULT '',
    error            TEXT        NOT NULL DEFAULT ''
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id, attempt);
