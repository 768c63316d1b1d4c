-- The roll-up triggers found each changed row's trading day by calling
-- aetheris_account_day(account) once per row (a LATERAL call, not inlined): a query on
-- accounts for every trade or tick changed. A statement of 1,000,000 trades of one account
-- spent 5 to 7 s there, against 0.6 s to recompute the 348 days they touched
-- (BENCHMARKS.md, "Statement imports: the roll-up's day lookup"). The account's day rule
-- is now joined once per statement, as the tick insert trigger already did: the same days
-- (an account not registered yet still counts UTC days from midnight), far fewer lookups.

CREATE OR REPLACE FUNCTION aetheris_trades_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    key_accounts text[];
    key_days date[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT array_agg(k.account_id), array_agg(k.day) INTO key_accounts, key_days
        FROM (SELECT DISTINCT n.account_id,
                     aetheris_trading_day(n.exit_time, coalesce(a.day_zone, 'UTC'),
                                          coalesce(a.day_start, time '00:00')) AS day
              FROM new_rows n LEFT JOIN accounts a ON a.account_id = n.account_id
              WHERE n.status = 'closed') k;
    ELSIF TG_OP = 'UPDATE' THEN
        SELECT array_agg(k.account_id), array_agg(k.day) INTO key_accounts, key_days
        FROM (SELECT DISTINCT r.account_id,
                     aetheris_trading_day(r.exit_time, coalesce(a.day_zone, 'UTC'),
                                          coalesce(a.day_start, time '00:00')) AS day
              FROM (SELECT account_id, exit_time FROM old_rows WHERE status = 'closed'
                    UNION ALL
                    SELECT account_id, exit_time FROM new_rows WHERE status = 'closed') r
              LEFT JOIN accounts a ON a.account_id = r.account_id) k;
    ELSIF TG_OP = 'DELETE' THEN
        SELECT array_agg(k.account_id), array_agg(k.day) INTO key_accounts, key_days
        FROM (SELECT DISTINCT o.account_id,
                     aetheris_trading_day(o.exit_time, coalesce(a.day_zone, 'UTC'),
                                          coalesce(a.day_start, time '00:00')) AS day
              FROM old_rows o LEFT JOIN accounts a ON a.account_id = o.account_id
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
    FROM (SELECT DISTINCT o.account_id,
                 aetheris_trading_day(o.ts, coalesce(a.day_zone, 'UTC'),
                                      coalesce(a.day_start, time '00:00')) AS day
          FROM old_rows o LEFT JOIN accounts a ON a.account_id = o.account_id) k;
    IF key_accounts IS NOT NULL THEN
        PERFORM aetheris_rollup_ticks(key_accounts, key_days);
    END IF;
    RETURN NULL;
END
$$;
