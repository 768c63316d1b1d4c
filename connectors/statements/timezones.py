"""Broker server time → UTC.

Pure. :func:`resolve_timezone` reads a ``--timezone`` value or a zone a file states:

- an IANA name: ``Europe/Helsinki``, ``America/New_York``, ``UTC``;
- a fixed offset: ``UTC+3``, ``GMT+2``, ``UTC-05:00``, ``UTC+5:30``, ``+03:00``;
- the MetaTrader brokers' convention ``GMT+2/+3-US`` (also written ``GMT+2/+3``,
  ``GMT+2/+3 US DST``): the server clock is New York time + 7 hours, so it is GMT+2 in
  winter, GMT+3 in summer, switching on the US daylight-saving dates (the trading day
  turns at midnight server time, 17:00 in New York). ``GMT+2/+3-EU`` switches on the
  European dates instead (``Europe/Athens``).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_NEW_YORK = ZoneInfo("America/New_York")
_SEVEN_HOURS = timedelta(hours=7)
_OFFSET = re.compile(r"^(?:UTC|GMT)?\s*(?P<sign>[+-])(?P<hours>\d{1,2})(?::?(?P<minutes>\d{2}))?$")
_US_CONVENTION = re.compile(
    r"^(?:GMT|UTC)\s*\+2\s*/\s*\+3(?:\s*[-_ ]?\s*(?:US|US DST|with US DST|NY|New York))?$",
    re.IGNORECASE,
)
_EU_CONVENTION = re.compile(r"^(?:GMT|UTC)\s*\+2\s*/\s*\+3\s*[-_ ]?\s*EU$", re.IGNORECASE)


class TimezoneError(ValueError):
    """A time-zone text that names no zone we know."""


class NewYorkPlusSeven(tzinfo):
    """Server time = New York time + 7 h: GMT+2 in winter, GMT+3 in US summer time."""

    def utcoffset(self, dt: datetime | None) -> timedelta:
        if dt is None:
            return timedelta(hours=2)
        new_york = (dt.replace(tzinfo=None) - _SEVEN_HOURS).replace(tzinfo=_NEW_YORK)
        offset = new_york.utcoffset()
        assert offset is not None
        return offset + _SEVEN_HOURS

    def dst(self, dt: datetime | None) -> timedelta:
        return self.utcoffset(dt) - timedelta(hours=2)

    def tzname(self, dt: datetime | None) -> str:
        return "GMT+2/+3-US"

    def __repr__(self) -> str:
        return "NewYorkPlusSeven()"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, NewYorkPlusSeven)

    def __hash__(self) -> int:
        return hash("GMT+2/+3-US")


def fixed_offset(hours: int, minutes: int = 0, sign: int = 1) -> tzinfo:
    """A fixed UTC offset, named ``UTC+03:00`` and so on."""
    delta = sign * timedelta(hours=hours, minutes=minutes)
    if abs(delta) > timedelta(hours=14):
        raise TimezoneError(f"offset {delta} is beyond ±14 hours")
    return UTC if not delta else timezone(delta)


def resolve_timezone(spec: str) -> tzinfo:
    """The zone ``spec`` names (module doc); :class:`TimezoneError` says what is wrong."""
    text = spec.strip()
    if not text:
        raise TimezoneError("the time zone is empty (give e.g. Europe/Helsinki or UTC+2)")
    if text.upper() in ("UTC", "GMT", "Z", "UTC+0", "GMT+0", "UTC0", "GMT0"):
        return UTC
    if _US_CONVENTION.match(text):
        return NewYorkPlusSeven()
    if _EU_CONVENTION.match(text):
        return ZoneInfo("Europe/Athens")
    match = _OFFSET.match(text.upper())
    if match:
        return fixed_offset(
            int(match["hours"]),
            int(match["minutes"] or 0),
            -1 if match["sign"] == "-" else 1,
        )
    if "/" in text or text.isalpha():
        try:
            return ZoneInfo(text)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    raise TimezoneError(
        f"unknown time zone {spec!r}: give an IANA name (Europe/Helsinki), a fixed offset "
        "(UTC+3, GMT-05:00) or GMT+2/+3-US (MetaTrader server time: New York + 7 h)"
    )


def to_utc(naive: datetime, tz: tzinfo) -> datetime:
    """A wall-clock time read in zone ``tz`` as an aware UTC datetime.

    In a zone with daylight saving, a time in the autumn's repeated hour is read as the
    first (summer-time) one and a time in the spring gap as if the clock had not moved
    yet (``fold=0``, Python's rule); an already aware time is just converted.
    """
    if naive.tzinfo is not None:
        return naive.astimezone(UTC)
    return naive.replace(tzinfo=tz).astimezone(UTC)
