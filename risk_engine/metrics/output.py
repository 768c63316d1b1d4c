"""KPI frames to JSON-ready results: one dict per group, built straight from columns.

Thousands of accounts make hundreds of thousands of calendar cells; each list
is cut per group from whole columns (the frames are sorted by group) and its
rows built with literal dict displays, the cheapest way Python makes a dict.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import polars as pl

from risk_engine.metrics.catalog import (
    BREAKDOWN_FIELDS,
    BREAKDOWNS,
    CALENDAR_FIELDS,
    EQUITY_CURVE_FIELDS,
    KPIS,
    column_name,
)
from risk_engine.metrics.config import KpiConfig
from risk_engine.metrics.jsonsafe import json_number

KpiResult = dict[str, Any]
"""One result: JSON-ready (see docs/kpis.md), keys as in :data:`~.catalog.TOP_LEVEL_KEYS`."""

Rows = list[dict[str, Any]]


def _timestamp(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _day(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def _number(value: Any) -> Any:
    return json_number(value) if isinstance(value, float) else value


_CONVERT: dict[str, Callable[[Any], Any]] = {"timestamp": _timestamp, "date": _day}


def _calendar_rows(columns: list[list[Any]]) -> Rows:
    return [
        {"date": a, "net_pnl": b, "trades": c, "wins": d, "losses": e}
        for a, b, c, d, e in zip(*columns, strict=True)
    ]


def _curve_rows(columns: list[list[Any]]) -> Rows:
    return [
        {"date": a, "cumulative_pnl": b, "equity": c, "drawdown": d, "drawdown_pct": e}
        for a, b, c, d, e in zip(*columns, strict=True)
    ]


def _breakdown_rows(columns: list[list[Any]]) -> Rows:
    return [
        {
            "key": a,
            "trades": b,
            "wins": c,
            "losses": d,
            "breakevens": e,
            "win_rate": f,
            "net_pnl": g,
            "gross_profit": h,
            "gross_loss": i,
            "profit_factor": j if j is None else json_number(j),
            "expectancy": k,
        }
        for a, b, c, d, e, f, g, h, i, j, k in zip(*columns, strict=True)
    ]


def _per_group(
    frame: pl.DataFrame, fields: tuple[str, ...], build: Callable[[list[list[Any]]], Rows]
) -> dict[str, Rows]:
    """``build`` applied to each group's slice of ``fields``; the frame is sorted by group."""
    columns = [frame.get_column(name).to_list() for name in fields]
    rows: dict[str, Rows] = {}
    start = 0
    for run in frame.get_column("group").rle().to_list():
        end = start + run["len"]
        rows[run["value"]] = build([column[start:end] for column in columns])
        start = end
    return rows


def results(
    config: KpiConfig,
    scalars: pl.DataFrame,
    calendar: pl.DataFrame,
    equity_curve: pl.DataFrame,
    breakdowns: dict[str, pl.DataFrame],
) -> dict[str, KpiResult]:
    """One JSON-ready result per group, keyed by group, in the order of ``scalars``.

    Frames hold no NaN; list frames hold no infinity outside ``profit_factor``.
    """
    calendars = _per_group(calendar, CALENDAR_FIELDS, _calendar_rows)
    curves = _per_group(equity_curve, EQUITY_CURVE_FIELDS, _curve_rows)
    tables = {
        name: _per_group(breakdowns[name], BREAKDOWN_FIELDS, _breakdown_rows) for name in BREAKDOWNS
    }
    kpis = [
        (kpi.section, kpi.key, column_name(kpi.section, kpi.key), _CONVERT.get(kpi.unit, _number))
        for kpi in KPIS
    ]
    config_json = config.as_json()
    out: dict[str, KpiResult] = {}
    for row in scalars.iter_rows(named=True):
        group: str = row["group"]
        result: KpiResult = {
            "account_ids": row["account_ids"] or [],
            "currency": row["currency"],
            "starting_balance": _number(row["starting_balance"]),
            "config": dict(config_json),
        }
        for section, key, column, convert in kpis:
            result.setdefault(section, {})[key] = convert(row[column])
        result["breakdowns"] = {name: tables[name].get(group, []) for name in BREAKDOWNS}
        result["calendar"] = calendars.get(group, [])
        result["equity_curve"] = curves.get(group, [])
        out[group] = result
    return out
