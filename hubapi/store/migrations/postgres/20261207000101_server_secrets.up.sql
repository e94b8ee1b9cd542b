-- Secrets the server generates once and every instance shares: the key that
-- seals pagination cursors when HUB_CURSOR_KEYS is unset ("cursor_key").
-- Whoever can read this table can read them.
CREATE TABLE server_secrets (
    name       TEXT        PRIMARY KEY,
    value      BYTEA       NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
