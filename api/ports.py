"""What the API needs from the outside, as small interfaces; concrete adapters are wired in
``aetheris`` (the composition root)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any, Protocol
from uuid import UUID

from limits import RateLimitItem
from pydantic import BaseModel, ConfigDict

from infra.db.alerts import AlertQuery, AlertRow
from infra.db.repositories import DailyPnl
from infra.live.tickets import TicketHolder
from schemas import AccountEvent, BreachEvent, TradeEvent
from schemas.api import (
    AccountCreate,
    AccountRecord,
    AccountUpdate,
    Emotion,
    RefreshOutcome,
    SessionView,
    TradeFilter,
    TradePage,
    TradeView,
    UserRecord,
)
from schemas.state import AccountSnapshot


class DailyRow(BaseModel):
    """One account's day in the daily P&L roll-up."""

    model_config = ConfigDict(frozen=True)

    day: date
    net_pnl: float
    trades: int
    wins: int
    losses: int
    end_balance: float | None = None
    max_intraday_drawdown: float | None = None


class StoredAlert(BaseModel):
    """A breach as stored, with its dismissal."""

    model_config = ConfigDict(frozen=True)

    breach: BreachEvent
    dismissed: bool = False
    dismissed_at: datetime | None = None


class History(Protocol):
    """Daily roll-ups (stored alerts: :class:`Alerts`)."""

    def daily(self, account_id: str, days: int) -> list[DailyRow]: ...


# The production API's stores and services (issue 11) ------------------------------------


class Users(Protocol):
    """Users, login sessions and their refresh tokens, TOTP state (infra.db.users)."""

    def create(self, email: str, password_hash: str) -> UserRecord | None: ...

    def by_email(self, email: str) -> UserRecord | None: ...

    def by_id(self, user_id: UUID) -> UserRecord | None: ...

    def session_user(self, user_id: UUID, session_id: UUID) -> UserRecord | None: ...

    def set_password_hash(self, user_id: UUID, password_hash: str, *, changed: bool) -> None: ...

    def start_session(self, user_id: UUID, token_hash: bytes, lifetime: timedelta) -> UUID: ...

    def rotate_refresh(
        self, token_hash: bytes, new_hash: bytes, lifetime: timedelta
    ) -> RefreshOutcome: ...

    def revoke_session(self, session_id: UUID, reason: str) -> None: ...

    def revoke_all_sessions(self, user_id: UUID, reason: str) -> int: ...

    def set_pending_totp(self, user_id: UUID, ciphertext: bytes) -> bool: ...

    def accept_totp_step(self, user_id: UUID, step: int) -> bool: ...

    def enable_totp(self, user_id: UUID, step: int, recovery_hashes: Sequence[bytes]) -> bool: ...

    def use_recovery_code(self, user_id: UUID, code_hash: bytes) -> bool: ...

    def disable_totp(self, user_id: UUID) -> None: ...


class Accounts(Protocol):
    """Accounts by owner (infra.db.accounts)."""

    def create(self, owner_id: UUID, account_id: str, body: AccountCreate) -> AccountRecord: ...

    def get(self, owner_id: UUID, account_id: str) -> AccountRecord | None: ...

    def all(self, owner_id: UUID, limit: int) -> list[AccountRecord]: ...

    def update(
        self, owner_id: UUID, account_id: str, changes: AccountUpdate
    ) -> AccountRecord | None: ...

    def delete(self, owner_id: UUID, account_id: str) -> bool: ...

    def owned_ids(self, owner_id: UUID) -> list[str]: ...


class Trades(Protocol):
    """Trades of the owner's accounts (infra.db.accounts)."""

    def page(
        self,
        owner_id: UUID,
        where: TradeFilter,
        after: tuple[datetime, str] | None,
        limit: int,
    ) -> TradePage: ...

    def get(self, owner_id: UUID, account_id: str, broker_trade_id: str) -> TradeView | None: ...

    def add_manual(
        self, owner_id: UUID, trade: TradeEvent, emotions: Sequence[Emotion]
    ) -> TradeView | None: ...

    def annotate(
        self,
        owner_id: UUID,
        account_id: str,
        broker_trade_id: str,
        *,
        notes: str | None,
        tags: Sequence[str] | None,
        emotions: Sequence[Emotion] | None,
    ) -> TradeView | None: ...

    def delete_manual(self, owner_id: UUID, account_id: str, broker_trade_id: str) -> bool: ...


