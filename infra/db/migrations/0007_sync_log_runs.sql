-- Sync logs as runs: a row is opened when an import or a broker sync starts (status
-- 'running'), its counts and progress are updated while it runs, and it is closed with
-- its final status. errors keeps the first errors with row/where/reason; errors_total
-- counts all of them; rows_total / rows_done give progress; format names the statement
-- format or connector, details holds what the file said of itself (broker account,
-- currency, period).

ALTER TABLE sync_logs
    ADD COLUMN format text,
    ADD COLUMN rows_total integer CHECK (rows_total >= 0),
    ADD COLUMN rows_done integer NOT NULL DEFAULT 0 CHECK (rows_done >= 0),
    ADD COLUMN errors_total integer NOT NULL DEFAULT 0 CHECK (errors_total >= 0),
    ADD COLUMN balance_events integer NOT NULL DEFAULT 0 CHECK (balance_events >= 0),
    ADD COLUMN details jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(details) = 'object'),
    ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();

CREATE TRIGGER sync_logs_touch BEFORE UPDATE ON sync_logs
    FOR EACH ROW EXECUTE FUNCTION aetheris_touch_updated_at();

CREATE INDEX sync_logs_running_idx ON sync_logs (started_at) WHERE status = 'running';
