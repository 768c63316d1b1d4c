"""Trading days: which day an event belongs to, by the wall clock of the template's time zone.

A trading day starts at ``day_start`` local time (midnight Europe/Prague for FTMO,
17:00 America/Chicago for Topstep). A day that starts at or after noon is labelled
with the date on which it ends, as futures exchanges do (Monday 17:00 to Tuesday
17:00 is Tuesday's session); otherwise with the date on which it starts.
Wall-clock arithmetic keeps the boundary right across DST changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

_ONE_DAY = timedelta(days=1)
_NOON = time(12, 0)


@dataclass(frozen=True, slots=True)
class TradingDay:
    """One trading day: its label and its bounds in UTC (start inclusive, end exclusive)."""

    label: date
    start: datetime
    end: datetime

    def contains(self, ts: datetime) -> bool:
        return self.start <= ts < self.end


def _local_wall_to_utc(wall: datetime, zone: ZoneInfo) -> datetime:
    return wall.replace(tzinfo=zone).astimezone(UTC)


# The last day computed per (zone, day start): accounts on one template cross the
# boundary together, so most look-ups are answered without time-zone arithmetic.
_RECENT: dict[tuple[str, time], TradingDay] = {}


def trading_day_of(ts: datetime, zone: ZoneInfo, day_start: time) -> TradingDay:
    """The trading day that contains the UTC instant ``ts``."""
    key = (zone.key, day_start)
    recent = _RECENT.get(key)
    if recent is not None and recent.start <= ts < recent.end:
        return recent
    day = _compute_trading_day(ts, zone, day_start)
    _RECENT[key] = day
    return day


def trading_day_in(ts: datetime, timezone: str, day_start: time) -> TradingDay:
    """:func:`trading_day_of` for a zone given by its IANA name, as a ruleset has it: the
    zone is looked up only when the cached day does not hold ``ts`` (the engine's day roll)."""
    key = (timezone, day_start)
    recent = _RECENT.get(key)
    if recent is not None and recent.start <= ts < recent.end:
        return recent
    day = _compute_trading_day(ts, ZoneInfo(timezone), day_start)
    _RECENT[key] = day
    return day


def _compute_trading_day(ts: datetime, zone: ZoneInfo, day_start: time) -> TradingDay:
    wall = ts.astimezone(zone).replace(tzinfo=None)
    offset = timedelta(hours=day_start.hour, minutes=day_start.minute)
    session_date = (wall - offset).date()
    start_wall = datetime.combine(session_date, day_start)
    start = _local_wall_to_utc(start_wall, zone)
    if start > ts:  # a start time skipped by a DST gap resolved forwards past ts
        session_date -= _ONE_DAY
        start_wall = datetime.combine(session_date, day_start)
        start = _local_wall_to_utc(start_wall, zone)
    end = _local_wall_to_utc(start_wall + _ONE_DAY, zone)
    label = session_date + _ONE_DAY if day_start >= _NOON else session_date
    return TradingDay(label=label, start=start, end=end)
