"""Drop-copy fills per second: FIX fields → parsed report → book → events, beside a
plain-Python average-cost loop over the same fills (the limit), in one run.

    python bench/connectors_fix.py [--fills 100000]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._machine import describe, write_result
from connectors.fix.book import DropCopyBook
from connectors.fix.parse import parse_execution_report
from connectors.instruments import load_instruments

SYMBOLS = {"ES": (5000.0, 50.0), "MNQ": (18000.0, 2.0), "CL": (75.0, 1000.0)}


def make_fills(count: int, seed: int) -> list[dict[int, str]]:
    """Round trips of 1–3 fills in, 1–3 fills out, on three symbols."""
    rng = random.Random(seed)
    fills: list[dict[int, str]] = []
    position = dict.fromkeys(SYMBOLS, 0)
    for n in range(count):
        symbol = rng.choice(list(SYMBOLS))
        base = SYMBOLS[symbol][0]
        held = position[symbol]
        side = "1" if held <= 0 and rng.random() < 0.6 else "2" if held > 0 else "1"
        qty = rng.randint(1, 3) if held == 0 or side == ("1" if held > 0 else "2") else abs(held)
        qty = min(qty, abs(held)) if held and side != ("1" if held > 0 else "2") else qty
        position[symbol] += qty if side == "1" else -qty
        second = n % 86400  # one fill a second, in order
        fills.append(
            {
                35: "8", 150: "F", 17: f"X{n}", 55: symbol, 54: side, 32: str(qty),
                31: f"{base + rng.uniform(-5, 5):.2f}", 12: "1.20",
                60: f"2026{3 + n // 86400 // 28:02d}{1 + n // 86400 % 28:02d}-"
                f"{second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d}",
            }
        )  # fmt: skip
    return fills


def baseline(fills: list[dict[int, str]]) -> float:
    """Average cost per symbol with floats, no objects: the least this work can cost."""
    qty: dict[str, float] = {}
    cost: dict[str, float] = {}
    balance = 0.0
    for f in fills:
        symbol = f[55]
        q = float(f[32]) * (1 if f[54] == "1" else -1)
        px = float(f[31])
        held = qty.get(symbol, 0.0)
        balance -= float(f[12])
        if held == 0 or (held > 0) == (q > 0):
            cost[symbol] = (cost.get(symbol, 0.0) * abs(held) + px * abs(q)) / (abs(held) + abs(q))
        else:
            balance += (px - cost[symbol]) * min(abs(q), abs(held)) * SYMBOLS[symbol][1]
        qty[symbol] = held + q
    return balance


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fills", type=int, default=100_000)
    args = parser.parse_args()
    fills = make_fills(args.fills, seed=7)
    table = load_instruments()

    started = time.perf_counter()
    baseline(fills)
    base_s = time.perf_counter() - started

    book = DropCopyBook("BENCH", currency="USD", initial_balance=100_000.0, instruments=table)
    started = time.perf_counter()
    events = 0
    for fields in fills:
        events += len(book.handle(parse_execution_report(fields)).events)
    full_s = time.perf_counter() - started

    result = {
        "fills": args.fills,
        "events": events,
        "parse_and_book_fills_per_s": round(args.fills / full_s),
        "baseline_fills_per_s": round(args.fills / base_s),
        "ratio": round(base_s / full_s, 3),
    }
    print(describe())
    for key, value in result.items():
        print(f"{key}: {value}")
    write_result("connectors_fix", result)


if __name__ == "__main__":
    main()
