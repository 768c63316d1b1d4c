"""The instrument table: how many currency units one point of price is worth per contract.

The table is data (``connectors/instruments.json``, or a file of the same shape given
with ``--instruments``), validated here: a symbol's P&L is
``(exit - entry) × quantity × multiplier`` in its quote currency. The FIX drop-copy
connector reads it, and the statement formats that list executions (NinjaTrader,
Tradovate) take their futures point values from the built-in table's ``future`` rows
(:mod:`connectors.statements.contracts`).
"""

from __future__ import annotations

import json
import re
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

DEFAULT_TABLE = Path(__file__).with_name("instruments.json")

# A futures contract code: root + month letter + one or two year digits (ESZ6, MNQH27).
_FUTURES_CODE = re.compile(r"^(?P<root>[A-Z0-9]+?)[FGHJKMNQUVXZ]\d{1,2}$")


class InstrumentError(ValueError):
    """An instrument table that cannot be used, or a symbol it does not know."""


class Instrument(BaseModel):
    """One tradable symbol: its contract multiplier and the currency its price is quoted in;
    ``kind`` says whether the symbol is a futures root (``future``: its multiplier is the
    point value per contract) or a spot symbol priced per lot (``spot``), when known."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    symbol: Annotated[str, Field(pattern=r"^[A-Z0-9.]{1,32}$")]
    kind: Literal["future", "spot"] | None = None
    multiplier: Annotated[float, Field(gt=0, allow_inf_nan=False)]
    quote_currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
    description: str | None = None


class InstrumentTable(BaseModel):
    """The whole table; symbols are unique."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    instruments: tuple[Instrument, ...]

    @model_validator(mode="after")
    def _unique_symbols(self) -> InstrumentTable:
        seen: set[str] = set()
        for instrument in self.instruments:
            if instrument.symbol in seen:
                raise ValueError(f"symbol {instrument.symbol} is listed twice")
            seen.add(instrument.symbol)
        return self

    @cached_property
    def _by_symbol(self) -> dict[str, Instrument]:
        return {instrument.symbol: instrument for instrument in self.instruments}

    def lookup(self, symbol: str) -> Instrument:
        """The instrument of a broker symbol: exact (``EURUSD``, ``EUR/USD``, ``EUR_USD``),
        else a futures contract's root (``ESZ6`` → ``ES``); :class:`InstrumentError` if none."""
        normal = symbol.upper().replace("/", "").replace("_", "").replace(" ", "")
        found = self._by_symbol.get(normal)
        if found is None:
            code = _FUTURES_CODE.match(normal)
            if code is not None:
                found = self._by_symbol.get(code.group("root"))
        if found is None:
            raise InstrumentError(
                f"symbol {symbol!r} is not in the instrument table "
                "(add it to the table: symbol, multiplier, quote_currency)"
            )
        return found


def load_instruments(path: Path | None = None) -> InstrumentTable:
    """The table in ``path`` (default: the built-in one); :class:`InstrumentError` names
    the file and what is wrong."""
    source = path or DEFAULT_TABLE
    try:
        raw = json.loads(source.read_text(encoding="utf-8"))
        return InstrumentTable.model_validate(raw)
    except OSError as exc:
        raise InstrumentError(f"cannot read instrument table {source}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise InstrumentError(f"instrument table {source} is not JSON: {exc}") from None
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'table'}: {e['msg']}"
            for e in exc.errors(include_url=False)
        )
        raise InstrumentError(f"instrument table {source}: {problems}") from None
