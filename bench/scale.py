"""The scale test: 10,000 simulated accounts at a sustained tick rate through the real
Kafka-protocol broker, a two-process Bytewax cluster (recovery on), PostgreSQL (breach
store and tick archive) and Redis (live standings), then the rate stepped up until the
consumer lag grows.

    python bench/scale.py [--minutes 5] [--accounts 10000] [--rate 5000]
                          [--steps 8000,12000,16000,24000] [--step-seconds 30]

One command: it creates a scratch database (migrated, dropped at the end), fresh topics
and a Redis prefix of its own (deleted at the end), starts the cluster with
``aetheris pipeline run -i/-a``, registers the accounts and drives the load from a
separate process. Reported:

- sustained events/s: what the load process produced in the sustained phase, and
  whether the pipeline kept up (its lag stayed bounded);
- end-to-end latency (tick produced → its breach consumed) p50/p99/max, beside the
  broker's own produce → consume round trip measured in the same run (probe messages
  from the same producer, read by the same kind of consumer);
- consumer lag over time: how long a tick waited in the topic before the cluster read
  it (the breach's read-time header minus the tick's produce time; ~100 timed ticks a
  second), per 10-second window, and that wait times the offered rate as messages;
- memory (RSS) and CPU of each cluster process, sampled every 2 s;
- the rate at which the lag starts to grow: each step's wait in its last third against
  its first third.

Needs the services of ``make services``: the broker at KAFKA_BOOTSTRAP_SERVERS (default
127.0.0.1:9092), PostgreSQL at --admin-url, Redis at --redis-url. Figures go to
``bench/out/scale.json`` and BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing as mp
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import psycopg
import redis
from confluent_kafka import Producer

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench._machine import describe, write_result  # noqa: E402
from bench.pipeline_latency import (  # noqa: E402
    BASE,
    BREACHES_PER_SECOND,
    _ts,
    collect,
    percentiles,
    publish_accounts,
)
from infra.bus import BusMessage, Topics  # noqa: E402
from infra.bus.kafka import KafkaBus  # noqa: E402
from infra.db.migrate import migrate  # noqa: E402
from infra.settings import get_settings  # noqa: E402
from pipelines.sinks import RECEIVED_HEADER  # noqa: E402

WINDOW_SECONDS = 10.0
SAMPLE_SECONDS = 2.0


def account_id(number: int) -> str:
    """The same ids as bench/pipeline_latency.py's accounts (its helpers register them)."""
    return f"LAT{number:05d}"


@dataclass(frozen=True)
class Stage:
    name: str
    rate: int
    seconds: float


@dataclass(frozen=True)
class Load:
    """What the load process produces, and where."""

    bootstrap: str
    events: str
    probes: str
    accounts: int
    stages: list[Stage]


