"""A hand-checked week of eight trades (account A1, 10,000 USD), shared by the KPI tests.

| # | entry (UTC)     | exit        | symbol | side  | pnl  | costs             | tags           |
|---|-----------------|-------------|--------|-------|------|-------------------|----------------|
| 1 | Mon 03-02 09:00 | 03-02 10:00 | EURUSD | long  | +120 | commission -5     | breakout       |
| 2 | Mon 03-02 11:00 | 03-02 12:00 | EURUSD | short |  -40 | commission -5     |                |
| 3 | Tue 03-03 09:00 | 03-03 11:00 | XAUUSD | long  |  +60 | comm. -3, swap -2 | breakout, news |
| 4 | Tue 03-03 13:00 | 03-03 14:00 | XAUUSD | long  |  +30 |                   |                |
| 5 | Wed 03-04 09:00 | 03-04 09:30 | EURUSD | short |  -80 |                   | news           |
| 6 | Wed 03-04 10:00 | 03-04 11:00 | EURUSD | long  |    0 |                   |                |
| 7 | Thu 03-05 15:00 | 03-05 16:00 | GBPUSD | long  |  -20 |                   |                |
| 8 | Thu 03-05 16:00 | 03-05 17:00 | GBPUSD | short | +150 |                   |                |

Cumulative P&L 120, 80, 140, 170, 90, 90, 70, 220; running peak 120, 120, 140, 170,
170, 170, 170, 220; drawdown 0, 40, 0, 0, 80, 80, 100, 0.
"""

from __future__ import annotations

from tests.unit.metrics.builders import Event, account, trade

WEEK: tuple[Event, ...] = (
    account(10_000.0),
    trade(120.0, "2026-03-02 09:00", "2026-03-02 10:00", commission=-5.0, tags=["breakout"]),
    trade(-40.0, "2026-03-02 11:00", "2026-03-02 12:00", side="short", commission=-5.0),
    trade(
        60.0,
        "2026-03-03 09:00",
        "2026-03-03 11:00",
        symbol="XAUUSD",
        commission=-3.0,
        swap=-2.0,
        tags=["breakout", "news"],
    ),
    trade(30.0, "2026-03-03 13:00", "2026-03-03 14:00", symbol="XAUUSD"),
    trade(-80.0, "2026-03-04 09:00", "2026-03-04 09:30", side="short", tags=["news"]),
    trade(0.0, "2026-03-04 10:00", "2026-03-04 11:00"),
    trade(-20.0, "2026-03-05 15:00", "2026-03-05 16:00", symbol="GBPUSD"),
    trade(150.0, "2026-03-05 16:00", "2026-03-05 17:00", symbol="GBPUSD", side="short"),
)
