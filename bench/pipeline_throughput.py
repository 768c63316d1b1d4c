"""Maximum sustained throughput of the Armor dataflow reading Kafka, beside the pure
engine replaying the same events in one loop (parse + ``risk_engine.apply``).

The events (1,000 accounts, balance and trade ticks from the simulated desk) are
published to a fresh topic first; then the dataflow reads them to the end as fast as
it can, with one worker, and as a two-process cluster (``-i/-a``, both cores).

    python bench/pipeline_throughput.py [--accounts 1000] [--events 300000]
"""

from __future__ import annotations

import argparse
import gc
import itertools
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench._machine import describe, write_result  # noqa: E402
from connectors.simulator import SimulatedDesk, to_event  # noqa: E402
from infra.bus import BusMessage, InProcessBus, Topics  # noqa: E402
from infra.bus.kafka import KafkaBus  # noqa: E402
from infra.rulesets import RulesetCatalog  # noqa: E402
from infra.settings import get_settings  # noqa: E402
from pipelines.inprocess import InProcessPipeline  # noqa: E402
from pipelines.sinks import EMITTED_HEADER, RECEIVED_HEADER  # noqa: E402
from risk_engine import Armor  # noqa: E402
from schemas import event_json, parse_event  # noqa: E402

CPU_SECONDS: dict[str, float] = {}


def build_lines(accounts: int, events: int) -> list[tuple[str, bytes]]:
    desk = SimulatedDesk(
        accounts,
        seed=5,
        start=datetime(2026, 3, 2, 7, 0, tzinfo=UTC),
        tick_interval=timedelta(milliseconds=50),
    )
    out = []
    for record in itertools.islice(desk.records(), events):
        event = to_event(record)
        out.append((event.account_id, event_json(event).encode()))
    return out


def pure_engine(lines: list[tuple[str, bytes]]) -> tuple[float, int]:
    armor = Armor(RulesetCatalog())
    breaches = 0
    began = time.perf_counter()
    cpu = time.process_time()
    for number, (_key, value) in enumerate(lines):
        breaches += len(armor.process(parse_event(value, f"line {number}")))
    spent = time.process_time() - cpu
    CPU_SECONDS["pure_engine"] = min(CPU_SECONDS.get("pure_engine", spent), spent)
    return time.perf_counter() - began, breaches


def fresh_topics(kafka: KafkaBus, partitions: int) -> Topics:
    suffix = uuid.uuid4().hex[:8]
    topics = Topics(
        f"bench.tp.events.{suffix}",
        f"bench.tp.breaches.{suffix}",
        f"bench.tp.dl.{suffix}",
        partitions,
    )
    kafka.create_topics(topics.all(), partitions)
    return topics


def publish_all(kafka: KafkaBus, topic: str, lines: list[tuple[str, bytes]]) -> None:
    publisher = kafka.publisher()
    for number, (key, value) in enumerate(lines):
        publisher.publish(topic, key, value)
        if number % 10_000 == 0:
            publisher.poll()
    publisher.flush(120)


def read_breaches(kafka: KafkaBus, topic: str) -> list[BusMessage]:
    reader = kafka.reader(topic)
    seen: list[BusMessage] = []
    quiet_since = time.monotonic()
    while time.monotonic() - quiet_since < 1.5:
        batch = reader.read(10_000, 0.2)
        if batch:
            seen.extend(batch)
            quiet_since = time.monotonic()
    reader.close()
    return seen


def count(kafka: KafkaBus, topic: str) -> int:
    return len(read_breaches(kafka, topic))


def processing_seconds(breaches: list[BusMessage]) -> float:
    """From the pipeline reading the tick of its first breach to handing over its last
    (the breach headers): the processing, without process start-up and shut-down. Breaches
    are spread through the events (one in ~185), so the ends left out are negligible."""
    if not breaches:
        raise RuntimeError("no breaches: nothing to time the run by")
    first = min(int(m.header(RECEIVED_HEADER) or 0) for m in breaches)
    last = max(int(m.header(EMITTED_HEADER) or 0) for m in breaches)
    return (last - first) / 1e9


def in_process(lines: list[tuple[str, bytes]]) -> float:
    bus = InProcessBus()
    topics = Topics("events", "breaches", "deadletter", 4)
    bus.create_topics(topics.all(), 4)
    publisher = bus.publisher()
    for key, value in lines:
        publisher.publish(topics.events, key, value)
    began = time.perf_counter()
    InProcessPipeline(bus, topics).run_until_end()
    return time.perf_counter() - began


