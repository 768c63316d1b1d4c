"""Trading-journal KPIs on polars: execution, risk, returns, robustness, temporal, MFE/MAE.

Pure: no clock, no I/O. Build a :class:`Journal` (or use :func:`journal_from_events`),
then :func:`compute_kpis_by_account` or :func:`compute_kpis` (all accounts as one
book). Results are JSON-ready dicts with the keys listed in :mod:`.catalog` and
documented in ``docs/kpis.md``; :func:`compute_kpi_tables` gives the same numbers
as polars frames, for batch consumers of many accounts.
"""

from risk_engine.metrics.catalog import KPIS, SECTIONS, TOP_LEVEL_KEYS, Kpi
from risk_engine.metrics.config import KpiConfig
from risk_engine.metrics.engine import (
    COMBINED,
    KpiTables,
    compute_kpi_tables,
    compute_kpis,
    compute_kpis_by_account,
    daily_returns_frame,
)
from risk_engine.metrics.frames import Journal, JournalCounts, journal_from_events
from risk_engine.metrics.jsonsafe import NEGATIVE_INFINITY, POSITIVE_INFINITY
from risk_engine.metrics.output import KpiResult

__all__ = [
    "COMBINED",
    "KPIS",
    "NEGATIVE_INFINITY",
    "POSITIVE_INFINITY",
    "SECTIONS",
    "TOP_LEVEL_KEYS",
    "Journal",
    "JournalCounts",
    "Kpi",
    "KpiConfig",
    "KpiResult",
    "KpiTables",
    "compute_kpi_tables",
    "compute_kpis",
    "compute_kpis_by_account",
    "daily_returns_frame",
    "journal_from_events",
]
