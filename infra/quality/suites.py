"""The data-quality expectations (great-expectations 1.x) for trades and balance ticks.

Each expectation carries, in its ``meta``, a stable ``check`` key and the ``reason`` a
failing row is given (stored with it in ``dead_letters``). great_expectations is
imported only when a suite is built -- it takes seconds to import and has no place
on the tick path.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

# A clock a little ahead of ours is not "the future".
FUTURE_TOLERANCE = timedelta(minutes=5)
_FLOAT_MAX = sys.float_info.max

TRADE_COLUMNS: tuple[str, ...] = (
    "account_id",
    "broker_trade_id",
    "status",
    "symbol",
    "side",
    "quantity",
    "entry_price",
    "entry_time",
    "exit_price",
    "exit_time",
    "pnl",
    "commission",
    "swap",
    "stop_loss",
    "take_profit",
)
TRADE_TIME_COLUMNS = ("entry_time", "exit_time")
TRADE_TEXT_COLUMNS = ("account_id", "broker_trade_id", "status", "symbol", "side")
TICK_COLUMNS: tuple[str, ...] = ("account_id", "ts", "balance", "equity")


@dataclass(frozen=True)
class Check:
    """One expectation: its key, the reason given to failing rows, and how to build it."""

    key: str
    reason: str
    expectation: str  # the great_expectations.expectations class name
    kwargs: dict[str, Any]
    only_where: tuple[str, str] | None = None  # (column, value): check those rows only

    def build(self) -> Any:
        import great_expectations as gx  # noqa: PLC0415 -- slow import, only when validating
        from great_expectations.expectations.row_conditions import Column  # noqa: PLC0415

        expectation_class = getattr(gx.expectations, self.expectation)
        kwargs = dict(self.kwargs)
        if self.only_where is not None:
            column, value = self.only_where
            kwargs["row_condition"] = Column(column) == value
        return expectation_class(**kwargs, meta={"check": self.key, "reason": self.reason})


def _not_null(column: str, what: str) -> Check:
    return Check(
        f"{column}_present",
        f"{column} is missing{what}",
        "ExpectColumnValuesToNotBeNull",
        {"column": column},
    )


def _positive(column: str) -> Check:
    return Check(
        f"{column}_positive",
        f"{column} must be greater than 0",
        "ExpectColumnValuesToBeBetween",
        {"column": column, "min_value": 0, "strict_min": True},
    )


def _finite(column: str) -> Check:
    return Check(
        f"{column}_finite",
        f"{column} must be a finite number",
        "ExpectColumnValuesToBeBetween",
        {"column": column, "min_value": -_FLOAT_MAX, "max_value": _FLOAT_MAX},
    )


def _not_in_future(column: str, now: datetime) -> Check:
    return Check(
        f"{column}_not_in_future",
        f"{column} is in the future",
        "ExpectColumnValuesToBeBetween",
        # Frames hold times as naive UTC (see infra.quality.validate).
        {
            "column": column,
            "max_value": (now + FUTURE_TOLERANCE).astimezone(UTC).replace(tzinfo=None),
        },
    )


def _account_id() -> list[Check]:
    return [
        _not_null("account_id", ""),
        Check(
            "account_id_well_formed",
            "account_id must be 1-128 characters without spaces",
            "ExpectColumnValuesToMatchRegex",
            {"column": "account_id", "regex": r"^\S{1,128}$"},
        ),
    ]


def trade_checks(now: datetime, *, unique_key: tuple[str, ...]) -> list[Check]:
    """Expectations for trades: imported batches and stored rows.

    ``unique_key``: the columns no two rows may share -- (account_id, broker_trade_id,
    status) in an import batch (an open and a closed event of one trade may arrive
    together), (account_id, broker_trade_id) over stored trades.
    """
    closed = ("status", "closed")
    return [
        *_account_id(),
        _not_null("broker_trade_id", ""),
        Check(
            "broker_trade_id_length",
            "broker_trade_id must be 1-128 characters",
            "ExpectColumnValueLengthsToBeBetween",
            {"column": "broker_trade_id", "min_value": 1, "max_value": 128},
        ),
        _not_null("symbol", ""),
        _not_null("side", ""),
        Check(
            "side_known",
            "side must be 'long' or 'short'",
            "ExpectColumnValuesToBeInSet",
            {"column": "side", "value_set": ["long", "short"]},
        ),
        _not_null("status", ""),
        Check(
            "status_known",
            "status must be 'open' or 'closed'",
            "ExpectColumnValuesToBeInSet",
            {"column": "status", "value_set": ["open", "closed"]},
        ),
        _not_null("quantity", " or not a number"),
        _positive("quantity"),
        _not_null("entry_price", " or not a number"),
        _positive("entry_price"),
        _positive("exit_price"),
        _positive("stop_loss"),
        _positive("take_profit"),
        _finite("pnl"),
        _finite("commission"),
        _finite("swap"),
        _not_null("entry_time", " or not a timestamp"),
        Check(
            "closed_has_exit_time",
            "a closed trade needs exit_time (a valid timestamp)",
            "ExpectColumnValuesToNotBeNull",
            {"column": "exit_time"},
            only_where=closed,
        ),
        Check(
            "closed_has_exit_price",
            "a closed trade needs exit_price",
            "ExpectColumnValuesToNotBeNull",
            {"column": "exit_price"},
            only_where=closed,
        ),
        Check(
            "closed_has_pnl",
            "a closed trade needs a finite pnl",
            "ExpectColumnValuesToNotBeNull",
            {"column": "pnl"},
            only_where=closed,
        ),
        Check(
            "open_has_no_exit",
            "an open trade has no exit_time (set status to 'closed')",
            "ExpectColumnValuesToBeNull",
            {"column": "exit_time"},
            only_where=("status", "open"),
        ),
        Check(
            "exit_after_entry",
            "exit_time is before entry_time",
            "ExpectColumnPairValuesAToBeGreaterThanB",
            {
                "column_A": "exit_time",
                "column_B": "entry_time",
                "or_equal": True,
                "ignore_row_if": "either_value_is_missing",
            },
        ),
        _not_in_future("entry_time", now),
        _not_in_future("exit_time", now),
        Check(
            "broker_trade_id_unique",
            f"another row has the same {', '.join(unique_key)}",
            "ExpectCompoundColumnsToBeUnique",
            {"column_list": list(unique_key)},
        ),
    ]


def tick_checks(now: datetime) -> list[Check]:
    """Expectations for balance ticks: imported batches and stored rows."""
    return [
        *_account_id(),
        _not_null("ts", " or not a timestamp"),
        _not_in_future("ts", now),
        _not_null("balance", " or not a number"),
        _finite("balance"),
        _not_null("equity", " or not a number"),
        _finite("equity"),
    ]
