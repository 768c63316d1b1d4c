-- AETHERIS 0010: the MetaTrader bridge, broker credentials at rest and sync jobs
-- (issue 13, items 6-8). broker_connections (0001) keeps the encrypted credentials.
-- The same statements run on plain PostgreSQL and on TimescaleDB.

-- A broker connection's kind may name the broker (e.g. 'oanda' for a REST poller).
-- poll_state: where a poller resumes (e.g. OANDA's last transaction id), kept here so
-- any sync worker can run the next poll.
ALTER TABLE broker_connections
    ADD COLUMN broker text NOT NULL DEFAULT '',
    ADD COLUMN poll_state jsonb CHECK (poll_state IS NULL OR jsonb_typeof(poll_state) = 'object');

-- One bridge key per account, encrypted with the key box (AETHERIS_ENCRYPTION_KEYS);
-- issuing a new one replaces it (the old key stops working at once).
CREATE TABLE bridge_keys (
    account_id text PRIMARY KEY REFERENCES accounts (account_id) ON DELETE CASCADE,
    key_ciphertext bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Batch ids the bridge has accepted, remembered for the replay window: a batch posted
-- again inside the window is refused (409); older ones are stale by their timestamp.
CREATE TABLE bridge_batches (
    account_id text NOT NULL,
    batch_id text NOT NULL CHECK (batch_id <> ''),
    received_at timestamptz NOT NULL DEFAULT now(),
    sync_log_id bigint,
    PRIMARY KEY (account_id, batch_id)
);
CREATE INDEX bridge_batches_received_idx ON bridge_batches (received_at);

-- Sync jobs started through the API and run by `aetheris worker sync` off the Redis
-- queue: a statement upload (its bytes kept here until the job has run) or one poll run
-- of a stored REST connection. Progress and errors are in the job's sync log.
CREATE TABLE sync_jobs (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    owner_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    account_id text NOT NULL REFERENCES accounts (account_id) ON DELETE CASCADE,
    kind text NOT NULL CHECK (kind IN ('statement', 'poll')),
    broker_connection_id uuid REFERENCES broker_connections (id) ON DELETE SET NULL,
    format text,
    filename text,
    timezone text,
    payload bytea,
    status text NOT NULL DEFAULT 'queued'
        CHECK (status IN ('queued', 'running', 'retrying', 'done', 'failed')),
    attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    sync_log_id bigint REFERENCES sync_logs (id) ON DELETE SET NULL,
    error text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz
);
CREATE INDEX sync_jobs_owner_created_idx ON sync_jobs (owner_id, created_at DESC);
CREATE TRIGGER sync_jobs_touch BEFORE UPDATE ON sync_jobs
    FOR EACH ROW EXECUTE FUNCTION aetheris_touch_updated_at();