def generate(load: Load, conn: Connection) -> None:
    """The load, stage after stage: balance ticks round-robin over the accounts at each
    stage's rate, about 100 a second causing exactly one breach each (a daily-loss level
    1, then the account moves to a new day), and ~200 broker probes a second. Sends back
    when each breach-causing tick was produced, keyed by (account, ts), and each stage's
    produced count and seconds."""
    bootstrap, events, probes, accounts = load.bootstrap, load.events, load.probes, load.accounts
    producer = Producer(KafkaBus(bootstrap, linger_ms=5.0).producer_config())
    produce, poll = producer.produce, producer.poll
    day = [0] * accounts
    count = [0] * accounts
    keys = [account_id(n).encode() for n in range(accounts)]
    sent: dict[tuple[str, str], int] = {}
    report: list[tuple[str, int, float]] = []
    index = 0
    conn.send("ready")
    conn.recv()
    for stage in load.stages:
        rate = stage.rate
        breach_every = max(2, rate // BREACHES_PER_SECOND)
        probe_every = max(1, rate // 200)
        total = int(rate * stage.seconds)
        produced = 0
        started = time.perf_counter()
        while produced < total:
            due = min(total, int((time.perf_counter() - started) * rate) + 1)
            while produced < due:
                number = index % accounts
                count[number] += 1
                breach = (count[number] + number) % breach_every == 0
                if breach:
                    ts = _ts(BASE + timedelta(days=day[number], hours=12))
                    day[number] += 1
                else:
                    ts = _ts(BASE + timedelta(days=day[number], seconds=count[number] % 14_000))
                equity = "96400.0" if breach else "100000.0"
                key = keys[number]
                value = (
                    b'{"type":"balance","account_id":"%s","ts":"%s","balance":100000.0,'
                    b'"equity":%s}' % (key, ts.encode(), equity.encode())
                )
                if breach:
                    sent[(key.decode(), ts)] = time.time_ns()
                produce(events, value, key)
                if produced % probe_every == 0:
                    produce(probes, str(time.time_ns()).encode(), b"P%d" % index)
                produced += 1
                index += 1
            poll(0)
            time.sleep(0.0005)
        report.append((stage.name, produced, time.perf_counter() - started))
        conn.send(("stage", stage.name, time.time_ns()))
    if producer.flush(60):
        raise RuntimeError("the load generator could not deliver everything it produced")
    conn.send(("done", sent, report))


def proc_sample(pid: int) -> tuple[int, float]:
    """(RSS bytes, CPU seconds so far) of a process, from /proc."""
    rss = 0
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) * 1024
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return rss, (int(fields[11]) + int(fields[12])) / ticks


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def scratch_database(admin_url: str) -> tuple[str, str]:
    name = f"aetheris_scale_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = admin_url.rsplit("/", 1)[0] + f"/{name}"
    migrate(url, timescale="auto")
    return name, url


def drop_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=5.0, help="sustained phase (5)")
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--rate", type=int, default=5_000, help="sustained ticks/s (5,000)")
    parser.add_argument("--steps", default="8000,12000,16000,24000", help="then these rates")
    parser.add_argument("--step-seconds", type=float, default=30.0)
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    bootstrap = get_settings().kafka_bootstrap_servers or "127.0.0.1:9092"
    stages = [Stage("sustained", args.rate, args.minutes * 60)] + [
        Stage(f"step {rate}", int(rate), args.step_seconds)
        for rate in args.steps.split(",")
        if rate.strip()
    ]
    kafka = KafkaBus(bootstrap)
    suffix = uuid.uuid4().hex[:8]
    topics = Topics(f"scale.events.{suffix}", f"scale.breaches.{suffix}", f"scale.dl.{suffix}", 4)
    status_topic, probe_topic = f"scale.status.{suffix}", f"scale.probe.{suffix}"
    kafka.create_topics([*topics.all(), status_topic, probe_topic], topics.partitions)
    prefix = f"scale-{suffix}:"
    db_name, db_url = scratch_database(args.admin_url)
    workdir = Path(tempfile.mkdtemp(prefix="aetheris-scale-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AETHERIS_", "KAFKA_"))}
    env.update(
        KAFKA_BOOTSTRAP_SERVERS=bootstrap,
        AETHERIS_TOPIC_EVENTS=topics.events,
        AETHERIS_TOPIC_BREACHES=topics.breaches,
        AETHERIS_TOPIC_DEADLETTER=topics.deadletter,
        AETHERIS_TOPIC_STATUS=status_topic,
        DATABASE_URL=db_url,
        REDIS_URL=args.redis_url,
        AETHERIS_REDIS_PREFIX=prefix,
    )
    cli = [sys.executable, "-m", "aetheris.cli", "pipeline"]
    recovery = workdir / "recovery"
    subprocess.run([*cli, "init-recovery", str(recovery), "-p", "2"], cwd=REPO, env=env, check=True)  # noqa: S603
    addresses = f"127.0.0.1:{free_port()};127.0.0.1:{free_port()}"
    cluster = [
        subprocess.Popen(  # noqa: S603 - our own CLI
            [*cli, "run", "-i", str(i), "-a", addresses, "--recovery-dir", str(recovery)],
            cwd=REPO,
            env=env,
            stdout=(workdir / f"cluster-{i}.log").open("wb"),
            stderr=subprocess.STDOUT,
        )
        for i in range(2)
    ]
    breaches: list[tuple[BusMessage, int]] = []
    probes: list[tuple[BusMessage, int]] = []
    samples: list[dict[str, Any]] = []
    stop = threading.Event()
    threads = [
        threading.Thread(target=collect, args=(kafka, topics.breaches, breaches, stop)),
        threading.Thread(target=collect, args=(kafka, probe_topic, probes, stop)),
    ]

    def sample() -> None:
        began = time.time_ns()
        while not stop.wait(SAMPLE_SECONDS):
            row: dict[str, Any] = {"t": (time.time_ns() - began) / 1e9}
            for i, process in enumerate(cluster):
                with contextlib.suppress(OSError):  # a process that has just ended
                    row[f"rss_{i}"], row[f"cpu_{i}"] = proc_sample(process.pid)
            samples.append(row)

    marks: list[tuple[str, int]] = []
    stored = 0
    try:
        publisher = kafka.publisher()
        publish_accounts(publisher, topics.events, args.accounts)
        warm = (
            f'{{"type":"balance","account_id":"{account_id(0)}",'
            f'"ts":"{_ts(BASE - timedelta(days=1))}","balance":100000.0,"equity":90000.0}}'
        )
        publisher.publish(topics.events, account_id(0), warm.encode())
        publisher.flush()
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 180
        while not breaches:
            if time.monotonic() > deadline or any(p.poll() is not None for p in cluster):
                raise RuntimeError(f"the cluster did not start; see {workdir}")
            time.sleep(0.2)
        time.sleep(2.0)
        breaches.clear()
        sampler = threading.Thread(target=sample)
        sampler.start()
        threads.append(sampler)
        context = mp.get_context("spawn")
        parent, child = context.Pipe()
        generator = context.Process(
            target=generate,
            args=(Load(bootstrap, topics.events, probe_topic, args.accounts, stages), child),
        )
        generator.start()
        parent.recv()
        probes.clear()
        marks.append(("start", time.time_ns()))
        parent.send("go")
        while True:
            message = parent.recv()
            if message[0] == "done":
                _, sent, report = message
                break
            marks.append((message[1], message[2]))
        generator.join()
        # Let the cluster drain what it is behind on (at most two minutes).
        deadline = time.monotonic() + 120
        while len(breaches) < len(sent) and time.monotonic() < deadline:
            time.sleep(0.5)
        time.sleep(1.0)
        with psycopg.connect(db_url) as conn:
            row = conn.execute("SELECT count(*) FROM breaches").fetchone()
            stored = int(row[0]) if row else 0
    finally:
        stop.set()
        for thread in threads:
            if thread.is_alive():
                thread.join()
        for process in cluster:
            process.terminate()
        for process in cluster:
            process.wait(30)
        kafka.delete_topics([*topics.all(), status_topic, probe_topic])
        drop_database(args.admin_url, db_name)
        client = redis.Redis.from_url(args.redis_url)
        for name in client.scan_iter(match=f"{prefix}*", count=1000):
            client.delete(name)
        client.close()

    # Join each timed breach to its tick.
    start_ns = marks[0][1]
    timed: list[tuple[int, int, int]] = []  # (produced ns, read ns, consumed ns)
    seen: set[tuple[str, str]] = set()
    for message, consumed_ns in breaches:
        breach = json.loads(message.value or b"{}")
        key = (breach["account_id"], breach["ts"])
        produced_ns = sent.get(key)
        if produced_ns is None or key in seen:
            continue
        seen.add(key)
        timed.append((produced_ns, int(message.header(RECEIVED_HEADER) or 0), consumed_ns))
    timed.sort()
    bounds = [(name, when) for name, when in marks[1:]]
    stage_ranges = []
    previous = start_ns
    for stage, (_name, end) in zip(stages, bounds, strict=True):
        stage_ranges.append((stage, previous, end))
        previous = end

    def within(low: int, high: int) -> list[tuple[int, int, int]]:
        return [t for t in timed if low <= t[0] < high]

    result_stages = []
    for (stage, low, high), (_name, produced, seconds) in zip(stage_ranges, report, strict=True):
        rows = within(low + int(5e9), high)  # the first 5 s of a stage settle in
        waits = [read - made for made, read, _ in rows]
        third = max(1, len(waits) // 3)
        early = statistics.median(waits[:third]) / 1e6 if waits else float("nan")
        late = statistics.median(waits[-third:]) / 1e6 if waits else float("nan")
        trip = [
            c - int(m.value or b"0") for m, c in probes if low + 5e9 <= int(m.value or b"0") < high
        ]
        result_stages.append(
            {
                "stage": stage.name,
                "offered_rate": stage.rate,
                "produced_rate": produced / seconds,
                "timed_breaches": len(rows),
                "end_to_end_ms": percentiles([c - made for made, _, c in rows]),
                "broker_round_trip_ms": percentiles(trip),
                "tick_wait_ms": percentiles(waits),
                "wait_first_third_ms": early,
                "wait_last_third_ms": late,
                "lag_grows": bool(waits) and late > early + 1000.0,
            }
        )
    windows: list[dict[str, Any]] = []
    t = start_ns
    end_ns = previous
    rate_at = {id(s): s.rate for s in stages}
    while t < end_ns:
        rows = within(t, t + int(WINDOW_SECONDS * 1e9))
        stage = next((s for s, lo, hi in stage_ranges if lo <= t < hi), stages[-1])
        waits = [read - made for made, read, _ in rows]
        p = percentiles(waits)
        windows.append(
            {
                "t": (t - start_ns) / 1e9,
                "rate": rate_at[id(stage)],
                "wait_ms": p,
                "lag_messages": p["p50"] / 1000 * rate_at[id(stage)],
            }
        )
        t += int(WINDOW_SECONDS * 1e9)
    growing = next((s["offered_rate"] for s in result_stages if s["lag_grows"]), None)
    memory = {
        f"process_{i}": {
            "rss_max_mib": max((s.get(f"rss_{i}", 0) for s in samples), default=0) / 2**20,
            "rss_end_mib": (samples[-1].get(f"rss_{i}", 0) if samples else 0) / 2**20,
        }
        for i in range(2)
    }
    cpu = {}
    for i in range(2):
        points = [(s["t"], s[f"cpu_{i}"]) for s in samples if f"cpu_{i}" in s]
        if len(points) > 1:
            cpu[f"process_{i}"] = (points[-1][1] - points[0][1]) / (points[-1][0] - points[0][0])
    print(f"\nMachine: {describe()}; load average at the end {os.getloadavg()}")
    print(f"{args.accounts:,} accounts; breaches timed {len(timed):,} of {len(sent):,}; ")
    print(f"breaches stored in PostgreSQL: {stored:,}")
    print(
        "\n| stage | offered/s | produced/s | e2e p50/p99/max ms | broker p50/p99/max ms "
        "| tick wait p50/p99/max ms | wait first→last third ms | lag grows |"
    )
    print("|---|---:|---:|---|---|---|---|---|")
    for s in result_stages:
        e, b, w = s["end_to_end_ms"], s["broker_round_trip_ms"], s["tick_wait_ms"]
        print(
            f"| {s['stage']} | {s['offered_rate']:,} | {s['produced_rate']:,.0f} | "
            f"{e['p50']:.0f} / {e['p99']:.0f} / {e['max']:.0f} | "
            f"{b['p50']:.0f} / {b['p99']:.0f} / {b['max']:.0f} | "
            f"{w['p50']:.0f} / {w['p99']:.0f} / {w['max']:.0f} | "
            f"{s['wait_first_third_ms']:.0f} → {s['wait_last_third_ms']:.0f} | "
            f"{'yes' if s['lag_grows'] else 'no'} |"
        )
    print(f"\nlag starts to grow at: {growing if growing else 'no step'} ticks/s")
    print(f"memory: {json.dumps(memory)}; CPU cores used: {json.dumps(cpu)}")
    print("\nlag over time (10 s windows): t s, rate, tick wait p50 ms, ≈ messages behind")
    for w in windows:
        print(
            f"  {w['t']:6.0f} {w['rate']:>6} {w['wait_ms']['p50']:9.1f} {w['lag_messages']:10.0f}"
        )
    write_result(
        "scale",
        {
            "accounts": args.accounts,
            "stages": result_stages,
            "breaches_expected": len(sent),
            "breaches_timed": len(timed),
            "breaches_stored": stored,
            "lag_grows_at": growing,
            "memory": memory,
            "cpu_cores": cpu,
            "windows": windows,
            "load_average_end": os.getloadavg(),
        },
    )


if __name__ == "__main__":
    main()
