"""Settings from environment variables (pydantic-settings); nothing else reads the environment."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

NICE_RANGE = (-20, 19)
"""Linux nice values, highest priority first (``AETHERIS_PIPELINE_NICE``, ``--nice``)."""


class Settings(BaseSettings):
    """Every knob of an AETHERIS process. Unset values fall back to the embedded defaults."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", frozen=True)

    # Storage: unset → embedded PostgreSQL (pgserver) under ``data_dir``.
    database_url: SecretStr | None = Field(default=None, alias="DATABASE_URL")
    # TimescaleDB at migration time: "auto" uses it when the server has it, "require"
    # fails without it, "off" keeps plain PostgreSQL (trigger-kept roll-ups).
    db_timescale: Literal["auto", "require", "off"] = Field(
        default="auto", alias="AETHERIS_DB_TIMESCALE"
    )
    db_pool_size: int = Field(default=4, ge=1, alias="AETHERIS_DB_POOL_SIZE")
    # Storage (TimescaleDB / production archive): balance ticks `aetheris pipeline run`
    # keeps per account -- 0: every tick; N > 0: the last tick of each N-second interval
    # plus every tick that fired a breach (docs/storage.md: measured storage cost).
    archive_tick_interval_seconds: float = Field(
        default=60.0, ge=0, alias="AETHERIS_ARCHIVE_TICK_INTERVAL_SECONDS"
    )
    # Message bus: unset → the in-process bus.
    kafka_bootstrap_servers: str | None = Field(default=None, alias="KAFKA_BOOTSTRAP_SERVERS")
    # Cache / fan-out: unset → the in-process equivalent.
    redis_url: str | None = Field(default=None, alias="REDIS_URL")
    secret_key: SecretStr | None = Field(default=None, alias="AETHERIS_SECRET_KEY")
    data_dir: Path = Field(default=Path(".aetheris"), alias="AETHERIS_DATA_DIR")

    # The pipeline's single ordered input topic: account, balance and trade events keyed
    # by account id, so one account's events are applied in publish order (docs/pipeline.md).
    topic_events: str = Field(default="aetheris.events", alias="AETHERIS_TOPIC_EVENTS")
    topic_breaches: str = Field(default="aetheris.breaches", alias="AETHERIS_TOPIC_BREACHES")
    topic_deadletter: str = Field(default="aetheris.deadletter", alias="AETHERIS_TOPIC_DEADLETTER")
    topic_partitions: int = Field(default=4, ge=1, alias="AETHERIS_TOPIC_PARTITIONS")
    topic_replication_factor: int = Field(
        default=1, ge=1, alias="AETHERIS_TOPIC_REPLICATION_FACTOR"
    )
    # Producer batching delay: lower is lower latency, higher is fewer broker requests.
    kafka_linger_ms: float = Field(default=1.0, ge=0, alias="AETHERIS_KAFKA_LINGER_MS")
    # Longest a consumer's fetch waits at the broker for data. Brokers that do not answer a
    # waiting fetch when data arrives (Tansu) add up to this much latency; Kafka does not.
    kafka_fetch_wait_ms: int = Field(default=10, ge=1, alias="AETHERIS_KAFKA_FETCH_WAIT_MS")

    # The least one Bytewax round hands out per worker when that many messages wait (a
    # round hands out half of what waits; pipelines/sources.py, docs/pipeline.md).
    pipeline_round_size: int = Field(default=16, ge=1, alias="AETHERIS_PIPELINE_ROUND_SIZE")
    # The pipeline process's nice value (-20 highest priority … 19 lowest); unset: inherited.
    # On a host it shares with the broker or other services, a negative value keeps its
    # latency from waiting on their CPU time (needs CAP_SYS_NICE; docs/pipeline.md).
    pipeline_nice: int | None = Field(
        default=None, ge=NICE_RANGE[0], le=NICE_RANGE[1], alias="AETHERIS_PIPELINE_NICE"
    )

    recovery_dir: Path | None = Field(default=None, alias="AETHERIS_RECOVERY_DIR")
    snapshot_interval_seconds: float = Field(
        default=5.0, gt=0, alias="AETHERIS_SNAPSHOT_INTERVAL_SECONDS"
    )

    # Live standing (issue 12: account status and live standing): status events go to their
    # own topic; each changed account's standing, breaches and status changes go to Redis
    # (REDIS_URL; the in-process twin without it) under this key prefix, an account's
    # standing at most once per interval (docs/live-standing.md).
    topic_status: str = Field(default="aetheris.status", alias="AETHERIS_TOPIC_STATUS")
    redis_prefix: str = Field(
        default="aetheris",
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9_.:-]+$",
        alias="AETHERIS_REDIS_PREFIX",
    )
    standing_interval_ms: float = Field(
        default=100.0, ge=0, le=60_000, alias="AETHERIS_STANDING_INTERVAL_MS"
    )
    # The most standings one pipeline process publishes a second, all accounts together
    # (0: no bound); accounts beyond it wait, their latest standing going later.
    standings_per_second: float = Field(
        default=2_000.0, ge=0, alias="AETHERIS_STANDINGS_PER_SECOND"
    )
    redis_timeout_seconds: float = Field(
        default=1.0, gt=0, le=60, alias="AETHERIS_REDIS_TIMEOUT_SECONDS"
    )
    # `aetheris api serve` on SIGTERM: requests still running after this many seconds
    # are cancelled, then the process closes its connections and exits.
    shutdown_seconds: int = Field(default=10, ge=1, le=300, alias="AETHERIS_SHUTDOWN_SECONDS")

    # Live broker connectors (`aetheris connect fix|rest`): credentials are never logged.
    fix_password: SecretStr | None = Field(default=None, alias="AETHERIS_FIX_PASSWORD")
    oanda_api_token: SecretStr | None = Field(default=None, alias="AETHERIS_OANDA_API_TOKEN")
    oanda_api_url: str = Field(
        default="https://api-fxpractice.oanda.com", alias="AETHERIS_OANDA_API_URL"
    )

    api_host: str = Field(default="127.0.0.1", alias="AETHERIS_API_HOST")
    api_port: int = Field(default=8000, alias="AETHERIS_API_PORT")

    # Production API, users and sessions (issue 11: api serve, auth, rate limits).
    # Fernet keys for secrets at rest (TOTP secrets, later broker credentials), newest
    # first, comma-separated; `aetheris secrets new-key` makes one, `secrets rotate`
    # re-encrypts everything with the first.
    encryption_keys: SecretStr | None = Field(default=None, alias="AETHERIS_ENCRYPTION_KEYS")
    jwt_issuer: str = Field(default="aetheris", min_length=1, alias="AETHERIS_JWT_ISSUER")
    jwt_audience: str = Field(default="aetheris-api", min_length=1, alias="AETHERIS_JWT_AUDIENCE")
    access_token_minutes: float = Field(
        default=15.0, gt=0, le=60, alias="AETHERIS_ACCESS_TOKEN_MINUTES"
    )
    refresh_token_days: float = Field(
        default=30.0, gt=0, le=365, alias="AETHERIS_REFRESH_TOKEN_DAYS"
    )
    # Rate limits in the `limits` notation ("10/minute", "100/hour"), kept in Redis.
    rate_limit_login: str = Field(default="10/minute", alias="AETHERIS_RATE_LIMIT_LOGIN")
    rate_limit_register: str = Field(default="5/minute", alias="AETHERIS_RATE_LIMIT_REGISTER")
    rate_limit_totp: str = Field(default="10/minute", alias="AETHERIS_RATE_LIMIT_TOTP")
    # Browser origins allowed to call the API (CORS) and open its WebSockets, comma-separated;
    # the page the API serves itself is always allowed.
    allowed_origins: str = Field(default="", alias="AETHERIS_ALLOWED_ORIGINS")
    api_max_body_bytes: int = Field(
        default=65_536, ge=1_024, le=16_777_216, alias="AETHERIS_API_MAX_BODY_BYTES"
    )
    # Interactive API docs at /docs (served without any CDN asset); off unless asked for.
    api_docs: bool = Field(default=False, alias="AETHERIS_API_DOCS")

    # Live streams (issue 12, items 3-4: WebSockets; docs/api.md "Live stream"): ticket
    # lifetime, per-client queue, heartbeat, how long a send may block before the client is
    # dropped (1013), and how often an open socket re-checks its login session.
    ws_ticket_seconds: int = Field(default=30, ge=1, le=600, alias="AETHERIS_WS_TICKET_SECONDS")
    rate_limit_ws_ticket: str = Field(default="60/minute", alias="AETHERIS_RATE_LIMIT_WS_TICKET")
    ws_queue_size: int = Field(default=256, ge=1, le=100_000, alias="AETHERIS_WS_QUEUE_SIZE")
    ws_heartbeat_seconds: float = Field(
        default=15.0, gt=0, le=300, alias="AETHERIS_WS_HEARTBEAT_SECONDS"
    )
    ws_send_timeout_seconds: float = Field(
        default=5.0, gt=0, le=120, alias="AETHERIS_WS_SEND_TIMEOUT_SECONDS"
    )
    ws_session_check_seconds: float = Field(
        default=60.0, gt=0, le=3_600, alias="AETHERIS_WS_SESSION_CHECK_SECONDS"
    )

    # Alerts: signed webhooks and e-mail (issue 12, items 6-7; docs/alerts.md).
    # Networks webhooks may reach although they are not public (comma-separated CIDRs).
    webhook_allowed_networks: str = Field(default="", alias="AETHERIS_WEBHOOK_ALLOWED_NETWORKS")
    webhook_timeout_seconds: float = Field(
        default=10.0, gt=0, le=120, alias="AETHERIS_WEBHOOK_TIMEOUT_SECONDS"
    )
    webhook_max_response_bytes: int = Field(
        default=65_536, ge=0, alias="AETHERIS_WEBHOOK_MAX_RESPONSE_BYTES"
    )
    notify_max_attempts: int = Field(default=8, ge=1, le=50, alias="AETHERIS_NOTIFY_MAX_ATTEMPTS")
    notify_retry_base_seconds: float = Field(
        default=2.0, gt=0, alias="AETHERIS_NOTIFY_RETRY_BASE_SECONDS"
    )
    notify_retry_max_seconds: float = Field(
        default=3600.0, gt=0, alias="AETHERIS_NOTIFY_RETRY_MAX_SECONDS"
    )
    notify_poll_seconds: float = Field(
        default=0.5, gt=0, le=60, alias="AETHERIS_NOTIFY_POLL_SECONDS"
    )
    notify_concurrency: int = Field(default=4, ge=1, le=64, alias="AETHERIS_NOTIFY_CONCURRENCY")
    # SMTP for level-3 e-mail alerts; unset host: no e-mail is sent.
    smtp_host: str | None = Field(default=None, alias="AETHERIS_SMTP_HOST")
    smtp_port: int = Field(default=587, ge=1, le=65535, alias="AETHERIS_SMTP_PORT")
    smtp_user: str | None = Field(default=None, alias="AETHERIS_SMTP_USER")
    smtp_password: SecretStr | None = Field(default=None, alias="AETHERIS_SMTP_PASSWORD")
    smtp_from: str = Field(default="aetheris@localhost", alias="AETHERIS_SMTP_FROM")
    smtp_starttls: bool = Field(default=True, alias="AETHERIS_SMTP_STARTTLS")
    smtp_timeout_seconds: float = Field(
        default=10.0, gt=0, le=120, alias="AETHERIS_SMTP_TIMEOUT_SECONDS"
    )
    # A CA bundle to verify the SMTP server's certificate with (a private CA); unset: the system's.
    smtp_ca_file: Path | None = Field(default=None, alias="AETHERIS_SMTP_CA_FILE")
    # Metrics (issue 12 item 8, branch alerts-metrics): how often the daily KPI snapshot
    # job looks for trading days that ended (0: not in the notify worker's process).
    kpi_snapshot_seconds: float = Field(
        default=60.0, ge=0, le=86_400, alias="AETHERIS_KPI_SNAPSHOT_SECONDS"
    )
    # How long a computed KPI document stays in the Redis cache (0: no cache).
    kpi_cache_seconds: int = Field(
        default=3_600, ge=0, le=604_800, alias="AETHERIS_KPI_CACHE_SECONDS"
    )

    # Broker sync (issue 13, items 6-8: MetaTrader bridge, stored connections, sync jobs;
    # docs/connectors.md). A bridge batch's timestamp may be this far from the server's
    # clock, and its id is remembered this long (replays refused).
    bridge_window_seconds: float = Field(
        default=300.0, ge=10, le=3_600, alias="AETHERIS_BRIDGE_WINDOW_SECONDS"
    )
    bridge_max_body_bytes: int = Field(
        default=1_048_576, ge=1_024, le=67_108_864, alias="AETHERIS_BRIDGE_MAX_BODY_BYTES"
    )
    upload_max_bytes: int = Field(
        default=20_971_520, ge=1_024, le=268_435_456, alias="AETHERIS_UPLOAD_MAX_BYTES"
    )
    # The Redis (rq) queue of sync jobs and the seconds between a failed job's retries.
    sync_queue: str = Field(
        default="aetheris-sync", pattern=r"^[A-Za-z0-9_.:-]{1,64}$", alias="AETHERIS_SYNC_QUEUE"
    )
    sync_retry_seconds: str = Field(default="10,60,300", alias="AETHERIS_SYNC_RETRY_SECONDS")

    # Deployment and observability (issue 16: compose stack, metrics, logs; docs/deploy.md).
    # Each long-running process serves Prometheus metrics at http://HOST:PORT/metrics
    # (unset port: no endpoint; 0: a free port, logged); a port of its own, since the
    # API's /api/v1/metrics routes are the KPI routes.
    metrics_port: int | None = Field(default=None, ge=0, le=65535, alias="AETHERIS_METRICS_PORT")
    metrics_host: str = Field(default="127.0.0.1", alias="AETHERIS_METRICS_HOST")
    # "json": one JSON object per log line, with request and account ids where known.
    log_format: Literal["text", "json"] = Field(default="text", alias="AETHERIS_LOG_FORMAT")


