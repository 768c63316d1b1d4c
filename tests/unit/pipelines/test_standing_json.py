"""The live output writes a standing from plain values (orjson), not from the model: it
must be the same JSON value pydantic writes for ``AccountSnapshot``, for any state."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from hypothesis import given, settings

from infra.live import Standing
from infra.live.messages import standing_body, with_seq
from risk_engine import AccountState, snapshot, snapshot_fields, step
from schemas.state import AccountSnapshot
from tests.unit.risk_engine.builders import CATALOG, account, closed_trade, open_trade, tick
from tests.unit.risk_engine.test_properties import Event, account_streams


def assert_same_json(state: AccountState) -> None:
    model = snapshot(state)
    body = standing_body(Standing(model.account_id, snapshot_fields(state)))
    assert json.loads(body) == json.loads(model.model_dump_json(exclude={"seq"}))
    assert AccountSnapshot.model_validate_json(body) == model
    numbered = with_seq(body, 7)
    assert AccountSnapshot.model_validate_json(numbered) == model.model_copy(update={"seq": 7})


@settings(max_examples=80, deadline=None)
@given(account_streams("J1"))
def test_plain_values_write_the_models_json_for_any_state(events: list[Event]) -> None:
    state = None
    for event in events:
        state, _ = step(state, event, CATALOG)
        assert_same_json(state)


def test_timestamps_dates_and_status_are_written_as_the_model_writes_them() -> None:
    state = None
    for event in (
        account("ftmo-2step"),
        open_trade("T1", "2026-03-02 09:00:00.250"),
        closed_trade("T1", "2026-03-02 09:00:00.250", "2026-03-02 09:30", 100.0),
        tick("2026-03-02 10:00:00.5", 100_100, 94_000),  # locked until 23:00 UTC
    ):
        state, _ = step(state, event, CATALOG)
    assert state is not None
    body = json.loads(standing_body(Standing("A1", snapshot_fields(state))))
    assert body["last_event_time"] == "2026-03-02T10:00:00.500000Z"
    assert body["status_until"] == "2026-03-02T23:00:00Z"
    assert body["trading_day"] == "2026-03-02"
    assert (body["status"], body["status_rule"]) == ("locked", "max_daily_loss")
    assert state.last_event_time == datetime(2026, 3, 2, 10, 0, 0, 500_000, tzinfo=UTC)
    assert_same_json(state)
