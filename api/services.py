"""What the app is built from: its adapters (ports) and its limits, chosen by the
composition root (``aetheris``) and handed to :func:`api.app.create_app`."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from limits import RateLimitItem, parse

from api.brokerports import BrokerServices
from api.ports import (
    Accounts,
    Alerts,
    Cipher,
    EventSink,
    History,
    Limiter,
    MetricsStore,
    Revocations,
    Standings,
    Tickets,
    Trades,
    TradingSessions,
    Users,
)
from api.realtime import RealtimeHub
from api.security import AccessTokens, Passwords
from api.webhooks import WebhookService


def _utc_now() -> datetime:
    return datetime.now(UTC)


def new_account_id() -> str:
    """An account id nobody can guess or enumerate (the id used on the bus)."""
    return f"acc_{secrets.token_hex(12)}"


@dataclass(frozen=True)
class ApiLimits:
    """Rate limits, body and page sizes, browser origins."""

    login: RateLimitItem = field(default_factory=lambda: parse("10/minute"))
    register: RateLimitItem = field(default_factory=lambda: parse("5/minute"))
    totp: RateLimitItem = field(default_factory=lambda: parse("10/minute"))
    ticket: RateLimitItem = field(default_factory=lambda: parse("60/minute"))
    max_body_bytes: int = 65_536
    # Larger caps for some paths (path prefix, bytes): the bridge, statement uploads.
    body_limits: tuple[tuple[str, int], ...] = ()
    max_page: int = 500
    allowed_origins: tuple[str, ...] = ()
    refresh_lifetime: timedelta = timedelta(days=30)
    docs: bool = False


@dataclass
class ApiServices:
    users: Users
    accounts: Accounts
    trades: Trades
    sessions: TradingSessions
    standings: Standings
    events: EventSink
    cipher: Cipher
    limiter: Limiter
    tokens: AccessTokens
    passwords: Passwords
    limits: ApiLimits = field(default_factory=ApiLimits)
    history: History | None = None
    # Live streams (issue 12 items 3-4): the WebSocket hub over the live feed, its
    # single-use tickets, and the channel that tells every process a session ended.
    realtime: RealtimeHub | None = None
    tickets: Tickets | None = None
    revocations: Revocations | None = None
    # Broker connections, the MetaTrader bridge and sync jobs (issue 13, items 6-8).
    brokers: BrokerServices | None = None
    # The clock of TOTP time steps (tokens use the real time, as PyJWT checks them).
    clock: Callable[[], datetime] = _utc_now
    account_ids: Callable[[], str] = new_account_id
    # Alerts, webhooks and metrics (issue 12 items 5-8); None: not configured (503).
    alerts: Alerts | None = None
    webhooks: WebhookService | None = None
    metrics: MetricsStore | None = None
    # Called when the app shuts down (pools, publishers, clients it owns).
    closers: list[Callable[[], None]] = field(default_factory=list)
