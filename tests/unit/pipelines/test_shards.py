"""State shards: one account's messages reach one shard in read order, snapshots are
incremental, and a resumed shard judges exactly like the one it was taken from."""

from __future__ import annotations

import pickle
from collections.abc import Sequence

import pytest

from infra.bus import BusMessage, DeadLetter
from infra.rulesets import RulesetCatalog
from pipelines.armor import STATE_SHARDS, ShardLogic, ShardSnapshot, shard_batches
from pipelines.sinks import EmittedBreach
from schemas import BreachEvent

from .streams import breach_days, expected_breaches


def messages(lines: list[str], keys: list[str]) -> list[BusMessage]:
    return [
        BusMessage("events", 0, offset, key.encode(), line.encode(), None, (), 0)
        for offset, (line, key) in enumerate(zip(lines, keys, strict=True))
    ]


def account_of(line: str) -> str:
    return line.split('"account_id":"', 1)[1].split('"', 1)[0]


def breaches_of(outputs: Sequence[object]) -> list[BreachEvent]:
    return [item.breach for item in outputs if isinstance(item, EmittedBreach)]


def test_one_accounts_messages_go_to_one_shard_in_read_order() -> None:
    lines = breach_days(accounts=40, days=2)
    keys = [account_of(line) for line in lines]
    group = shard_batches(STATE_SHARDS)
    first = group(messages(lines, keys))
    shard_of: dict[str, str] = {}
    for shard, batch in first:
        for message in batch:
            assert shard_of.setdefault(message.key.decode(), shard) == shard  # type: ignore[union-attr]
        assert [m.offset for m in batch] == sorted(m.offset for m in batch)
    assert len(first) > 1  # 40 accounts spread over several shards
    # A later read (another batch, another order) puts each account in the same shard.
    again = group(messages(lines[::-1], keys[::-1]))
    for shard, batch in again:
        assert {shard_of[m.key.decode()] for m in batch} == {shard}  # type: ignore[union-attr]


def test_a_resumed_shard_judges_like_the_one_its_snapshot_came_from() -> None:
    lines = breach_days(accounts=6, days=3)
    batch = messages(lines, [account_of(line) for line in lines])
    half = len(batch) // 2
    resolve = RulesetCatalog()
    original = ShardLogic(resolve, STATE_SHARDS, None)
    before, _ = original.on_batch([batch[:half]])
    stored: ShardSnapshot = pickle.loads(pickle.dumps(original.snapshot()))
    resumed = ShardLogic(resolve, STATE_SHARDS, stored)
    after, _ = resumed.on_batch([batch[half:]])
    assert breaches_of(before + after) == expected_breaches(lines)


def test_snapshots_only_freeze_the_accounts_that_changed() -> None:
    lines = breach_days(accounts=2, days=2)  # ACC0000 and ACC0001, interleaved
    batch = messages(lines, [account_of(line) for line in lines])
    logic = ShardLogic(RulesetCatalog(), STATE_SHARDS, None)
    logic.on_batch([batch])
    _layout, _shards, first = logic.snapshot()
    assert set(first) == {"ACC0000", "ACC0001"}
    one_more = [m for m in batch if m.key == b"ACC0001"][-1]
    logic.on_batch([[one_more._replace(offset=len(batch))]])
    _layout, _shards, second = logic.snapshot()
    assert second["ACC0000"] is first["ACC0000"]  # untouched: the same bytes, not re-frozen
    assert second["ACC0001"] is not first["ACC0001"]
    assert first is not second  # each snapshot is its own copy for Bytewax to keep


def test_a_store_written_with_another_shard_count_is_refused() -> None:
    lines = breach_days(accounts=1, days=1)
    logic = ShardLogic(RulesetCatalog(), 64, None)
    logic.on_batch([messages(lines, [account_of(line) for line in lines])])
    with pytest.raises(ValueError, match="written with 64 state shards, this dataflow has 32"):
        ShardLogic(RulesetCatalog(), 32, logic.snapshot())


def test_a_store_from_another_state_layout_is_refused() -> None:
    with pytest.raises(ValueError, match="layout 0123456789ab"):
        ShardLogic(RulesetCatalog(), STATE_SHARDS, ("0123456789ab", STATE_SHARDS, {}))


def test_a_shard_with_only_rejected_messages_keeps_nothing() -> None:
    logic = ShardLogic(RulesetCatalog(), STATE_SHARDS, None)
    out, discard = logic.on_batch([messages(["{not json"], ["X"])])
    assert len(out) == 1
    assert discard


def test_bad_messages_in_a_batch_become_dead_letters_and_the_rest_is_applied() -> None:
    """The contract's reasons, an out-of-range timestamp included (it once stopped the
    dataflow), and the good events of the same batch still judged."""
    lines = breach_days(accounts=2, days=1)
    keys = [account_of(line) for line in lines]
    first_tick = next(i for i, line in enumerate(lines) if '"type":"balance"' in line)
    stamp = lines[first_tick].split('"ts":"', 1)[1].split('"', 1)[0]
    bad = [
        lines[first_tick].replace(stamp, "0001-01-01T00:00:00+01:00"),
        lines[first_tick].replace('"equity"', '"equitty"'),
        '{"type": "balance", ',
    ]
    batch = messages(
        lines[:first_tick] + bad + lines[first_tick:],
        keys[:first_tick] + [keys[first_tick]] * 3 + keys[first_tick:],
    )
    outputs, _ = ShardLogic(RulesetCatalog(), STATE_SHARDS, None).on_batch([batch])
    letters = [item for item in outputs if isinstance(item, DeadLetter)]
    assert [letter.offset for letter in letters] == [first_tick, first_tick + 1, first_tick + 2]
    assert letters[0].reason.endswith(
        "field 'balance.ts': Value error, the timestamp is out of range in UTC "
        '(got "0001-01-01T00:00:00+01:00")'
    )
    assert "field 'balance.equitty': unknown field (not in the event contract)" in letters[1].reason
    assert "not valid JSON" in letters[2].reason
    assert breaches_of(outputs) == expected_breaches(lines)
