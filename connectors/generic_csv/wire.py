"""The column-mapping file of the generic CSV import (TOML or JSON).

```toml
[columns]            # contract field = the file's header
broker_trade_id = "Ticket"
symbol = "Symbol"
side = "Type"
quantity = "Volume"
entry_time = "Open Time"
entry_price = "Open Price"
exit_time = "Close Time"
exit_price = "Close Price"
pnl = "Profit"
commission = "Commission"
swap = "Swap"

[format]
delimiter = ","
time_format = "%Y-%m-%d %H:%M:%S"   # add %z when the times carry an offset
timezone = "UTC"                     # for times without an offset
decimal = "."                        # or ","
pnl_is_net = true                    # false: pnl = profit + commission + swap
long = ["buy", "long"]
short = ["sell", "short"]
```

Without a file every column is named as the contract field (``broker_trade_id``,
``symbol``, …) and the defaults above apply.
"""

from __future__ import annotations

import json
import tomllib
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

FIELDS = (
    "broker_trade_id",
    "status",
    "symbol",
    "side",
    "quantity",
    "entry_time",
    "entry_price",
    "exit_time",
    "exit_price",
    "pnl",
    "commission",
    "swap",
    "stop_loss",
    "take_profit",
    "notes",
)
REQUIRED = ("broker_trade_id", "symbol", "side", "quantity", "entry_time", "entry_price")
TIME_FIELDS = ("entry_time", "exit_time")
NUMBER_FIELDS = (
    "quantity",
    "entry_price",
    "exit_price",
    "pnl",
    "commission",
    "swap",
    "stop_loss",
    "take_profit",
)


class MappingError(ValueError):
    """A mapping file that cannot be used: what and where."""


class Columns(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    broker_trade_id: str = "broker_trade_id"
    status: str | None = None
    symbol: str = "symbol"
    side: str = "side"
    quantity: str = "quantity"
    entry_time: str = "entry_time"
    entry_price: str = "entry_price"
    exit_time: str | None = "exit_time"
    exit_price: str | None = "exit_price"
    pnl: str | None = "pnl"
    commission: str | None = "commission"
    swap: str | None = "swap"
    stop_loss: str | None = None
    take_profit: str | None = None
    notes: str | None = None


class Format(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    delimiter: Annotated[str, Field(min_length=1, max_length=1)] = ","
    time_format: str = "%Y-%m-%d %H:%M:%S"
    timezone: str = "UTC"
    decimal: Literal[".", ","] = "."
    pnl_is_net: bool = True
    long: tuple[str, ...] = ("buy", "long", "b")
    short: tuple[str, ...] = ("sell", "short", "s")

    @field_validator("long", "short")
    @classmethod
    def _lower(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(v.strip().lower() for v in values)


class ColumnMapping(BaseModel):
    """The whole mapping file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    columns: Columns = Columns()
    format: Format = Format()

    def mapped(self) -> dict[str, str]:
        """Contract field → file header, for the fields the file has."""
        return {
            name: header for name in FIELDS if (header := getattr(self.columns, name)) is not None
        }


def load_mapping(text: str, filename: str = "mapping") -> ColumnMapping:
    """Read a TOML (or, for ``*.json``, JSON) mapping; :class:`MappingError` says what is
    wrong and where."""
    try:
        raw = json.loads(text) if filename.lower().endswith(".json") else tomllib.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise MappingError(f"{filename}: not valid TOML/JSON ({exc})") from None
    try:
        return ColumnMapping.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise MappingError(f"{filename}: {problems}") from None
