"""The Armor risk engine: pure rule evaluation and KPI maths, no clock and no I/O.

``apply(state, event, resolve) -> (state, breaches)`` is the whole interface; the
``Armor`` class keeps states for many accounts.
"""

from risk_engine.armor import Armor
from risk_engine.engine import (
    RulesetResolver,
    UnknownAccountError,
    apply,
    breach_id,
    new_account_state,
    step,
)
from risk_engine.snapshot import snapshot, snapshot_fields
from risk_engine.state import DAILY_RULES, AccountState
from risk_engine.status import status_id

__all__ = [
    "DAILY_RULES",
    "AccountState",
    "Armor",
    "RulesetResolver",
    "UnknownAccountError",
    "apply",
    "breach_id",
    "new_account_state",
    "snapshot",
    "snapshot_fields",
    "status_id",
    "step",
]
