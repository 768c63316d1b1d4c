"""Where one pipeline process's CPU goes per event, reading from Kafka: the Kafka read,
the source's feed, the grouping by shard, the shard step (decode + engine), and a fixed
decode loop over the same lines as a yardstick for how fast the machine is right now.

On a shared machine the CPU time per event moves 2× between runs a minute apart; the
dataflow's time divided by the yardstick's moves much less. Run it alternately from two
checkouts to compare code (BENCHMARKS.md, issue 16 item 5).

    python bench/pipeline_cpu_breakdown.py [--events 300000] [--accounts 1000]
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench._machine import describe, write_result  # noqa: E402
from bench.pipeline_throughput import build_lines, count, fresh_topics, publish_all  # noqa: E402
from infra.bus.kafka import KafkaBus, KafkaReader  # noqa: E402
from infra.settings import get_settings  # noqa: E402
from pipelines import armor, sources  # noqa: E402
from pipelines.inprocess import InProcessPipeline  # noqa: E402
from schemas.parsing import event_json_validator  # noqa: E402

SPENT: dict[str, float] = {}


def timed(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """``function``, adding the calling thread's CPU time in it to ``SPENT[name]``."""

    def measured(*args: Any, **kwargs: Any) -> Any:
        began = time.thread_time()
        try:
            return function(*args, **kwargs)
        finally:
            SPENT[name] = SPENT.get(name, 0.0) + time.thread_time() - began

    return measured


def instrument() -> None:
    KafkaReader.read = timed("kafka read", KafkaReader.read)  # type: ignore[method-assign]
    sources.SharedFeed.take = timed("feed take (with its reads)", sources.SharedFeed.take)  # type: ignore[method-assign]
    armor.ShardLogic.on_batch = timed("shard step (decode + engine)", armor.ShardLogic.on_batch)  # type: ignore[method-assign]
    grouping = armor.shard_batches
    armor.shard_batches = lambda shards: timed("grouping by shard", grouping(shards))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1_000)
    parser.add_argument("--events", type=int, default=300_000)
    args = parser.parse_args()
    bootstrap = get_settings().kafka_bootstrap_servers or "127.0.0.1:9092"
    kafka = KafkaBus(bootstrap)
    lines = build_lines(args.accounts, args.events)
    total = len(lines)
    gc.collect()
    gc.freeze()
    instrument()
    topics = fresh_topics(kafka, 4)
    publish_all(kafka, topics.events, lines)
    thread, process = time.thread_time(), time.process_time()
    InProcessPipeline(kafka, topics).run_until_end()
    thread, process = time.thread_time() - thread, time.process_time() - process
    breaches = count(kafka, topics.breaches)
    kafka.delete_topics(topics.all())
    validate = event_json_validator()
    yardstick = time.thread_time()
    for _key, value in lines:
        validate(value, strict=True)
    yardstick = time.thread_time() - yardstick

    per_event = {name: spent / total * 1e6 for name, spent in SPENT.items()}
    print(f"\nMachine: {describe()}; broker {bootstrap}")
    print(f"{total:,} events, {breaches:,} breaches")
    print(f"process: {total / process:,.0f} events/CPU-s ({process / total * 1e6:.2f} µs/event)")
    print(f"dataflow thread: {thread / total * 1e6:.2f} µs/event, of which:")
    for name, micros in per_event.items():
        print(f"  {name:32s} {micros:.2f} µs/event")
    print(f"yardstick (the contract's decoder, same lines): {yardstick / total * 1e6:.2f} µs/event")
    print(f"dataflow thread ÷ yardstick: {thread / yardstick:.2f}")
    write_result(
        "pipeline_cpu_breakdown",
        {
            "events": total,
            "breaches": breaches,
            "process_cpu_seconds": process,
            "thread_cpu_seconds": thread,
            "yardstick_cpu_seconds": yardstick,
            "microseconds_per_event": per_event,
        },
    )


if __name__ == "__main__":
    main()