def kafka_one_process(kafka: KafkaBus, lines: list[tuple[str, bytes]]) -> tuple[float, int]:
    topics = fresh_topics(kafka, 4)
    publish_all(kafka, topics.events, lines)
    began = time.perf_counter()
    cpu = time.process_time()
    InProcessPipeline(kafka, topics).run_until_end()
    # This process's CPU seconds (all its threads: Bytewax, librdkafka): on a shared,
    # loaded machine, events per CPU-second say more about the code than the wall clock.
    CPU_SECONDS["kafka_one_process"] = time.process_time() - cpu
    # The source waits 0.5 s of quiet at the end of each partition (Tansu's high
    # watermark lags); that wait is not processing.
    elapsed = time.perf_counter() - began - 0.5
    breaches = count(kafka, topics.breaches)
    kafka.delete_topics(topics.all())
    return elapsed, breaches


CLUSTER_RUN = (sys.executable, "-m", "aetheris.cli", "pipeline", "run", "--until-end")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def kafka_cluster(
    kafka: KafkaBus, bootstrap: str, lines: list[tuple[str, bytes]], workdir: Path
) -> tuple[float, int]:
    topics = fresh_topics(kafka, 4)
    publish_all(kafka, topics.events, lines)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AETHERIS_", "KAFKA_"))}
    env.update(
        KAFKA_BOOTSTRAP_SERVERS=bootstrap,
        AETHERIS_TOPIC_EVENTS=topics.events,
        AETHERIS_TOPIC_BREACHES=topics.breaches,
        AETHERIS_TOPIC_DEADLETTER=topics.deadletter,
    )
    addresses = f"127.0.0.1:{free_port()};127.0.0.1:{free_port()}"
    processes = [
        subprocess.Popen(  # noqa: S603 - our own CLI
            [*CLUSTER_RUN, "-i", str(index), "-a", addresses],
            cwd=REPO,
            env=env,
            stdout=(workdir / f"cluster-{index}.log").open("wb"),
            stderr=subprocess.STDOUT,
        )
        for index in range(2)
    ]
    for process in processes:
        if process.wait(600) != 0:
            raise RuntimeError(f"cluster process failed; see {workdir}")
    breaches = read_breaches(kafka, topics.breaches)
    kafka.delete_topics(topics.all())
    return processing_seconds(breaches), len(breaches)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1_000)
    parser.add_argument("--events", type=int, default=300_000)
    args = parser.parse_args()
    bootstrap = get_settings().kafka_bootstrap_servers or "127.0.0.1:9092"
    kafka = KafkaBus(bootstrap)
    lines = build_lines(args.accounts, args.events)
    total = len(lines)
    # The events are built: keep them (and the imports) out of the cyclic collector's
    # scans, as `aetheris pipeline run` does for its start-up heap.
    gc.collect()
    gc.freeze()

    pure_time, pure_breaches = min(pure_engine(lines) for _ in range(2))
    memory_time = in_process(lines)
    one_time, one_breaches = kafka_one_process(kafka, lines)
    with tempfile.TemporaryDirectory(prefix="aetheris-bench-") as tmp:
        cluster_time, cluster_breaches = kafka_cluster(kafka, bootstrap, lines, Path(tmp))
    rows = [
        ("pure engine replay (parse + apply, one loop)", pure_time, pure_breaches),
        ("dataflow, in-process bus, 1 worker", memory_time, pure_breaches),
        ("dataflow from Kafka, 1 process × 1 worker", one_time, one_breaches),
        ("dataflow from Kafka, 2-process cluster (-i/-a)", cluster_time, cluster_breaches),
    ]
    print(f"\nMachine: {describe()}; broker {bootstrap}")
    print(f"{total:,} events ({args.accounts:,} accounts), {pure_breaches:,} breaches expected\n")
    print("| run | events/s | vs pure engine | breaches out |")
    print("|---|---|---|---|")
    for name, seconds, breaches in rows:
        rate = total / seconds
        print(f"| {name} | {rate:,.0f} | {rate / (total / pure_time):.2f} | {breaches:,} |")
    pure_cpu, one_cpu = CPU_SECONDS["pure_engine"], CPU_SECONDS["kafka_one_process"]
    print(
        f"\nBy this process's CPU time: pure engine {total / pure_cpu:,.0f} events/CPU-s, "
        f"dataflow from Kafka (1 process) {total / one_cpu:,.0f} events/CPU-s, "
        f"ratio {pure_cpu / one_cpu:.2f}"
    )
    write_result(
        "pipeline_throughput",
        {
            "events": total,
            "cpu_seconds": CPU_SECONDS,
            "runs": [
                {"run": n, "seconds": s, "events_per_s": total / s, "breaches": b}
                for n, s, b in rows
            ],
        },
    )


if __name__ == "__main__":
    main()
