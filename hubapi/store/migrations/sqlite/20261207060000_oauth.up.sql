-- OAuth 2 authorization server (package oauth). Only hashes of client
-- secrets, codes and tokens are stored, never the values.
CREATE TABLE oauth_clients (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    client_id     TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    secret_hash   TEXT NOT NULL DEFAULT '',
    redirect_uris TEXT NOT NULL,
    scopes        TEXT NOT NULL,
    public        BOOLEAN NOT NULL DEFAULT FALSE,
    revoked_at    TIMESTAMP,
    created_at    TIMESTAMP NOT NULL,
    updated_at    TIMESTAMP NOT NULL
);
--bun:split
CREATE TABLE oauth_authorization_codes (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    code_hash      TEXT NOT NULL UNIQUE,
    client_id      TEXT NOT NULL,
    subject        TEXT NOT NULL,
    scopes         TEXT NOT NULL,
    redirect_uri   TEXT NOT NULL,
    code_challenge TEXT NOT NULL,
    family_id      TEXT NOT NULL,
    expires_at     TIMESTAMP NOT NULL,
    used_at        TIMESTAMP,
    created_at     TIMESTAMP NOT NULL
);
--bun:split
CREATE INDEX oauth_authorization_codes_expires_at ON oauth_authorization_codes (expires_at);
--bun:split
CREATE TABLE oauth_tokens (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    family_id          TEXT NOT NULL,
    client_id          TEXT NOT NULL,
    subject            TEXT NOT NULL,
    scopes             TEXT NOT NULL,
    jti                TEXT NOT NULL UNIQUE,
    access_token_hash  TEXT NOT NULL UNIQUE,
    refresh_token_hash TEXT UNIQUE,
    access_expires_at  TIMESTAMP NOT NULL,
    refresh_expires_at TIMESTAMP,
    refresh_used_at    TIMESTAMP,
    revoked_at         TIMESTAMP,
    created_at         TIMESTAMP NOT NULL
);
--bun:split
CREATE INDEX oauth_tokens_family ON oauth_tokens (family_id);
--bun:split
CREATE INDEX oauth_tokens_subject_client ON oauth_tokens (subject, client_id);
--bun:split
CREATE INDEX oauth_tokens_revoked_at ON oauth_tokens (revoked_at);
--bun:split
CREATE TABLE oauth_consents (
    subject    TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    scopes     TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (subject, client_id)
);
--bun:split
CREATE TABLE oauth_signing_keys (
    kid         TEXT PRIMARY KEY,
    alg         TEXT NOT NULL,
    private_key BLOB NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    retired_at  TIMESTAMP
);
