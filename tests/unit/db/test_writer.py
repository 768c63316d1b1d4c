"""The pipeline writer: buffers until flush, keeps a failed batch (and its id) for the next."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

import pytest

from infra.db.errors import SinkUnavailableError
from infra.db.sinks import DeadLetter, Event, WriteReport
from infra.db.writer import DatabaseWriter, from_bus
from schemas.events import BalanceEvent


class FakeSink:
    """Stores batches in memory; fails the first ``failures`` writes."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.calls: list[tuple[UUID | None, int, int]] = []
        self.stored: list[Event] = []

    def write(
        self,
        events: Sequence[Event],
        *,
        dead_letters: Sequence[DeadLetter] = (),
        batch_id: UUID | None = None,
    ) -> WriteReport:
        self.calls.append((batch_id, len(events), len(dead_letters)))
        if self.failures:
            self.failures -= 1
            raise SinkUnavailableError("database down")
        self.stored.extend(events)
        assert batch_id is not None
        return WriteReport(batch_id=batch_id, ticks=len(events))


@dataclass(frozen=True)
class BusLetter:
    source_topic: str
    partition: int
    offset: int
    key: str | None
    reason: str
    raw: str


def tick(second: int) -> BalanceEvent:
    return BalanceEvent(
        account_id="A1",
        ts=datetime(2026, 3, 2, 9, 0, second, tzinfo=UTC),
        balance=100.0,
        equity=100.0,
    )


def test_nothing_is_written_before_flush() -> None:
    sink = FakeSink()
    writer = DatabaseWriter(sink)
    writer.write([tick(1), tick(2)])
    assert sink.calls == []
    writer.flush()
    assert [c[1:] for c in sink.calls] == [(2, 0)]
    assert sink.stored == [tick(1), tick(2)]


def test_a_failed_flush_keeps_the_batch_and_its_id() -> None:
    sink = FakeSink(failures=1)
    writer = DatabaseWriter(sink)
    writer.write([tick(1)])

    with pytest.raises(SinkUnavailableError):
        writer.flush()
    writer.write([tick(2)])
    writer.flush()

    first_id, second_id = sink.calls[0][0], sink.calls[1][0]
    assert first_id == second_id  # a retry the database may already have: stored once
    assert sink.stored == [tick(1), tick(2)]
    assert writer.buffered == 0
    writer.write([tick(3)])
    writer.flush()
    assert sink.calls[2][0] != first_id


def test_a_full_buffer_flushes_itself() -> None:
    sink = FakeSink()
    writer = DatabaseWriter(sink, max_buffered=3)
    writer.write([tick(1), tick(2)])
    assert sink.calls == []
    writer.write([tick(3)])
    assert len(sink.stored) == 3


def test_bus_dead_letters_become_dead_letter_rows() -> None:
    letter = BusLetter("aetheris.trades", 2, 1043, "A1", "not valid JSON", "{oops")
    assert from_bus(letter) == DeadLetter(
        source="aetheris.trades[2]@1043",
        raw_payload="{oops",
        reason="not valid JSON",
        account_id="A1",
    )
    sink = FakeSink()
    writer = DatabaseWriter(sink)
    writer.write([letter])
    writer.flush()
    assert [c[1:] for c in sink.calls] == [(0, 1)]
