-- AETHERIS 0012: daily KPI snapshots (issue 12, item 8).
-- One row per account and trading day, written once by the snapshot job when the day has
-- ended (by the account's rule set's time zone and day start); GET /metrics/{id}/{date}
-- reads it. The same statements run on plain PostgreSQL and on TimescaleDB.
CREATE TABLE daily_kpi_snapshots (
    account_id text NOT NULL,
    day date NOT NULL,
    day_start timestamptz NOT NULL,
    day_end timestamptz NOT NULL CHECK (day_end > day_start),
    kpis jsonb NOT NULL CHECK (jsonb_typeof(kpis) = 'object'),
    computed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, day)
);
CREATE INDEX daily_kpi_snapshots_end_idx ON daily_kpi_snapshots (account_id, day_end DESC);
