"""A FIX 4.4 drop-copy ExecutionReport (35=8), in FIX's own terms: tags, ExecType codes.

Only the fields a drop-copy needs to rebuild positions are kept; values stay as the
counterparty sent them until :mod:`connectors.fix.parse` turns them into fills.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

# Tags read from an ExecutionReport (FIX 4.4).
TAG_ACCOUNT = 1
TAG_CL_ORD_ID = 11
TAG_COMMISSION = 12
TAG_COMM_TYPE = 13
TAG_EXEC_ID = 17
TAG_EXEC_REF_ID = 19
TAG_LAST_PX = 31
TAG_LAST_QTY = 32
TAG_MSG_TYPE = 35
TAG_ORDER_ID = 37
TAG_ORD_STATUS = 39
TAG_POSS_DUP = 43
TAG_SENDING_TIME = 52
TAG_SIDE = 54
TAG_SYMBOL = 55
TAG_TRANSACT_TIME = 60
TAG_POSS_RESEND = 97
TAG_EXEC_TYPE = 150

MSG_EXECUTION_REPORT = "8"

# ExecType (150): F is a fill in FIX 4.4; G corrects and H cancels an earlier fill.
EXEC_TYPE_TRADE = "F"
EXEC_TYPE_TRADE_CORRECT = "G"
EXEC_TYPE_TRADE_CANCEL = "H"
# FIX 4.2 counterparties still send 1 (partial fill) and 2 (fill) for fills.
EXEC_TYPE_LEGACY_FILLS = ("1", "2")

# Side (54): 1 buy; 2 sell, 5 sell short, 6 sell short exempt.
BUY_SIDES = ("1",)
SELL_SIDES = ("2", "5", "6")

# CommType (13): 1 per unit, 3 absolute (the default when 13 is absent).
COMM_PER_UNIT = "1"
COMM_ABSOLUTE = "3"


@dataclass(frozen=True, slots=True)
class ExecutionReport:
    """The fields of one ExecutionReport that matter to positions and P&L."""

    exec_id: str
    exec_type: str
    symbol: str
    side: Literal["buy", "sell"]
    last_qty: float
    last_px: float
    transact_time: datetime
    commission: float  # what the fill cost, as a positive amount (tag 12 after CommType)
    exec_ref_id: str | None = None
    order_id: str | None = None
    account: str | None = None
    poss_dup: bool = False
