-- AETHERIS 0009: signed webhooks and e-mail alerts (issue 12, items 6 and 7).
-- Extends webhook_endpoints / webhook_deliveries of 0001; adds the e-mail queue, one row
-- per delivery attempt, per-user e-mail opt-in and the notify worker's bus offsets.
-- The same statements run on plain PostgreSQL and on TimescaleDB.

-- The breach levels an endpoint receives (the API's "levels"; all three by default).
ALTER TABLE webhook_endpoints
    ADD COLUMN levels smallint[] NOT NULL DEFAULT '{1,2,3}',
    ADD CONSTRAINT webhook_endpoints_levels
        CHECK (cardinality(levels) BETWEEN 1 AND 3 AND levels <@ '{1,2,3}'::smallint[]);

-- A delivery's ``webhook-id`` is fixed when it is queued and kept over every retry, so a
-- receiver can drop repeats. ``lease_expires_at``: a worker has claimed the delivery
-- (status 'delivering') until then; a worker that died mid-send leaves it to be taken up
-- again when the lease runs out.
ALTER TABLE webhook_deliveries
    ADD COLUMN message_id text,
    ADD COLUMN lease_expires_at timestamptz;
UPDATE webhook_deliveries SET message_id = 'msg_' || endpoint_id::text || '_' || id::text;
ALTER TABLE webhook_deliveries
    ALTER COLUMN message_id SET NOT NULL,
    ALTER COLUMN next_attempt_at SET NOT NULL,
    ADD CONSTRAINT webhook_deliveries_message_key UNIQUE (message_id),
    ADD CONSTRAINT webhook_deliveries_leased
        CHECK (status <> 'delivering' OR lease_expires_at IS NOT NULL);
CREATE INDEX webhook_deliveries_lease_idx ON webhook_deliveries (lease_expires_at)
    WHERE status = 'delivering';

-- E-mail alerts are opt-in per user.
ALTER TABLE users ADD COLUMN email_alerts boolean NOT NULL DEFAULT false;

-- One e-mail per (user, event): a replayed breach is mailed once.
CREATE TABLE email_deliveries (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    to_address text NOT NULL CHECK (to_address LIKE '%_@_%'),
    event_type text NOT NULL,
    event_id text NOT NULL,
    payload jsonb NOT NULL,
    status text NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'delivering', 'succeeded', 'failed', 'dead')),
    attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    lease_expires_at timestamptz,
    last_status_code integer,
    last_error text,
    created_at timestamptz NOT NULL DEFAULT now(),
    delivered_at timestamptz,
    CONSTRAINT email_deliveries_event_key UNIQUE (user_id, event_id),
    CONSTRAINT email_deliveries_leased
        CHECK (status <> 'delivering' OR lease_expires_at IS NOT NULL)
);
CREATE INDEX email_deliveries_due_idx ON email_deliveries (next_attempt_at)
    WHERE status IN ('pending', 'failed');
CREATE INDEX email_deliveries_lease_idx ON email_deliveries (lease_expires_at)
    WHERE status = 'delivering';

-- Every attempt: when, how long, the HTTP status or SMTP reply code, the error. A row
-- with ``finished_at`` NULL is in flight, or was cut short by a worker that stopped.
CREATE TABLE webhook_attempts (
    delivery_id bigint NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempt integer NOT NULL CHECK (attempt >= 1),
    started_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    duration_ms double precision CHECK (duration_ms >= 0),
    status_code integer,
    succeeded boolean,
    error text,
    PRIMARY KEY (delivery_id, attempt)
);

CREATE TABLE email_attempts (
    delivery_id bigint NOT NULL REFERENCES email_deliveries (id) ON DELETE CASCADE,
    attempt integer NOT NULL CHECK (attempt >= 1),
    started_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    duration_ms double precision CHECK (duration_ms >= 0),
    status_code integer,
    succeeded boolean,
    error text,
    PRIMARY KEY (delivery_id, attempt)
);

-- The notify worker's position on the breach topic, committed in the same transaction as
-- the deliveries it queued: a restart neither loses nor re-queues a breach.
CREATE TABLE notify_offsets (
    consumer text NOT NULL,
    topic text NOT NULL,
    partition integer NOT NULL CHECK (partition >= 0),
    next_offset bigint NOT NULL CHECK (next_offset >= 0),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, topic, partition)
);
