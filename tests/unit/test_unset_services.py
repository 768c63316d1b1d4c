"""The service settings a production process (API, sync worker) refuses to start without."""

from __future__ import annotations

import pytest

from infra.settings import Settings, unset_services

SERVICES = ("DATABASE_URL", "REDIS_URL", "KAFKA_BOOTSTRAP_SERVERS")


@pytest.fixture(autouse=True)
def no_service_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in SERVICES:
        monkeypatch.delenv(name, raising=False)


def test_every_unset_service_is_named_in_order() -> None:
    assert unset_services(Settings()) == list(SERVICES)


def test_only_the_unset_ones_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://127.0.0.1:5432/aetheris")
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    assert unset_services(Settings()) == ["REDIS_URL"]
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
    assert unset_services(Settings()) == []
