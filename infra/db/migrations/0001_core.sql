-- AETHERIS core schema: the same tables on plain PostgreSQL and on TimescaleDB.
--
-- Event tables (balance_ticks, trades, breaches) carry no foreign key to accounts:
-- accounts, trades and balances arrive on separate Kafka topics with no ordering
-- between them, so a trade may be stored before its account registration.
-- Money from the broker (prices, P&L) is numeric so sums are exact; tick balances and
-- equity are double precision (volume, and they are never summed).

-- Helpers ---------------------------------------------------------------------------

CREATE FUNCTION aetheris_touch_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END
$$;

-- aetheris_first / aetheris_last: the first and last non-null value in the aggregate's
-- ORDER BY; used by the TimescaleDB continuous aggregate (no window functions there).
CREATE FUNCTION aetheris_keep_first(kept anyelement, candidate anyelement) RETURNS anyelement
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS 'SELECT kept';

CREATE FUNCTION aetheris_keep_last(kept anyelement, candidate anyelement) RETURNS anyelement
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS 'SELECT candidate';

CREATE AGGREGATE aetheris_first(anyelement) (SFUNC = aetheris_keep_first, STYPE = anyelement);
CREATE AGGREGATE aetheris_last(anyelement) (SFUNC = aetheris_keep_last, STYPE = anyelement);

-- aetheris_max_drawdown(equity ORDER BY ts): the largest fall of equity from its running
-- peak, i.e. max over ticks of (highest equity so far - equity). State: {peak, drawdown}.
CREATE FUNCTION aetheris_drawdown_step(state double precision[], equity double precision)
RETURNS double precision[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN equity IS NULL THEN state
        WHEN state IS NULL THEN ARRAY[equity, 0::double precision]
        ELSE ARRAY[
            greatest(state[1], equity),
            greatest(state[2], greatest(state[1], equity) - equity)
        ]
    END
$$;

CREATE FUNCTION aetheris_drawdown_final(state double precision[]) RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS 'SELECT state[2]';

CREATE AGGREGATE aetheris_max_drawdown(double precision) (
    SFUNC = aetheris_drawdown_step,
    STYPE = double precision[],
    FINALFUNC = aetheris_drawdown_final
);

-- People and accounts -----------------------------------------------------------------

CREATE TABLE users (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email text NOT NULL CHECK (email LIKE '%_@_%'),
    display_name text,
    password_hash text,
    totp_secret_ciphertext bytea,
    role text NOT NULL DEFAULT 'trader' CHECK (role IN ('trader', 'desk_admin', 'admin')),
    is_active boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));
CREATE TRIGGER users_touch BEFORE UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION aetheris_touch_updated_at();

-- Rule templates as data (schemas.rulesets.Ruleset documents); built-ins are synced from
-- the package on every `aetheris db migrate`, desks add their own.
CREATE TABLE prop_firm_templates (
    name text PRIMARY KEY CHECK (name <> ''),
    firm text,
    description text,
    definition jsonb NOT NULL CHECK (jsonb_typeof(definition) = 'object'),
    builtin boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER prop_firm_templates_touch BEFORE UPDATE ON prop_firm_templates
    FOR EACH ROW EXECUTE FUNCTION aetheris_touch_updated_at();

CREATE TABLE accounts (
    account_id text PRIMARY KEY CHECK (account_id ~ '^\S{1,128}$'),
    owner_id uuid REFERENCES users (id) ON DELETE SET NULL,
    name text,
    ruleset text NOT NULL CHECK (ruleset <> ''),
    overrides jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(overrides) = 'object'),
    initial_balance numeric NOT NULL CHECK (initial_balance > 0),
    currency text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    status text NOT NULL DEFAULT 'active'
        CHECK (status IN ('active', 'breached', 'suspended', 'closed')),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX accounts_owner_idx ON accounts (owner_id);
CREATE TRIGGER accounts_touch BEFORE UPDATE ON accounts
    FOR EACH ROW EXECUTE FUNCTION aetheris_touch_updated_at();

-- Credentials are encrypted by the application before they reach the database
-- (infra secrets, AETHERIS_SECRET_KEY); only ciphertext and the key id are stored.
CREATE TABLE broker_connections (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    account_id text NOT NULL REFERENCES accounts (account_id) ON DELETE CASCADE,
    broker_kind text NOT NULL
        CHECK (broker_kind IN ('csv', 'fix', 'rest', 'mt4', 'mt5', 'simulator')),
    label text NOT NULL DEFAULT '',
    settings jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(settings) = 'object'),
    credentials_ciphertext bytea,
    credentials_key_id text,
    sync_status text NOT NULL DEFAULT 'pending'
        CHECK (sync_status IN ('pending', 'running', 'success', 'failed')),
    last_sync_at timestamptz,
    last_error text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT broker_connections_key UNIQUE (account_id, broker_kind, label),
    CONSTRAINT broker_connections_key_id_with_ciphertext
        CHECK ((credentials_ciphertext IS NULL) = (credentials_key_id IS NULL))
);
CREATE TRIGGER broker_connections_touch BEFORE UPDATE ON broker_connections
    FOR EACH ROW EXECUTE FUNCTION aetheris_touch_updated_at();

