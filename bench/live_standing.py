"""Standing updates per second the Redis path sustains for 10,000 accounts.

10,000 accounts' standings (real engine states, five templates) are published round after
round to the real Redis (``REDIS_URL``, default 127.0.0.1:6379) under a prefix of this
run's own, deleted at the end:

- ``RedisLive.publish`` in batches: the adapter (one pipeline per batch; a Lua script per
  standing numbers it, SETs the key and PUBLISHes the message);
- ``LiveWriter``: the pipeline's path (its own thread, coalescing per account), offered
  every account's standing ``--rounds`` times as fast as it takes them;
- baselines in the same run: a bare pipelined SET + PUBLISH of the same bytes (no script,
  no numbering), and serialising the standings alone (orjson on plain values, as
  published, beside pydantic's dump of the same standings as models);
- the whole dataflow on the in-process bus over ``--ticks`` balance ticks of the same
  accounts: without a live output, with Redis at the defaults (100 ms per account,
  2,000 standings a second in all), and with neither bound (a standing per account per
  batch: what the whole path sustains).

    python bench/live_standing.py [--accounts 10000] [--rounds 10] [--ticks 200000]
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._machine import describe, write_result
from infra.bus import InProcessBus, Topics
from infra.live import InMemoryLive, LivePublisher, Standing
from infra.live.messages import account_channel, sequence_key, standing_body, standing_key
from infra.live.redis_store import RedisLive, redis_client
from infra.rulesets import RulesetCatalog
from infra.settings import get_settings
from pipelines.armor import STANDINGS_PER_SECOND
from pipelines.inprocess import InProcessPipeline
from pipelines.live import LiveFactory, LiveWriter
from risk_engine import apply, snapshot_fields
from schemas import AccountEvent, BalanceEvent, event_json
from schemas.state import AccountSnapshot

RULESETS = ["ftmo-2step", "ftmo-1step", "topstep-50k", "apex-50k-intraday", "personal"]


def standings(accounts: int) -> list[Standing]:
    """One standing per account, as the pipeline publishes it (plain values), from the
    engine after a registration and a tick."""
    catalog = RulesetCatalog()
    start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    out = []
    for number in range(accounts):
        account_id = f"BENCH{number:05d}"
        state, _ = apply(
            None,
            AccountEvent(
                account_id=account_id,
                ruleset=RULESETS[number % len(RULESETS)],
                initial_balance=50_000.0,
                currency="USD",
            ),
            catalog,
        )
        state, _ = apply(
            state,
            BalanceEvent(
                account_id=account_id,
                ts=start + timedelta(seconds=number),
                balance=50_000.0,
                equity=49_000.0 + number % 900,
            ),
            catalog,
        )
        out.append(Standing(account_id, snapshot_fields(state)))
    return out


def rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


def bench_adapter(live: RedisLive, items: list[Standing], rounds: int, batch: int) -> float:
    started = time.perf_counter()
    for _ in range(rounds):
        for low in range(0, len(items), batch):
            live.publish(items[low : low + batch])
    return rate(rounds * len(items), time.perf_counter() - started)


def bench_bare(
    client: redis.Redis[bytes], prefix: str, items: list[Standing], rounds: int, batch: int
) -> float:
    """SET + PUBLISH of the same bytes, pipelined the same way: Redis's own cost."""
    started = time.perf_counter()
    for _ in range(rounds):
        for low in range(0, len(items), batch):
            pipe = client.pipeline(transaction=False)
            for item in items[low : low + batch]:
                body = standing_body(item)
                pipe.set(f"{prefix}:bare:{item.account_id}", body)
                pipe.publish(account_channel(prefix, item.account_id), body)
            pipe.execute()
    return rate(rounds * len(items), time.perf_counter() - started)


def bench_serialise(items: list[Standing], rounds: int) -> float:
    started = time.perf_counter()
    for _ in range(rounds):
        for item in items:
            standing_body(item)
    return rate(rounds * len(items), time.perf_counter() - started)


def bench_model_serialise(items: list[Standing], rounds: int) -> float:
    """The same standings built and dumped as pydantic models (what orjson replaces)."""
    models = [AccountSnapshot.model_validate_json(standing_body(item)) for item in items]
    started = time.perf_counter()
    for _ in range(rounds):
        for model in models:
            standing_body(model)
    return rate(rounds * len(items), time.perf_counter() - started)


def bench_writer(live: RedisLive, items: list[Standing], rounds: int) -> tuple[float, int, int]:
    """Offer every standing ``rounds`` times; (published/s, published, superseded)."""
    writer = LiveWriter(live)
    started = time.perf_counter()
    for _ in range(rounds):
        for low in range(0, len(items), 500):  # as a sink's batches arrive
            writer.write(items[low : low + 500])
    while writer.pending():
        time.sleep(0.001)
    seconds = time.perf_counter() - started
    writer.close()
    published = writer.stats.standings
    return rate(published, seconds), published, rounds * len(items) - published


def bench_twin(items: list[Standing], rounds: int, batch: int) -> float:
    twin = InMemoryLive("bench")
    started = time.perf_counter()
    for _ in range(rounds):
        for low in range(0, len(items), batch):
            twin.publish(items[low : low + batch])
    return rate(rounds * len(items), time.perf_counter() - started)


