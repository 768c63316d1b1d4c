"""Trading-day boundaries by the template's wall clock, across daylight-saving changes."""

from __future__ import annotations

from datetime import date, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from risk_engine.calendar import trading_day_of
from tests.unit.risk_engine.builders import account, run, tick, utc

PRAGUE = ZoneInfo("Europe/Prague")
CHICAGO = ZoneInfo("America/Chicago")


@pytest.mark.parametrize(
    ("instant", "label", "start", "end"),
    [
        # Winter (CET, UTC+1): midnight is 23:00 UTC.
        ("2026-03-02 22:59:59", date(2026, 3, 2), "2026-03-01 23:00", "2026-03-02 23:00"),
        ("2026-03-02 23:00", date(2026, 3, 3), "2026-03-02 23:00", "2026-03-03 23:00"),
        # Spring forward on 29 March: a 23-hour day.
        ("2026-03-29 12:00", date(2026, 3, 29), "2026-03-28 23:00", "2026-03-29 22:00"),
        ("2026-03-29 22:00", date(2026, 3, 30), "2026-03-29 22:00", "2026-03-30 22:00"),
        # Fall back on 25 October: a 25-hour day.
        ("2026-10-25 22:30", date(2026, 10, 25), "2026-10-24 22:00", "2026-10-25 23:00"),
    ],
)
def test_prague_midnight(instant: str, label: date, start: str, end: str) -> None:
    day = trading_day_of(utc(instant), PRAGUE, time(0, 0))
    assert (day.label, day.start, day.end) == (label, utc(start), utc(end))


@pytest.mark.parametrize(
    ("instant", "label", "start", "end"),
    [
        # 17:00 CST = 23:00 UTC; the evening session is labelled with the next date.
        ("2026-03-06 22:59", date(2026, 3, 6), "2026-03-05 23:00", "2026-03-06 23:00"),
        ("2026-03-06 23:00", date(2026, 3, 7), "2026-03-06 23:00", "2026-03-07 23:00"),
        # US spring forward on 8 March: the session that ends then lasts 23 hours.
        ("2026-03-08 12:00", date(2026, 3, 8), "2026-03-07 23:00", "2026-03-08 22:00"),
        ("2026-03-08 22:00", date(2026, 3, 9), "2026-03-08 22:00", "2026-03-09 22:00"),
    ],
)
def test_chicago_five_pm(instant: str, label: date, start: str, end: str) -> None:
    day = trading_day_of(utc(instant), CHICAGO, time(17, 0))
    assert (day.label, day.start, day.end) == (label, utc(start), utc(end))


@given(
    st.datetimes(
        min_value=utc("2020-01-01 00:00").replace(tzinfo=None),
        max_value=utc("2035-12-31 00:00").replace(tzinfo=None),
    ),
    st.sampled_from(["Europe/Prague", "America/Chicago", "America/New_York", "UTC"]),
    st.sampled_from([time(0, 0), time(17, 0), time(18, 0)]),
)
def test_every_instant_falls_in_its_day(moment, zone_name, day_start) -> None:  # type: ignore[no-untyped-def]
    instant = moment.replace(tzinfo=ZoneInfo("UTC"))
    day = trading_day_of(instant, ZoneInfo(zone_name), day_start)
    assert day.contains(instant)
    assert timedelta(hours=23) <= day.end - day.start <= timedelta(hours=25)
    assert trading_day_of(day.end, ZoneInfo(zone_name), day_start).start == day.end


def test_daily_loss_resets_on_the_dst_night_in_prague() -> None:
    # 29 March 2026: Prague springs forward, so the next day begins at 22:00 UTC, not 23:00.
    breaches = run(
        account("ftmo-2step"),
        tick("2026-03-29 10:00", 100_000, 96_000),  # warning on the 29th
        tick("2026-03-29 21:59", 96_500),  # the 29th closes at 96,500
        tick("2026-03-29 22:00", 96_500, 92_600),  # 30 March 00:00 CEST: 3,900 of 5,000
    )
    daily = [(b.level, b.ts.hour, b.threshold) for b in breaches if b.rule == "max_daily_loss"]
    assert daily == [(1, 10, 95_000), (1, 22, 91_500)]
