"""The knobs of the metrics engine: annualisation, risk-free rate, confidence levels, time zone."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import time


@dataclass(frozen=True, slots=True)
class KpiConfig:
    """How the KPIs are computed; the defaults follow quantstats.

    ``risk_free_rate`` is annual and is turned into a per-period rate as
    ``(1 + rate) ** (1 / periods_per_year) - 1``, as quantstats does.
    ``timezone`` decides which calendar day, weekday, hour and month a trade
    belongs to (an IANA name such as ``"Europe/Prague"``); sessions always use UTC.
    ``day_start`` is when the day turns on that clock, as in the account's rule set
    (``risk_engine.calendar``: 17:00 America/Chicago for Topstep); a day starting at or
    after noon is labelled with the date it ends. The P&L calendar, daily returns and
    drawdown days then match the engine's and the database's trading days.
    """

    periods_per_year: int = 252
    risk_free_rate: float = 0.0
    var_confidence: float = 0.95
    tail_cutoff: float = 0.95
    breakeven_tolerance: float = 0.0
    outlier_fraction: float = 0.05
    timezone: str = "UTC"
    day_start: time = time(0, 0)

    def __post_init__(self) -> None:
        if self.periods_per_year <= 0:
            raise ValueError(f"periods_per_year must be positive, got {self.periods_per_year}")
        if not math.isfinite(self.risk_free_rate) or self.risk_free_rate <= -1:
            raise ValueError(
                f"risk_free_rate must be a finite rate above -1, got {self.risk_free_rate}"
            )
        if not 0.5 < self.var_confidence < 1:
            raise ValueError(f"var_confidence must be in (0.5, 1), got {self.var_confidence}")
        if not 0.5 < self.tail_cutoff < 1:
            raise ValueError(f"tail_cutoff must be in (0.5, 1), got {self.tail_cutoff}")
        if not (math.isfinite(self.breakeven_tolerance) and self.breakeven_tolerance >= 0):
            raise ValueError(
                f"breakeven_tolerance must be a finite amount >= 0, got {self.breakeven_tolerance}"
            )
        if not 0 <= self.outlier_fraction < 1:
            raise ValueError(f"outlier_fraction must be in [0, 1), got {self.outlier_fraction}")
        if not self.timezone:
            raise ValueError("timezone must name an IANA time zone, e.g. 'UTC'")

    @property
    def risk_free_per_period(self) -> float:
        """The risk-free rate of one period (one trading day by default)."""
        return float((1.0 + self.risk_free_rate) ** (1.0 / self.periods_per_year) - 1.0)

    def as_json(self) -> dict[str, float | int | str]:
        """The settings, echoed in every KPI result so that a number can be reproduced."""
        return {
            "periods_per_year": self.periods_per_year,
            "risk_free_rate": self.risk_free_rate,
            "var_confidence": self.var_confidence,
            "tail_cutoff": self.tail_cutoff,
            "breakeven_tolerance": self.breakeven_tolerance,
            "outlier_fraction": self.outlier_fraction,
            "timezone": self.timezone,
            "day_start": self.day_start.strftime("%H:%M"),
        }