class TradingSessions(Protocol):
    def start(self, owner_id: UUID, account_id: str, notes: str | None) -> SessionView | None: ...

    def end(self, owner_id: UUID, session_id: int) -> SessionView | None: ...

    def get(self, owner_id: UUID, session_id: int) -> SessionView | None: ...

    def for_account(self, owner_id: UUID, account_id: str, limit: int) -> list[SessionView]: ...


class Standings(Protocol):
    """The live standing of accounts, as far as the stream side has reported them."""

    def get_many(self, account_ids: Sequence[str]) -> dict[str, AccountSnapshot]: ...


class EventSink(Protocol):
    """Publishes the events the pipeline must see (an account registered or changed, a
    trade added by hand), and waits until the bus has them."""

    def publish(self, event: AccountEvent | TradeEvent) -> None: ...


class Cipher(Protocol):
    """Secrets at rest (infra.secrets.SecretBox)."""

    def encrypt(self, plaintext: bytes) -> bytes: ...

    def decrypt(self, ciphertext: bytes) -> bytes: ...


class Limiter(Protocol):
    """Counts one attempt; ``None`` when allowed, else seconds to wait (infra.ratelimit)."""

    def hit(self, limit: RateLimitItem, *identifiers: str) -> float | None: ...


class PublishError(RuntimeError):
    """The event bus did not acknowledge an event in time."""


class Tickets(Protocol):
    """Single-use WebSocket tickets (infra.live.tickets): ``redeem`` answers once."""

    @property
    def lifetime_seconds(self) -> int: ...

    def issue(self, holder: TicketHolder) -> str: ...

    def redeem(self, ticket: str) -> TicketHolder | None: ...


class Revocations(Protocol):
    """Tells every API process that sessions ended, so it closes their WebSockets."""

    def session_ended(self, session_id: UUID) -> None: ...

    def user_sessions_ended(self, user_id: UUID) -> None: ...


# Alerts, webhooks and metrics (issue 12 items 5-8) --------------------------------------


class Alerts(Protocol):
    """The owner's stored alerts and alert settings (infra.db.alerts)."""

    def page(self, owner_id: UUID, query: AlertQuery) -> list[AlertRow]: ...

    def dismiss(self, owner_id: UUID, breach_id: str, at: datetime) -> bool: ...

    def email_level3(self, owner_id: UUID) -> bool: ...

    def set_email_level3(self, owner_id: UUID, enabled: bool) -> None: ...


class EquityPointLike(Protocol):
    @property
    def ts(self) -> datetime: ...

    @property
    def balance(self) -> float: ...

    @property
    def equity(self) -> float: ...


class MixedCurrencies(ValueError):
    """Accounts in different currencies asked for as one book without naming a currency."""

    def __init__(self, currencies: Sequence[str]) -> None:
        self.currencies = tuple(currencies)
        super().__init__(", ".join(self.currencies))


class MetricsStore(Protocol):
    """KPIs, day snapshots, the P&L calendar and the equity curve (api.metrics)."""

    def kpis(
        self, account_id: str, since: datetime | None, until: datetime | None
    ) -> bytes | None: ...

    def book_kpis(
        self,
        account_ids: list[str],
        since: datetime | None,
        until: datetime | None,
        currency: str | None,
    ) -> bytes:
        """Raises :class:`MixedCurrencies` when ``currency`` is None and the accounts are
        in more than one."""
        ...

    def day_kpis(self, account_id: str, day: date) -> dict[str, Any] | None: ...

    def calendar(self, account_id: str, first: date, last: date) -> Sequence[DailyPnl]: ...

    def equity_curve(
        self, account_id: str, since: datetime | None, until: datetime | None, buckets: int
    ) -> Sequence[EquityPointLike]: ...
