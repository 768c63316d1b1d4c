"""Rows per second through the IBKR, Tradovate, NinjaTrader and TopstepX statement parsers.

Each format gets a generated file of ``--rows`` data rows in its own layout (fills that
open and close round trips, two accounts where the layout has them), parsed in memory
(bytes → contract trades). Beside each, the physical-limit baseline: decoding the same
bytes and splitting them with Python's ``csv.reader`` (expat's start-tag callback for the
XML), in the same run; the ratio is the figure. Parsing only: validation, dedup, publish
and store are the importer's and are not measured here.

    python bench/statement_parsers.py [--rows 100000]
"""

from __future__ import annotations

import argparse
import csv
import gc
import io
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from xml.parsers import expat

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._machine import describe, write_result
from connectors.statements.model import ParseContext
from connectors.statements.registry import FORMATS

START = datetime(2026, 3, 2, 8, 30, tzinfo=UTC)  # written as wall-clock text


def _when(number: int) -> datetime:
    return START + timedelta(seconds=number)


def tradovate_performance(rows: int) -> bytes:
    lines = [
        "symbol,_priceFormat,_priceFormatType,_tickSize,buyFillId,sellFillId,qty,buyPrice,"
        "sellPrice,pnl,boughtTimestamp,soldTimestamp,duration"
    ]
    for n in range(rows):
        buy, sell = 5000 + n % 40 * 0.25, 5001 + n % 37 * 0.25
        pnl = (sell - buy) * 5
        money = f"${pnl:,.2f}" if pnl >= 0 else f"$({-pnl:,.2f})"
        lines.append(
            f'MESM6,-2,0,0.25,{2 * n},{2 * n + 1},1,{buy:.2f},{sell:.2f},"{money}",'
            f"{_when(2 * n):%m/%d/%Y %H:%M:%S},{_when(2 * n + 1):%m/%d/%Y %H:%M:%S},1sec"
        )
    return ("\n".join(lines) + "\n").encode()


def tradovate_fills(rows: int) -> bytes:
    lines = [
        "_id,_orderId,_contractId,_timestamp,_tradeDate,_action,_qty,_price,_active,_accountId,"
        "Fill ID,Order ID,Timestamp,Date,Account,B/S,Quantity,Price,_priceFormat,"
        "_priceFormatType,_tickSize,Contract,Product,Product Description,commission"
    ]
    for n in range(rows):
        action = n % 2
        side = " Buy" if action == 0 else " Sell"
        price = 5000 + n % 40 * 0.25
        when = _when(n)
        lines.append(
            f"{n},{n},1,{when:%Y-%m-%d %H:%M:%S}.000Z,2026-03-02,{action},1,{price},true,1,"
            f"{n},{n},{when:%m/%d/%Y %H:%M:%S},3/2/26,APEX-1,{side},1,{price:.2f},-2,0,0.25,"
            "MESM6,MES,Micro E-mini S&P 500,0.62"
        )
    return ("\n".join(lines) + "\n").encode()


def ninjatrader_executions(rows: int) -> bytes:
    lines = [
        "Instrument,Action,Quantity,Price,Time,ID,E/X,Position,Order ID,Name,Commission,Rate,"
        "Account,Connection,"
    ]
    for n in range(rows):
        account = "APEX-1" if n % 4 < 2 else "Sim101"
        action, flag = ("Buy", "Entry") if n % 2 == 0 else ("Sell", "Exit")
        price = 5000 + n % 40 * 0.25
        lines.append(
            f"MES 06-26,{action},1,{price:.2f},{_when(n):%m/%d/%Y %I:%M:%S %p},e{n},{flag},-,"
            f"{n},n,$0.62,1,{account},Sim,"
        )
    return ("\n".join(lines) + "\n").encode()


def topstepx(rows: int) -> bytes:
    lines = [
        "Id,ContractName,EnteredAt,ExitedAt,EntryPrice,ExitPrice,Fees,PnL,Size,Type,TradeDay,"
        "TradeDuration,Commissions"
    ]
    for n in range(rows):
        entry, exit_ = 5000 + n % 40 * 0.25, 5001 + n % 37 * 0.25
        lines.append(
            f"{n},MESH6,{_when(2 * n):%m/%d/%Y %H:%M:%S} -05:00,"
            f"{_when(2 * n + 1):%m/%d/%Y %H:%M:%S} -05:00,{entry:.9f},{exit_:.9f},0.74,"
            f"{(exit_ - entry) * 5:.9f},1,Long,03/02/2026 00:00:00 -06:00,00:00:01,0.50"
        )
    return ("\n".join(lines) + "\n").encode()


