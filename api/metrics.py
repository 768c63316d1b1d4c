"""The metrics engine over stored history: an account's KPIs for a time range (the same
keys as ``aetheris kpis``), or several accounts' KPIs as one book, its trading days, a
month's P&L calendar and the downsampled equity curve; and the KPIs of one trading day
that the snapshot job stores.

Pure parts (turning rows into the engine's frames, trading-day bounds) are functions
here; the reads go through ``infra.db.metrics``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl

from api.ports import MixedCurrencies
from infra.db import metrics as rows
from infra.db.pool import Pool
from infra.db.repositories import DailyPnl, daily_pnl
from infra.kpi_cache import KpiCache
from risk_engine.calendar import TradingDay, trading_day_of
from risk_engine.metrics import Journal, KpiConfig, compute_kpis, compute_kpis_by_account
from risk_engine.metrics.frames import ACCOUNT_SCHEMA, BALANCE_SCHEMA, TRADE_SCHEMA
from schemas.rulesets import Ruleset, RulesetError, builtin_rulesets, with_overrides

EquityPoint = rows.EquityPoint
AccountBasics = rows.AccountBasics


@dataclass(frozen=True)
class DayClock:
    """Where an account's trading days start: its rule set's time zone and day start."""

    zone: ZoneInfo
    day_start: time

    def day_of(self, ts: datetime) -> TradingDay:
        return trading_day_of(ts, self.zone, self.day_start)

    def day_labelled(self, label: date) -> TradingDay:
        """The trading day with this label (a day starting at or after noon is labelled by
        the date it ends on)."""
        session = label - timedelta(days=1) if self.day_start >= time(12, 0) else label
        # Six hours after the session's start is always inside it (DST moves an hour).
        probe = datetime.combine(session, self.day_start, tzinfo=self.zone) + timedelta(hours=6)
        return self.day_of(probe.astimezone(UTC))


@cache
def _templates() -> dict[str, Ruleset]:
    return builtin_rulesets()


def day_clock(account: AccountBasics) -> DayClock:
    """The account's day boundary; UTC midnight for a rule set this server does not know."""
    template = _templates().get(account.ruleset)
    if template is None:
        return DayClock(ZoneInfo("UTC"), time(0, 0))
    try:
        ruleset = with_overrides(template, account.overrides or None)
    except (RulesetError, ValueError, TypeError):
        ruleset = template
    return DayClock(ruleset.zone, ruleset.day_start)


def journal_of(data: rows.JournalRows) -> Journal:
    """The KPI engine's journal from stored rows (the account starts at ``start_balance``)."""
    return Journal(
        trades=pl.DataFrame(data.trades, schema=dict(TRADE_SCHEMA), orient="row"),
        balances=pl.DataFrame(data.balances, schema=dict(BALANCE_SCHEMA), orient="row"),
        accounts=pl.DataFrame(
            [(data.account.account_id, data.start_balance, data.account.currency)],
            schema=dict(ACCOUNT_SCHEMA),
            orient="row",
        ),
    )


def kpis_of(data: rows.JournalRows, clock: DayClock) -> dict[str, Any]:
    """Every KPI of the rows, by the account's time zone (``aetheris kpis`` keys)."""
    config = KpiConfig(timezone=clock.zone.key)
    result: dict[str, Any] = dict(
        compute_kpis_by_account(journal_of(data), config)[data.account.account_id]
    )
    return result


def book_journal_of(data: rows.BookRows) -> Journal:
    """The KPI engine's journal of several accounts (each from its start balance)."""
    return Journal(
        trades=pl.DataFrame(data.trades, schema=dict(TRADE_SCHEMA), orient="row"),
        balances=pl.DataFrame(data.balances, schema=dict(BALANCE_SCHEMA), orient="row"),
        accounts=pl.DataFrame(
            [(a.account_id, data.start_balances[a.account_id], a.currency) for a in data.accounts],
            schema=dict(ACCOUNT_SCHEMA),
            orient="row",
        ),
    )


def book_zone(accounts: list[AccountBasics]) -> ZoneInfo:
    """The clock of a book's days: its accounts' rule-set time zone when they all share
    one, else UTC."""
    zones = {day_clock(account).zone.key for account in accounts}
    return ZoneInfo(zones.pop()) if len(zones) == 1 else ZoneInfo("UTC")


