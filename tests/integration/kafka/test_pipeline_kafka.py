"""The Armor dataflow on a real broker: breaches out keyed by account, bad input to the
dead-letter topic with the reason, the same breaches as the pure engine."""

from __future__ import annotations

from infra.bus import DeadLetter, Topics, partition_for
from infra.bus.kafka import KafkaBus
from pipelines.inprocess import InProcessPipeline
from schemas import BreachEvent
from tests.unit.pipelines.streams import START, balance, breach_days, by_account, expected_breaches

from .support import publish, read_topic


def test_breaches_and_dead_letters_reach_their_topics(kafka: KafkaBus, topics: Topics) -> None:
    lines = [
        *breach_days(accounts=30, days=2),
        "this is not JSON",
        balance("NOBODY", START, 1.0),
    ]
    publisher = kafka.publisher()
    publish(publisher, topics.events, lines)
    publisher.publish(topics.events, "ACC0001", balance("ACC0002", START, 1.0).encode())
    publisher.flush()
    expected = expected_breaches(lines)
    assert len(expected) == 30 * 2 * 3

    InProcessPipeline(kafka, topics).run_until_end()

    messages = read_topic(kafka, topics.breaches, at_least=len(expected))
    breaches = [BreachEvent.model_validate_json(m.value or b"") for m in messages]
    assert by_account(breaches) == by_account(expected)
    for message, breach in zip(messages, breaches, strict=True):
        assert message.key == breach.account_id.encode()
        assert message.partition == partition_for(breach.account_id, topics.partitions)

    letters = [
        DeadLetter.model_validate_json(m.value or b"")
        for m in read_topic(kafka, topics.deadletter, at_least=3)
    ]
    reasons = sorted(letter.reason for letter in letters)
    assert len(reasons) == 3
    assert any("not valid JSON" in r for r in reasons)
    assert any("'NOBODY' is not registered" in r for r in reasons)
    mismatch = "message key 'ACC0001' is not the event's account_id 'ACC0002'"
    assert any(mismatch in r for r in reasons)
    assert all(r.startswith(f"{topics.events}[") for r in reasons)
