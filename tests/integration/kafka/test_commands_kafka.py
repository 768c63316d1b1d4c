"""The pipeline's commands against the real broker: topics create, publish, feed simulate."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from aetheris.cli import main
from infra.bus import Topics
from infra.bus.kafka import KafkaBus
from infra.settings import get_settings
from schemas import parse_event
from tests.unit.pipelines.streams import START, account, balance

from .support import read_topic


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, kafka_env: dict[str, str]) -> Iterator[dict[str, str]]:
    for key, value in kafka_env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    yield kafka_env
    get_settings.cache_clear()


@pytest.mark.usefixtures("env")
def test_topics_create_makes_the_four_topics_once(
    kafka: KafkaBus, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    suffix = uuid.uuid4().hex[:8]
    names = [
        f"cmd.events.{suffix}",
        f"cmd.breaches.{suffix}",
        f"cmd.deadletter.{suffix}",
        f"cmd.status.{suffix}",
    ]
    monkeypatch.setenv("AETHERIS_TOPIC_EVENTS", names[0])
    monkeypatch.setenv("AETHERIS_TOPIC_BREACHES", names[1])
    monkeypatch.setenv("AETHERIS_TOPIC_DEADLETTER", names[2])
    monkeypatch.setenv("AETHERIS_TOPIC_STATUS", names[3])
    monkeypatch.setenv("AETHERIS_TOPIC_PARTITIONS", "3")
    get_settings.cache_clear()
    try:
        assert main(["topics", "create"]) == 0
        out = capsys.readouterr().out
        assert out.count("3 partitions\tcreated") == 4
        assert all(kafka.partition_count(name) == 3 for name in names)
        assert main(["topics", "create"]) == 0
        assert capsys.readouterr().out.count("\texists") == 4
    finally:
        kafka.delete_topics(names)


@pytest.mark.usefixtures("env")
def test_publish_sends_a_file_to_the_events_topic_in_order(
    kafka: KafkaBus, topics: Topics, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = [account("A1"), balance("A1", START, 99_000.0), "{bad", balance("A1", START, 98_000.0)]
    path = tmp_path / "history.jsonl"
    path.write_text("\n".join(lines) + "\n", "utf-8")
    assert main(["publish", str(path)]) == 2  # one bad line
    err = capsys.readouterr().err
    assert "line 3: not valid JSON" in err
    assert f"3 events published to {topics.events}, 1 bad lines skipped" in err
    messages = read_topic(kafka, topics.events, at_least=3)
    assert [m.value for m in messages] == [lines[0].encode(), lines[1].encode(), lines[3].encode()]
    assert {m.key for m in messages} == {b"A1"}


@pytest.mark.usefixtures("env")
def test_feed_simulate_publishes_accounts_and_ticks(
    kafka: KafkaBus, topics: Topics, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["feed", "simulate", "--accounts", "8", "--rate", "5000", "--events", "400"]
    assert main([*argv, "--seed", "3", "--start", "2026-03-02T08:00:00Z"]) == 0
    assert "feed: 408 events for 8 accounts" in capsys.readouterr().err
    messages = read_topic(kafka, topics.events, at_least=408)
    assert len(messages) == 408
    events = [parse_event(m.value or b"", "test") for m in messages]
    assert sum(e.type == "account" for e in events) == 8
    assert all(m.key == e.account_id.encode() for m, e in zip(messages, events, strict=True))