def ibkr_activity(rows: int) -> bytes:
    lines = [
        "Statement,Header,Field Name,Field Value",
        "Account Information,Header,Field Name,Field Value",
        "Account Information,Data,Account,U1",
        "Trades,Header,DataDiscriminator,Asset Category,Currency,Symbol,Date/Time,Quantity,"
        "T. Price,C. Price,Proceeds,Comm/Fee,Basis,Realized P/L,MTM P/L,Code",
    ]
    for n in range(rows):
        opening = n % 2 == 0
        quantity, price = (100, 200.0) if opening else (-100, 201.0)
        realized = 0 if opening else 98.0
        code = "O" if opening else "C"
        lines.append(
            f'Trades,Data,Order,Stocks,USD,AAPL,"{_when(n):%Y-%m-%d, %H:%M:%S}",{quantity},'
            f"{price:.2f},{price:.2f},{-quantity * price:.2f},-1.00,0,{realized},0,{code}"
        )
    return ("\n".join(lines) + "\n").encode()


def ibkr_flex(rows: int) -> bytes:
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>\n<FlexQueryResponse><FlexStatements count="1">'
        '<FlexStatement accountId="U1" fromDate="20260302" toDate="20260302"><Trades>\n'
    ]
    for n in range(rows):
        opening = n % 2 == 0
        side, quantity, price = ("BUY", 100, 200) if opening else ("SELL", -100, 201)
        flag, realized = ("O", 0) if opening else ("C", 98)
        parts.append(
            f'<Trade accountId="U1" currency="USD" assetCategory="STK" symbol="AAPL" '
            f'tradeID="{n}" dateTime="{_when(n):%Y%m%d;%H%M%S}" buySell="{side}" '
            f'openCloseIndicator="{flag}" quantity="{quantity}" tradePrice="{price}" '
            f'ibCommission="-1" fifoPnlRealized="{realized}" multiplier="1" '
            'levelOfDetail="EXECUTION" />\n'
        )
    parts.append("</Trades></FlexStatement></FlexStatements></FlexQueryResponse>\n")
    return "".join(parts).encode()


def csv_baseline(data: bytes) -> int:
    return sum(1 for _ in csv.reader(io.StringIO(data.decode("utf-8"))))


def xml_baseline(data: bytes) -> int:
    count = 0

    def start(_tag: str, _attributes: dict[str, str]) -> None:
        nonlocal count
        count += 1

    parser = expat.ParserCreate()
    parser.StartElementHandler = start
    parser.Parse(data, True)
    return count


CASES: list[tuple[str, str, Callable[[int], bytes], Callable[[bytes], int], str]] = [
    ("tradovate-csv (Performance)", "tradovate-csv", tradovate_performance, csv_baseline, "a"),
    ("tradovate-csv (Fills)", "tradovate-csv", tradovate_fills, csv_baseline, "APEX-1"),
    (
        "ninjatrader-csv (Executions)",
        "ninjatrader-csv",
        ninjatrader_executions,
        csv_baseline,
        "APEX-1",
    ),
    ("topstepx-csv", "topstepx-csv", topstepx, csv_baseline, "a"),
    ("ibkr-activity-csv", "ibkr-activity-csv", ibkr_activity, csv_baseline, "a"),
    ("ibkr-flex-xml", "ibkr-flex-xml", ibkr_flex, xml_baseline, "U1"),
]


def _timed(work: Callable[[], object]) -> float:
    gc.collect()
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    print(f"Machine: {describe()}")
    print(f"{'format':32} {'trades':>8} {'rows/s':>10} {'baseline rows/s':>16} {'ratio':>6}")
    results: dict[str, dict[str, float]] = {}
    for label, name, build, baseline, account in CASES:
        data = build(args.rows)
        fmt = FORMATS[name]
        ctx = ParseContext(account, None, "bench")
        parsed = fmt.parse(data, ctx)
        assert not parsed.errors, parsed.errors[:3]
        parse_s = _timed(partial(fmt.parse, data, ctx))
        base_s = _timed(partial(baseline, data))
        rate, base_rate = args.rows / parse_s, args.rows / base_s
        results[label] = {
            "rows": args.rows,
            "trades": len(parsed.trades),
            "rows_per_s": round(rate),
            "baseline_rows_per_s": round(base_rate),
            "ratio": round(rate / base_rate, 4),
        }
        print(
            f"{label:32} {len(parsed.trades):>8} {rate:>10,.0f} {base_rate:>16,.0f} "
            f"{rate / base_rate:>6.3f}"
        )
    path = write_result("statement_parsers", {"results": results})
    print(f"written: {path}")


if __name__ == "__main__":
    main()
