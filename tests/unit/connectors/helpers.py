"""Shared helpers of the statement-format tests: read a sample file, describe trades."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from connectors.statements.model import ParsedStatement
from schemas.events import TradeEvent

DATA = Path(__file__).resolve().parents[2] / "data" / "statements"


def sample(format_name: str, filename: str) -> bytes:
    return (DATA / format_name / filename).read_bytes()


def utc(text: str) -> datetime:
    """``2026-03-05 14:35:10`` as an aware UTC datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def row(trade: TradeEvent) -> tuple[object, ...]:
    """A trade as (id, symbol, side, qty, entry, entry time, exit, exit time, pnl, comm)."""
    return (
        trade.broker_trade_id,
        trade.symbol,
        trade.side,
        trade.quantity,
        trade.entry_price,
        trade.entry_time,
        trade.exit_price,
        trade.exit_time,
        trade.pnl,
        trade.commission,
    )


def errors(parsed: ParsedStatement) -> list[tuple[int | None, str]]:
    return [(error.row, error.where) for error in parsed.errors]


def total_pnl(parsed: ParsedStatement) -> float:
    return round(sum(trade.pnl or 0.0 for trade in parsed.trades), 2)


def total_cash(parsed: ParsedStatement) -> float:
    return round(sum(movement.amount for movement in parsed.cash), 2)
