-- Trading days everywhere (TimescaleDB): accounts keep their rule set's day zone and
-- start; hourly continuous aggregates rolled up to each account's trading day at query
-- time; status changes and the pipeline archive's progress get their tables.

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

-- The roll-up by trading day (TimescaleDB) ------------------------------------------------
-- A continuous aggregate buckets with one time zone for all its rows, while accounts
-- differ (midnight Prague, 17:00 Chicago, ...). So the aggregates are hourly in UTC --
-- every trading-day boundary of a zone with a whole-hour UTC offset and a day start on
-- the hour falls on a UTC hour, which covers every built-in template -- and the daily
-- figures are rolled up from at most 25 hourly rows per day at query time, by each
-- account's zone and day start. The UTC-day aggregates of 0002 go.

DROP VIEW daily_account_pnl;
DROP MATERIALIZED VIEW daily_balance_stats;
DROP MATERIALIZED VIEW daily_trade_stats;

-- Tick side, per account and UTC hour. The day's drawdown is rebuilt from the hours:
-- a tick's running peak is max(the peak of the day's earlier hours, the hour's own
-- running peak), so the day's drawdown = max over its hours of
-- greatest(hour drawdown, peak of the earlier hours - the hour's lowest equity).
CREATE MATERIALIZED VIEW hourly_balance_stats
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT account_id,
       time_bucket(INTERVAL '1 hour', ts) AS bucket,
       public.aetheris_first(balance ORDER BY ts, balance, equity) AS start_balance,
       public.aetheris_last(balance ORDER BY ts, balance, equity) AS end_balance,
       max(equity) AS high_equity,
       min(equity) AS low_equity,
       public.aetheris_max_drawdown(equity ORDER BY ts, balance, equity) AS max_drawdown,
       count(*) AS ticks
FROM balance_ticks
GROUP BY account_id, time_bucket(INTERVAL '1 hour', ts)
WITH NO DATA;

-- The refresh window stops short of the raw-tick retention (400 days), so dropping old
-- chunks never empties the hours already materialised. Only invalidated buckets in the
-- window are recomputed: late ticks are picked up by the next run.
SELECT add_continuous_aggregate_policy('hourly_balance_stats',
    start_offset => INTERVAL '390 days',
    end_offset => INTERVAL '1 hour',
    schedule_interval => INTERVAL '5 minutes');

-- Trade side. A continuous aggregate must bucket on the hypertable's time column
-- (entry_time), while P&L belongs to the hour the trade closed: group by both (one
-- time_bucket per aggregate, so the exit hour is a UTC wall-clock hour, a timestamp).
CREATE MATERIALIZED VIEW hourly_trade_stats
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT account_id,
       time_bucket(INTERVAL '1 day', entry_time) AS entry_bucket,
       date_trunc('hour', exit_time AT TIME ZONE 'UTC') AS exit_hour,
       count(*) AS trades,
       count(*) FILTER (WHERE pnl > 0) AS wins,
       count(*) FILTER (WHERE pnl < 0) AS losses,
       sum(pnl) AS net_pnl,
       coalesce(sum(pnl) FILTER (WHERE pnl > 0), 0) AS gross_profit,
       coalesce(sum(pnl) FILTER (WHERE pnl < 0), 0) AS gross_loss
FROM trades
WHERE status = 'closed'
GROUP BY account_id, time_bucket(INTERVAL '1 day', entry_time),
         date_trunc('hour', exit_time AT TIME ZONE 'UTC')
WITH NO DATA;

-- Closing a trade invalidates its entry bucket, which may be old: the window covers all
-- history (trades are never dropped; only invalidated buckets are recomputed).
SELECT add_continuous_aggregate_policy('hourly_trade_stats',
    start_offset => NULL,
    end_offset => INTERVAL '1 hour',
    schedule_interval => INTERVAL '5 minutes');

CREATE INDEX hourly_trade_stats_account_exit_idx ON hourly_trade_stats (account_id, exit_hour);

-- Daily figures of one account from its hours in [p_from, p_to), by its trading day.
-- PL/pgSQL with EXECUTE: the statement is planned for each call with the account and
-- bounds as constants, so the aggregates' watermark is folded into a constant and the
-- hours are read by index -- a generic (parameterised) plan evaluates the watermark
-- function once per row instead (measured: 10 times slower).
CREATE FUNCTION aetheris_days_from_hours(p_account text, p_from timestamptz,
                                         p_to timestamptz)
RETURNS TABLE (
    account_id text, day date, start_balance double precision,
    end_balance double precision, net_pnl numeric, gross_profit numeric,
    gross_loss numeric, trades integer, wins integer, losses integer,
    max_intraday_drawdown double precision, high_equity double precision,
    low_equity double precision
)
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
    v_zone text;
    v_start time;
BEGIN
    SELECT coalesce(max(a.day_zone), 'UTC'), coalesce(max(a.day_start), time '00:00')
      INTO v_zone, v_start
    FROM accounts a WHERE a.account_id = p_account;
    RETURN QUERY EXECUTE $q$
    WITH hours AS (
        SELECT aetheris_trading_day(h.bucket, $4, $5) AS day, h.bucket,
               h.start_balance, h.end_balance, h.high_equity, h.low_equity, h.max_drawdown
        FROM hourly_balance_stats h
        WHERE h.account_id = $1 AND h.bucket >= $2 AND h.bucket < $3
    ), peaks AS (
        SELECT day,
               first_value(start_balance) OVER running AS start_balance,
               last_value(end_balance) OVER whole AS end_balance,
               high_equity, low_equity,
               greatest(max_drawdown,
                        max(high_equity) OVER (PARTITION BY day ORDER BY bucket
                                               ROWS BETWEEN UNBOUNDED PRECEDING
                                               AND 1 PRECEDING) - low_equity) AS drawdown
        FROM hours
        WINDOW running AS (PARTITION BY day ORDER BY bucket ROWS UNBOUNDED PRECEDING),
               whole AS (PARTITION BY day ORDER BY bucket
                         ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
    ), tick_days AS (
        SELECT day, min(start_balance) AS start_balance, min(end_balance) AS end_balance,
               max(high_equity) AS high_equity, min(low_equity) AS low_equity,
               max(drawdown) AS drawdown
        FROM peaks GROUP BY day
    ), trade_days AS (
        SELECT aetheris_trading_day(t.exit_hour AT TIME ZONE 'UTC', $4, $5) AS day,
               sum(t.trades) AS trades, sum(t.wins) AS wins, sum(t.losses) AS losses,
               sum(t.net_pnl) AS net_pnl, sum(t.gross_profit) AS gross_profit,
               sum(t.gross_loss) AS gross_loss
        FROM hourly_trade_stats t
        WHERE t.account_id = $1
          AND t.exit_hour >= ($2 AT TIME ZONE 'UTC') AND t.exit_hour < ($3 AT TIME ZONE 'UTC')
        GROUP BY 1
    )
    SELECT $1, coalesce(k.day, d.day),
           k.start_balance, k.end_balance,
           coalesce(d.net_pnl, 0)::numeric, coalesce(d.gross_profit, 0)::numeric,
           coalesce(d.gross_loss, 0)::numeric,
           coalesce(d.trades, 0)::integer, coalesce(d.wins, 0)::integer,
           coalesce(d.losses, 0)::integer,
           k.drawdown, k.high_equity, k.low_equity
    FROM tick_days k FULL JOIN trade_days d ON d.day = k.day
    ORDER BY 2
    $q$ USING p_account, p_from, p_to, v_zone, v_start;
END
$fn$;

-- The dashboard's range query, the same function on both backends: only the hours of
-- the asked days are read (through the aggregates' (account_id, bucket) indexes).
CREATE FUNCTION aetheris_daily_pnl(p_account text, p_first date, p_last date)
RETURNS TABLE (
    account_id text, day date, start_balance double precision,
    end_balance double precision, net_pnl numeric, gross_profit numeric,
    gross_loss numeric, trades integer, wins integer, losses integer,
    max_intraday_drawdown double precision, high_equity double precision,
    low_equity double precision
)
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
    v_zone text;
    v_start time;
BEGIN
    SELECT coalesce(max(a.day_zone), 'UTC'), coalesce(max(a.day_start), time '00:00')
      INTO v_zone, v_start
    FROM accounts a WHERE a.account_id = p_account;
    RETURN QUERY SELECT * FROM aetheris_days_from_hours(
        p_account,
        aetheris_trading_day_start(p_first, v_zone, v_start),
        aetheris_trading_day_start(p_last + 1, v_zone, v_start));
END
$fn$;

-- What the API and dashboards read, on either backend (same columns and types as the
-- plain-PostgreSQL view): every account's days. Real-time aggregation covers the not
-- yet materialised tail.
CREATE VIEW daily_account_pnl AS
SELECT known.account_id, d.day, d.start_balance, d.end_balance, d.net_pnl, d.gross_profit,
       d.gross_loss, d.trades, d.wins, d.losses, d.max_intraday_drawdown, d.high_equity,
       d.low_equity
FROM (SELECT account_id FROM hourly_balance_stats
      UNION SELECT account_id FROM hourly_trade_stats) known
CROSS JOIN LATERAL aetheris_days_from_hours(known.account_id, '-infinity', 'infinity') d;
-- (account_id comes from the UNION, so WHERE account_id = ... reaches the aggregates'
-- indexes and the function runs for that account only.)

UPDATE accounts SET ruleset = ruleset;
