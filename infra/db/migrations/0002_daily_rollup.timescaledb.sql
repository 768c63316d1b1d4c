-- Daily per-account roll-up on TimescaleDB (>= 2.8): hypertables for ticks, trades and
-- breaches; continuous aggregates with refresh policies; compression and retention for
-- raw ticks. Read through the view daily_account_pnl -- the same view name and columns
-- as the plain-PostgreSQL variant, which keeps the roll-up with triggers instead.
--
-- The migration runner applies this file only when the timescaledb extension is
-- installed in the database (it creates it when the server offers it).
-- The day is the UTC calendar day: ticks by ts, closed trades by exit_time.

DO $$
DECLARE
    installed int[];
BEGIN
    SELECT string_to_array(split_part(extversion, '-', 1), '.')::int[] INTO installed
    FROM pg_extension WHERE extname = 'timescaledb';
    IF installed IS NULL THEN
        RAISE EXCEPTION 'the timescaledb extension is not installed in this database';
    END IF;
    -- 2.7: finalized continuous aggregates (FILTER, ORDER BY in aggregates);
    -- 2.8: ON CONFLICT ON CONSTRAINT on hypertables (used by the sinks).
    IF installed < ARRAY[2, 8] THEN
        RAISE EXCEPTION 'TimescaleDB % is too old: AETHERIS needs 2.8 or later',
            array_to_string(installed, '.');
    END IF;
END
$$;

-- A hypertable's unique keys must include its time column. The constraint names stay
-- the same, so the sinks' ON CONFLICT ON CONSTRAINT works on both backends. A broker
-- reports a trade's entry_time unchanged between its open and closed events.
ALTER TABLE trades DROP CONSTRAINT trades_broker_trade_key;
ALTER TABLE trades ADD CONSTRAINT trades_broker_trade_key
    UNIQUE (account_id, broker_trade_id, entry_time);
ALTER TABLE breaches DROP CONSTRAINT breaches_breach_id_key;
ALTER TABLE breaches ADD CONSTRAINT breaches_breach_id_key UNIQUE (breach_id, ts);

-- balance_ticks_account_ts_idx serves every tick query; no extra index on ts alone.
SELECT create_hypertable('balance_ticks', 'ts',
    chunk_time_interval => INTERVAL '1 day', create_default_indexes => false,
    migrate_data => true);
SELECT create_hypertable('trades', 'entry_time',
    chunk_time_interval => INTERVAL '30 days', migrate_data => true);
SELECT create_hypertable('breaches', 'ts',
    chunk_time_interval => INTERVAL '30 days', migrate_data => true);

-- Raw ticks: compressed after a week (segment per account, the dashboard's access path),
-- dropped after 400 days. The roll-up keeps its rows: its refresh window (below) never
-- reaches back to dropped chunks.
ALTER TABLE balance_ticks SET (
    timescaledb.compress,
    timescaledb.compress_segmentby = 'account_id',
    timescaledb.compress_orderby = 'ts'
);
SELECT add_compression_policy('balance_ticks', compress_after => INTERVAL '7 days');
SELECT add_retention_policy('balance_ticks', drop_after => INTERVAL '400 days');

-- Tick side of the day: continuous aggregate over balance_ticks.
CREATE MATERIALIZED VIEW daily_balance_stats
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT account_id,
       time_bucket(INTERVAL '1 day', ts) AS bucket,
       public.aetheris_first(balance ORDER BY ts, balance, equity) AS start_balance,
       public.aetheris_last(balance ORDER BY ts, balance, equity) AS end_balance,
       max(equity) AS high_equity,
       min(equity) AS low_equity,
       public.aetheris_max_drawdown(equity ORDER BY ts, balance, equity)
           AS max_intraday_drawdown
FROM balance_ticks
GROUP BY account_id, time_bucket(INTERVAL '1 day', ts)
WITH NO DATA;

SELECT add_continuous_aggregate_policy('daily_balance_stats',
    start_offset => INTERVAL '30 days',
    end_offset => INTERVAL '1 hour',
    schedule_interval => INTERVAL '5 minutes');

-- Trade side of the day. A continuous aggregate must bucket on the hypertable's time
-- column (entry_time), while P&L belongs to the exit day: group by both and add the
-- entry buckets up per exit day in the view. Closing a trade invalidates its entry
-- bucket, so the refresh window covers all history (start_offset NULL); only
-- invalidated buckets are recomputed.
CREATE MATERIALIZED VIEW daily_trade_stats
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT account_id,
       time_bucket(INTERVAL '1 day', entry_time) AS entry_bucket,
       (exit_time AT TIME ZONE 'UTC')::date AS exit_day,
       count(*) AS trades,
       count(*) FILTER (WHERE pnl > 0) AS wins,
       count(*) FILTER (WHERE pnl < 0) AS losses,
       sum(pnl) AS net_pnl,
       coalesce(sum(pnl) FILTER (WHERE pnl > 0), 0) AS gross_profit,
       coalesce(sum(pnl) FILTER (WHERE pnl < 0), 0) AS gross_loss
FROM trades
WHERE status = 'closed'
GROUP BY account_id, time_bucket(INTERVAL '1 day', entry_time),
         (exit_time AT TIME ZONE 'UTC')::date
WITH NO DATA;

SELECT add_continuous_aggregate_policy('daily_trade_stats',
    start_offset => NULL,
    end_offset => INTERVAL '1 hour',
    schedule_interval => INTERVAL '5 minutes');

CREATE INDEX daily_trade_stats_account_exit_idx ON daily_trade_stats (account_id, exit_day);

-- What the API and dashboards read, on either backend (same columns and types as the
-- plain-PostgreSQL view). Real-time aggregation covers the not yet materialised tail.
CREATE VIEW daily_account_pnl AS
SELECT account_id,
       day,
       max(start_balance) AS start_balance,
       max(end_balance) AS end_balance,
       sum(net_pnl)::numeric AS net_pnl,
       sum(gross_profit)::numeric AS gross_profit,
       sum(gross_loss)::numeric AS gross_loss,
       sum(trades)::integer AS trades,
       sum(wins)::integer AS wins,
       sum(losses)::integer AS losses,
       max(max_intraday_drawdown) AS max_intraday_drawdown,
       max(high_equity) AS high_equity,
       min(low_equity) AS low_equity
FROM (
    SELECT account_id,
           (bucket AT TIME ZONE 'UTC')::date AS day,
           start_balance, end_balance, high_equity, low_equity, max_intraday_drawdown,
           0::numeric AS net_pnl, 0::numeric AS gross_profit, 0::numeric AS gross_loss,
           0::bigint AS trades, 0::bigint AS wins, 0::bigint AS losses
    FROM daily_balance_stats
    UNION ALL
    SELECT account_id, exit_day,
           NULL, NULL, NULL, NULL, NULL,
           net_pnl, gross_profit, gross_loss, trades, wins, losses
    FROM daily_trade_stats
) per_source
GROUP BY account_id, day;
