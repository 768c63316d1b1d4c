"""MFE/MAE averages and Sweeney's efficiencies on money."""

from __future__ import annotations

import pytest

from tests.unit.metrics.builders import kpis, trade


def test_excursions_and_efficiencies() -> None:
    mfe_mae = kpis(
        # ran to +100, down to -20 (range 120), closed +60 after 0 costs
        trade(60.0, "2026-03-02 09:00", mfe=100.0, mae=-20.0),
        # mae reported as a magnitude; closed -10 net of a -2 commission (-8 before costs)
        trade(-10.0, "2026-03-02 10:00", mfe=10.0, mae=30.0, commission=-2.0),
        # only an mfe: counts for the mfe average, not for the efficiencies
        trade(5.0, "2026-03-02 11:00", mfe=40.0),
        trade(1.0, "2026-03-02 12:00"),
    )["mfe_mae"]
    assert (mfe_mae["trades_with_mfe"], mfe_mae["trades_with_mae"]) == (3, 2)
    assert mfe_mae["average_mfe"] == 50.0  # (100 + 10 + 40) / 3
    assert mfe_mae["average_mae"] == 25.0  # (20 + 30) / 2
    assert mfe_mae["mfe_mae_ratio"] == 2.0
    assert mfe_mae["trades_with_efficiency"] == 2
    assert mfe_mae["average_entry_efficiency"] == pytest.approx(
        (100 / 120 + 10 / 40) / 2, rel=1e-12
    )
    assert mfe_mae["average_exit_efficiency"] == pytest.approx((80 / 120 + 22 / 40) / 2, rel=1e-12)
    assert mfe_mae["average_total_efficiency"] == pytest.approx((60 / 120 - 8 / 40) / 2, rel=1e-12)


def test_no_excursions_reported() -> None:
    mfe_mae = kpis(trade(1.0))["mfe_mae"]
    assert mfe_mae == {
        "trades_with_mfe": 0,
        "trades_with_mae": 0,
        "average_mfe": None,
        "average_mae": None,
        "mfe_mae_ratio": None,
        "trades_with_efficiency": 0,
        "average_entry_efficiency": None,
        "average_exit_efficiency": None,
        "average_total_efficiency": None,
    }