def feed(accounts: int, ticks: int) -> list[tuple[str, bytes]]:
    """Registrations, then ``ticks`` balance ticks round-robin (no account breaches)."""
    lines = [
        (
            f"BENCH{n:05d}",
            event_json(
                AccountEvent(
                    account_id=f"BENCH{n:05d}",
                    ruleset=RULESETS[n % len(RULESETS)],
                    initial_balance=50_000.0,
                    currency="USD",
                )
            ).encode(),
        )
        for n in range(accounts)
    ]
    start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    for index in range(ticks):
        account_id = f"BENCH{index % accounts:05d}"
        tick = BalanceEvent(
            account_id=account_id,
            ts=start + timedelta(milliseconds=index),
            balance=50_000.0,
            equity=49_500.0 + index % 400,
        )
        lines.append((account_id, event_json(tick).encode()))
    return lines


def bench_pipeline(
    lines: list[tuple[str, bytes]],
    live: LiveFactory | None,
    interval: float,
    per_second: float | None = None,
) -> float:
    """Seconds for the dataflow to apply every line and publish (and drain) its outputs."""
    bus = InProcessBus()
    topics = Topics("events", "breaches", "deadletter", 4)
    bus.create_topics(topics.all(), 4)
    publisher = bus.publisher()
    for key, value in lines:
        publisher.publish(topics.events, key, value)
    began = time.perf_counter()
    InProcessPipeline(
        bus,
        topics,
        live=live,
        standing_interval_seconds=interval,
        standings_per_second=per_second,
    ).run_until_end()
    return time.perf_counter() - began


def published(client: redis.Redis[bytes], prefix: str, accounts: int) -> int:
    """Standings numbered under ``prefix``: the sum of the accounts' sequence counters."""
    keys = [sequence_key(prefix, f"BENCH{n:05d}") for n in range(accounts)]
    total = 0
    for low in range(0, len(keys), 1_000):
        total += sum(int(v) for v in client.mget(keys[low : low + 1_000]) if v is not None)
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--batch", type=int, default=1_000)
    parser.add_argument("--ticks", type=int, default=200_000)
    args = parser.parse_args()

    url = get_settings().redis_url or "redis://127.0.0.1:6379/0"
    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    items = standings(args.accounts)
    size = sum(len(standing_body(item)) for item in items) / len(items)
    client = redis_client(url, 10.0)
    live = RedisLive(client, prefix)
    lines = feed(args.accounts, args.ticks)
    try:
        live.publish(items[:10])  # load the script, warm the connection
        adapter = bench_adapter(live, items, args.rounds, args.batch)
        sweep = {
            batch: round(bench_adapter(live, items, max(1, args.rounds // 2), batch))
            for batch in (100, 10_000)
        }
        bare = bench_bare(client, prefix, items, args.rounds, args.batch)
        writer_rate, writer_count, superseded = bench_writer(live, items, args.rounds)
        serialise = bench_serialise(items, args.rounds)
        model_serialise = bench_model_serialise(items, args.rounds)
        twin = bench_twin(items, args.rounds, args.batch)
        stored = client.get(standing_key(prefix, items[-1].account_id))
        assert stored is not None and AccountSnapshot.model_validate_json(stored).seq > 0

        flows: dict[str, tuple[float, int]] = {}
        flows["no live output"] = (bench_pipeline(lines, None, 0.1), 0)
        for number, (name, interval, per_second) in enumerate(
            (
                ("Redis, 100 ms, the default budget (2,000/s)", 0.1, STANDINGS_PER_SECOND),
                ("Redis, no interval, no budget", 0.0, None),
            )
        ):
            flow_prefix = f"{prefix}-{number}"

            def factory(flow_prefix: str = flow_prefix) -> LivePublisher:
                return RedisLive.from_url(url, flow_prefix, 10.0)

            seconds = bench_pipeline(lines, factory, interval, per_second)
            flows[name] = (seconds, published(client, flow_prefix, args.accounts))
    finally:
        keys = list(client.scan_iter(match=f"{prefix}*", count=5_000))
        for low in range(0, len(keys), 5_000):
            client.delete(*keys[low : low + 5_000])
        client.close()

    result = {
        "accounts": args.accounts,
        "rounds": args.rounds,
        "batch": args.batch,
        "standing_bytes": round(size),
        "adapter_per_s": round(adapter),
        "bare_set_publish_per_s": round(bare),
        "adapter_over_bare": round(adapter / bare, 3),
        "adapter_per_s_by_batch": {args.batch: round(adapter), **sweep},
        "writer_published_per_s": round(writer_rate),
        "writer_published": writer_count,
        "writer_superseded": superseded,
        "serialise_per_s": round(serialise),
        "model_dump_per_s": round(model_serialise),
        "twin_per_s": round(twin),
        "pipeline": {
            name: {
                "seconds": round(seconds, 2),
                "events_per_s": round(len(lines) / seconds),
                "standings": count,
                "standings_per_s": round(count / seconds),
            }
            for name, (seconds, count) in flows.items()
        },
    }
    for key, value in result.items():
        print(f"{key}: {value}")
    print(f"machine: {describe()}")
    print(f"wrote {write_result('live_standing', result)}")


if __name__ == "__main__":
    main()