-- Event history ------------------------------------------------------------------------

CREATE TABLE balance_ticks (
    account_id text NOT NULL,
    ts timestamptz NOT NULL,
    balance double precision NOT NULL,
    equity double precision NOT NULL
);
CREATE INDEX balance_ticks_account_ts_idx ON balance_ticks (account_id, ts DESC);

-- One row per broker trade; an open trade later closed updates its row.
-- The named key is what the sinks' ON CONFLICT refers to (on TimescaleDB it also holds
-- entry_time, because a hypertable's unique keys must include its time column).
CREATE TABLE trades (
    account_id text NOT NULL,
    broker_trade_id text NOT NULL CHECK (broker_trade_id <> ''),
    status text NOT NULL CHECK (status IN ('open', 'closed')),
    symbol text NOT NULL CHECK (symbol <> ''),
    side text NOT NULL CHECK (side IN ('long', 'short')),
    quantity numeric NOT NULL CHECK (quantity > 0),
    entry_price numeric NOT NULL CHECK (entry_price > 0),
    entry_time timestamptz NOT NULL,
    exit_price numeric CHECK (exit_price > 0),
    exit_time timestamptz,
    pnl numeric,
    commission numeric NOT NULL DEFAULT 0,
    swap numeric NOT NULL DEFAULT 0,
    stop_loss numeric CHECK (stop_loss > 0),
    take_profit numeric CHECK (take_profit > 0),
    mfe numeric,
    mae numeric,
    tags text[] NOT NULL DEFAULT '{}',
    notes text,
    source text,
    first_seen_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT trades_broker_trade_key UNIQUE (account_id, broker_trade_id),
    CONSTRAINT trades_status_fields CHECK (
        (status = 'open' AND exit_price IS NULL AND exit_time IS NULL AND pnl IS NULL)
        OR (status = 'closed' AND exit_price IS NOT NULL AND exit_time IS NOT NULL
            AND pnl IS NOT NULL AND exit_time >= entry_time)
    )
);
CREATE INDEX trades_account_entry_idx ON trades (account_id, entry_time DESC);
CREATE INDEX trades_account_exit_idx ON trades (account_id, exit_time DESC)
    WHERE status = 'closed';

-- Breach ids are deterministic: a replayed breach hits the key and is stored once.
CREATE TABLE breaches (
    breach_id text NOT NULL CHECK (breach_id <> ''),
    account_id text NOT NULL,
    rule text NOT NULL CHECK (rule IN ('max_daily_loss', 'max_loss', 'trailing_drawdown',
                                       'max_loss_per_trade', 'overtrading', 'tilt')),
    level smallint NOT NULL CHECK (level BETWEEN 1 AND 3),
    ts timestamptz NOT NULL,
    value double precision NOT NULL,
    limit_value double precision NOT NULL,
    threshold double precision,
    message text NOT NULL,
    dismissed_at timestamptz,
    dismissed_by uuid REFERENCES users (id) ON DELETE SET NULL,
    stored_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT breaches_breach_id_key UNIQUE (breach_id)
);
CREATE INDEX breaches_account_ts_idx ON breaches (account_id, ts DESC);
CREATE INDEX breaches_undismissed_idx ON breaches (account_id, ts DESC)
    WHERE dismissed_at IS NULL;

