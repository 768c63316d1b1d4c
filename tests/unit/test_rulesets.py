"""Rule templates are data: the built-ins match the contract; files and overrides validate."""

from __future__ import annotations

import json
from datetime import time
from pathlib import Path

import pytest

from infra.rulesets import RulesetCatalog
from schemas.rulesets import Ruleset, RulesetError, builtin_rulesets, with_overrides

CONTRACT_NAMES = {"ftmo-2step", "ftmo-1step", "topstep-50k", "apex-50k-intraday", "personal"}


def test_the_contracts_template_names_are_built_in() -> None:
    assert set(builtin_rulesets()) >= CONTRACT_NAMES


def test_ftmo_2step_is_as_the_contract_defines_it() -> None:
    ftmo = builtin_rulesets()["ftmo-2step"]
    assert (ftmo.timezone, ftmo.day_start) == ("Europe/Prague", time(0, 0))
    assert ftmo.max_daily_loss is not None and ftmo.max_daily_loss.limit_percent == 5
    assert ftmo.max_daily_loss.basis == "start_of_day_balance"
    assert ftmo.max_daily_loss.percent_of == "initial_balance"
    assert ftmo.max_loss is not None
    assert (ftmo.max_loss.limit_percent, ftmo.max_loss.mode) == (10, "static")
    assert ftmo.levels == (0.7, 0.9, 1.0)


def test_topstep_and_apex_are_as_the_contract_defines_them() -> None:
    topstep = builtin_rulesets()["topstep-50k"].trailing_drawdown
    apex = builtin_rulesets()["apex-50k-intraday"].trailing_drawdown
    assert topstep is not None and apex is not None
    assert (topstep.mode, topstep.limit_amount, topstep.lock_offset) == ("end_of_day", 2000, 0)
    assert builtin_rulesets()["topstep-50k"].timezone == "America/Chicago"
    assert builtin_rulesets()["topstep-50k"].day_start == time(17, 0)
    assert (apex.mode, apex.limit_amount, apex.lock_offset) == ("intraday", 2500, 100)


def test_overrides_replace_one_number_and_keep_the_rest() -> None:
    ftmo = builtin_rulesets()["ftmo-2step"]
    changed = with_overrides(ftmo, {"max_daily_loss": {"limit_amount": 4000}})
    assert changed.max_daily_loss is not None
    assert changed.max_daily_loss.limit_amount == 4000
    assert changed.max_daily_loss.limit_percent is None
    assert changed.max_daily_loss.basis == "start_of_day_balance"
    assert changed.max_loss == ftmo.max_loss


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"max_daily_loss": {"limit_pct": 4}}, "overrides.max_daily_loss.limit_pct: unknown"),
        ({"levels": [0.9, 0.7, 1.0]}, "levels must rise"),
        ({"timezone": "Mars/Olympus"}, "unknown time zone 'Mars/Olympus'"),
        ({"max_loss": {"limit_percent": 150}}, "overrides.max_loss.limit_percent"),
        ({"name": "other"}, "cannot be overridden"),
    ],
)
def test_bad_overrides_say_which_field(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(RulesetError, match=message.replace("(", r"\(")):
        with_overrides(builtin_rulesets()["ftmo-2step"], overrides)


def test_a_ruleset_file_is_found_beside_the_events(tmp_path: Path) -> None:
    (tmp_path / "desk.json").write_text(
        json.dumps({"name": "desk", "max_loss": {"limit_amount": 1500}}), "utf-8"
    )
    ruleset = RulesetCatalog((tmp_path,)).resolve("desk.json")
    assert isinstance(ruleset, Ruleset)
    assert ruleset.max_loss is not None and ruleset.max_loss.limit_amount == 1500


def test_an_unknown_ruleset_lists_the_built_ins(tmp_path: Path) -> None:
    with pytest.raises(RulesetError, match=r"unknown ruleset 'nope'.*ftmo-2step"):
        RulesetCatalog((tmp_path,)).resolve("nope")


def test_a_broken_ruleset_file_names_the_file_and_field(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text(json.dumps({"name": "bad", "max_loss": {}}), "utf-8")
    with pytest.raises(RulesetError, match=r"bad.json: max_loss: .*exactly one of"):
        RulesetCatalog((tmp_path,)).resolve("bad.json")
