"""Server time → UTC, with the offsets worked by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from connectors.statements.timezones import TimezoneError, resolve_timezone, to_utc


def test_iana_name() -> None:
    helsinki = resolve_timezone("Europe/Helsinki")
    # 15 Jan: EET, UTC+2 -> 12:00 local is 10:00 UTC; 15 Jul: EEST, UTC+3 -> 09:00 UTC.
    assert to_utc(datetime(2026, 1, 15, 12), helsinki) == datetime(2026, 1, 15, 10, tzinfo=UTC)
    assert to_utc(datetime(2026, 7, 15, 12), helsinki) == datetime(2026, 7, 15, 9, tzinfo=UTC)


@pytest.mark.parametrize(
    ("spec", "hours"),
    [("UTC+3", 3), ("GMT+2", 2), ("UTC-05:00", -5), ("+03:00", 3), ("UTC", 0), ("GMT", 0)],
)
def test_fixed_offsets(spec: str, hours: int) -> None:
    tz = resolve_timezone(spec)
    assert to_utc(datetime(2026, 3, 1, 12), tz) == datetime(2026, 3, 1, 12, tzinfo=UTC) - timedelta(
        hours=hours
    )


def test_half_hour_offset() -> None:
    tz = resolve_timezone("UTC+5:30")
    assert to_utc(datetime(2026, 3, 1, 12), tz) == datetime(2026, 3, 1, 6, 30, tzinfo=UTC)


@pytest.mark.parametrize("spec", ["GMT+2/+3-US", "GMT+2/+3", "GMT+2/+3 US DST", "gmt+2/+3-us"])
def test_metatrader_convention_follows_us_dst(spec: str) -> None:
    tz = resolve_timezone(spec)
    # US DST 2026: 8 March to 1 November. Europe: 29 March to 25 October.
    # 2 March (US winter): server = GMT+2 -> 12:00 is 10:00 UTC.
    assert to_utc(datetime(2026, 3, 2, 12), tz) == datetime(2026, 3, 2, 10, tzinfo=UTC)
    # 10 March (US summer already, Europe still winter): GMT+3 -> 09:00 UTC.
    assert to_utc(datetime(2026, 3, 10, 12), tz) == datetime(2026, 3, 10, 9, tzinfo=UTC)
    # 28 October (Europe winter again, US still summer): GMT+3 -> 09:00 UTC.
    assert to_utc(datetime(2026, 10, 28, 12), tz) == datetime(2026, 10, 28, 9, tzinfo=UTC)
    # 3 November (US winter): GMT+2 -> 10:00 UTC.
    assert to_utc(datetime(2026, 11, 3, 12), tz) == datetime(2026, 11, 3, 10, tzinfo=UTC)
    # The day turns at 17:00 New York: 00:00 server on 10 March = 17:00 EDT on 9 March.
    assert to_utc(datetime(2026, 3, 10, 0), tz) == datetime(2026, 3, 9, 21, tzinfo=UTC)


def test_eu_variant_switches_on_european_dates() -> None:
    tz = resolve_timezone("GMT+2/+3-EU")
    # 10 March: Europe still winter -> GMT+2.
    assert to_utc(datetime(2026, 3, 10, 12), tz) == datetime(2026, 3, 10, 10, tzinfo=UTC)


@pytest.mark.parametrize("spec", ["", "Mars/Olympus", "UTC+25", "GMT+2/+4", "nonsense zone"])
def test_unknown_zones_are_clear_errors(spec: str) -> None:
    with pytest.raises(TimezoneError):
        resolve_timezone(spec)


def test_aware_times_are_only_converted() -> None:
    aware = datetime(2026, 3, 1, 12, tzinfo=UTC)
    assert to_utc(aware, resolve_timezone("UTC+3")) == aware
