"""Rule templates as data: the schema of a ruleset file, overrides, and the built-in templates.

A prop-firm template is a JSON file validated by :class:`Ruleset`; adding a firm
needs no new code. The built-in templates ship as package data in
``schemas/templates/`` and their names are part of the event contract.
"""

from __future__ import annotations

import json
from datetime import time
from functools import cache
from importlib import resources
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

Percent = Annotated[float, Field(gt=0, le=100, allow_inf_nan=False)]
Amount = Annotated[float, Field(gt=0, allow_inf_nan=False)]


class RulesetError(ValueError):
    """A ruleset that cannot be found or does not validate; the message says which and why."""


class _RuleModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LossLimit(_RuleModel):
    """An allowed loss given either as a percentage of a base or as an amount."""

    limit_percent: Percent | None = None
    limit_amount: Amount | None = None

    @model_validator(mode="after")
    def _exactly_one_limit(self) -> LossLimit:
        if (self.limit_percent is None) == (self.limit_amount is None):
            raise ValueError("give exactly one of limit_percent and limit_amount")
        return self


class MaxDailyLossRule(LossLimit):
    """Equity must stay above (basis − limit), the basis fixed at the trading day's start.

    ``basis``: the start-of-day balance, the start-of-day equity, or the higher of the two.
    ``percent_of``: what ``limit_percent`` is a percentage of.
    """

    basis: Literal["start_of_day_balance", "start_of_day_equity", "start_of_day_max"] = (
        "start_of_day_balance"
    )
    percent_of: Literal["initial_balance", "start_of_day_balance"] = "initial_balance"


class MaxLossRule(LossLimit):
    """Equity must stay above (basis − limit); ``limit_percent`` is of the initial balance.

    ``static``: basis = initial balance. ``end_of_day_trailing`` (FTMO 1-step): basis =
    the highest end-of-day balance so far, at least the initial balance; recomputed at
    each day's start and never falling.
    """

    mode: Literal["static", "end_of_day_trailing"] = "static"


class TrailingDrawdownRule(LossLimit):
    """Equity must stay above (peak − limit); ``limit_percent`` is of the initial balance.

    ``intraday``: peak = highest equity seen, open P&L included, updated on every tick.
    ``end_of_day``: peak = highest end-of-day balance, updated only at the day boundary.
    The threshold stops trailing once it reaches ``initial_balance + lock_offset``;
    ``lock_offset: null`` trails forever.
    """

    mode: Literal["intraday", "end_of_day"]
    lock_offset: float | None = 0.0


class MaxLossPerTradeRule(LossLimit):
    """A closed trade may lose at most the limit; ``percent_of`` names the base."""

    percent_of: Literal["balance", "start_of_day_balance", "initial_balance"] = "balance"


class OvertradingRule(_RuleModel):
    """Trades opened per trading day and per rolling window of event time."""

    max_trades_per_day: Annotated[int, Field(gt=0)] | None = None
    max_trades_per_window: Annotated[int, Field(gt=0)] | None = None
    window_minutes: Annotated[float, Field(gt=0)] = 60.0

    @model_validator(mode="after")
    def _some_limit(self) -> OvertradingRule:
        if self.max_trades_per_day is None and self.max_trades_per_window is None:
            raise ValueError("give max_trades_per_day, max_trades_per_window or both")
        return self


class TiltRule(_RuleModel):
    """Revenge trading after a losing streak (see docs/rules.md for the exact definition).

    Level 1: ``loss_streak`` consecutive losing trades closed in the trading day.
    Level 2: a new trade opened within ``cooldown_minutes`` of the streak's last loss.
    Level 3: such a trade with size ≥ ``size_escalation`` × the streak's average size.
    """

    loss_streak: Annotated[int, Field(ge=2)] = 3
    cooldown_minutes: Annotated[float, Field(gt=0)] = 15.0
    size_escalation: Annotated[float, Field(gt=1)] = 1.5


class Objectives(_RuleModel):
    """Targets a challenge must meet to pass; reported as progress, never as breaches."""

    profit_target_percent: Percent | None = None
    profit_target_amount: Amount | None = None
    min_trading_days: Annotated[int, Field(ge=0)] | None = None


class Ruleset(_RuleModel):
    """A complete rule template: the day boundary, the levels and each rule's parameters."""

    name: Annotated[str, Field(min_length=1)]
    firm: str | None = None
    description: str | None = None
    timezone: str = "UTC"
    day_start: time = time(0, 0)
    levels: tuple[float, float, float] = (0.7, 0.9, 1.0)
    max_daily_loss: MaxDailyLossRule | None = None
    max_loss: MaxLossRule | None = None
    trailing_drawdown: TrailingDrawdownRule | None = None
    max_loss_per_trade: MaxLossPerTradeRule | None = None
    overtrading: OvertradingRule | None = None
    tilt: TiltRule | None = None
    objectives: Objectives | None = None

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name)") from None
        return value

    @field_validator("levels")
    @classmethod
    def _rising_levels(cls, value: tuple[float, float, float]) -> tuple[float, float, float]:
        if not 0 < value[0] < value[1] < value[2] <= 1:
            raise ValueError("levels must rise strictly within (0, 1], e.g. [0.7, 0.9, 1.0]")
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def _deep_merge(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _explain(error: ValidationError, prefix: str) -> str:
    parts = []
    for item in error.errors(include_url=False):
        loc = ".".join(str(p) for p in item["loc"])
        msg = "unknown rule parameter" if item["type"] == "extra_forbidden" else item["msg"]
        parts.append(f"{prefix}{loc or '(root)'}: {msg}")
    return "; ".join(parts)


def parse_ruleset(data: Any, source: str) -> Ruleset:
    """Validate a decoded ruleset document; errors name the source and the field."""
    try:
        return Ruleset.model_validate(data)
    except ValidationError as exc:
        raise RulesetError(f"ruleset {source}: {_explain(exc, '')}") from None


def with_overrides(ruleset: Ruleset, overrides: dict[str, Any] | None) -> Ruleset:
    """The ruleset with per-account overrides deep-merged in (``null`` switches a rule off).

    Setting one of ``limit_percent``/``limit_amount`` replaces the other.
    """
    if not overrides:
        return ruleset
    base = ruleset.model_dump(mode="json")
    changes = dict(overrides)
    for rule, params in changes.items():
        if isinstance(params, dict) and isinstance(base.get(rule), dict):
            if "limit_percent" in params:
                base[rule].pop("limit_amount", None)
            if "limit_amount" in params:
                base[rule].pop("limit_percent", None)
    if "name" in changes:
        raise RulesetError("overrides.name: the template name cannot be overridden")
    try:
        return Ruleset.model_validate(_deep_merge(base, changes))
    except ValidationError as exc:
        raise RulesetError(
            f"overrides of ruleset {ruleset.name!r}: {_explain(exc, 'overrides.')}"
        ) from None


@cache
def builtin_rulesets() -> dict[str, Ruleset]:
    """The built-in templates shipped with the contract, by name."""
    folder = resources.files("schemas") / "templates"
    found: dict[str, Ruleset] = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".json"):
            ruleset = parse_ruleset(json.loads(entry.read_text("utf-8")), entry.name)
            if ruleset.name != entry.name.removesuffix(".json"):
                raise RulesetError(f"ruleset {entry.name}: name {ruleset.name!r} != file name")
            found[ruleset.name] = ruleset
    return found
