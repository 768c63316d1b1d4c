"""End-to-end latency of the streaming pipeline: produce a balance tick → consume the breach
it causes, through Kafka and an ``aetheris pipeline run`` process (recovery on), at steady
tick rates for 1,000 accounts. Each run also measures the broker's own produce→consume
round trip (probe messages from the same producer, read by the same kind of consumer), so
the report says what the pipeline adds on top of the broker.

    python bench/pipeline_latency.py [--rates 1000,10000] [--accounts 1000] [--seconds 30]
                                     [--repeat 3] [--pipeline-setting NAME=VALUE]

Needs a Kafka-protocol broker at KAFKA_BOOTSTRAP_SERVERS (default 127.0.0.1:9092;
``make bench`` starts Tansu). About 100 ticks a second cause exactly one breach each
(daily loss level 1: a drop to 96,400 on a 100,000 FTMO account, then a new day).
Last, the dataflow alone at the same rates: the in-process bus, no broker, to separate
what the dataflow adds from what sharing two cores with the broker costs.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path

from confluent_kafka import Producer

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench._machine import describe, write_result  # noqa: E402
from infra.bus import BusMessage, InProcessBus, Publisher, Topics  # noqa: E402
from infra.bus.kafka import KafkaBus  # noqa: E402
from infra.settings import get_settings  # noqa: E402
from pipelines.inprocess import InProcessPipeline  # noqa: E402
from pipelines.sinks import EMITTED_HEADER, RECEIVED_HEADER  # noqa: E402
from schemas import AccountEvent, event_json  # noqa: E402

BASE = datetime(2025, 1, 6, 8, 0, tzinfo=UTC)
BREACHES_PER_SECOND = 100  # measured ticks: each causes exactly one breach
RULESET = "ftmo-2step"  # daily loss limit 5,000 on 100,000: equity 96,400 is level 1 (72 %)


def account_id(number: int) -> str:
    return f"LAT{number:05d}"


def _ts(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Load:
    """What the load generator produces, and where."""

    bootstrap: str
    topics: Topics
    probe_topic: str
    accounts: int
    rate: int
    seconds: float
    # The feed's producer batching (a connector's); probes share the producer, so the
    # broker baseline includes the same batching.
    linger_ms: float


def build_ticks(
    accounts: int, total: int, breach_every: int
) -> list[tuple[str, bytes, tuple[str, str] | None]]:
    """Every tick of a run, built before it starts so that the producer only produces:
    (key, value, (account, ts) if the tick causes a breach)."""
    day = [0] * accounts
    count = [0] * accounts
    ticks: list[tuple[str, bytes, tuple[str, str] | None]] = []
    for index in range(total):
        number = index % accounts
        who = account_id(number)
        count[number] += 1
        breach = (count[number] + number) % breach_every == 0
        if breach:
            ts = _ts(BASE + timedelta(days=day[number], hours=12))
            day[number] += 1  # the next tick starts a new trading day
        else:
            ts = _ts(BASE + timedelta(days=day[number], seconds=count[number] % 14_000))
        equity = 96_400.0 if breach else 100_000.0
        value = (
            f'{{"type":"balance","account_id":"{who}","ts":"{ts}",'
            f'"balance":100000.0,"equity":{equity}}}'
        ).encode()
        ticks.append((who, value, (who, ts) if breach else None))
    return ticks


def generate(load: Load, conn: Connection) -> None:
    """The load: balance ticks at ``rate`` per second, and broker probes beside them; sends
    back when each breach-causing tick was produced, keyed by (account, ts)."""
    rate, events, probe_topic = load.rate, load.topics.events, load.probe_topic
    # About 100 breaches a second whatever the rate: one tick in ten at 1,000 ticks/s,
    # one in a hundred at 10,000 (breaches are rare in real feeds; the rest are ticks
    # the pipeline must judge all the same).
    breach_every = max(2, rate // BREACHES_PER_SECOND)
    ticks = [
        (key.encode(), value, breach)
        for key, value, breach in build_ticks(load.accounts, int(rate * load.seconds), breach_every)
    ]
    # The connectors' producer settings (idempotent, acks=all, murmur2 keys), driven
    # without the adapter's per-message delivery callbacks: the load generator stands in
    # for connectors on other machines, so its own CPU should take as little as possible
    # of the two cores the broker and the pipeline share.
    producer = Producer(KafkaBus(load.bootstrap, linger_ms=load.linger_ms).producer_config())
    produce, poll = producer.produce, producer.poll
    sent: dict[tuple[str, str], int] = {}
    probe_every = max(1, rate // 200)  # about 200 broker probes per second
    total = len(ticks)
    conn.send("ready")
    conn.recv()
    started = time.perf_counter()
    produced = 0
    while produced < total:
        due = min(total, int((time.perf_counter() - started) * rate) + 1)
        while produced < due:
            key, value, breach = ticks[produced]
            if breach is not None:
                sent[breach] = time.time_ns()
            produce(events, value, key)
            if produced % probe_every == 0:
                produce(probe_topic, str(time.time_ns()).encode(), b"P%d" % produced)
            produced += 1
        poll(0)
        time.sleep(0.0005)
    elapsed = time.perf_counter() - started
    if producer.flush(30):
        raise RuntimeError("the load generator could not deliver everything it produced")
    conn.send((sent, produced, elapsed))


def collect(
    kafka: KafkaBus, topic: str, into: list[tuple[BusMessage, int]], stop: threading.Event
) -> None:
    reader = kafka.reader(topic)
    try:
        while not stop.is_set():
            for message in reader.read(10_000, 0.05):
                into.append((message, time.time_ns()))
    finally:
        reader.close()


def percentiles(values_ns: list[int]) -> dict[str, float]:
    if not values_ns:
        return {"p50": float("nan"), "p99": float("nan"), "max": float("nan")}
    ordered = sorted(values_ns)

    def at(share: float) -> float:
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))] / 1e6

    return {"p50": at(0.50), "p99": at(0.99), "max": ordered[-1] / 1e6}


@dataclass
class RunResult:
    rate: int
    achieved_rate: float
    seconds: float
    breaches_expected: int
    breaches_received: int
    samples: int
    end_to_end_ms: dict[str, float]
    broker_round_trip_ms: dict[str, float]
    tick_in_ms: dict[str, float]
    inside_pipeline_ms: dict[str, float]
    breach_out_ms: dict[str, float]
    added_over_two_broker_trips_ms: dict[str, float]
    load_average: float  # 1-minute load average at the end: other work on the same cores
    # The 20 slowest inside-pipeline times: (seconds into the measured run, ms), to tell
    # periodic stalls (epoch snapshots) from scattered ones (sharing the cores).
    slowest_inside: list[tuple[float, float]]


def run_rate(
    bootstrap: str,
    *,
    accounts: int,
    rate: int,
    seconds: float,
    warmup: float,
    workdir: Path,
    recovery: bool = True,
    linger: float = 5.0,
    pipeline_settings: dict[str, str] | None = None,
) -> RunResult:
    kafka = KafkaBus(bootstrap)
    suffix = uuid.uuid4().hex[:8]
    topics = Topics(f"bench.events.{suffix}", f"bench.breaches.{suffix}", f"bench.dl.{suffix}", 4)
    probe_topic = f"bench.probe.{suffix}"
    kafka.create_topics([*topics.all(), probe_topic], topics.partitions)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AETHERIS_", "KAFKA_"))}
    env.update(
        KAFKA_BOOTSTRAP_SERVERS=bootstrap,
        AETHERIS_TOPIC_EVENTS=topics.events,
        AETHERIS_TOPIC_BREACHES=topics.breaches,
        AETHERIS_TOPIC_DEADLETTER=topics.deadletter,
    )
    env.update(pipeline_settings or {})
    log = (workdir / f"pipeline-{rate}-{suffix}.log").open("wb")
    run = [sys.executable, "-m", "aetheris.cli", "pipeline", "run"]
    if recovery:
        run += ["--recovery-dir", str(workdir / f"recovery-{rate}-{suffix}")]
    pipeline = subprocess.Popen(  # noqa: S603 - our own CLI
        run, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    breaches: list[tuple[BusMessage, int]] = []
    probes: list[tuple[BusMessage, int]] = []
    stop = threading.Event()
    readers = [
        threading.Thread(target=collect, args=(kafka, topics.breaches, breaches, stop)),
        threading.Thread(target=collect, args=(kafka, probe_topic, probes, stop)),
    ]
    try:
        publisher = kafka.publisher()
        publish_accounts(publisher, topics.events, accounts)
        # A first breach proves the pipeline is up and has read the accounts.
        warm = (
            f'{{"type":"balance","account_id":"{account_id(0)}",'
            f'"ts":"{_ts(BASE - timedelta(days=1))}","balance":100000.0,"equity":90000.0}}'
        )
        publisher.publish(topics.events, account_id(0), warm.encode())
        publisher.flush()
        for thread in readers:
            thread.start()
        deadline = time.monotonic() + 60
        while not breaches:
            if time.monotonic() > deadline or pipeline.poll() is not None:
                raise RuntimeError(f"the pipeline did not start; see {log.name}")
            time.sleep(0.1)
        time.sleep(1.0)
        breaches.clear()

        context = mp.get_context("spawn")
        parent, child = context.Pipe()
        load = Load(bootstrap, topics, probe_topic, accounts, rate, seconds + warmup, linger)
        generator = context.Process(target=generate, args=(load, child))
        generator.start()
        parent.recv()
        probes.clear()
        parent.send("go")
        sent, produced, elapsed = parent.recv()
        generator.join()
        deadline = time.monotonic() + 20
        while len(breaches) < len(sent) and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)
    finally:
        stop.set()
        for thread in readers:
            if thread.is_alive():
                thread.join()
        pipeline.terminate()
        pipeline.wait(10)
        log.close()
        kafka.delete_topics([*topics.all(), probe_topic])

    first_sent = min(sent.values())
    measured_from = first_sent + int(warmup * 1e9)
    end_to_end: list[int] = []
    tick_in: list[int] = []
    breach_out: list[int] = []
    timeline: list[tuple[int, int]] = []  # (when the pipeline read the tick, inside ns)
    received = set()
    for message, consumed_ns in breaches:
        breach = json.loads(message.value or b"{}")
        key = (breach["account_id"], breach["ts"])
        produced_ns = sent.get(key)
        if produced_ns is None or key in received:
            continue
        received.add(key)
        if produced_ns < measured_from:
            continue
        picked_ns = int(message.header(RECEIVED_HEADER) or 0)
        emitted_ns = int(message.header(EMITTED_HEADER) or 0)
        end_to_end.append(consumed_ns - produced_ns)
        tick_in.append(picked_ns - produced_ns)
        breach_out.append(consumed_ns - emitted_ns)
        timeline.append((picked_ns, emitted_ns - picked_ns))
    broker = [
        consumed_ns - int(message.value or b"0")
        for message, consumed_ns in probes
        if int(message.value or b"0") >= measured_from
    ]
    e2e = percentiles(end_to_end)
    trip = percentiles(broker)
    return RunResult(
        rate=rate,
        achieved_rate=produced / elapsed,
        seconds=seconds,
        breaches_expected=len(sent),
        breaches_received=len(received),
        samples=len(end_to_end),
        end_to_end_ms=e2e,
        broker_round_trip_ms=trip,
        tick_in_ms=percentiles(tick_in),
        inside_pipeline_ms=percentiles([inside_ns for _read_ns, inside_ns in timeline]),
        breach_out_ms=percentiles(breach_out),
        added_over_two_broker_trips_ms={k: e2e[k] - 2 * trip[k] for k in ("p50", "p99")},
        slowest_inside=[
            (round((read_ns - measured_from) / 1e9, 3), round(inside_ns / 1e6, 2))
            for read_ns, inside_ns in sorted(timeline, key=lambda pair: -pair[1])[:20]
        ],
        load_average=os.getloadavg()[0],
    )


def publish_accounts(publisher: Publisher, topic: str, accounts: int) -> None:
    """Register the benchmark's accounts (they must precede their ticks)."""
    for number in range(accounts):
        event = AccountEvent(
            account_id=account_id(number),
            ruleset=RULESET,
            initial_balance=100_000.0,
            currency="USD",
        )
        publisher.publish(topic, event.account_id, event_json(event).encode())