def unset_services(settings: Settings) -> list[str]:
    """The names of the service settings a production process needs (PostgreSQL, Redis,
    Kafka) that are not set, in that order."""
    return [
        name
        for name, value in (
            ("DATABASE_URL", settings.database_url),
            ("REDIS_URL", settings.redis_url),
            ("KAFKA_BOOTSTRAP_SERVERS", settings.kafka_bootstrap_servers),
        )
        if not value
    ]


class SettingsError(ValueError):
    """An environment variable holds a value AETHERIS cannot use; the message names each."""


# Never echoed in an error: they may hold credentials.
_SECRET_WORDS = ("URL", "SECRET", "PASSWORD", "TOKEN", "KEY")


def describe_settings_error(error: ValidationError) -> str:
    """``NAME: what is wrong (got 'value')`` for each bad variable, secrets not shown."""
    parts: list[str] = []
    for item in error.errors(include_url=False):
        name = ".".join(str(part) for part in item["loc"]) or "settings"
        secret = any(word in name.upper() for word in _SECRET_WORDS)
        shown = "" if secret else f" (got {item['input']!r})"
        parts.append(f"{name}: {item['msg']}{shown}")
    return "invalid setting: " + "; ".join(parts)


@cache
def get_settings() -> Settings:
    """The process's settings, read once; :class:`SettingsError` names a bad variable."""
    try:
        return Settings()
    except ValidationError as exc:
        raise SettingsError(describe_settings_error(exc)) from None
