-- OAuth 2 authorization server (package oauth). Only hashes of client
-- secrets, codes and tokens are stored, never the values.
CREATE TABLE oauth_clients (
    id            BIGSERIAL PRIMARY KEY,
    client_id     TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    secret_hash   TEXT NOT NULL DEFAULT '',
    redirect_uris TEXT NOT NULL,
    scopes        TEXT NOT NULL,
    public        BOOLEAN NOT NULL DEFAULT FALSE,
    revoked_at    TIMESTAMPTZ,
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL
);
--bun:split
CREATE TABLE oauth_authorization_codes (
    id             BIGSERIAL PRIMARY KEY,
    code_hash      TEXT NOT NULL UNIQUE,
    client_id      TEXT NOT NULL,
    subject        TEXT NOT NULL,
    scopes         TEXT NOT NULL,
    redirect_uri   TEXT NOT NULL,
    code_challenge TEXT NOT NULL,
    family_id      TEXT NOT NULL,
    expires_at     TIMESTAMPTZ NOT NULL,
    used_at        TIMESTAMPTZ,
    created_at     TIMESTAMPTZ NOT NULL
);
--bun:split
CREATE INDEX oauth_authorization_codes_expires_at ON oauth_authorization_codes (expires_at);
--bun:split
CREATE TABLE oauth_tokens (
    id                 BIGSERIAL PRIMARY KEY,
    family_id          TEXT NOT NULL,
    client_id          TEXT NOT NULL,
    subject            TEXT NOT NULL,
    scopes             TEXT NOT NULL,
    jti                TEXT NOT NULL UNIQUE,
    access_token_hash  TEXT NOT NULL UNIQUE,
    refresh_token_hash TEXT UNIQUE,
    access_expires_at  TIMESTAMPTZ NOT NULL,
    refresh_expires_at TIMESTAMPTZ,
    refresh_used_at    TIMESTAMPTZ,
    revoked_at         TIMESTAMPTZ,
    created_at         TIMESTAMPTZ NOT NULL
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
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (subject, client_id)
);
--bun:split
CREATE TABLE oauth_signing_keys (
    kid         TEXT PRIMARY KEY,
    alg         TEXT NOT NULL,
    private_key BYTEA NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    retired_at  TIMESTAMPTZ
);
