"""Pure parts of the metrics and alert routes: trading-day bounds by label, the ISO-8601
time parameter, and the in-memory KPI cache."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from pydantic import TypeAdapter, ValidationError

from api.metrics import DayClock
from api.params import IsoTime
from infra.kpi_cache import MemoryKpiCache


def test_an_ftmo_day_is_midnight_to_midnight_in_prague() -> None:
    clock = DayClock(ZoneInfo("Europe/Prague"), time(0, 0))
    day = clock.day_labelled(date(2026, 3, 2))
    # Prague is UTC+1 in winter: 00:00 local is 23:00 UTC the day before.
    assert (day.start, day.end) == (
        datetime(2026, 3, 1, 23, 0, tzinfo=UTC),
        datetime(2026, 3, 2, 23, 0, tzinfo=UTC),
    )
    # the night the clocks go forward (29 March 2026) makes a 23-hour day
    spring = clock.day_labelled(date(2026, 3, 29))
    assert (spring.end - spring.start).total_seconds() == 23 * 3600


def test_a_topstep_day_is_labelled_by_the_date_it_ends_on() -> None:
    clock = DayClock(ZoneInfo("America/Chicago"), time(17, 0))
    day = clock.day_labelled(date(2026, 3, 3))  # Monday 17:00 to Tuesday 17:00 Chicago
    assert (day.start, day.end) == (
        datetime(2026, 3, 2, 23, 0, tzinfo=UTC),
        datetime(2026, 3, 3, 23, 0, tzinfo=UTC),
    )
    assert clock.day_of(datetime(2026, 3, 2, 23, 30, tzinfo=UTC)).label == date(2026, 3, 3)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-03-02T09:00:00Z", datetime(2026, 3, 2, 9, 0, tzinfo=UTC)),
        ("2026-03-02T10:00:00+01:00", datetime(2026, 3, 2, 9, 0, tzinfo=UTC)),
    ],
)
def test_iso_times_with_an_offset_are_read(text: str, expected: datetime) -> None:
    assert TypeAdapter(IsoTime).validate_python(text) == expected


@pytest.mark.parametrize("text", ["0.5", "1741000000", "2026-03-02T09:00:00", "tomorrow", ""])
def test_anything_else_is_refused(text: str) -> None:
    with pytest.raises(ValidationError):
        TypeAdapter(IsoTime).validate_python(text)


def test_the_memory_cache_keeps_the_most_recently_used() -> None:
    cache = MemoryKpiCache(capacity=2)
    cache.put("a", b"1")
    cache.put("b", b"2")
    assert cache.get("a") == b"1"  # a is now the most recent
    cache.put("c", b"3")  # b, the least recent, goes
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (b"1", None, b"3")
