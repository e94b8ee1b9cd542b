-- A disabled user's API keys stop authenticating (hubchantier user disable);
-- NULL means active. Keys are kept, so that user enable restores them.
ALTER TABLE users ADD COLUMN disabled_at TIMESTAMPTZ;
