-- Registering an account checked its rule set's time zone against pg_timezone_names, a
-- view that reads the whole time-zone database from disk on each call (20 to 90 ms on
-- our machines). The scale test's 10,000 accounts took minutes to register, and the
-- pipeline's archive writes them on its worker thread, so every account's monitoring
-- waited (BENCHMARKS.md, "Scale test"). The names the view lists when this migration
-- runs are kept in a table: a zone found there is known at once; any other is still
-- checked against the view (a zone added by a later PostgreSQL release), and one the
-- view does not know either counts UTC days, as before.
CREATE TABLE aetheris_known_zones (name text PRIMARY KEY);

INSERT INTO aetheris_known_zones (name)
SELECT DISTINCT name FROM pg_timezone_names
ON CONFLICT DO NOTHING;

CREATE OR REPLACE FUNCTION aetheris_resolve_account_day() RETURNS trigger
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
    IF zone IS NOT NULL AND NOT EXISTS (SELECT 1 FROM aetheris_known_zones WHERE name = zone)
    THEN
        IF NOT EXISTS (SELECT 1 FROM pg_timezone_names WHERE name = zone) THEN
            zone := NULL;
        END IF;
    END IF;
    IF zone IS NULL THEN
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
