-- GDPR rights: a pending e-mail change (rectification with re-verification)
-- and the time of an erasure (anonymisation).
ALTER TABLE users ADD COLUMN pending_email TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN email_token_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN email_token_expires_at TIMESTAMP;
ALTER TABLE users ADD COLUMN erased_at TIMESTAMP;
