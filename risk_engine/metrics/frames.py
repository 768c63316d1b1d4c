"""The journal as polars frames: closed trades, balance snapshots and accounts.

The metrics engine works on columns, not on event objects, so that a million
trades cost one pass of vectorised expressions. :func:`journal_from_events`
builds the frames from contract events; callers that already hold columns
(the database, a benchmark) build :class:`Journal` directly and it conforms
the frames to the schemas below.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import polars as pl

from schemas.events import AccountEvent, BalanceEvent, TradeEvent

UTC_TIME = pl.Datetime("us", "UTC")

TRADE_SCHEMA: Mapping[str, pl.DataType] = {
    "account_id": pl.String(),
    "broker_trade_id": pl.String(),
    "symbol": pl.String(),
    "side": pl.String(),
    "quantity": pl.Float64(),
    "entry_price": pl.Float64(),
    "exit_price": pl.Float64(),
    "entry_time": UTC_TIME,
    "exit_time": UTC_TIME,
    "pnl": pl.Float64(),
    "commission": pl.Float64(),
    "swap": pl.Float64(),
    "stop_loss": pl.Float64(),
    "take_profit": pl.Float64(),
    "mfe": pl.Float64(),
    "mae": pl.Float64(),
    "tags": pl.List(pl.String()),
}
"""Closed trades, one row per trade; ``pnl`` is net of commission and swap."""

TRADE_REQUIRED = (
    "account_id",
    "side",
    "entry_price",
    "exit_price",
    "entry_time",
    "exit_time",
    "pnl",
)

BALANCE_SCHEMA: Mapping[str, pl.DataType] = {
    "account_id": pl.String(),
    "ts": UTC_TIME,
    "balance": pl.Float64(),
    "equity": pl.Float64(),
}
"""Balance snapshots: realised balance and live equity at ``ts``."""

BALANCE_REQUIRED = ("account_id", "ts", "equity")

ACCOUNT_SCHEMA: Mapping[str, pl.DataType] = {
    "account_id": pl.String(),
    "initial_balance": pl.Float64(),
    "currency": pl.String(),
}
"""One row per account: its starting capital and currency."""

ACCOUNT_REQUIRED = ("account_id", "initial_balance")


def _conform(
    frame: pl.DataFrame | None,
    schema: Mapping[str, pl.DataType],
    required: tuple[str, ...],
    what: str,
) -> pl.DataFrame:
    """``frame`` with exactly the schema's columns, in order and type; absent optionals null."""
    if frame is None:
        return pl.DataFrame(schema=dict(schema))
    missing = [name for name in required if name not in frame.columns]
    if missing and frame.height > 0:
        raise ValueError(f"{what} frame lacks required column(s): {', '.join(missing)}")
    columns: list[pl.Expr] = []
    for name, dtype in schema.items():
        if name in frame.columns:
            column = pl.col(name)
            if frame.schema[name] != dtype:
                column = column.cast(dtype, strict=True)
            columns.append(column.alias(name))
        else:
            columns.append(pl.lit(None, dtype=dtype).alias(name))
    return frame.select(columns)


def _check(frame: pl.DataFrame, what: str, rules: Mapping[str, pl.Expr]) -> None:
    """Raise ``ValueError`` naming the first rule that some row of ``frame`` breaks."""
    if frame.height == 0:
        return
    verdicts = frame.select(
        rule.fill_null(value=False).all().alias(name) for name, rule in rules.items()
    ).row(0, named=True)
    broken = [name for name, holds in verdicts.items() if not holds]
    if broken:
        raise ValueError(f"{what} frame: expected {'; '.join(broken)}")


