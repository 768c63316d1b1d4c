"""The archive sink's tick keeping, around a fake store: worked examples, and the same
ticks kept however a stream is cut into epochs, resumed from snapshots, or replayed."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from infra.bus import BusMessage
from infra.db.archive import Archived, ArchiveReport, StatusChange
from pipelines.archive import ArchiveInput, ArchiveWriter
from schemas import BalanceEvent, BreachEvent, TradeEvent, event_json

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class FakeStore:
    """Keeps what was written, as the database would after dedup by offset marks."""

    def __init__(self) -> None:
        self.batches: list[list[Archived]] = []
        self.marks: dict[tuple[str, str, str], int] = {}
        self.rows: list[Archived] = []

    def write(
        self, items: Sequence[Archived], status_changes: Sequence[StatusChange] = ()
    ) -> ArchiveReport:
        self.batches.append(list(items))
        for item in items:
            kind = "ticks" if isinstance(item.event, BalanceEvent) else "events"
            key = (item.event.account_id, item.source, kind)
            if item.offset <= self.marks.get(key, -1):
                continue
            self.marks[key] = item.offset
            self.rows.append(item)
        return ArchiveReport()


def message(offset: int, text: str, account: str = "A") -> BusMessage:
    return BusMessage("events", 0, offset, account.encode(), text.encode())


def tick(offset: int, seconds: float, account: str = "A") -> BusMessage:
    event = BalanceEvent(
        account_id=account,
        ts=T0 + timedelta(seconds=seconds),
        balance=1_000.0,
        equity=1_000.0 - offset,
    )
    return message(offset, event_json(event), account)


def breach(seconds: float, account: str = "A") -> BreachEvent:
    return BreachEvent(
        breach_id=f"B-{account}-{seconds}",
        account_id=account,
        rule="max_daily_loss",
        level=1,
        ts=T0 + timedelta(seconds=seconds),
        value=1.0,
        limit=2.0,
        threshold=None,
        message="m",
    )


def kept_seconds(store: FakeStore) -> list[float]:
    out = []
    for item in store.rows:
        if isinstance(item.event, BalanceEvent):
            out.append((item.event.ts - T0).total_seconds())
    return out


def test_every_tick_is_kept_with_interval_zero() -> None:
    store = FakeStore()
    writer = ArchiveWriter(store, tick_interval_seconds=0)
    writer.write([tick(0, 0.1), tick(1, 0.2), tick(2, 0.3)])
    assert writer.unconfirmed() == ()
    assert kept_seconds(store) == [0.1, 0.2, 0.3]


def test_the_last_tick_of_each_interval_and_every_breach_tick_are_kept() -> None:
    store = FakeStore()
    writer = ArchiveWriter(store, tick_interval_seconds=1.0)
    # Interval [0, 1): 0.1, 0.5 (fires a breach), 0.9; interval [1, 2): 1.2 then 1.7.
    writer.write([tick(0, 0.1), tick(1, 0.5), tick(2, 0.9), tick(3, 1.2), breach(0.5)])
    snapshot = writer.unconfirmed()
    assert kept_seconds(store) == [0.5, 0.9]  # 0.1 superseded; 1.2 not decided yet
    assert [m.offset for m in snapshot] == [3]

    writer.write([tick(4, 1.7)])  # supersedes 1.2 in its interval
    assert [m.offset for m in writer.unconfirmed()] == [4]
    assert kept_seconds(store) == [0.5, 0.9]
    writer.close()  # the run ends: the latest tick is kept
    assert kept_seconds(store) == [0.5, 0.9, 1.7]


def test_trades_and_accounts_are_stored_at_once_and_late_ticks_are_kept() -> None:
    store = FakeStore()
    writer = ArchiveWriter(store, tick_interval_seconds=1.0)
    trade = TradeEvent(
        account_id="A",
        broker_trade_id="T1",
        status="open",
        symbol="NQ",
        side="long",
        quantity=1.0,
        entry_price=10.0,
        entry_time=T0,
    )
    writer.write([tick(0, 5.0), message(1, event_json(trade)), tick(2, 3.5), tick(3, 5.5)])
    writer.unconfirmed()
    # 5.0 closed by the late 3.5 (another interval); 3.5 closed by 5.5; 5.5 waits.
    assert kept_seconds(store) == [5.0, 3.5]
    assert [type(item.event) for item in store.rows] == [BalanceEvent, TradeEvent, BalanceEvent]


def test_bad_messages_are_left_to_the_dead_letter_output() -> None:
    store = FakeStore()
    writer = ArchiveWriter(store, tick_interval_seconds=0)
    writer.write([message(0, "{not json"), tick(1, 0.0)])
    writer.close()
    assert [item.offset for item in store.rows] == [1]


def test_a_negative_interval_is_refused() -> None:
    with pytest.raises(ValueError, match="0 \\(every tick\\) or more"):
        ArchiveWriter(FakeStore(), tick_interval_seconds=-1)


# -- the same ticks kept however the stream is cut, resumed or replayed -----------------

streams = st.lists(
    st.tuples(
        st.sampled_from(["A", "B"]),
        st.integers(0, 40).map(lambda tenths: tenths / 10),  # seconds
        st.booleans(),  # fires a breach
    ),
    min_size=1,
    max_size=40,
    # One tick per account and instant: a breach names its tick by (account, ts).
    unique_by=lambda row: (row[0], row[1]),
)


def reference(stream: list[tuple[str, float, bool]], interval: float) -> set[int]:
    """Offsets kept: a breach tick, a tick whose account's next tick is in another
    interval, and each account's last tick (the run ends)."""
    kept: set[int] = set()
    for offset, (account, seconds, fires) in enumerate(stream):
        following = [s for a, s, _ in stream[offset + 1 :] if a == account]
        bucket = int((T0 + timedelta(seconds=seconds)).timestamp() // interval)
        closed = bool(following) and (
            int((T0 + timedelta(seconds=following[0])).timestamp() // interval) != bucket
        )
        if fires or not following or closed:
            kept.add(offset)
    return kept


def items_of(stream: list[tuple[str, float, bool]], offsets: range) -> list[ArchiveInput]:
    out: list[ArchiveInput] = []
    for offset in offsets:
        account, seconds, fires = stream[offset]
        out.append(tick(offset, seconds, account))
        if fires:
            out.append(breach(seconds, account))
    return out


@given(streams, st.lists(st.integers(1, 40), max_size=6), st.integers(0, 6))
def test_kept_ticks_do_not_depend_on_epochs_crashes_or_replays(
    stream: list[tuple[str, float, bool]], cuts: list[int], crash_at: int
) -> None:
    interval = 1.0
    bounds = sorted({0, len(stream), *(c for c in cuts if c < len(stream))})
    epochs = [range(a, b) for a, b in itertools.pairwise(bounds)]
    store = FakeStore()

    # Run epoch by epoch; after epoch ``crash_at`` (if any), crash: the last committed
    # snapshot is the previous epoch's, that epoch is replayed into a resumed writer.
    writer = ArchiveWriter(store, tick_interval_seconds=interval)
    snapshots: list[tuple[BusMessage, ...]] = [()]
    crashed = False
    index = 0
    while index < len(epochs):
        writer.write(items_of(stream, epochs[index]))
        snapshots.append(writer.unconfirmed())  # stored, then (maybe) committed
        if index == crash_at and not crashed:
            crashed = True
            writer = ArchiveWriter(store, tick_interval_seconds=interval)
            writer.write(snapshots[index])  # the snapshot committed before the crash
            snapshots.pop()
            continue  # replay epoch ``index``
        index += 1
    writer.close()

    offsets = [item.offset for item in store.rows]
    assert len(offsets) == len(set(offsets)), "a tick stored twice"
    assert set(offsets) == reference(stream, interval)
