"""What the pipeline's Prometheus metrics cost: the dataflow on the in-process bus with
the metrics as shipped, and with every metric of pipelines/metrics.py replaced by a
no-op, runs interleaved in one process (ratios, not absolute rates: shared machine).

    python bench/metrics_overhead.py [--accounts 1000] [--ticks 200000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pipelines.armor
import pipelines.sources
from bench._machine import describe, write_result
from infra.bus import InProcessBus, Topics
from pipelines.inprocess import InProcessPipeline
from schemas import AccountEvent, BalanceEvent, event_json


class _Null:
    """Takes any metric call and does nothing."""

    def labels(self, *_: Any) -> _Null:
        return self

    def inc(self, *_: Any) -> None:
        return None

    def observe(self, *_: Any) -> None:
        return None


def _no_read(topic: str, partition: int, count: int, next_offset: int) -> None:
    return None


@contextmanager
def metrics_off() -> Iterator[None]:
    names = (
        "BATCH_EVENTS",
        "BATCH_SECONDS",
        "BREACHES",
        "DEAD_LETTERS",
        "EVENTS_OUT",
        "SNAPSHOT_SECONDS",
    )
    saved = {name: getattr(pipelines.armor, name) for name in names}
    saved_read = pipelines.sources.note_read  # type: ignore[attr-defined]
    for name in names:
        setattr(pipelines.armor, name, _Null())
    pipelines.sources.note_read = _no_read  # type: ignore[attr-defined]
    try:
        yield
    finally:
        for name, metric in saved.items():
            setattr(pipelines.armor, name, metric)
        pipelines.sources.note_read = saved_read  # type: ignore[attr-defined]


def events(accounts: int, ticks: int) -> list[tuple[str, bytes]]:
    lines = [
        (
            f"B{n:05d}",
            event_json(
                AccountEvent(
                    account_id=f"B{n:05d}",
                    ruleset="ftmo-2step",
                    initial_balance=100_000.0,
                    currency="USD",
                )
            ).encode(),
        )
        for n in range(accounts)
    ]
    start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    for index in range(ticks):
        account_id = f"B{index % accounts:05d}"
        tick = BalanceEvent(
            account_id=account_id,
            ts=start + timedelta(milliseconds=index),
            balance=100_000.0,
            equity=99_000.0 + index % 400,
        )
        lines.append((account_id, event_json(tick).encode()))
    return lines


def per_batch_cost(repeat: int = 200_000) -> float:
    """Microseconds the metric calls of one partition batch plus one shard batch take."""
    from pipelines import metrics  # noqa: PLC0415

    began = time.perf_counter()
    for _ in range(repeat):
        started = time.perf_counter()
        metrics.note_read("bench", 0, 16, 16)
        metrics.EVENTS_OUT.inc(0)
        metrics.BATCH_EVENTS.observe(16)
        metrics.BATCH_SECONDS.observe(time.perf_counter() - started)
    return (time.perf_counter() - began) / repeat * 1e6


def run_once(lines: list[tuple[str, bytes]]) -> float:
    bus = InProcessBus()
    topics = Topics("events", "breaches", "deadletter", 4)
    bus.create_topics(topics.all(), 4)
    publisher = bus.publisher()
    for key, value in lines:
        publisher.publish(topics.events, key, value)
    began = time.perf_counter()
    InProcessPipeline(bus, topics).run_until_end()
    return len(lines) / (time.perf_counter() - began)


def mean_batch_events() -> float:
    """Mean events per shard batch over everything this process ran."""
    from prometheus_client import REGISTRY  # noqa: PLC0415

    total = REGISTRY.get_sample_value("aetheris_pipeline_batch_events_sum") or 0.0
    count = REGISTRY.get_sample_value("aetheris_pipeline_batch_events_count") or 1.0
    return total / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--accounts", type=int, default=1_000)
    parser.add_argument("--ticks", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    lines = events(args.accounts, args.ticks)
    run_once(lines[: len(lines) // 10])  # warm up
    on: list[float] = []
    off: list[float] = []
    for _ in range(args.rounds):
        on.append(run_once(lines))
        with metrics_off():
            off.append(run_once(lines))
    batch_us = per_batch_cost()
    batches = mean_batch_events()
    result = {
        "metric_calls_per_batch_us": round(batch_us, 2),
        "events_per_shard_batch": round(batches, 1),
        "events": len(lines),
        "with_metrics_events_per_s": [round(x) for x in on],
        "without_metrics_events_per_s": [round(x) for x in off],
        "median_ratio": round(statistics.median(on) / statistics.median(off), 3),
    }
    path = write_result("metrics_overhead", result)
    print(describe())
    print(result)
    print(f"written to {path}")


if __name__ == "__main__":
    main()
