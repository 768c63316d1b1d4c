"""TopstepX's trade export in its own words, as text.

``Id,ContractName,EnteredAt,ExitedAt,EntryPrice,ExitPrice,Fees,PnL,Size,Type,TradeDay,
TradeDuration,Commissions``: one row per closed trade (a scale-out is one row per exit,
each with its own ``Id``); times carry their UTC offset (``03/02/2026 09:31:05 -05:00``);
``PnL`` is before costs; ``Fees`` (exchange and clearing) and ``Commissions`` are two
separate charges.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TopstepTrade:
    """A row of the export."""

    row: int
    raw: str
    id: str
    contract_name: str
    entered_at: str
    exited_at: str
    entry_price: str
    exit_price: str
    fees: str
    pnl: str
    size: str
    type: str
    commissions: str