@dataclass(frozen=True)
class Journal:
    """The closed trades, balance history and accounts that KPIs are computed from.

    Trades must be closed and unique per ``(account_id, broker_trade_id)``;
    :func:`journal_from_events` takes care of both for contract events.
    """

    trades: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=dict(TRADE_SCHEMA)))
    balances: pl.DataFrame = field(
        default_factory=lambda: pl.DataFrame(schema=dict(BALANCE_SCHEMA))
    )
    accounts: pl.DataFrame = field(
        default_factory=lambda: pl.DataFrame(schema=dict(ACCOUNT_SCHEMA))
    )

    def __post_init__(self) -> None:
        trades = _conform(self.trades, TRADE_SCHEMA, TRADE_REQUIRED, "trades")
        trades = trades.with_columns(
            pl.col("commission").fill_null(0.0),
            pl.col("swap").fill_null(0.0),
            pl.col("tags").fill_null([]),
        )
        _check(
            trades,
            "trades",
            {
                "account_id is never null": pl.col("account_id").is_not_null(),
                "entry_time and exit_time are set, exit not before entry": (
                    pl.col("exit_time") >= pl.col("entry_time")
                ),
                "pnl, commission and swap are finite numbers": pl.col("pnl").is_finite()
                & pl.col("commission").is_finite()
                & pl.col("swap").is_finite(),
                "side is 'long' or 'short'": pl.col("side").is_in(["long", "short"]),
                "entry_price and exit_price are set": pl.col("entry_price").is_not_null()
                & pl.col("exit_price").is_not_null(),
            },
        )
        object.__setattr__(self, "trades", trades)
        balances = _conform(self.balances, BALANCE_SCHEMA, BALANCE_REQUIRED, "balances")
        _check(
            balances,
            "balances",
            {
                "account_id and ts are never null": pl.col("account_id").is_not_null()
                & pl.col("ts").is_not_null(),
                "equity is a finite number": pl.col("equity").is_finite(),
            },
        )
        accounts = _conform(self.accounts, ACCOUNT_SCHEMA, ACCOUNT_REQUIRED, "accounts")
        _check(
            accounts,
            "accounts",
            {
                "account_id is never null and appears once": pl.col("account_id").is_not_null()
                & pl.col("account_id").is_unique(),
                "initial_balance is a positive number (or null)": (
                    pl.col("initial_balance").is_null() | (pl.col("initial_balance") > 0)
                ),
            },
        )
        object.__setattr__(self, "balances", balances)
        object.__setattr__(self, "accounts", accounts)

    @cached_property
    def account_ids(self) -> tuple[str, ...]:
        """Every account that appears in any of the three frames, sorted."""
        ids: set[str] = set()
        for frame in (self.trades, self.balances, self.accounts):
            ids.update(frame.get_column("account_id").unique().to_list())
        return tuple(sorted(ids))

    def for_accounts(self, account_ids: Iterable[str]) -> Journal:
        """The part of the journal that belongs to ``account_ids``."""
        wanted = pl.Series(list(account_ids), dtype=pl.String())
        return Journal(
            trades=self.trades.filter(pl.col("account_id").is_in(wanted.implode())),
            balances=self.balances.filter(pl.col("account_id").is_in(wanted.implode())),
            accounts=self.accounts.filter(pl.col("account_id").is_in(wanted.implode())),
        )


@dataclass(frozen=True, slots=True)
class JournalCounts:
    """What :func:`journal_from_events` kept and what it left out."""

    closed_trades: int
    open_trades: int
    duplicate_trades: int
    balances: int
    accounts: int


def journal_from_events(
    events: Iterable[AccountEvent | BalanceEvent | TradeEvent],
) -> tuple[Journal, JournalCounts]:
    """Build the journal from contract events (any order, several accounts).

    Open trades are left out (they have no P&L yet); a repeated
    ``(account_id, broker_trade_id)`` closed trade is a duplicate and only the
    first is kept, as the contract says. A repeated account keeps its last event.
    """
    trade_rows: dict[str, list[Any]] = {name: [] for name in TRADE_SCHEMA}
    balance_rows: dict[str, list[Any]] = {name: [] for name in BALANCE_SCHEMA}
    accounts: dict[str, AccountEvent] = {}
    seen: set[tuple[str, str]] = set()
    open_trades = 0
    duplicates = 0
    for event in events:
        if isinstance(event, TradeEvent):
            if event.status != "closed":
                open_trades += 1
                continue
            key = (event.account_id, event.broker_trade_id)
            if key in seen:
                duplicates += 1
                continue
            seen.add(key)
            for name in TRADE_SCHEMA:
                value = getattr(event, name)
                trade_rows[name].append(list(value) if name == "tags" else value)
        elif isinstance(event, BalanceEvent):
            for name in BALANCE_SCHEMA:
                balance_rows[name].append(getattr(event, name))
        else:
            accounts[event.account_id] = event
    account_rows: dict[str, list[Any]] = {
        "account_id": [a.account_id for a in accounts.values()],
        "initial_balance": [a.initial_balance for a in accounts.values()],
        "currency": [a.currency for a in accounts.values()],
    }
    journal = Journal(
        trades=pl.DataFrame(trade_rows, schema=dict(TRADE_SCHEMA)),
        balances=pl.DataFrame(balance_rows, schema=dict(BALANCE_SCHEMA)),
        accounts=pl.DataFrame(account_rows, schema=dict(ACCOUNT_SCHEMA)),
    )
    counts = JournalCounts(
        closed_trades=len(seen),
        open_trades=open_trades,
        duplicate_trades=duplicates,
        balances=len(balance_rows["ts"]),
        accounts=len(accounts),
    )
    return journal, counts
