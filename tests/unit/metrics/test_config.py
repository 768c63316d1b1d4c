"""KPI settings: defaults as quantstats, refused when they make no sense."""

from __future__ import annotations

import pytest

from risk_engine.metrics import KpiConfig


def test_defaults_follow_quantstats() -> None:
    config = KpiConfig()
    assert (config.periods_per_year, config.risk_free_rate, config.var_confidence) == (252, 0, 0.95)
    assert config.risk_free_per_period == 0.0


def test_the_risk_free_rate_is_deannualised_by_compounding() -> None:
    assert KpiConfig(risk_free_rate=0.05, periods_per_year=12).risk_free_per_period == (
        pytest.approx(1.05 ** (1 / 12) - 1, rel=1e-15)
    )


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"periods_per_year": 0}, "periods_per_year"),
        ({"risk_free_rate": float("nan")}, "risk_free_rate"),
        ({"var_confidence": 1.0}, "var_confidence"),
        ({"tail_cutoff": 0.2}, "tail_cutoff"),
        ({"breakeven_tolerance": -1.0}, "breakeven_tolerance"),
        ({"outlier_fraction": 1.0}, "outlier_fraction"),
        ({"timezone": ""}, "timezone"),
    ],
)
def test_nonsense_settings_are_refused(settings: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        KpiConfig(**settings)  # type: ignore[arg-type]
