"""Recovery in process: a run aborted mid-stream resumes from its snapshot on the same
store; every breach the pure engine expects is out, duplicates only of identical ids."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from bytewax.inputs import AbortExecution

from infra.bus import BusMessage, InProcessBus, Topics
from infra.rulesets import RulesetCatalog
from pipelines import sources
from pipelines.armor import build_armor_flow
from pipelines.runner import RecoveryConfig, ensure_recovery_store, run_main
from pipelines.sinks import breach_topic_writer, dead_letter_topic_writer
from pipelines.sources import BusPartition, BusSource
from schemas import BreachEvent

from .streams import breach_days, expected_breaches, make_bus, publish_lines, read_all


class CountingSource(BusSource):
    """Counts what its partitions read; aborts the run (as a crash) after ``crash_after``."""

    def __init__(self, bus: InProcessBus, topic: str, crash_after: int | None) -> None:
        super().__init__(bus, topic, until_end=True, round_size=7, end_grace_seconds=0.0)
        self.crash_after = crash_after
        self.read = 0
        self.resumed_at: dict[str, int | None] = {}

    def build_part(self, step_id: str, for_part: str, resume_state: int | None) -> BusPartition:
        self.resumed_at[for_part] = resume_state
        return CountingPartition(super().build_part(step_id, for_part, resume_state), self)


class CountingPartition(BusPartition):
    def __init__(self, inner: BusPartition, source: CountingSource) -> None:
        self._inner = inner
        self._source = source

    def next_batch(self) -> list[BusMessage]:
        source = self._source
        if source.crash_after is not None and source.read >= source.crash_after:
            raise AbortExecution("simulated crash")
        batch = self._inner.next_batch()
        source.read += len(batch)
        return batch

    def snapshot(self) -> int:
        return self._inner.snapshot()

    def close(self) -> None:
        self._inner.close()


def run_once(bus: InProcessBus, topics: Topics, store: Path, crash_after: int | None) -> int:
    source = CountingSource(bus, topics.events, crash_after)
    publisher = bus.publisher()
    flow = build_armor_flow(
        source,
        resolve=RulesetCatalog(),
        breach_output=lambda _part: breach_topic_writer(publisher, topics.breaches),
        deadletter_output=lambda _part: dead_letter_topic_writer(publisher, topics.deadletter),
        sink_parts=topics.partitions,
    )
    recovery = RecoveryConfig(store, timedelta(0))
    run_main(flow, epoch_interval=timedelta(milliseconds=1), recovery_config=recovery)
    return source.read


def test_an_aborted_run_resumes_from_its_snapshot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small reads, so the run crosses many epochs before it is aborted mid-stream.
    monkeypatch.setattr(sources, "BUFFER_LIMIT", 14)
    lines = breach_days(accounts=20, days=6)
    expected = {b.breach_id: b for b in expected_breaches(lines)}
    bus, topics = make_bus(partitions=3)
    publish_lines(bus, topics, lines)
    store = tmp_path / "recovery"
    ensure_recovery_store(store, 1)

    read_before_crash = run_once(bus, topics, store, crash_after=len(lines) // 2)
    assert read_before_crash < len(lines)  # Bytewax aborts the run without an error
    before_crash = [BreachEvent.model_validate_json(v) for v in read_all(bus, topics.breaches)]
    assert 0 < len(before_crash) < len(expected)

    resumed_read = run_once(bus, topics, store, crash_after=None)
    # It resumed from a snapshot, not from the start: less than everything was re-read.
    assert resumed_read < len(lines)

    out = [BreachEvent.model_validate_json(v) for v in read_all(bus, topics.breaches)]
    assert {b.breach_id for b in out} == set(expected)
    assert all(b == expected[b.breach_id] for b in out)  # duplicates are identical
    duplicates = len(out) - len(expected)
    assert duplicates < len(before_crash)  # only the last epoch's breaches came out twice
    assert read_all(bus, topics.deadletter) == []