def in_process_run(accounts: int, rate: int, seconds: float, conn: Connection) -> None:
    """The dataflow alone: the in-process bus, no broker, the feed on another thread of
    this (spawned) process; sends back the inside-pipeline latencies in ns."""
    bus = InProcessBus()
    topics = Topics("events", "breaches", "deadletter", 4)
    bus.create_topics(topics.all(), topics.partitions)
    publisher = bus.publisher()
    publish_accounts(publisher, topics.events, accounts)
    ticks = build_ticks(accounts, int(rate * seconds), max(2, rate // BREACHES_PER_SECOND))
    pipeline = InProcessPipeline(bus, topics)
    pipeline.start()
    time.sleep(1.0)
    gc.collect()
    gc.freeze()  # as `aetheris pipeline run` does (pipelines/runner.py)
    started = time.perf_counter()
    produced = 0
    while produced < len(ticks):
        due = min(len(ticks), int((time.perf_counter() - started) * rate) + 1)
        while produced < due:
            key, value, _breach = ticks[produced]
            publisher.publish(topics.events, key, value)
            produced += 1
        time.sleep(0.0005)
    time.sleep(1.0)
    pipeline.stop()
    reader = bus.reader(topics.breaches)
    inside: list[int] = []
    while batch := reader.read(10_000, 0.0):
        inside.extend(
            int(m.header(EMITTED_HEADER) or 0) - int(m.header(RECEIVED_HEADER) or 0) for m in batch
        )
    conn.send(inside)


def fmt(values: dict[str, float]) -> str:
    return " / ".join(f"{values[k]:.1f}" for k in ("p50", "p99", "max") if k in values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="1000,10000", help="ticks per second, comma-separated")
    parser.add_argument("--accounts", type=int, default=1_000)
    parser.add_argument("--seconds", type=float, default=30.0, help="measured seconds per rate")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds not measured")
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="runs per rate (rates interleaved): this machine's noise between runs is as "
        "large as most changes, so compare the median of several",
    )
    parser.add_argument(
        "--feed-linger-ms",
        type=float,
        default=5.0,
        help="the load generator's producer batching delay (librdkafka's default, 5)",
    )
    parser.add_argument(
        "--no-recovery",
        action="store_true",
        help="run the pipeline without its recovery store (to see what snapshots cost)",
    )
    parser.add_argument(
        "--pipeline-setting",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a setting for the pipeline process, e.g. AETHERIS_PIPELINE_ROUND_SIZE=64 "
        "(repeatable; the bench's process keeps the defaults)",
    )
    parser.add_argument(
        "--skip-alone",
        action="store_true",
        help="skip the dataflow-alone runs (in-process bus, no broker)",
    )
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error(f"--repeat must be at least 1, got {args.repeat}")
    if malformed := [item for item in args.pipeline_setting if "=" not in item]:
        parser.error(f"--pipeline-setting takes NAME=VALUE, got {malformed[0]!r}")
    pipeline_settings = dict(item.split("=", 1) for item in args.pipeline_setting)
    bootstrap = get_settings().kafka_bootstrap_servers or "127.0.0.1:9092"
    results: list[RunResult] = []
    with tempfile.TemporaryDirectory(prefix="aetheris-bench-") as tmp:
        rates = [int(r) for r in args.rates.split(",")]
        for repeat, rate in itertools.product(range(args.repeat), rates):
            print(
                f"== {rate:,} ticks/s for {args.seconds:g} s (+{args.warmup:g} s warm-up), "
                f"run {repeat + 1} of {args.repeat}"
            )
            result = run_rate(
                bootstrap,
                accounts=args.accounts,
                rate=rate,
                seconds=args.seconds,
                warmup=args.warmup,
                workdir=Path(tmp),
                recovery=not args.no_recovery,
                pipeline_settings=pipeline_settings,
                linger=args.feed_linger_ms,
            )
            results.append(result)
            print(json.dumps(asdict(result), indent=1))
    alone: dict[int, dict[str, float]] = {}
    for rate in () if args.skip_alone else (int(r) for r in args.rates.split(",")):
        context = mp.get_context("spawn")
        parent, child = context.Pipe()
        process = context.Process(
            target=in_process_run, args=(args.accounts, rate, min(args.seconds, 15.0), child)
        )
        process.start()
        alone[rate] = percentiles(parent.recv())
        process.join()
    interval = get_settings().snapshot_interval_seconds
    recovery = "off" if args.no_recovery else f"on, {interval:g} s snapshots"
    print(
        f"\nMachine: {describe()}; broker {bootstrap}; pipeline recovery {recovery}; "
        f"feed producer linger {args.feed_linger_ms:g} ms, pipeline producer linger "
        f"{get_settings().kafka_linger_ms:g} ms"
        + "".join(f"; {item}" for item in args.pipeline_setting)
        + "\n"
    )
    print(
        "| ticks/s (achieved) | breaches measured | end to end p50 / p99 / max ms "
        "| broker round trip p50 / p99 / max ms | inside pipeline p50 / p99 / max ms "
        "| end to end − 2 × broker, p50 / p99 ms | lost | load avg |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        added = r.added_over_two_broker_trips_ms
        print(
            f"| {r.rate:,} ({r.achieved_rate:,.0f}) | {r.samples:,} | {fmt(r.end_to_end_ms)} "
            f"| {fmt(r.broker_round_trip_ms)} | {fmt(r.inside_pipeline_ms)} "
            f"| {added['p50']:.1f} / {added['p99']:.1f} "
            f"| {r.breaches_expected - r.breaches_received} | {r.load_average:.1f} |"
        )
    if alone:
        print(
            "\nThe dataflow alone (in-process bus, no broker; feed on another thread), "
            "inside-pipeline ms:\n\n| ticks/s | p50 / p99 / max ms |\n|---|---|"
        )
    for rate, inside in alone.items():
        print(f"| {rate:,} | {fmt(inside)} |")
    if args.repeat > 1:
        print("\nInside-pipeline p99 over the repeated runs (in run order; median of runs):\n")
        for rate in rates:
            p99s = [r.inside_pipeline_ms["p99"] for r in results if r.rate == rate]
            runs = ", ".join(f"{p99:.1f}" for p99 in p99s)
            print(f"- {rate:,} ticks/s: {runs} ms; median {statistics.median(p99s):.1f} ms")
    write_result(
        "pipeline_latency",
        {
            "runs": [asdict(r) for r in results],
            "pipeline_settings": args.pipeline_setting,
            "dataflow_alone_inside_ms": alone,
        },
    )


if __name__ == "__main__":
    main()
