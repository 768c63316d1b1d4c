"""Shared setup of the ``aetheris import`` tests on the real broker and PostgreSQL: the
environment fixture (this test's topics and database), the one-JSON-object runner, the
published events, and the database fixtures they use."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from aetheris.cli import main
from infra.bus import BusMessage
from infra.bus.kafka import KafkaBus
from infra.settings import get_settings
from schemas import parse_event
from schemas.events import AccountEvent, BalanceEvent, TradeEvent
from tests.integration.db.conftest import account, admin_url, database_url, pool

from .support import read_topic

__all__ = [
    "account",
    "admin_url",
    "database_url",
    "env",
    "pool",
    "published",
    "run_json",
]  # fixtures and helpers the import tests use


@pytest.fixture
def env(
    monkeypatch: pytest.MonkeyPatch, kafka_env: dict[str, str], database_url: str
) -> Iterator[None]:
    """``aetheris`` in this process talks to this test's topics and database."""
    for key, value in kafka_env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("DATABASE_URL", database_url)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def run_json(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, object]]:
    """Run ``aetheris ARGV`` (with ``--json``): its exit code and its one JSON object."""
    code = main(argv)
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1, out  # exactly one JSON object
    return code, json.loads(out[0])


def published(
    kafka: KafkaBus, topic: str, *, at_least: int
) -> tuple[list[BusMessage], list[AccountEvent | BalanceEvent | TradeEvent]]:
    """Every message on ``topic`` (at least ``at_least``) and the events they carry."""
    messages = read_topic(kafka, topic, at_least=at_least)
    return messages, [parse_event(m.value or b"", "test") for m in messages]
