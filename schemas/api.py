"""Bodies and records of the production API (users, accounts, trades, trading sessions).

Request bodies refuse unknown fields, so an extra ``user_id`` or ``owner_id`` is a 422
and never reaches storage (no mass assignment). Records are what storage hands back.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, JsonValue, StringConstraints

from schemas.events import Money, Price, Quantity, UtcDatetime
from schemas.rulesets import builtin_rulesets
from schemas.state import AccountSnapshot

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$"
"""Ids accepted in a URL: 1-128 printable ASCII characters, no spaces, slashes or NULs."""

ISO_TIMESTAMP = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?"
    r"(Z|[+-][0-9]{2}:[0-9]{2})$"
)
"""A timestamp in a query string: ISO-8601 with seconds optional and an offset required."""


def parse_timestamp(value: str) -> datetime | None:
    """The moment an :data:`ISO_TIMESTAMP` names, in UTC (``None`` if it is not a date)."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment.astimezone(UTC) if moment.tzinfo is not None else None


PRINTABLE = r"^[!-~]+$"
"""Printable ASCII without spaces: the same set in Python and in JSON Schema regexes (the
"non-space" class is not: Python counts U+0085 as a space, JavaScript does not)."""

Email = Annotated[
    str,
    StringConstraints(to_lower=True, max_length=254, pattern=r"^[!-?A-~]+@[!-?A-~]+\.[!-?A-~]+$"),
]
Password = Annotated[str, Field(min_length=1, max_length=256)]
NewPassword = Annotated[str, Field(min_length=10, max_length=256)]
OneTimeCode = Annotated[str, Field(min_length=6, max_length=32, pattern=r"^[0-9A-Za-z -]+$")]
Name = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[^\x00]+$")]
RulesetName = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        pattern=r"^[a-z0-9][a-z0-9-]*$",
        json_schema_extra={"enum": sorted(builtin_rulesets())},
        description="a built-in rule template",
    ),
]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
Broker = Annotated[str, Field(pattern=r"^[a-z0-9_-]{1,32}$")]
BrokerAccountId = Annotated[str, Field(min_length=1, max_length=128, pattern=PRINTABLE)]
Balance = Annotated[float, Field(gt=0, le=1e12, allow_inf_nan=False)]
Tag = Annotated[str, Field(min_length=1, max_length=40, pattern=PRINTABLE)]
Notes = Annotated[str, Field(max_length=4_000, pattern=r"^[^\x00]*$")]

Emotion = Literal["FOMO", "REVENGE", "OVERCONFIDENCE", "LOSS_AVERSION", "ANCHORING"]
"""Emotion and bias tags a trader puts on a trade."""


class Body(BaseModel):
    """A request body: unknown fields are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Record(BaseModel):
    """A response or storage record."""

    model_config = ConfigDict(frozen=True)


# Identity -------------------------------------------------------------------------------


class RegisterBody(Body):
    email: Email
    password: NewPassword


class LoginBody(Body):
    email: Email
    password: Password
    totp_code: OneTimeCode | None = None


class RefreshBody(Body):
    refresh_token: Annotated[str, Field(min_length=1, max_length=200)]


class CodeBody(Body):
    code: OneTimeCode


class PasswordChangeBody(Body):
    current_password: Password
    new_password: NewPassword


class RegisteredUser(Record):
    id: UUID
    email: str


class UserView(Record):
    id: UUID
    email: str
    totp_enabled: bool


class TokenPair(Record):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the scheme, not a secret
    expires_in: int


class TotpEnrolment(Record):
    secret: str
    otpauth_uri: str
    qr_svg: str


class RecoveryCodes(Record):
    recovery_codes: list[str]


class UserRecord(Record):
    """A user as stored (the password hash and the TOTP ciphertext never leave the API)."""

    id: UUID
    email: str
    password_hash: str | None
    totp_enabled: bool
    totp_secret_ciphertext: bytes | None
    totp_last_step: int | None
    is_active: bool


class RefreshOutcome(Record):
    """What presenting a refresh token found: ``fresh`` (now spent, exchanged), ``reused``
    (already spent: its session is revoked now) or ``invalid`` (unknown, expired, revoked)."""

    outcome: Literal["fresh", "reused", "invalid"]
    user_id: UUID | None = None
    session_id: UUID | None = None


# Accounts -------------------------------------------------------------------------------


class AccountCreate(Body):
    name: Name
    ruleset: RulesetName
    initial_balance: Balance
    currency: Currency
    overrides: dict[str, JsonValue] | None = None
    broker: Broker | None = None
    broker_account_id: BrokerAccountId | None = None


class AccountUpdate(Body):
    """Fields to change; a field left out keeps its value."""

    name: Name | None = None
    ruleset: RulesetName | None = None
    initial_balance: Balance | None = None
    currency: Currency | None = None
    overrides: dict[str, JsonValue] | None = None
    broker: Broker | None = None
    broker_account_id: BrokerAccountId | None = None


class AccountRecord(Record):
    id: str
    name: str | None
    ruleset: str
    initial_balance: float
    currency: str
    overrides: dict[str, JsonValue]
    broker: str | None
    broker_account_id: str | None
    status: str
    created_at: UtcDatetime


class AccountView(AccountRecord):
    """The account and its live standing (``None`` until the pipeline has reported it)."""

    standing: AccountSnapshot | None = None


# Trades ---------------------------------------------------------------------------------


class TradeCreate(Body):
    """A trade added by hand; checked like a broker's trade event, then published."""

    account_id: Annotated[str, Field(pattern=ID_PATTERN)]
    broker_trade_id: BrokerAccountId | None = None
    status: Literal["open", "closed"]
    symbol: Annotated[str, Field(min_length=1, max_length=64, pattern=PRINTABLE)]
    side: Literal["long", "short"]
    quantity: Quantity
    entry_price: Price
    entry_time: UtcDatetime
    exit_price: Price | None = None
    exit_time: UtcDatetime | None = None
    pnl: Money | None = None
    commission: Money = 0.0
    swap: Money = 0.0
    stop_loss: Price | None = None
    take_profit: Price | None = None
    notes: Notes | None = None
    tags: Annotated[list[Tag], Field(max_length=20)] = []
    emotions: Annotated[list[Emotion], Field(max_length=5)] = []


