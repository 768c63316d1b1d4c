-- On TimescaleDB the daily roll-up is a continuous aggregate (0002, 0005): no trigger
-- looks up an account's day per row. Nothing to change: this file keeps the two backends'
-- versions in step with 0017_rollup_day_lookup.postgresql.sql.
SELECT 1;
