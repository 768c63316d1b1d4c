"""Events per second through ``risk_engine.apply``: 1,000 accounts, 1,000,000 mixed events.

Beside it, the physical-limit baseline: a minimal plain-Python loop doing the same
arithmetic (per-account floats, the same threshold comparisons) with no engine around
it. Both run in this process on the same pre-built events; the ratio is the figure.

    python bench/risk_engine.py [--accounts 1000] [--events 1000000]
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._machine import describe
from infra.rulesets import RulesetCatalog
from risk_engine import AccountState, apply
from schemas import AccountEvent, BalanceEvent, TradeEvent
from schemas.records import BalanceRecord, TradeRecord, as_record

RULESETS = ["ftmo-2step", "ftmo-1step", "topstep-50k", "apex-50k-intraday", "personal"]
Event = AccountEvent | BalanceEvent | TradeEvent
Record = AccountEvent | BalanceRecord | TradeRecord
# This process's CPU seconds of each timed loop, in run order: on a shared, loaded
# machine the wall clock mostly measures waiting for a core, the CPU time much less so.
CPU_SECONDS: list[float] = []


def build_events(accounts: int, total: int, seed: int = 7) -> list[Event]:
    """Account events, then ticks in time order: ~85 % balance snapshots, ~15 % trades."""
    rng = random.Random(seed)
    events: list[Event] = []
    balances = {}
    for number in range(accounts):
        account_id = f"ACC{number:05d}"
        initial = rng.choice([25_000.0, 50_000.0, 100_000.0])
        balances[account_id] = initial
        events.append(
            AccountEvent(
                account_id=account_id,
                ruleset=RULESETS[number % len(RULESETS)],
                initial_balance=initial,
                currency="USD",
            )
        )
    ids = list(balances)
    start = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)
    step = timedelta(seconds=30 * 24 * 3600 / max(1, total))  # about a month of ticks
    for index in range(total - accounts):
        account_id = ids[index % accounts]
        now = start + step * index
        if rng.random() < 0.15:
            pnl = rng.gauss(0, 0.003) * balances[account_id]
            events.append(
                TradeEvent(
                    account_id=account_id,
                    broker_trade_id=f"T{index}",
                    status="closed",
                    symbol="EURUSD",
                    side="long",
                    quantity=1.0,
                    entry_price=1.1,
                    exit_price=1.1,
                    entry_time=now - timedelta(minutes=5),
                    exit_time=now,
                    pnl=pnl,
                )
            )
            balances[account_id] += pnl
        else:
            balance = balances[account_id]
            events.append(
                BalanceEvent(
                    account_id=account_id,
                    ts=now,
                    balance=balance,
                    equity=balance * (1 + rng.gauss(0, 0.004)),
                )
            )
    return events


def run_engine(events: list[Event] | list[Record]) -> tuple[float, int, dict[str, AccountState]]:
    catalog = RulesetCatalog()
    states: dict[str, AccountState] = {}
    breaches = 0
    gc.collect()
    began = time.perf_counter()
    cpu = time.process_time()
    for event in events:
        state, found = apply(states.get(event.account_id), event, catalog)
        states[event.account_id] = state
        breaches += len(found)
    CPU_SECONDS.append(time.process_time() - cpu)
    return time.perf_counter() - began, breaches, states


def run_baseline(
    events: list[Event] | list[Record],
    balance_types: type[BalanceEvent] | type[BalanceRecord] = BalanceEvent,
    trade_types: type[TradeEvent] | type[TradeRecord] = TradeEvent,
) -> float:
    """The same arithmetic with nothing around it: floats in a dict, three comparisons."""
    limits: dict[str, list[float]] = {}
    gc.collect()
    began = time.perf_counter()
    cpu = time.process_time()
    for event in events:
        if isinstance(event, balance_types):
            row = limits[event.account_id]
            equity = event.equity
            row[2] = max(row[2], equity)
            used_daily = row[0] - equity
            used_total = row[1] - equity
            used_trailing = row[2] - row[4] - equity
            for used in (used_daily, used_total, used_trailing):
                if used >= 0.7 * row[3]:
                    row[5] += 1
            row[6] = event.balance
        elif isinstance(event, trade_types):
            row = limits[event.account_id]
            if event.pnl is not None and -event.pnl >= 0.7 * row[3]:
                row[5] += 1
        else:
            assert isinstance(event, AccountEvent)  # the loop's only other kind
            initial = event.initial_balance
            limits[event.account_id] = [initial, initial, initial, initial * 0.05, 2500.0, 0, 0]
    CPU_SECONDS.append(time.process_time() - cpu)
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    args = parser.parse_args()
    events = build_events(args.accounts, args.events)
    baseline = min(run_baseline(events) for _ in range(2))
    engine_time, breaches, states = run_engine(events)
    baseline_cpu, engine_cpu = min(CPU_SECONDS[:2]), CPU_SECONDS[2]
    tracemalloc.start()
    _, _, states = run_engine(events[: max(args.accounts * 20, len(events) // 10)])
    traced, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    engine_rate = len(events) / engine_time
    baseline_rate = len(events) / baseline
    print(f"machine: {describe()}")
    print(f"events: {len(events):,} for {args.accounts:,} accounts; breaches: {breaches:,}")
    print(f"risk_engine.apply: {engine_rate:,.0f} events/s ({engine_time:.2f} s)")
    print(f"plain-Python baseline: {baseline_rate:,.0f} events/s ({baseline:.2f} s)")
    print(f"engine / baseline throughput: {engine_rate / baseline_rate:.3f}")
    print(
        f"by this process's CPU time: engine {len(events) / engine_cpu:,.0f} events/s, "
        f"baseline {len(events) / baseline_cpu:,.0f} events/s, "
        f"ratio {baseline_cpu / engine_cpu:.3f}"
    )
    per_account = traced / max(1, len(states))
    print(f"state memory after a 10 % run (tracemalloc): {per_account / 1024:.1f} KiB per account")
    # The pipeline's own input since the fast decoder: the same events as records, both
    # loops reading them (attribute reads on a struct cost less than on a pydantic model).
    records = [as_record(event) for event in events]
    del events
    CPU_SECONDS.clear()
    min(run_baseline(records, BalanceRecord, TradeRecord) for _ in range(2))
    _, record_breaches, _ = run_engine(records)
    assert record_breaches == breaches, (record_breaches, breaches)
    baseline_cpu, engine_cpu = min(CPU_SECONDS[:2]), CPU_SECONDS[2]
    print(
        f"as records (the pipeline's input), by CPU time: engine "
        f"{len(records) / engine_cpu:,.0f} events/s, baseline "
        f"{len(records) / baseline_cpu:,.0f} events/s, ratio {baseline_cpu / engine_cpu:.3f}"
    )


if __name__ == "__main__":
    main()
