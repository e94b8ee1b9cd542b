-- Secrets the server generates once and every instance shares: the key that
-- seals pagination cursors when HUB_CURSOR_KEYS is unset ("cursor_key").
-- Whoever can read this file can read them.
CREATE TABLE server_secrets (
    name       TEXT      PRIMARY KEY,
    value      BLOB      NOT NULL,
    created_at TIMESTAMP NOT NULL
);
