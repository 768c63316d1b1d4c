-- AETHERIS 0004: users, sessions and ownership for the production API (issue 11).
-- Extends the tables of 0001 (users, accounts, trade_tags, trading_sessions); the same
-- statements run on plain PostgreSQL and on TimescaleDB.

-- TOTP: ``totp_secret_ciphertext`` (0001) holds the Fernet-encrypted secret, pending until
-- confirmed; ``totp_last_step`` is the last accepted time step, so a code is never
-- accepted twice (RFC 6238 section 5.2).
ALTER TABLE users
    ADD COLUMN totp_enabled boolean NOT NULL DEFAULT false,
    ADD COLUMN totp_last_step bigint,
    ADD COLUMN password_changed_at timestamptz,
    ADD CONSTRAINT users_totp_enabled_with_secret
        CHECK (NOT totp_enabled OR totp_secret_ciphertext IS NOT NULL);

-- A login session: one family of refresh tokens. Revoking it ends every token issued
-- in it, and the access tokens that name it (their ``sid`` claim).
CREATE TABLE auth_sessions (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz,
    revoked_reason text
);
CREATE INDEX auth_sessions_user_idx ON auth_sessions (user_id) WHERE revoked_at IS NULL;

-- Refresh tokens are opaque random strings; only their SHA-256 is stored. A token is
-- spent when it is exchanged; a spent token presented again revokes its session.
CREATE TABLE refresh_tokens (
    token_hash bytea PRIMARY KEY CHECK (length(token_hash) = 32),
    session_id uuid NOT NULL REFERENCES auth_sessions (id) ON DELETE CASCADE,
    issued_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    spent_at timestamptz
);
CREATE INDEX refresh_tokens_session_idx ON refresh_tokens (session_id);

-- One-time TOTP recovery codes, stored as SHA-256 of the normalised code.
CREATE TABLE recovery_codes (
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash bytea NOT NULL CHECK (length(code_hash) = 32),
    used_at timestamptz,
    PRIMARY KEY (user_id, code_hash)
);

-- Accounts: the broker they come from, and deletion that keeps their history.
ALTER TABLE accounts
    ADD COLUMN broker text CHECK (broker IS NULL OR broker ~ '^[a-z0-9_-]{1,32}$'),
    ADD COLUMN broker_account_id text
        CHECK (broker_account_id IS NULL OR length(broker_account_id) BETWEEN 1 AND 128),
    ADD COLUMN deleted_at timestamptz;
CREATE INDEX accounts_owner_live_idx ON accounts (owner_id, created_at)
    WHERE deleted_at IS NULL;
