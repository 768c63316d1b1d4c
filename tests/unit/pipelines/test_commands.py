"""The pipeline's commands: publishing a JSONL file in order, and clear refusals without Kafka."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from aetheris.cli import main
from aetheris.commands.publish import publish_lines
from infra.bus import EventPublisher, partition_for
from infra.settings import get_settings

from .streams import START, account, balance, make_bus


@pytest.fixture
def no_kafka(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_publish_sends_valid_lines_in_order_and_reports_bad_ones() -> None:
    bus, topics = make_bus()
    lines = [
        account("A1"),
        "",
        '{"type": "balance", "account_id": "A1"}',
        balance("A1", START, 99_000.0),
        account("B2"),
    ]
    errors = io.StringIO()
    summary = publish_lines(lines, EventPublisher(bus.publisher(), topics), errors)
    assert (summary.published, summary.bad_lines) == (3, 1)
    assert errors.getvalue().startswith("aetheris publish: line 3: field 'balance.ts'")
    a1 = bus.reader(topics.events, {partition_for("A1", topics.partitions): 0}).read(10, 0.0)
    assert [m.value for m in a1 if m.key == b"A1"] == [
        lines[0].encode(),
        lines[3].encode(),
    ]


@pytest.mark.usefixtures("no_kafka")
@pytest.mark.parametrize(
    "argv",
    [
        ["pipeline", "run"],
        ["topics", "create"],
        ["feed", "simulate", "--accounts", "3"],
        ["publish", "-"],
    ],
)
def test_kafka_commands_say_kafka_is_not_configured(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    assert "KAFKA_BOOTSTRAP_SERVERS is not set" in capsys.readouterr().err


@pytest.mark.usefixtures("no_kafka")
def test_init_recovery_creates_the_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["pipeline", "init-recovery", str(tmp_path / "r"), "-p", "3"]) == 0
    assert "created 3 recovery partitions" in capsys.readouterr().out
    assert main(["pipeline", "init-recovery", str(tmp_path / "r")]) == 0
    assert "already holds 3 recovery partitions" in capsys.readouterr().out
