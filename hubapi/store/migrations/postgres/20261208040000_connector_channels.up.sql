-- Push-notification channels opened at vendors for connectors (Google
-- Calendar's events.watch). The vendor posts to the server's public route
-- with the channel id and its token; only the token's SHA-256 is kept.
CREATE TABLE connector_channels (
    id            TEXT        PRIMARY KEY,
    connector_id  BIGINT      NOT NULL REFERENCES connectors(id) ON DELETE CASCADE,
    token_hash    TEXT        NOT NULL,
    resource_id   TEXT        NOT NULL,
    expires_at    TIMESTAMPTZ NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX connector_channels_connector ON connector_channels (connector_id, expires_at);
