"""Kafka integration tests: a real Kafka-protocol broker, or a loud failure (never a skip).

The broker is the one ``make test`` starts (Tansu on 127.0.0.1:9092) unless
``KAFKA_BOOTSTRAP_SERVERS`` names another. Every test gets its own topics.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from infra.bus import Topics
from infra.bus.kafka import KafkaBus
from infra.settings import get_settings

PARTITIONS = 4


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "integration/kafka" in str(item.path):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def bootstrap() -> str:
    servers = get_settings().kafka_bootstrap_servers or "127.0.0.1:9092"
    admin = AdminClient({"bootstrap.servers": servers, "socket.timeout.ms": 5000})
    try:
        admin.list_topics(timeout=10)
    except KafkaException as exc:
        pytest.fail(
            f"Kafka is not reachable at {servers} ({exc}); start it with "
            "`bash scripts/services.sh kafka` (make test does)",
            pytrace=False,
        )
    return servers


@pytest.fixture(scope="session")
def kafka(bootstrap: str) -> KafkaBus:
    return KafkaBus(bootstrap)


@pytest.fixture
def topics(kafka: KafkaBus) -> Iterator[Topics]:
    suffix = uuid.uuid4().hex[:10]
    names = Topics(
        events=f"test.events.{suffix}",
        breaches=f"test.breaches.{suffix}",
        deadletter=f"test.deadletter.{suffix}",
        partitions=PARTITIONS,
        status=f"test.status.{suffix}",
    )
    kafka.create_topics(names.all(), PARTITIONS)
    yield names
    kafka.delete_topics(names.all())  # the test broker keeps topics in memory


@pytest.fixture
def kafka_env(bootstrap: str, topics: Topics) -> Iterator[dict[str, str]]:
    """The environment of an ``aetheris`` subprocess talking to this test's topics."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AETHERIS_", "KAFKA_"))
    }
    env.update(
        KAFKA_BOOTSTRAP_SERVERS=bootstrap,
        AETHERIS_TOPIC_EVENTS=topics.events,
        AETHERIS_TOPIC_BREACHES=topics.breaches,
        AETHERIS_TOPIC_DEADLETTER=topics.deadletter,
        AETHERIS_TOPIC_STATUS=topics.status or "",
        AETHERIS_TOPIC_PARTITIONS=str(topics.partitions),
        PYTHONUNBUFFERED="1",
    )
    yield env
