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

-- Cash movements (deposits, withdrawals, adjustments) read from broker statements, one
-- row per (account, key): the broker's id for the row, or a digest of its time, amount
-- and comment. A re-import finds them here and reports them as duplicates instead of
-- adding the balance change twice.
CREATE TABLE statement_cash (
    account_id text NOT NULL,
    cash_key text NOT NULL CHECK (cash_key <> ''),
    ts timestamptz NOT NULL,
    amount numeric NOT NULL,
    kind text NOT NULL CHECK (kind IN ('deposit', 'withdrawal', 'adjustment')),
    comment text NOT NULL DEFAULT '',
    source text,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, cash_key)
);
