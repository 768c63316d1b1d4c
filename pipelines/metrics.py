"""The pipeline's Prometheus metrics (served by ``AETHERIS_METRICS_PORT``; docs/deploy.md).

Hot-path cost is kept to a few counter increments per Bytewax batch, not per event:
events in are counted per partition batch, events out per shard batch; breaches and dead
letters, rare, per item; consumer lag is read from the broker at most once per
:data:`LAG_INTERVAL_SECONDS` per worker.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from prometheus_client import Counter, Gauge, Histogram

log = logging.getLogger(__name__)

LAG_INTERVAL_SECONDS = 5.0

EVENTS_IN = Counter(
    "aetheris_pipeline_events_in",
    "Messages the pipeline read from the events topic.",
)
EVENTS_OUT = Counter(
    "aetheris_pipeline_events_out",
    "Items the risk step emitted: breaches, status changes, dead letters and standings.",
)
CONSUMER_LAG = Gauge(
    "aetheris_pipeline_consumer_lag",
    "Messages in the topic partition not yet read by this process (high watermark - next).",
    ["topic", "partition"],
)
BATCH_SECONDS = Histogram(
    "aetheris_pipeline_batch_seconds",
    "Time the risk step took for one shard batch (decode and risk_engine.apply).",
    buckets=(0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
)
BATCH_EVENTS = Histogram(
    "aetheris_pipeline_batch_events",
    "Messages in one shard batch.",
    buckets=(1, 4, 16, 64, 256, 1024, 4096, 16384),
)
BREACHES = Counter(
    "aetheris_pipeline_breaches",
    "Breaches emitted, by rule and level (1 warning, 2 danger, 3 breached).",
    ["rule", "level"],
)
DEAD_LETTERS = Counter(
    "aetheris_pipeline_dead_letters",
    "Messages the pipeline could not apply and sent to the dead-letter topic.",
)
SNAPSHOT_SECONDS = Histogram(
    "aetheris_pipeline_snapshot_seconds",
    "Time one shard's state snapshot took (pickling the accounts changed since the last).",
    buckets=(0.0001, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0),
)

# The next offset this process hands out, per (topic, partition): one dict store per
# partition batch on the hot path; the lag monitor's thread reads it.
read_offsets: dict[tuple[str, int], int] = {}


def note_read(topic: str, partition: int, count: int, next_offset: int) -> None:
    """A partition batch of ``count`` messages was handed out; ``next_offset`` is next."""
    EVENTS_IN.inc(count)
    read_offsets[(topic, partition)] = next_offset


class LagMonitor:
    """Sets :data:`CONSUMER_LAG` every ``interval`` seconds from the broker's end offsets
    and what this process has read, in a thread of its own (off the dataflow's path)."""

    def __init__(
        self,
        end_offsets: Callable[[str], dict[int, int]],
        topic: str,
        interval: float = LAG_INTERVAL_SECONDS,
    ) -> None:
        self._end_offsets = end_offsets
        self._topic = topic
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="aetheris-lag", daemon=True)

    def start(self) -> LagMonitor:
        self._thread.start()
        return self

    def measure(self) -> None:
        """One reading: each partition of the topic this process reads, its lag now."""
        topic = self._topic
        ends = self._end_offsets(topic)
        for (name, partition), offset in list(read_offsets.items()):
            if name == topic and partition in ends:
                CONSUMER_LAG.labels(topic, str(partition)).set(max(0, ends[partition] - offset))

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.measure()
            except Exception as exc:  # a broker hiccup must not end the readings
                log.warning("consumer lag not read: %s", exc)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self._interval + 5)
