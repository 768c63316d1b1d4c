"""Recovery snapshots of account state: a thawed snapshot is the same state and judges the
next events the same way; a snapshot from another state layout is refused."""

from __future__ import annotations

import dataclasses
import pickle
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from infra.rulesets import RulesetCatalog
from pipelines.state import compile_freeze, encode, freeze, freeze_generic, layout_of, thaw
from risk_engine import AccountState, apply
from schemas import parse_event

from .streams import START, account, balance, closed_trade

CATALOG = RulesetCatalog()


def state_after(lines: list[str]) -> AccountState:
    state = None
    for number, line in enumerate(lines):
        state, _ = apply(state, parse_event(line, f"line {number}"), CATALOG)
    assert state is not None
    return state


steps = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=96),
        st.floats(min_value=80_000.0, max_value=105_000.0),
        st.booleans(),
    ),
    min_size=1,
    max_size=25,
)


@settings(max_examples=40, deadline=None)
@given(steps, steps, st.sampled_from(["ftmo-2step", "personal", "topstep-50k"]))
def test_a_thawed_snapshot_continues_exactly_like_the_original(
    before: list[tuple[int, float, bool]], after: list[tuple[int, float, bool]], ruleset: str
) -> None:
    def lines(ticks: list[tuple[int, float, bool]], prefix: str) -> list[str]:
        out = []
        for number, (hours, value, trade) in enumerate(sorted(ticks)):
            when = START + timedelta(hours=hours)
            if trade:
                out.append(closed_trade("A", f"{prefix}{number}", when, value - 100_000.0))
            else:
                out.append(balance("A", when, value))
        return out

    original = state_after([account("A", ruleset), *lines(before, "x")])
    assert freeze(original) == freeze_generic(original)  # compiled: the same snapshot
    restored = thaw(pickle.loads(pickle.dumps(freeze(original))))
    assert restored == original
    assert restored is not original

    later = [parse_event(line, "later") for line in lines(after, "y")]
    for event in later:
        original, expected = apply(original, event, CATALOG)
        restored, got = apply(restored, event, CATALOG)
        assert got == expected
    assert restored == original


def test_a_snapshot_is_made_of_primitives_that_pickle_fast() -> None:
    state = state_after(
        [
            account("A", "personal"),
            closed_trade("A", "T1", START, -50.0),
            balance("A", START + timedelta(hours=1), 99_000.0),
        ]
    )
    _layout, hows, values = freeze(state)
    allowed = (str, int, float, bool, type(None), tuple, list, set, dict)
    assert all(isinstance(value, allowed) for value in values)
    assert set(hows) <= set("=rtycLSls")
    assert thaw(freeze(state)) == state


def test_the_compiled_freeze_falls_back_like_the_reference_on_unusual_values() -> None:
    state = state_after([account("A", "personal"), closed_trade("A", "T1", START, -50.0)])
    other_zone = timezone(timedelta(hours=2))
    state.last_event_time = START.astimezone(other_zone)  # kept as is, not as UTC µs
    state.entries_today = [START, START.astimezone(other_zone)]  # mixed: copied
    state.trading_days = set()
    snapshot = freeze(state)
    assert snapshot == freeze_generic(state)
    how = dict(zip((f.name for f in dataclasses.fields(AccountState)), snapshot[1], strict=True))
    assert (how["last_event_time"], how["entries_today"], how["trading_days"]) == ("=", "c", "c")
    thawed = thaw(snapshot)
    assert thawed == state
    assert thawed.last_event_time is not None
    assert thawed.last_event_time.utcoffset() == timedelta(hours=2)


def test_a_snapshot_does_not_change_with_the_live_state() -> None:
    state = state_after([account("A"), balance("A", START, 96_000.0)])
    snapshot = freeze(state)
    apply(state, parse_event(balance("A", START + timedelta(days=1), 99_000.0), "x"), CATALOG)
    assert thaw(snapshot).fired_levels == {"max_daily_loss": 1}
    assert state.fired_levels == {}


def test_a_snapshot_of_another_layout_is_refused() -> None:
    layout, hows, values = freeze(state_after([account("A")]))
    with pytest.raises(ValueError, match="another version"):
        thaw(("0123456789ab", hows, values))
    assert layout != "0123456789ab"


def test_a_snapshot_from_before_account_status_thaws_as_active() -> None:
    """A recovery store written before the status fields existed resumes: the fields it
    lacks (the last three) take their defaults."""
    state = state_after([account("A"), balance("A", START, 96_000.0)])
    _, hows, values = freeze(state)
    names = [field.name for field in dataclasses.fields(AccountState)]
    assert names[-3:] == ["status", "status_until", "status_rule"]
    earlier = layout_of(tuple(names[:-3]))
    assert earlier == "646a7a325262"  # the layout stores of the previous version hold
    thawed = thaw((earlier, hows[:-3], values[:-3]))
    assert thawed == state
    assert (thawed.status, thawed.status_until, thawed.status_rule) == ("active", None, None)


def test_the_status_fields_survive_a_snapshot() -> None:
    state = state_after([account("A"), balance("A", START, 94_000.0)])
    assert state.status == "locked"
    thawed = thaw(pickle.loads(pickle.dumps(freeze(state))))
    assert (thawed.status, thawed.status_until, thawed.status_rule) == (
        "locked",
        state.status_until,
        "max_daily_loss",
    )
    assert freeze(state)[1][-3:] == "=t="  # plain, microseconds, plain


@dataclasses.dataclass(slots=True)
class _Other:
    """Fields of every kind the compiler knows, and some it does not."""

    text: str
    amount: float | None
    when: datetime | None
    times: list[datetime]
    days: set[date]
    tags: set[str]
    counts: dict[str, int]
    price: Decimal
    pair: tuple[int, int]


def test_a_compiled_freeze_equals_the_field_by_field_encoding_for_any_dataclass() -> None:
    freeze_other = compile_freeze(_Other, "layout")
    other_zone = timezone(timedelta(hours=-5))
    cases = [
        _Other("a", 1.5, START, [START], {START.date()}, {"x"}, {"r": 1}, Decimal("1.1"), (1, 2)),
        _Other("b", None, None, [], set(), set(), {}, Decimal(0), (0, 0)),
        _Other(
            "c",
            2.0,
            START.astimezone(other_zone),
            [START, START.astimezone(other_zone)],
            {START},
            {"y"},
            {},
            Decimal(3),
            (3, 4),
        ),
    ]
    for case in cases:
        hows, values = freeze_other(case)[1:]
        expected = [encode(getattr(case, f.name)) for f in dataclasses.fields(_Other)]
        assert hows == "".join(how for how, _value in expected)
        assert list(values) == [value for _how, value in expected]
    assert freeze_other(cases[0])[1] == "==tLscc=="  # µs, ordinals, copies, unknown as is
    # Not UTC, or mixed: kept as they are; datetimes where dates were declared: generic.
    assert freeze_other(cases[2])[1] == "===cScc=="
