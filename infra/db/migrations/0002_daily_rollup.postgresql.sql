-- Daily per-account roll-up on plain PostgreSQL: a table kept by statement-level
-- triggers (with transition tables) on balance_ticks and trades, read through the view
-- daily_account_pnl -- the same view name and columns as the TimescaleDB variant.
--
-- The day is the UTC calendar day: ticks by ts, closed trades by exit_time (P&L is
-- realised when the trade closes). Ticks of the same instant are ordered by
-- (balance, equity) so that start/end balance and drawdown are deterministic.

CREATE TABLE daily_account_snapshots (
    account_id text NOT NULL,
    day date NOT NULL,
    -- from balance ticks
    start_balance double precision,
    end_balance double precision,
    high_equity double precision,
    low_equity double precision,
    max_intraday_drawdown double precision,
    first_tick_at timestamptz,
    last_tick_at timestamptz,
    -- from trades closed that day
    trades integer NOT NULL DEFAULT 0,
    wins integer NOT NULL DEFAULT 0,
    losses integer NOT NULL DEFAULT 0,
    net_pnl numeric NOT NULL DEFAULT 0,
    gross_profit numeric NOT NULL DEFAULT 0,
    gross_loss numeric NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, day)
);

-- Writers of the same (account, day) take turns: each trigger first takes transaction
-- advisory locks on its days, in one global order (no deadlocks between roll-ups), and
-- only then reads, so it sees what a concurrent writer committed.
CREATE FUNCTION aetheris_rollup_lock(p_accounts text[], p_days date[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    lock_key integer;
BEGIN
    FOR lock_key IN
        SELECT DISTINCT hashtext(u.account_id || '/' || u.day::text)
        FROM unnest(p_accounts, p_days) AS u (account_id, day)
        ORDER BY 1
    LOOP
        PERFORM pg_advisory_xact_lock(1095062610, lock_key);
    END LOOP;
END
$$;

-- Recompute the tick columns of the given days from balance_ticks.
CREATE FUNCTION aetheris_rollup_ticks(p_accounts text[], p_days date[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM aetheris_rollup_lock(p_accounts, p_days);

    WITH keys AS (
        SELECT DISTINCT u.account_id, u.day
        FROM unnest(p_accounts, p_days) AS u (account_id, day)
    ), ordered AS (
        SELECT k.account_id, k.day, t.ts, t.equity,
               max(t.equity) OVER running AS peak,
               first_value(t.balance) OVER running AS start_balance,
               last_value(t.balance) OVER whole AS end_balance
        FROM keys k
        JOIN balance_ticks t
          ON t.account_id = k.account_id
         AND t.ts >= (k.day::timestamp AT TIME ZONE 'UTC')
         AND t.ts < ((k.day + 1)::timestamp AT TIME ZONE 'UTC')
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
    WHERE s.account_id = u.account_id AND s.day = u.day AND s.last_tick_at IS NOT NULL
      AND NOT EXISTS (
          SELECT 1 FROM balance_ticks t
          WHERE t.account_id = u.account_id
            AND t.ts >= (u.day::timestamp AT TIME ZONE 'UTC')
            AND t.ts < ((u.day + 1)::timestamp AT TIME ZONE 'UTC')
      );

    DELETE FROM daily_account_snapshots s
    USING unnest(p_accounts, p_days) AS u (account_id, day)
    WHERE s.account_id = u.account_id AND s.day = u.day
      AND s.last_tick_at IS NULL AND s.trades = 0;
END
$$;

-- Recompute the trade columns of the given days from trades closed on them.
CREATE FUNCTION aetheris_rollup_trades(p_accounts text[], p_days date[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM aetheris_rollup_lock(p_accounts, p_days);

    WITH keys AS (
        SELECT DISTINCT u.account_id, u.day
        FROM unnest(p_accounts, p_days) AS u (account_id, day)
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
     AND t.exit_time >= (k.day::timestamp AT TIME ZONE 'UTC')
     AND t.exit_time < ((k.day + 1)::timestamp AT TIME ZONE 'UTC')
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
    WHERE s.account_id = u.account_id AND s.day = u.day AND s.trades <> 0
      AND NOT EXISTS (
          SELECT 1 FROM trades t
          WHERE t.account_id = u.account_id AND t.status = 'closed'
            AND t.exit_time >= (u.day::timestamp AT TIME ZONE 'UTC')
            AND t.exit_time < ((u.day + 1)::timestamp AT TIME ZONE 'UTC')
      );

    DELETE FROM daily_account_snapshots s
    USING unnest(p_accounts, p_days) AS u (account_id, day)
    WHERE s.account_id = u.account_id AND s.day = u.day
      AND s.last_tick_at IS NULL AND s.trades = 0;
END
$$;

-- balance_ticks: inserts that only extend a day (every new tick after the day's last
-- stored tick -- the streaming case) are folded into the stored row; any other change
-- recomputes the affected days from the raw ticks.
CREATE FUNCTION aetheris_ticks_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    key_accounts text[];
    key_days date[];
    key_first timestamptz[];
    late_accounts text[];
    late_days date[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT array_agg(k.account_id), array_agg(k.day), array_agg(k.first_new)
          INTO key_accounts, key_days, key_first
        FROM (SELECT n.account_id, (n.ts AT TIME ZONE 'UTC')::date AS day,
                     min(n.ts) AS first_new
              FROM new_rows n
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

        -- The other days: fold the batch into the stored row. The drawdown of a new tick
        -- is measured from max(stored peak, running peak of the batch), so the day's
        -- drawdown is the largest of the stored one, stored peak - lowest new equity,
        -- and the batch's own.
        WITH ordered AS (
            SELECT n.account_id, (n.ts AT TIME ZONE 'UTC')::date AS day,
                   n.ts, n.equity,
                   max(n.equity) OVER running AS peak,
                   first_value(n.balance) OVER running AS batch_start,
                   last_value(n.balance) OVER whole AS batch_end
            FROM new_rows n
            WINDOW running AS (PARTITION BY n.account_id COLLATE "C",
                                            (n.ts AT TIME ZONE 'UTC')::date
                               ORDER BY n.ts, n.balance, n.equity ROWS UNBOUNDED PRECEDING),
                   whole AS (PARTITION BY n.account_id COLLATE "C",
                                          (n.ts AT TIME ZONE 'UTC')::date
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
        FROM (SELECT o.account_id, (o.ts AT TIME ZONE 'UTC')::date AS day FROM old_rows o
              UNION
              SELECT n.account_id, (n.ts AT TIME ZONE 'UTC')::date FROM new_rows n) k;
        PERFORM aetheris_rollup_ticks(key_accounts, key_days);
    ELSIF TG_OP = 'DELETE' THEN
        SELECT array_agg(k.account_id), array_agg(k.day) INTO key_accounts, key_days
        FROM (SELECT DISTINCT o.account_id, (o.ts AT TIME ZONE 'UTC')::date AS day
              FROM old_rows o) k;
        PERFORM aetheris_rollup_ticks(key_accounts, key_days);
    ELSE -- TRUNCATE
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

CREATE FUNCTION aetheris_trades_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    key_accounts text[];
    key_days date[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT array_agg(k.account_id), array_agg(k.day) INTO key_accounts, key_days
        FROM (SELECT DISTINCT n.account_id, (n.exit_time AT TIME ZONE 'UTC')::date AS day
              FROM new_rows n WHERE n.status = 'closed') k;
    ELSIF TG_OP = 'UPDATE' THEN
        SELECT array_agg(k.account_id), array_agg(k.day) INTO key_accounts, key_days
        FROM (SELECT o.account_id, (o.exit_time AT TIME ZONE 'UTC')::date AS day
              FROM old_rows o WHERE o.status = 'closed'
              UNION
              SELECT n.account_id, (n.exit_time AT TIME ZONE 'UTC')::date
              FROM new_rows n WHERE n.status = 'closed') k;
    ELSIF TG_OP = 'DELETE' THEN
        SELECT array_agg(k.account_id), array_agg(k.day) INTO key_accounts, key_days
        FROM (SELECT DISTINCT o.account_id, (o.exit_time AT TIME ZONE 'UTC')::date AS day
              FROM old_rows o WHERE o.status = 'closed') k;
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

CREATE TRIGGER balance_ticks_rollup_insert AFTER INSERT ON balance_ticks
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION aetheris_ticks_changed();
CREATE TRIGGER balance_ticks_rollup_update AFTER UPDATE ON balance_ticks
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION aetheris_ticks_changed();
CREATE TRIGGER balance_ticks_rollup_delete AFTER DELETE ON balance_ticks
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION aetheris_ticks_changed();
CREATE TRIGGER balance_ticks_rollup_truncate AFTER TRUNCATE ON balance_ticks
    FOR EACH STATEMENT EXECUTE FUNCTION aetheris_ticks_changed();

CREATE TRIGGER trades_rollup_insert AFTER INSERT ON trades
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION aetheris_trades_changed();
CREATE TRIGGER trades_rollup_update AFTER UPDATE ON trades
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION aetheris_trades_changed();
CREATE TRIGGER trades_rollup_delete AFTER DELETE ON trades
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION aetheris_trades_changed();
CREATE TRIGGER trades_rollup_truncate AFTER TRUNCATE ON trades
    FOR EACH STATEMENT EXECUTE FUNCTION aetheris_trades_changed();

-- Rows already present when this migration runs (none on a fresh database).
SELECT aetheris_rollup_ticks(array_agg(k.account_id), array_agg(k.day))
FROM (SELECT DISTINCT account_id, (ts AT TIME ZONE 'UTC')::date AS day FROM balance_ticks) k;
SELECT aetheris_rollup_trades(array_agg(k.account_id), array_agg(k.day))
FROM (SELECT DISTINCT account_id, (exit_time AT TIME ZONE 'UTC')::date AS day
      FROM trades WHERE status = 'closed') k;

-- What the API and dashboards read, on either backend.
CREATE VIEW daily_account_pnl AS
SELECT account_id,
       day,
       start_balance,
       end_balance,
       net_pnl,
       gross_profit,
       gross_loss,
       trades,
       wins,
       losses,
       max_intraday_drawdown,
       high_equity,
       low_equity
FROM daily_account_snapshots;
