"""Wiring of the production API (composition root): settings → adapters → app.

``aetheris api serve`` checks the settings and the services once, migrates, then starts
uvicorn; each worker process builds its app with :func:`app_from_settings`.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import timedelta

import redis
from fastapi import FastAPI

from aetheris.brokers import body_limits, broker_services
from aetheris.notify import webhook_service
from api.app import create_app
from api.history import DatabaseHistory
from api.metrics import DatabaseMetrics
from api.observability import MeasuredRealtimeHub, ObservabilityMiddleware
from api.ports import EventSink, Limiter, PublishError, Revocations, Standings, Tickets
from api.realtime import RealtimeHub, RealtimeLimits
from api.security import AccessTokens, Passwords, check_secret_key
from api.services import ApiLimits, ApiServices
from infra.bus import EventPublisher, Topics
from infra.bus.port import Bus, BusError
from infra.db.accounts import (
    PostgresAccounts,
    PostgresSessions,
    PostgresTrades,
)
from infra.db.alerts import PostgresAlerts
from infra.db.pool import Pool, create_pool
from infra.db.users import PostgresUsers
from infra.kpi_cache import KpiCache, RedisKpiCache
from infra.live.feed import RedisFeed
from infra.live.tickets import RedisRevocations, RedisTickets
from infra.notify.cipher import KeyBoxCipher, cipher_from_secret_key
from infra.ratelimit import RateLimiter, parse_limit
from infra.secrets import SecretBox, parse_keys
from infra.settings import Settings
from infra.standings import RedisStandings
from schemas import AccountEvent, TradeEvent, event_json

log = logging.getLogger(__name__)

PUBLISH_TIMEOUT_SECONDS = 10.0
REDIS_TIMEOUT_SECONDS = 2.0


class BusEventSink:
    """:class:`api.ports.EventSink` on a bus publisher: publish, then wait for the broker's
    acknowledgement of that very message (bounded)."""

    def __init__(self, bus: Bus, topics: Topics, timeout: float = PUBLISH_TIMEOUT_SECONDS) -> None:
        self._publisher = EventPublisher(bus.publisher(), topics)
        self._topics = topics
        self._timeout = timeout

    def publish(self, event: AccountEvent | TradeEvent) -> None:
        done = threading.Event()
        failure: list[str] = []

        def delivered(error: str | None) -> None:
            if error is not None:
                failure.append(error)
            done.set()

        try:
            self._publisher.publisher.publish(
                self._topics.events,
                event.account_id,
                event_json(event).encode("utf-8"),
                on_delivery=delivered,
            )
            self._publisher.flush(self._timeout)
        except BusError as exc:
            if not done.is_set() or failure:
                raise PublishError(str(exc)) from None
        if not done.is_set() or failure:
            raise PublishError("; ".join(failure) or "no acknowledgement from the bus")

    def close(self) -> None:
        try:
            self._publisher.close()
        except BusError as exc:
            log.warning("closing the API's event publisher: %s", exc)


@dataclass
class ApiSecrets:
    """The checked secrets of an API process."""

    tokens: AccessTokens
    cipher: SecretBox


def api_secrets(settings: Settings) -> ApiSecrets:
    """Signing key and encryption keys, checked (:class:`ValueError` says what is wrong)."""
    key = settings.secret_key.get_secret_value() if settings.secret_key is not None else None
    tokens = AccessTokens(
        check_secret_key(key),
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        lifetime=timedelta(minutes=settings.access_token_minutes),
    )
    return ApiSecrets(tokens=tokens, cipher=SecretBox(parse_keys(settings.encryption_keys)))


def api_limits(settings: Settings, *, extra_origins: tuple[str, ...] = ()) -> ApiLimits:
    origins = tuple(o.strip() for o in settings.allowed_origins.split(",") if o.strip())
    return ApiLimits(
        login=parse_limit(settings.rate_limit_login, name="AETHERIS_RATE_LIMIT_LOGIN"),
        register=parse_limit(settings.rate_limit_register, name="AETHERIS_RATE_LIMIT_REGISTER"),
        totp=parse_limit(settings.rate_limit_totp, name="AETHERIS_RATE_LIMIT_TOTP"),
        ticket=parse_limit(settings.rate_limit_ws_ticket, name="AETHERIS_RATE_LIMIT_WS_TICKET"),
        max_body_bytes=settings.api_max_body_bytes,
        body_limits=body_limits(settings),
        allowed_origins=origins + extra_origins,
        refresh_lifetime=timedelta(days=settings.refresh_token_days),
        docs=settings.api_docs,
    )


def build_services(
    settings: Settings,
    pool: Pool,
    *,
    standings: Standings,
    events: EventSink,
    limiter: Limiter,
    realtime: RealtimeHub | None = None,
    tickets: Tickets | None = None,
    revocations: Revocations | None = None,
    secrets: ApiSecrets | None = None,
    passwords: Passwords | None = None,
    extra_origins: tuple[str, ...] = (),
    kpi_cache: KpiCache | None = None,
) -> ApiServices:
    checked = secrets or api_secrets(settings)
    return ApiServices(
        users=PostgresUsers(pool),
        accounts=PostgresAccounts(pool),
        trades=PostgresTrades(pool),
        sessions=PostgresSessions(pool),
        standings=standings,
        events=events,
        cipher=checked.cipher,
        limiter=limiter,
        tokens=checked.tokens,
        passwords=passwords or Passwords(),
        limits=api_limits(settings, extra_origins=extra_origins),
        history=DatabaseHistory(pool),
        realtime=realtime,
        tickets=tickets,
        revocations=revocations,
        alerts=PostgresAlerts(pool),
        webhooks=webhook_service(
            settings,
            pool,
            KeyBoxCipher(
                checked.cipher,
                cipher_from_secret_key(settings.secret_key) if settings.secret_key else None,
            ),
        ),
        metrics=DatabaseMetrics(pool, kpi_cache),
    )


def realtime_limits(settings: Settings) -> RealtimeLimits:
    return RealtimeLimits(
        queue_size=settings.ws_queue_size,
        heartbeat_seconds=settings.ws_heartbeat_seconds,
        send_timeout_seconds=settings.ws_send_timeout_seconds,
        session_check_seconds=settings.ws_session_check_seconds,
    )


def redis_client(url: str) -> redis.Redis[bytes]:
    return redis.Redis.from_url(
        url,
        socket_timeout=REDIS_TIMEOUT_SECONDS,
        socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
    )


def production_app(settings: Settings) -> FastAPI:
    """The app on PostgreSQL, Redis and Kafka from ``settings`` (closed at shutdown)."""
    from infra.bus.kafka import KafkaBus  # noqa: PLC0415 - librdkafka only where needed

    if not (settings.database_url and settings.redis_url and settings.kafka_bootstrap_servers):
        raise ValueError("DATABASE_URL, REDIS_URL and KAFKA_BOOTSTRAP_SERVERS must all be set")
    pool = create_pool(
        settings.database_url.get_secret_value(),
        size=settings.db_pool_size,
        name="aetheris-api",
        application_name="aetheris-api",
        timeout=10.0,
    )
    bus = KafkaBus(
        settings.kafka_bootstrap_servers,
        client_id="aetheris-api",
        linger_ms=0,
        replication_factor=settings.topic_replication_factor,
    )
    sink = BusEventSink(bus, Topics.from_settings(settings))
    client = redis_client(settings.redis_url)
    checked = api_secrets(settings)
    services = build_services(
        settings,
        pool,
        standings=RedisStandings(client, settings.redis_prefix),
        events=sink,
        limiter=RateLimiter.redis(settings.redis_url, settings.redis_prefix),
        secrets=checked,
        realtime=MeasuredRealtimeHub(
            RedisFeed(settings.redis_url, settings.redis_prefix, REDIS_TIMEOUT_SECONDS),
            realtime_limits(settings),
        ),
        tickets=RedisTickets(client, settings.redis_prefix, settings.ws_ticket_seconds),
        revocations=RedisRevocations(client, settings.redis_prefix),
        kpi_cache=RedisKpiCache(client, settings.redis_prefix, settings.kpi_cache_seconds)
        if settings.kpi_cache_seconds > 0
        else None,
    )
    brokers_publisher = EventPublisher(bus.publisher(), Topics.from_settings(settings))
    services.brokers = broker_services(settings, pool, brokers_publisher, checked.cipher, client)
    services.closers.extend([sink.close, brokers_publisher.close, client.close, pool.close])
    app = create_app(services)
    # Outermost: request metrics and ids cover every route and every middleware's answer.
    app.add_middleware(ObservabilityMiddleware)
    return app


def app_from_settings() -> FastAPI:
    """uvicorn's app factory in each worker of ``aetheris api serve``."""
    from infra.observability import dump_stacks_on_sigusr1  # noqa: PLC0415
    from infra.settings import get_settings  # noqa: PLC0415

    dump_stacks_on_sigusr1()
    return production_app(get_settings())