def book_of(accounts: list[AccountBasics], currency: str | None) -> list[AccountBasics]:
    """The accounts a book adds up: those in ``currency``, or all of them when they share
    one currency (money in different currencies is never added up)."""
    if currency is not None:
        return [account for account in accounts if account.currency == currency]
    currencies = sorted({account.currency for account in accounts})
    if len(currencies) > 1:
        raise MixedCurrencies(currencies)
    return accounts


# Part of every cache key: a change to how KPIs are computed or shaped bumps it.
KPI_DOCUMENT_VERSION = "1"


def _cache_key(
    basics: AccountBasics, since: datetime | None, until: datetime | None, fingerprint: str
) -> str:
    named = json.dumps(
        [
            KPI_DOCUMENT_VERSION,
            basics.account_id,
            basics.ruleset,
            basics.overrides,
            basics.initial_balance,
            basics.currency,
            None if since is None else since.isoformat(),
            None if until is None else until.isoformat(),
            fingerprint,
        ],
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(named.encode()).hexdigest()


def _book_cache_key(
    accounts: list[AccountBasics],
    since: datetime | None,
    until: datetime | None,
    fingerprint: str,
) -> str:
    named = json.dumps(
        [
            KPI_DOCUMENT_VERSION,
            "book",
            [
                [a.account_id, a.ruleset, a.overrides, a.initial_balance, a.currency]
                for a in accounts
            ],
            None if since is None else since.isoformat(),
            None if until is None else until.isoformat(),
            fingerprint,
        ],
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(named.encode()).hexdigest()


class DatabaseMetrics:
    """:class:`api.ports.MetricsStore` over PostgreSQL (either backend), with an optional
    cache of computed KPI documents keyed by a fingerprint of the history."""

    def __init__(self, pool: Pool, cache: KpiCache | None = None) -> None:
        self._pool = pool
        self._cache = cache

    def kpis(self, account_id: str, since: datetime | None, until: datetime | None) -> bytes | None:
        """The KPI document of the range as JSON, or None without such an account."""
        basics = rows.account_basics(self._pool, account_id)
        if basics is None:
            return None
        key = None
        if self._cache is not None:
            fingerprint = rows.history_fingerprint(self._pool, account_id, since, until)
            key = _cache_key(basics, since, until, fingerprint)
            cached = self._cache.get(key)
            if cached is not None:
                return cached
        clock = day_clock(basics)
        data = rows.journal_rows(self._pool, basics, since, until, zone=clock.zone.key)
        document = json.dumps(kpis_of(data, clock), allow_nan=False, separators=(",", ":")).encode()
        if self._cache is not None and key is not None:
            self._cache.put(key, document)
        return document

    def book_kpis(
        self,
        account_ids: list[str],
        since: datetime | None,
        until: datetime | None,
        currency: str | None,
    ) -> bytes:
        """The KPI document of these accounts as one book (see :func:`book_of`)."""
        accounts = book_of(rows.accounts_basics(self._pool, account_ids), currency)
        zone = book_zone(accounts)
        key = None
        if self._cache is not None:
            fingerprint = rows.book_fingerprint(
                self._pool, [a.account_id for a in accounts], since, until
            )
            key = _book_cache_key(accounts, since, until, fingerprint)
            cached = self._cache.get(key)
            if cached is not None:
                return cached
        data = rows.book_rows(self._pool, accounts, since, until, zone=zone.key)
        result = dict(compute_kpis(book_journal_of(data), KpiConfig(timezone=zone.key)))
        document = json.dumps(result, allow_nan=False, separators=(",", ":")).encode()
        if self._cache is not None and key is not None:
            self._cache.put(key, document)
        return document

    def day_kpis(self, account_id: str, day: date) -> dict[str, Any] | None:
        return rows.kpi_snapshot(self._pool, account_id, day)

    def calendar(self, account_id: str, first: date, last: date) -> list[DailyPnl]:
        with self._pool.connection() as conn:
            return daily_pnl(conn, account_id, first, last)

    def equity_curve(
        self, account_id: str, since: datetime | None, until: datetime | None, buckets: int
    ) -> list[EquityPoint]:
        if since is None or until is None:
            span = rows.tick_range(self._pool, account_id)
            if span is None:
                return []
            since = since or span[0]
            until = until or span[1] + timedelta(microseconds=1)
        if until <= since:
            return []
        return rows.equity_curve(self._pool, account_id, since, until, buckets)
