"""The pipeline's commands: publishing a JSONL file in order, and clear refusals without Kafka."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError

from aetheris.cli import main
from aetheris.commands.publish import publish_lines
from infra.bus import EventPublisher, partition_for
from infra.settings import describe_settings_error, get_settings

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


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        (
            "AETHERIS_PIPELINE_NICE",
            "abc",
            "AETHERIS_PIPELINE_NICE: Input should be a valid integer",
        ),
        ("AETHERIS_PIPELINE_NICE", "-30", "greater than or equal to -20 (got '-30')"),
        ("AETHERIS_PIPELINE_ROUND_SIZE", "0", "AETHERIS_PIPELINE_ROUND_SIZE: Input should be"),
    ],
)
def test_a_bad_setting_is_named_without_a_traceback(
    name: str,
    value: str,
    expected: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9")
    monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        assert main(["pipeline", "run"]) == 2
    finally:
        get_settings.cache_clear()
    err = capsys.readouterr().err
    assert err.startswith("aetheris: invalid setting: ")
    assert expected in err
    assert "Traceback" not in err


def test_a_bad_setting_error_does_not_show_secret_values() -> None:
    class Probe(BaseModel):
        DATABASE_URL: int
        AETHERIS_SECRET_KEY: int

    with pytest.raises(ValidationError) as caught:
        Probe.model_validate(
            {"DATABASE_URL": "postgresql://u:hunter2@h/db", "AETHERIS_SECRET_KEY": "s3"}
        )
    text = describe_settings_error(caught.value)
    assert "DATABASE_URL: Input should be a valid integer" in text
    assert "hunter2" not in text
    assert "s3" not in text


@pytest.mark.parametrize(
    ("value", "expected"), [("40", "40 is outside -20..19"), ("x", "not a whole number")]
)
def test_pipeline_run_refuses_a_nice_value_linux_does_not_have(
    value: str, expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["pipeline", "run", "--nice", value])
    assert exit_.value.code == 2
    assert expected in capsys.readouterr().err
