"""The event contract (docs/events.md) as frozen, strict pydantic models.

Input events (account, balance, trade) come from connectors; breach events are
what the risk engine emits. Timestamps must carry an offset and are converted
to UTC on entry; unknown fields are rejected.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    PlainSerializer,
    model_validator,
)


def _to_utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00: no year 0 in Python's calendar
        raise ValueError("the timestamp is out of range in UTC") from None


def _format_utc(value: datetime) -> str:
    text = value.astimezone(UTC).isoformat()
    return text.replace("+00:00", "Z")


UtcDatetime = Annotated[
    AwareDatetime,
    AfterValidator(_to_utc),
    PlainSerializer(_format_utc, return_type=str, when_used="json"),
]
"""An ISO-8601 timestamp with an offset or ``Z``, held in UTC, written with ``Z``."""

Money = Annotated[float, Field(allow_inf_nan=False)]
Price = Annotated[float, Field(gt=0, allow_inf_nan=False)]
Quantity = Annotated[float, Field(gt=0, allow_inf_nan=False)]
AccountId = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^\S+$")]

RuleName = Literal[
    "max_daily_loss",
    "max_loss",
    "trailing_drawdown",
    "max_loss_per_trade",
    "overtrading",
    "tilt",
]
RULE_NAMES: tuple[RuleName, ...] = (
    "max_daily_loss",
    "max_loss",
    "trailing_drawdown",
    "max_loss_per_trade",
    "overtrading",
    "tilt",
)


class ContractModel(BaseModel):
    """Base of every message: immutable, unknown fields rejected, no type coercion."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


class AccountEvent(ContractModel):
    """Registers an account and its rule set; must precede the account's ticks."""

    type: Literal["account"] = "account"
    account_id: AccountId
    ruleset: Annotated[str, Field(min_length=1)]
    initial_balance: Annotated[float, Field(gt=0, allow_inf_nan=False)]
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
    overrides: dict[str, JsonValue] | None = None
    name: str | None = None


class BalanceEvent(ContractModel):
    """A snapshot of the account: realised balance and live equity (balance + floating P&L)."""

    type: Literal["balance"] = "balance"
    account_id: AccountId
    ts: UtcDatetime
    balance: Money
    equity: Money

    @property
    def event_time(self) -> datetime:
        return self.ts


class TradeEvent(ContractModel):
    """An opened or closed position; ``pnl`` is net of commission and swap."""

    type: Literal["trade"] = "trade"
    account_id: AccountId
    broker_trade_id: Annotated[str, Field(min_length=1, max_length=128)]
    status: Literal["open", "closed"]
    symbol: Annotated[str, Field(min_length=1, max_length=64)]
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
    mfe: Money | None = None
    mae: Money | None = None
    tags: tuple[str, ...] = ()
    notes: str | None = None

    @model_validator(mode="after")
    def _check_status_fields(self) -> TradeEvent:
        if self.status == "open":
            present = [
                name
                for name in ("exit_price", "exit_time", "pnl")
                if getattr(self, name) is not None
            ]
            if present:
                raise ValueError(
                    f"an open trade has no {', '.join(present)} (set status to 'closed')"
                )
        else:
            missing = [
                name for name in ("exit_price", "exit_time", "pnl") if getattr(self, name) is None
            ]
            if missing:
                raise ValueError(f"a closed trade needs {', '.join(missing)}")
            assert self.exit_time is not None
            if self.exit_time < self.entry_time:
                raise ValueError(
                    f"exit_time {_format_utc(self.exit_time)} is before "
                    f"entry_time {_format_utc(self.entry_time)}"
                )
        return self

    @property
    def event_time(self) -> datetime:
        """When this event happened: the exit for a closed trade, the entry for an open one."""
        if self.exit_time is not None:
            return self.exit_time
        return self.entry_time


class BreachEvent(ContractModel):
    """A risk rule crossed one of its levels (1 warning, 2 danger, 3 breached)."""

    type: Literal["breach"] = "breach"
    breach_id: Annotated[str, Field(min_length=1)]
    account_id: AccountId
    rule: RuleName
    level: Literal[1, 2, 3]
    ts: UtcDatetime
    value: Money
    limit: Money
    threshold: Money | None = None
    message: str


AccountStatus = Literal["active", "locked", "failed", "passed"]
"""An account's standing under its firm's rules (docs/rules.md, "Account status")."""
ACCOUNT_STATUSES: tuple[AccountStatus, ...] = ("active", "locked", "failed", "passed")


class StatusEvent(ContractModel):
    """An account's status changed; emitted at the input event that caused it.

    ``locked``: a daily rule reached level 3, trading stops until ``until`` (the next
    trading day's start). ``failed``: a rule for the account's life reached level 3;
    final. ``passed``: the challenge's objectives are met; final. ``active``: a locked
    account's next trading day started.
    """

    type: Literal["status"] = "status"
    status_id: Annotated[str, Field(min_length=1)]
    account_id: AccountId
    status: AccountStatus
    previous: AccountStatus
    ts: UtcDatetime
    rule: RuleName | None = None
    until: UtcDatetime | None = None
    message: str


OutputEvent = BreachEvent | StatusEvent
"""What the risk engine emits, in the order the input events caused them."""


InputEvent = Annotated[
    AccountEvent | BalanceEvent | TradeEvent,
    Field(discriminator="type"),
]
TickEvent = BalanceEvent | TradeEvent


def event_json(event: BaseModel) -> str:
    """The compact JSON line of an event, ``None`` optionals left out."""
    return event.model_dump_json(exclude_none=True)


def to_jsonable(event: BaseModel) -> dict[str, Any]:
    """The event as a JSON-ready dict (timestamps as ISO strings with ``Z``)."""
    return event.model_dump(mode="json", exclude_none=True)
