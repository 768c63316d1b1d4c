-- Raw tick retention on plain PostgreSQL (TimescaleDB drops old chunks by its retention
-- policy instead, 0002). `aetheris db prune` deletes ticks older than a cutoff in
-- batches with aetheris.pruning set for each batch's transaction: the delete trigger
-- then leaves those days' roll-up rows as they are, so the dashboard's daily figures
-- outlive the raw ticks, as they do on TimescaleDB. Any other DELETE recomputes the
-- days it touched from the ticks that remain, as before.

CREATE FUNCTION aetheris_ticks_deleted() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    key_accounts text[];
    key_days date[];
BEGIN
    IF current_setting('aetheris.pruning', true) = 'on' THEN
        RETURN NULL;
    END IF;
    SELECT array_agg(k.account_id), array_agg(k.day) INTO key_accounts, key_days
    FROM (SELECT DISTINCT o.account_id, (o.ts AT TIME ZONE 'UTC')::date AS day
          FROM old_rows o) k;
    IF key_accounts IS NOT NULL THEN
        PERFORM aetheris_rollup_ticks(key_accounts, key_days);
    END IF;
    RETURN NULL;
END
$$;

DROP TRIGGER balance_ticks_rollup_delete ON balance_ticks;
CREATE TRIGGER balance_ticks_rollup_delete AFTER DELETE ON balance_ticks
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION aetheris_ticks_deleted();
