"""Empty, tiny and one-sided journals give the documented values, and plain JSON."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import pytest

from risk_engine.metrics import (
    KPIS,
    SECTIONS,
    TOP_LEVEL_KEYS,
    Journal,
    compute_kpis,
    compute_kpis_by_account,
)
from risk_engine.metrics.catalog import (
    BREAKDOWN_FIELDS,
    BREAKDOWNS,
    CALENDAR_FIELDS,
    EQUITY_CURVE_FIELDS,
)
from tests.unit.metrics.builders import account, journal, kpis, snapshot, trade
from tests.unit.metrics.week import WEEK

DOCS = Path(__file__).resolve().parents[3] / "docs" / "kpis.md"

# Counts and sums are 0 for an empty journal; the trade and day rates are 0 (the
# empty journal's 0 %); everything else is undefined.
ZERO_WHEN_EMPTY = {
    "execution": {
        "trades", "wins", "losses", "breakevens", "win_rate", "loss_rate", "breakeven_rate",
        "gross_profit", "gross_loss", "net_pnl", "pnl_before_costs", "total_commission",
        "total_swap", "total_quantity", "max_consecutive_wins", "max_consecutive_losses",
    },
    "risk": {"max_drawdown", "drawdown_episodes", "current_drawdown"},
    "returns": {"days"},
    "robustness": {"trades_with_r", "total_r", "outlier_trades_removed"},
    "temporal": {"trading_days", "winning_days", "losing_days", "day_win_rate"},
    "mfe_mae": {"trades_with_mfe", "trades_with_mae", "trades_with_efficiency"},
}  # fmt: skip


def _plain_json(result: Any) -> Any:
    """The result through a strict JSON round trip (fails on NaN or a bare infinity)."""
    return json.loads(json.dumps(result, allow_nan=False))


def _assert_no_nan(value: Any) -> None:
    if isinstance(value, float):
        assert math.isfinite(value)
    elif isinstance(value, dict):
        for item in value.values():
            _assert_no_nan(item)
    elif isinstance(value, list):
        for item in value:
            _assert_no_nan(item)


@pytest.mark.parametrize(
    "events",
    [(), (account(),), (snapshot("2026-03-02 21:00", 1_000.0),)],
    ids=["nothing", "an account only", "a snapshot only"],
)
def test_a_journal_without_trades_has_zero_counts_and_null_ratios(events: tuple[Any, ...]) -> None:
    result = kpis(*events)
    for section, keys in SECTIONS.items():
        for key, _, _ in keys:
            value = result[section][key]
            if key in ZERO_WHEN_EMPTY[section]:
                assert value == 0, (section, key)
            elif section == "returns" and any(event.type == "balance" for event in events):
                continue  # a snapshot alone is a daily close, whose return needs a base
            else:
                assert value is None, (section, key)
    assert result["calendar"] == []
    assert result["equity_curve"] == []
    assert all(rows == [] for rows in result["breakdowns"].values())
    assert _plain_json(result) == result


def test_a_single_trade() -> None:
    result = kpis(account(1_000.0), trade(25.0))
    execution = result["execution"]
    assert (execution["trades"], execution["wins"], execution["win_rate"]) == (1, 1, 1.0)
    assert execution["profit_factor"] == "Infinity"
    assert execution["pnl_std"] is None
    assert result["robustness"]["sqn_pnl"] is None
    assert result["risk"]["max_drawdown"] == 0.0
    assert result["risk"]["max_drawdown_start"] is None
    assert result["returns"]["days"] == 1
    assert result["returns"]["sharpe"] is None
    assert _plain_json(result) == result


def test_only_breakevens() -> None:
    execution = kpis(trade(0.0), trade(0.0, "2026-03-02 10:00"))["execution"]
    assert execution["breakeven_rate"] == 1.0
    assert execution["profit_factor"] is None  # neither profit nor loss
    assert execution["expectancy"] == 0.0


@pytest.mark.parametrize(
    "pnls",
    [[5.0, 7.0, 1.0], [-5.0, -7.0, -1.0], [3.0, -3.0, 0.0]],
    ids=["all wins", "all losses", "mixed"],
)
def test_one_sided_journals_serialise_to_plain_json(pnls: list[float]) -> None:
    events = [account(100.0)] + [
        trade(pnl, f"2026-03-0{2 + i} 09:00") for i, pnl in enumerate(pnls)
    ]
    result = kpis(*events)
    _assert_no_nan(result)
    assert _plain_json(result) == result


def test_infinite_values_are_the_documented_strings() -> None:
    result = kpis(account(100.0), trade(5.0), trade(7.0, "2026-03-03 09:00"))
    assert result["execution"]["profit_factor"] == "Infinity"
    assert result["returns"]["calmar"] == "Infinity"
    assert float(result["execution"]["profit_factor"]) == math.inf


def test_results_hold_exactly_the_catalogued_keys() -> None:
    result = kpis(*WEEK)
    assert list(result) == list(TOP_LEVEL_KEYS)
    for section, keys in SECTIONS.items():
        assert list(result[section]) == [key for key, _, _ in keys]
    assert list(result["breakdowns"]) == list(BREAKDOWNS)
    for rows in result["breakdowns"].values():
        for row in rows:
            assert tuple(row) == BREAKDOWN_FIELDS
    assert all(tuple(cell) == CALENDAR_FIELDS for cell in result["calendar"])
    assert all(tuple(point) == EQUITY_CURVE_FIELDS for point in result["equity_curve"])


def _documented_rows() -> set[tuple[str, str]]:
    """(key, unit) of every table row of docs/kpis.md whose first cell is a `key`."""
    rows: set[tuple[str, str]] = set()
    for line in DOCS.read_text("utf-8").splitlines():
        cells = [cell.strip() for cell in re.split(r"(?<!\\)\|", line)]
        if len(cells) > 4 and re.fullmatch(r"`[a-z0-9_]+`", cells[1]):
            rows.add((cells[1].strip("`"), cells[3]))
    return rows


def test_every_kpi_is_documented_with_its_unit() -> None:
    rows = _documented_rows()
    for kpi in KPIS:
        assert (kpi.key, kpi.unit) in rows, (kpi.section, kpi.key, kpi.unit)
    text = DOCS.read_text("utf-8")
    for field in (*BREAKDOWN_FIELDS, *CALENDAR_FIELDS, *EQUITY_CURVE_FIELDS, *BREAKDOWNS):
        assert f"`{field}`" in text, field


def test_per_account_results_match_each_account_computed_alone() -> None:
    events = (
        account(1_000.0, "A"),
        account(2_000.0, "B"),
        trade(10.0, "2026-03-02 09:00", account_id="A"),
        trade(-4.0, "2026-03-02 10:00", account_id="B"),
        trade(-3.0, "2026-03-03 09:00", account_id="A"),
        snapshot("2026-03-03 21:00", 1_990.0, account_id="B"),
    )
    whole = journal(*events)
    both = compute_kpis_by_account(whole)
    assert set(both) == {"A", "B"}
    for account_id in ("A", "B"):
        assert both[account_id] == compute_kpis(whole.for_accounts([account_id]))


def test_an_empty_journal_has_no_accounts() -> None:
    assert compute_kpis_by_account(Journal()) == {}
