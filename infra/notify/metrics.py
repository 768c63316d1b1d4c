"""The notify worker's Prometheus metrics (``aetheris worker notify``; docs/deploy.md)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

BREACHES_READ = Counter(
    "aetheris_notify_breaches_read",
    "Breach events the worker read from the breach topic and queued deliveries for.",
)
BAD_MESSAGES = Counter(
    "aetheris_notify_bad_messages",
    "Messages on the breach topic that were not breach events (kept as dead letters).",
)
QUEUED = Counter(
    "aetheris_notify_queued",
    "Deliveries queued, by channel (webhook, email).",
    ["channel"],
)
DELIVERIES = Counter(
    "aetheris_notify_deliveries",
    "Delivery attempts, by channel and outcome: succeeded, failed (a retry is scheduled) "
    "or dead (no attempt left).",
    ["channel", "outcome"],
)
RETRIES = Counter(
    "aetheris_notify_retries",
    "Failed attempts after which a retry was scheduled, by channel.",
    ["channel"],
)
FAILURES = Counter(
    "aetheris_notify_failures",
    "Deliveries given up on after their last attempt, by channel.",
    ["channel"],
)
ATTEMPT_SECONDS = Histogram(
    "aetheris_notify_attempt_seconds",
    "Time one delivery attempt took (the HTTP request or the SMTP session), by channel.",
    ["channel"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