class TradeUpdate(Body):
    """Journal fields of a trade; a field left out keeps its value."""

    notes: Notes | None = None
    tags: Annotated[list[Tag], Field(max_length=20)] | None = None
    emotions: Annotated[list[Emotion], Field(max_length=5)] | None = None


class TradeView(Record):
    id: str
    account_id: str
    broker_trade_id: str
    status: str
    symbol: str
    side: str
    quantity: float
    entry_price: float
    entry_time: UtcDatetime
    exit_price: float | None
    exit_time: UtcDatetime | None
    pnl: float | None
    commission: float
    swap: float
    stop_loss: float | None
    take_profit: float | None
    tags: list[str]
    emotions: list[Emotion]
    notes: str | None
    manual: bool


class TradePage(Record):
    items: list[TradeView]
    next_cursor: str | None


class TradeFilter(Record):
    """Filters of ``GET /trades`` (all optional but the account)."""

    account_id: str
    status: Literal["open", "closed"] | None = None
    symbol: str | None = None
    tag: str | None = None
    emotion: Emotion | None = None
    since: datetime | None = None
    until: datetime | None = None


# Trading sessions -----------------------------------------------------------------------


class SessionStart(Body):
    account_id: Annotated[str, Field(pattern=ID_PATTERN)]
    notes: Notes | None = None


class SessionView(Record):
    """A trading session with what happened in it (trades closed inside it, their net P&L,
    and whether the tilt rule fired)."""

    id: int
    account_id: str
    started_at: UtcDatetime
    ended_at: UtcDatetime | None
    trade_count: int
    pnl: float
    tilt: bool
    notes: str | None


# Trade ids ------------------------------------------------------------------------------
# A trade is keyed by (account_id, broker_trade_id); its id in a URL is both, joined by a
# unit separator and base64url-encoded, so it is one path segment of safe characters.

TRADE_ID_PATTERN = r"^[A-Za-z0-9_-]{4,400}$"


def trade_id(account_id: str, broker_trade_id: str) -> str:
    raw = f"{account_id}\x1f{broker_trade_id}".encode()
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def parse_trade_id(value: str) -> tuple[str, str] | None:
    """``(account_id, broker_trade_id)`` of a trade id, or ``None`` when it is not one."""
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return None
    account_id, separator, broker_trade_id = raw.partition("\x1f")
    if not separator or not account_id or not broker_trade_id or "\x00" in raw:
        return None
    return account_id, broker_trade_id


# Trade page cursors ---------------------------------------------------------------------


def encode_cursor(entry_time: datetime, broker_trade_id: str) -> str:
    raw = json.dumps([entry_time.isoformat(), broker_trade_id]).encode()
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str] | None:
    """The position a cursor names, or ``None`` when it is not one of ours."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        entry_time, broker_trade_id = json.loads(raw)
        moment = datetime.fromisoformat(entry_time)
    except (ValueError, TypeError, UnicodeDecodeError):
        return None
    if moment.tzinfo is None or not isinstance(broker_trade_id, str) or "\x00" in broker_trade_id:
        return None
    return moment, broker_trade_id
