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

-- Covering indexes: one account's hours of a range come from the index alone (an
-- index-only scan of adjacent entries), not from heap pages shared with every account.
CREATE INDEX hourly_trade_stats_account_exit_idx ON hourly_trade_stats (account_id, exit_hour)
    INCLUDE (entry_bucket, trades, wins, losses, net_pnl, gross_profit, gross_loss);
CREATE INDEX hourly_balance_stats_account_cover_idx ON hourly_balance_stats (account_id, bucket)
    INCLUDE (start_balance, end_balance, high_equity, low_equity, max_drawdown);

-- Daily figures of one account from its hours in [p_from, p_to), by its trading day.
--
-- This is real-time aggregation done by hand, with the bounds as constants: the hours
-- below each aggregate's watermark come from its materialisation hypertable, the hours
-- at or above it from the raw rows, aggregated here exactly as the aggregate does. The
-- statement is built with the account, bounds and watermark as literals (EXECUTE
-- format), so only the chunks of the asked days are planned. Through the aggregate
-- views instead, every call planned the real-time branch over every raw chunk (one a
-- day) and excluded them only at execution: 28 ms p50 against 10 million ticks.
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
    v_tick_hours text;
    v_tick_mark timestamptz;
    v_trade_hours text;
    v_trade_mark timestamptz;
BEGIN
    SELECT coalesce(max(a.day_zone), 'UTC'), coalesce(max(a.day_start), time '00:00')
      INTO v_zone, v_start
    FROM accounts a WHERE a.account_id = p_account;
    SELECT format('%I.%I', h.schema_name, h.table_name),
           _timescaledb_functions.to_timestamp(_timescaledb_functions.cagg_watermark(h.id))
      INTO v_tick_hours, v_tick_mark
    FROM _timescaledb_catalog.continuous_agg c
    JOIN _timescaledb_catalog.hypertable h ON h.id = c.mat_hypertable_id
    WHERE c.user_view_schema = 'public' AND c.user_view_name = 'hourly_balance_stats';
    SELECT format('%I.%I', h.schema_name, h.table_name),
           _timescaledb_functions.to_timestamp(_timescaledb_functions.cagg_watermark(h.id))
      INTO v_trade_hours, v_trade_mark
    FROM _timescaledb_catalog.continuous_agg c
    JOIN _timescaledb_catalog.hypertable h ON h.id = c.mat_hypertable_id
    WHERE c.user_view_schema = 'public' AND c.user_view_name = 'hourly_trade_stats';

    RETURN QUERY EXECUTE format($q$
    WITH hours AS (
        SELECT m.bucket, m.start_balance, m.end_balance, m.high_equity, m.low_equity,
               m.max_drawdown
        FROM %1$s m
        WHERE m.account_id = %2$L AND m.bucket >= %3$L AND m.bucket < %4$L
        UNION ALL
        SELECT time_bucket(INTERVAL '1 hour', t.ts),
               aetheris_first(t.balance ORDER BY t.ts, t.balance, t.equity),
               aetheris_last(t.balance ORDER BY t.ts, t.balance, t.equity),
               max(t.equity), min(t.equity),
               aetheris_max_drawdown(t.equity ORDER BY t.ts, t.balance, t.equity)
        FROM balance_ticks t
        WHERE t.account_id = %2$L AND t.ts >= %5$L AND t.ts < %6$L
        GROUP BY 1
    ), peaks AS (
        SELECT aetheris_trading_day(bucket, %7$L, %8$L) AS day, bucket,
               start_balance, end_balance, high_equity, low_equity, max_drawdown
        FROM hours
    ), running AS (
        SELECT day,
               first_value(start_balance) OVER upto AS start_balance,
               last_value(end_balance) OVER whole AS end_balance,
               high_equity, low_equity,
               greatest(max_drawdown,
                        max(high_equity) OVER (PARTITION BY day ORDER BY bucket
                                               ROWS BETWEEN UNBOUNDED PRECEDING
                                               AND 1 PRECEDING) - low_equity) AS drawdown
        FROM peaks
        WINDOW upto AS (PARTITION BY day ORDER BY bucket ROWS UNBOUNDED PRECEDING),
               whole AS (PARTITION BY day ORDER BY bucket
                         ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
    ), tick_days AS (
        SELECT day, min(start_balance) AS start_balance, min(end_balance) AS end_balance,
               max(high_equity) AS high_equity, min(low_equity) AS low_equity,
               max(drawdown) AS drawdown
        FROM running GROUP BY day
    ), trade_hours AS (
        SELECT m.exit_hour, m.trades, m.wins, m.losses, m.net_pnl, m.gross_profit,
               m.gross_loss
        FROM %9$s m
        WHERE m.account_id = %2$L AND m.exit_hour >= %10$L AND m.exit_hour < %11$L
          AND m.entry_bucket < %12$L
        UNION ALL
        SELECT date_trunc('hour', t.exit_time AT TIME ZONE 'UTC'), count(*),
               count(*) FILTER (WHERE t.pnl > 0), count(*) FILTER (WHERE t.pnl < 0),
               sum(t.pnl), coalesce(sum(t.pnl) FILTER (WHERE t.pnl > 0), 0),
               coalesce(sum(t.pnl) FILTER (WHERE t.pnl < 0), 0)
        FROM trades t
        WHERE t.account_id = %2$L AND t.status = 'closed' AND t.entry_time >= %12$L
          AND t.exit_time >= %3$L AND t.exit_time < %6$L
        GROUP BY 1
    ), trade_days AS (
        SELECT aetheris_trading_day(exit_hour AT TIME ZONE 'UTC', %7$L, %8$L) AS day,
               sum(trades) AS trades, sum(wins) AS wins, sum(losses) AS losses,
               sum(net_pnl) AS net_pnl, sum(gross_profit) AS gross_profit,
               sum(gross_loss) AS gross_loss
        FROM trade_hours
        GROUP BY 1
    )
    SELECT %2$L::text, coalesce(k.day, d.day),
           k.start_balance, k.end_balance,
           coalesce(d.net_pnl, 0)::numeric, coalesce(d.gross_profit, 0)::numeric,
           coalesce(d.gross_loss, 0)::numeric,
           coalesce(d.trades, 0)::integer, coalesce(d.wins, 0)::integer,
           coalesce(d.losses, 0)::integer,
           k.drawdown, k.high_equity, k.low_equity
    FROM tick_days k FULL JOIN trade_days d ON d.day = k.day
    ORDER BY 2
    $q$,
        v_tick_hours,                               -- 1
        p_account,                                  -- 2
        p_from,                                     -- 3
        least(p_to, v_tick_mark),                   -- 4: materialised hours end
        greatest(p_from, v_tick_mark),              -- 5: raw ticks start
        p_to,                                       -- 6
        v_zone,                                     -- 7
        v_start,                                    -- 8
        v_trade_hours,                              -- 9
        p_from AT TIME ZONE 'UTC',                  -- 10
        p_to AT TIME ZONE 'UTC',                    -- 11
        v_trade_mark);                              -- 12: materialised entry days end
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
