-- The product events routed to connectors (Spec.Events): one row per
-- (connector, event), written with its job, updated after each attempt.
CREATE TABLE connector_deliveries (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    connector_id    BIGINT      NOT NULL REFERENCES connectors(id) ON DELETE CASCADE,
    event_id        TEXT        NOT NULL,
    event_type      TEXT        NOT NULL,
    event           TEXT        NOT NULL,
    -- pending, retrying, delivered, failed, skipped.
    status          TEXT        NOT NULL,
    attempts        INTEGER     NOT NULL DEFAULT 0,
    last_error      TEXT,
    last_attempt_at TIMESTAMP  ,
    delivered_at    TIMESTAMP  ,
    created_at      TIMESTAMP   NOT NULL,
    updated_at      TIMESTAMP   NOT NULL,
    UNIQUE (connector_id, event_id)
);
CREATE INDEX connector_deliveries_connector ON connector_deliveries (connector_id, id DESC);
