-- Trading days everywhere (plain PostgreSQL): accounts keep their rule set's day zone and
-- start; the trigger-kept roll-up counts each account's trading day; status changes and
-- the pipeline archive's progress get their tables.

-- Trading days ----------------------------------------------------------------------------
-- An account's trading day as the engine defines it (risk_engine/calendar.py): the day
-- starts at day_start on the wall clock of the template's time zone (midnight
-- Europe/Prague for FTMO, 17:00 America/Chicago for Topstep); a day that starts at or
-- after noon is labelled with the date on which it ends (Monday 17:00 to Tuesday 17:00
-- is Tuesday), otherwise with the date on which it starts. Wall-clock arithmetic keeps
-- the boundary right across DST changes.

CREATE FUNCTION aetheris_trading_day(ts timestamptz, zone text, day_start time) RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ((ts AT TIME ZONE zone) - day_start::interval)::date
           + CASE WHEN day_start >= time '12:00' THEN 1 ELSE 0 END
$$;

-- The first instant of trading day ``day`` (the next day's start is its end).
CREATE FUNCTION aetheris_trading_day_start(day date, zone text, day_start time)
RETURNS timestamptz
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ((day - CASE WHEN day_start >= time '12:00' THEN 1 ELSE 0 END) + day_start)
           AT TIME ZONE zone
$$;

-- Each account keeps the time zone and day start of its rule set (the template's,
-- unless the account's overrides change them), resolved from prop_firm_templates when
-- the account is registered or its rule set changes. A rule set the database does not
-- know (a ruleset file) or a zone PostgreSQL does not know counts UTC days from 00:00.
ALTER TABLE accounts
    ADD COLUMN day_zone text NOT NULL DEFAULT 'UTC',
    ADD COLUMN day_start time NOT NULL DEFAULT '00:00';

CREATE FUNCTION aetheris_resolve_account_day() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    zone text;
    starts text;
BEGIN
    SELECT coalesce(NEW.overrides ->> 'timezone', t.definition ->> 'timezone'),
           coalesce(NEW.overrides ->> 'day_start', t.definition ->> 'day_start')
      INTO zone, starts
    FROM (SELECT 1) AS one
    LEFT JOIN prop_firm_templates t ON t.name = NEW.ruleset;
    IF zone IS NULL OR NOT EXISTS (SELECT 1 FROM pg_timezone_names WHERE name = zone) THEN
        zone := 'UTC';
    END IF;
    BEGIN
        NEW.day_start := coalesce(starts, '00:00')::time;
    EXCEPTION WHEN invalid_datetime_format OR datetime_field_overflow THEN
        NEW.day_start := time '00:00';
    END;
    NEW.day_zone := zone;
    RETURN NEW;
END
$$;

CREATE TRIGGER accounts_resolve_day BEFORE INSERT OR UPDATE OF ruleset, overrides ON accounts
    FOR EACH ROW EXECUTE FUNCTION aetheris_resolve_account_day();

-- A template added or changed later re-resolves the accounts on it.
CREATE FUNCTION aetheris_template_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE accounts SET ruleset = ruleset WHERE ruleset = NEW.name;
    RETURN NULL;
END
$$;

CREATE TRIGGER prop_firm_templates_day AFTER INSERT OR UPDATE OF definition
    ON prop_firm_templates
    FOR EACH ROW EXECUTE FUNCTION aetheris_template_changed();

-- Account status changes (the contract's "status" event), stored once per status_id.
CREATE TABLE account_status_changes (
    status_id text NOT NULL CHECK (status_id <> ''),
    account_id text NOT NULL,
    status text NOT NULL CHECK (status IN ('active', 'locked', 'failed', 'passed')),
    previous text CHECK (previous IN ('active', 'locked', 'failed', 'passed')),
    ts timestamptz NOT NULL,
    rule text,
    until timestamptz,
    message text NOT NULL DEFAULT '',
    stored_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT account_status_changes_status_id_key UNIQUE (status_id)
);
CREATE INDEX account_status_changes_account_ts_idx
    ON account_status_changes (account_id, ts DESC);

-- Pipeline archive progress: per account and source partition, the highest bus offset
-- whose event is stored (or deliberately not kept). A replay after a crash skips what
-- is at or below it, so the archive stores nothing twice.
CREATE TABLE archive_offsets (
    account_id text NOT NULL,
    source text NOT NULL,
    last_offset bigint NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, source)
);

-- The roll-up by trading day (plain PostgreSQL) -------------------------------------------
-- daily_account_snapshots.day is now the account's trading day. The functions of 0002
-- and 0003 are replaced by ones that find each account's day through its zone and day
-- start (an account not registered yet counts UTC days; its registration recomputes).

-- An account's day rule, UTC from midnight when the account is unknown.
CREATE FUNCTION aetheris_account_day(p_account text, OUT zone text, OUT day_start time)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT coalesce(max(a.day_zone), 'UTC'), coalesce(max(a.day_start), time '00:00')
    FROM accounts a WHERE a.account_id = p_account
$$;

CREATE OR REPLACE FUNCTION aetheris_rollup_ticks(p_accounts text[], p_days date[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM aetheris_rollup_lock(p_accounts, p_days);

    WITH keys AS (
        SELECT k.account_id, k.day,
               aetheris_trading_day_start(k.day, r.zone, r.day_start) AS day_from,
               aetheris_trading_day_start(k.day + 1, r.zone, r.day_start) AS day_to
        FROM (SELECT DISTINCT u.account_id, u.day
              FROM unnest(p_accounts, p_days) AS u (account_id, day)) k
        CROSS JOIN LATERAL aetheris_account_day(k.account_id) r
    ), ordered AS (
        SELECT k.account_id, k.day, t.ts, t.equity,
               max(t.equity) OVER running AS peak,
               first_value(t.balance) OVER running AS start_balance,
               last_value(t.balance) OVER whole AS end_balance
        FROM keys k
        JOIN balance_ticks t
          ON t.account_id = k.account_id AND t.ts >= k.day_from AND t.ts < k.day_to
        WINDOW running AS (PARTITION BY k.account_id COLLATE "C", k.day
                           ORDER BY t.ts, t.balance, t.equity ROWS UNBOUNDED PRECEDING),
               whole AS (PARTITION BY k.account_id COLLATE "C", k.day
                         ORDER BY t.ts, t.balance, t.equity
                         ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
    )
    INSERT INTO daily_account_snapshots AS s (
        account_id, day, start_balance, end_balance, high_equity, low_equity,
        max_intraday_drawdown, first_tick_at, last_tick_at
    )
    SELECT account_id, day, min(start_balance), min(end_balance), max(equity), min(equity),
           max(peak - equity), min(ts), max(ts)
    FROM ordered
    GROUP BY account_id, day
    ON CONFLICT (account_id, day) DO UPDATE SET
        start_balance = EXCLUDED.start_balance,
        end_balance = EXCLUDED.end_balance,
        high_equity = EXCLUDED.high_equity,
        low_equity = EXCLUDED.low_equity,
        max_intraday_drawdown = EXCLUDED.max_intraday_drawdown,
        first_tick_at = EXCLUDED.first_tick_at,
        last_tick_at = EXCLUDED.last_tick_at,
        updated_at = now();

    -- Days left with no ticks lose their tick columns; days with nothing left go.
    UPDATE daily_account_snapshots s SET
        start_balance = NULL, end_balance = NULL, high_equity = NULL, low_equity = NULL,
        max_intraday_drawdown = NULL, first_tick_at = NULL, last_tick_at = NULL,
        updated_at = now()
    FROM unnest(p_accounts, p_days) AS u (account_id, day)
    CROSS JOIN LATERAL aetheris_account_day(u.account_id) r
    WHERE s.account_id = u.account_id AND s.day = u.day AND s.last_tick_at IS NOT NULL
      AND NOT EXISTS (
          SELECT 1 FROM balance_ticks t
          WHERE t.account_id = u.account_id
            AND t.ts >= aetheris_trading_day_start(u.day, r.zone, r.day_start)
            AND t.ts < aetheris_trading_day_start(u.day + 1, r.zone, r.day_start)
      );

    DELETE FROM daily_account_snapshots s
    USING unnest(p_accounts, p_days) AS u (account_id, day)
    WHERE s.account_id = u.account_id AND s.day = u.day
      AND s.last_tick_at IS NULL AND s.trades = 0;
END
$$;

CREATE OR REPLACE FUNCTION aetheris_rollup_trades(p_accounts text[], p_days date[])
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM aetheris_rollup_lock(p_accounts, p_days);

    WITH keys AS (
        SELECT k.account_id, k.day,
               aetheris_trading_day_start(k.day, r.zone, r.day_start) AS day_from,
               aetheris_trading_day_start(k.day + 1, r.zone, r.day_start) AS day_to
        FROM (SELECT DISTINCT u.account_id, u.day
              FROM unnest(p_accounts, p_days) AS u (account_id, day)) k
        CROSS JOIN LATERAL aetheris_account_day(k.account_id) r
    )
    INSERT INTO daily_account_snapshots AS s (
        account_id, day, trades, wins, losses, net_pnl, gross_profit, gross_loss
    )
    SELECT k.account_id, k.day,
           count(*),
           count(*) FILTER (WHERE t.pnl > 0),
           count(*) FILTER (WHERE t.pnl < 0),
           sum(t.pnl),
           coalesce(sum(t.pnl) FILTER (WHERE t.pnl > 0), 0),
           coalesce(sum(t.pnl) FILTER (WHERE t.pnl < 0), 0)
    FROM keys k
    JOIN trades t
      ON t.account_id = k.account_id
     AND t.status = 'closed'
     AND t.exit_time >= k.day_from
     AND t.exit_time < k.day_to
    GROUP BY k.account_id, k.day
    ON CONFLICT (account_id, day) DO UPDATE SET
        trades = EXCLUDED.trades,
        wins = EXCLUDED.wins,
        losses = EXCLUDED.losses,
        net_pnl = EXCLUDED.net_pnl,
        gross_profit = EXCLUDED.gross_profit,
        gross_loss = EXCLUDED.gross_loss,
        updated_at = now();

    UPDATE daily_account_snapshots s SET
        trades = 0, wins = 0, losses = 0, net_pnl = 0, gross_profit = 0, gross_loss = 0,
        updated_at = now()
    FROM unnest(p_accounts, p_days) AS u (account_id, day)
    CROSS JOIN LATERAL aetheris_account_day(u.account_id) r
    WHERE s.account_id = u.account_id AND s.day = u.day AND s.trades <> 0
      AND NOT EXISTS (
          SELECT 1 FROM trades t
          WHERE t.account_id = u.account_id AND t.status = 'closed'
            AND t.exit_time >= aetheris_trading_day_start(u.day, r.zone, r.day_start)
            AND t.exit_time < aetheris_trading_day_start(u.day + 1, r.zone, r.day_start)
      );

    DELETE FROM daily_account_snapshots s
    USING unnest(p_accounts, p_days) AS u (account_id, day)
    WHERE s.account_id = u.account_id AND s.day = u.day
      AND s.last_tick_at IS NULL AND s.trades = 0;
END
$$;

CREATE OR REPLACE FUNCTION aetheris_ticks_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    key_accounts text[];
    key_days date[];
    key_first timestamptz[];
    late_accounts text[];
    late_days date[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        -- new_rows with each tick's trading day (an unknown account counts UTC days).
        SELECT array_agg(k.account_id), array_agg(k.day), array_agg(k.first_new)
          INTO key_accounts, key_days, key_first
        FROM (SELECT n.account_id, d.day, min(n.ts) AS first_new
              FROM new_rows n LEFT JOIN accounts a ON a.account_id = n.account_id
              CROSS JOIN LATERAL (SELECT aetheris_trading_day(
                  n.ts, coalesce(a.day_zone, 'UTC'), coalesce(a.day_start, time '00:00')
              ) AS day) d
              GROUP BY 1, 2) k;
        IF key_accounts IS NULL THEN
            RETURN NULL;
        END IF;
        PERFORM aetheris_rollup_lock(key_accounts, key_days);

        -- Days with a new tick at or before their last stored tick (late, or the same
        -- instant): recomputed from the raw ticks below.
        SELECT array_agg(u.account_id), array_agg(u.day) INTO late_accounts, late_days
        FROM unnest(key_accounts, key_days, key_first) AS u (account_id, day, first_new)
        JOIN daily_account_snapshots s ON s.account_id = u.account_id AND s.day = u.day
        WHERE u.first_new <= s.last_tick_at;

        -- The other days: fold the batch into the stored row (see 0002).
        WITH new_days AS (
            SELECT n.account_id, n.ts, n.balance, n.equity,
                   aetheris_trading_day(n.ts, coalesce(a.day_zone, 'UTC'),
                                        coalesce(a.day_start, time '00:00')) AS day
            FROM new_rows n LEFT JOIN accounts a ON a.account_id = n.account_id
        ), ordered AS (
            SELECT n.account_id, n.day, n.ts, n.equity,
                   max(n.equity) OVER running AS peak,
                   first_value(n.balance) OVER running AS batch_start,
                   last_value(n.balance) OVER whole AS batch_end
            FROM new_days n
            WINDOW running AS (PARTITION BY n.account_id COLLATE "C", n.day
                               ORDER BY n.ts, n.balance, n.equity ROWS UNBOUNDED PRECEDING),
                   whole AS (PARTITION BY n.account_id COLLATE "C", n.day
                             ORDER BY n.ts, n.balance, n.equity
                             ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
        ), batch AS (
            SELECT account_id, day,
                   min(batch_start) AS start_balance, min(batch_end) AS end_balance,
                   max(equity) AS high_equity, min(equity) AS low_equity,
                   max(peak - equity) AS drawdown, min(ts) AS first_ts, max(ts) AS last_ts
            FROM ordered
            GROUP BY account_id, day
        )
        INSERT INTO daily_account_snapshots AS s (
            account_id, day, start_balance, end_balance, high_equity, low_equity,
            max_intraday_drawdown, first_tick_at, last_tick_at
        )
        SELECT b.account_id, b.day,
               coalesce(p.start_balance, b.start_balance),
               b.end_balance,
               greatest(p.high_equity, b.high_equity),
               least(p.low_equity, b.low_equity),
               greatest(p.max_intraday_drawdown, p.high_equity - b.low_equity, b.drawdown),
               least(p.first_tick_at, b.first_ts),
               b.last_ts
        FROM batch b
        LEFT JOIN daily_account_snapshots p ON p.account_id = b.account_id AND p.day = b.day
        WHERE p.last_tick_at IS NULL OR b.first_ts > p.last_tick_at
        ON CONFLICT (account_id, day) DO UPDATE SET
            start_balance = EXCLUDED.start_balance,
            end_balance = EXCLUDED.end_balance,
            high_equity = EXCLUDED.high_equity,
            low_equity = EXCLUDED.low_equity,
            max_intraday_drawdown = EXCLUDED.max_intraday_drawdown,
            first_tick_at = EXCLUDED.first_tick_at,
            last_tick_at = EXCLUDED.last_tick_at,
            updated_at = now();

        IF late_accounts IS NOT NULL THEN
            PERFORM aetheris_rollup_ticks(late_accounts, late_days);
        END IF;
    ELSIF TG_OP = 'UPDATE' THEN
        SELECT array_agg(k.account_id), array_agg(k.day) INTO key_accounts, key_days
        FROM (SELECT o.account_id, aetheris_trading_day(o.ts, r.zone, r.day_start) AS day
              FROM old_rows o CROSS JOIN LATERAL aetheris_account_day(o.account_id) r
              UNION
              SELECT n.account_id, aetheris_trading_day(n.ts, r.zone, r.day_start)
              FROM new_rows n CROSS JOIN LATERAL aetheris_account_day(n.account_id) r) k;
        PERFORM aetheris_rollup_ticks(key_accounts, key_days);
    ELSE -- TRUNCATE (DELETE has its own function, aetheris_ticks_deleted)
        UPDATE daily_account_snapshots SET
            start_balance = NULL, end_balance = NULL, high_equity = NULL, low_equity = NULL,
            max_intraday_drawdown = NULL, first_tick_at = NULL, last_tick_at = NULL,
            updated_at = now()
        WHERE last_tick_at IS NOT NULL;
        DELETE FROM daily_account_snapshots WHERE trades = 0;
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION aetheris_ticks_deleted() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    key_accounts text[];
    key_days date[];
BEGIN
    IF current_setting('aetheris.pruning', true) = 'on' THEN
        RETURN NULL;
    END IF;
    SELECT array_agg(k.account_id), array_agg(k.day) INTO key_accounts, key_days
    FROM (SELECT DISTINCT o.account_id, aetheris_trading_day(o.ts, r.zone, r.day_start) AS day
          FROM old_rows o CROSS JOIN LATERAL aetheris_account_day(o.account_id) r) k;
    IF key_accounts IS NOT NULL THEN
        PERFORM aetheris_rollup_ticks(key_accounts, key_days);
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION aetheris_trades_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    key_accounts text[];
    key_days date[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT array_agg(k.account_id), array_agg(k.day) INTO key_accounts, key_days
        FROM (SELECT DISTINCT n.account_id,
                     aetheris_trading_day(n.exit_time, r.zone, r.day_start) AS day
              FROM new_rows n CROSS JOIN LATERAL aetheris_account_day(n.account_id) r
              WHERE n.status = 'closed') k;
    ELSIF TG_OP = 'UPDATE' THEN
        SELECT array_agg(k.account_id), array_agg(k.day) INTO key_accounts, key_days
        FROM (SELECT o.account_id, aetheris_trading_day(o.exit_time, r.zone, r.day_start) AS day
              FROM old_rows o CROSS JOIN LATERAL aetheris_account_day(o.account_id) r
              WHERE o.status = 'closed'
              UNION
              SELECT n.account_id, aetheris_trading_day(n.exit_time, r.zone, r.day_start)
              FROM new_rows n CROSS JOIN LATERAL aetheris_account_day(n.account_id) r
              WHERE n.status = 'closed') k;
    ELSIF TG_OP = 'DELETE' THEN
        SELECT array_agg(k.account_id), array_agg(k.day) INTO key_accounts, key_days
        FROM (SELECT DISTINCT o.account_id,
                     aetheris_trading_day(o.exit_time, r.zone, r.day_start) AS day
              FROM old_rows o CROSS JOIN LATERAL aetheris_account_day(o.account_id) r
              WHERE o.status = 'closed') k;
    ELSE -- TRUNCATE
        UPDATE daily_account_snapshots SET
            trades = 0, wins = 0, losses = 0, net_pnl = 0, gross_profit = 0, gross_loss = 0,
            updated_at = now()
        WHERE trades <> 0;
        DELETE FROM daily_account_snapshots WHERE last_tick_at IS NULL;
        RETURN NULL;
    END IF;
    IF key_accounts IS NOT NULL THEN
        PERFORM aetheris_rollup_trades(key_accounts, key_days);
    END IF;
    RETURN NULL;
END
$$;

-- An account's day rule changed (or it was registered after its first rows with a rule
-- other than UTC midnight): its roll-up rows are rebuilt under the new days.
CREATE FUNCTION aetheris_rebuild_account_days(p_account text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    r record;
    tick_days date[];
    trade_days date[];
BEGIN
    SELECT * INTO r FROM aetheris_account_day(p_account);
    DELETE FROM daily_account_snapshots WHERE account_id = p_account;
    SELECT array_agg(DISTINCT aetheris_trading_day(ts, r.zone, r.day_start)) INTO tick_days
    FROM balance_ticks WHERE account_id = p_account;
    SELECT array_agg(DISTINCT aetheris_trading_day(exit_time, r.zone, r.day_start))
      INTO trade_days
    FROM trades WHERE account_id = p_account AND status = 'closed';
    IF tick_days IS NOT NULL THEN
        PERFORM aetheris_rollup_ticks(array_fill(p_account, ARRAY[cardinality(tick_days)]),
                                      tick_days);
    END IF;
    IF trade_days IS NOT NULL THEN
        PERFORM aetheris_rollup_trades(array_fill(p_account, ARRAY[cardinality(trade_days)]),
                                       trade_days);
    END IF;
END
$$;

CREATE FUNCTION aetheris_account_day_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF (NEW.day_zone, NEW.day_start) IS DISTINCT FROM ('UTC', time '00:00')
           AND EXISTS (SELECT 1 FROM daily_account_snapshots
                       WHERE account_id = NEW.account_id) THEN
            PERFORM aetheris_rebuild_account_days(NEW.account_id);
        END IF;
    ELSIF (NEW.day_zone, NEW.day_start) IS DISTINCT FROM (OLD.day_zone, OLD.day_start) THEN
        PERFORM aetheris_rebuild_account_days(NEW.account_id);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER accounts_day_changed AFTER INSERT OR UPDATE OF day_zone, day_start, ruleset,
    overrides ON accounts
    FOR EACH ROW EXECUTE FUNCTION aetheris_account_day_changed();

-- The dashboard's range query, the same function on both backends.
CREATE FUNCTION aetheris_daily_pnl(p_account text, p_first date, p_last date)
RETURNS TABLE (
    account_id text, day date, start_balance double precision,
    end_balance double precision, net_pnl numeric, gross_profit numeric,
    gross_loss numeric, trades integer, wins integer, losses integer,
    max_intraday_drawdown double precision, high_equity double precision,
    low_equity double precision
)
LANGUAGE sql STABLE AS $$
    SELECT account_id, day, start_balance, end_balance, net_pnl, gross_profit, gross_loss,
           trades, wins, losses, max_intraday_drawdown, high_equity, low_equity
    FROM daily_account_snapshots
    WHERE account_id = p_account AND day >= p_first AND day <= p_last
    ORDER BY day
$$;

-- Accounts already registered get their day rule (and their roll-up rebuilt).
UPDATE accounts SET ruleset = ruleset;