-- Emotion / bias / setup tags on a trade, by the trader or by a detector.
CREATE TABLE trade_tags (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id text NOT NULL,
    broker_trade_id text NOT NULL,
    tag text NOT NULL CHECK (tag <> ''),
    category text NOT NULL DEFAULT 'emotion'
        CHECK (category IN ('emotion', 'bias', 'setup', 'mistake', 'other')),
    origin text NOT NULL DEFAULT 'manual' CHECK (origin IN ('manual', 'detected', 'broker')),
    pnl_attributed numeric,
    notes text,
    created_by uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT trade_tags_key UNIQUE (account_id, broker_trade_id, tag)
);
CREATE INDEX trade_tags_account_tag_idx ON trade_tags (account_id, tag);

CREATE TABLE trading_sessions (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id text NOT NULL REFERENCES accounts (account_id) ON DELETE CASCADE,
    user_id uuid REFERENCES users (id) ON DELETE SET NULL,
    started_at timestamptz NOT NULL,
    ended_at timestamptz CHECK (ended_at IS NULL OR ended_at >= started_at),
    tilt_flag boolean NOT NULL DEFAULT false,
    trades_count integer NOT NULL DEFAULT 0 CHECK (trades_count >= 0),
    session_pnl numeric NOT NULL DEFAULT 0,
    notes text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX trading_sessions_account_started_idx
    ON trading_sessions (account_id, started_at DESC);

-- Imports and syncs: one row per run, with new / updated / duplicate / error counts.
CREATE TABLE sync_logs (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id text,
    broker_connection_id uuid REFERENCES broker_connections (id) ON DELETE SET NULL,
    source text NOT NULL,
    status text NOT NULL CHECK (status IN ('running', 'success', 'partial', 'failed')),
    started_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    trades_new integer NOT NULL DEFAULT 0,
    trades_updated integer NOT NULL DEFAULT 0,
    trades_duplicate integer NOT NULL DEFAULT 0,
    trades_error integer NOT NULL DEFAULT 0,
    ticks_stored integer NOT NULL DEFAULT 0,
    errors jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(errors) = 'array')
);
CREATE INDEX sync_logs_account_started_idx ON sync_logs (account_id, started_at DESC);

-- Anything that could not be stored or applied: bad bus messages, import rows that
-- failed the data-quality suite. The raw payload is kept as text (it may not be JSON).
CREATE TABLE dead_letters (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source text NOT NULL,
    raw_payload text NOT NULL,
    reason text NOT NULL,
    account_id text,
    received_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX dead_letters_received_idx ON dead_letters (received_at DESC);
CREATE INDEX dead_letters_source_received_idx ON dead_letters (source, received_at DESC);

-- Webhooks: endpoints (signing secret encrypted by the application) and one delivery row
-- per (endpoint, event), so a replayed breach is delivered once.
CREATE TABLE webhook_endpoints (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    owner_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    account_id text REFERENCES accounts (account_id) ON DELETE CASCADE,
    url text NOT NULL CHECK (url ~ '^https?://'),
    secret_ciphertext bytea NOT NULL,
    secret_key_id text NOT NULL,
    event_types text[] NOT NULL DEFAULT '{breach}',
    min_level smallint NOT NULL DEFAULT 3 CHECK (min_level BETWEEN 1 AND 3),
    is_active boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_endpoints_owner_idx ON webhook_endpoints (owner_id);
CREATE INDEX webhook_endpoints_account_idx ON webhook_endpoints (account_id);
CREATE TRIGGER webhook_endpoints_touch BEFORE UPDATE ON webhook_endpoints
    FOR EACH ROW EXECUTE FUNCTION aetheris_touch_updated_at();

CREATE TABLE webhook_deliveries (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    endpoint_id uuid NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_type text NOT NULL,
    event_id text NOT NULL,
    payload jsonb NOT NULL,
    status text NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'delivering', 'succeeded', 'failed', 'dead')),
    attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at timestamptz DEFAULT now(),
    last_status_code integer,
    last_error text,
    created_at timestamptz NOT NULL DEFAULT now(),
    delivered_at timestamptz,
    CONSTRAINT webhook_deliveries_event_key UNIQUE (endpoint_id, event_id)
);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at)
    WHERE status IN ('pending', 'failed');
CREATE INDEX webhook_deliveries_endpoint_created_idx
    ON webhook_deliveries (endpoint_id, created_at DESC);

-- Sink batches committed, so that a batch retried after a connection loss whose commit
-- did in fact land is not stored twice. Pruned by the sinks after a day.
CREATE TABLE sink_batches (
    batch_id uuid PRIMARY KEY,
    rows_stored integer NOT NULL,
    committed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sink_batches_committed_idx ON sink_batches USING brin (committed_at);
