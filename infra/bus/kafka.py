"""Kafka adapters on confluent-kafka: an idempotent keyed publisher, partition readers, admin.

Producers use ``enable.idempotence=true`` and ``acks=all`` (no loss, no duplicates and no
reordering on retries) and Kafka's Java-compatible ``murmur2_random`` partitioner, so the
key (an account id) picks the same partition whichever client publishes it.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from confluent_kafka import (
    TIMESTAMP_NOT_AVAILABLE,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from infra.bus.port import (
    BEGINNING,
    BusError,
    BusMessage,
    DeliveryCallback,
    DeliveryError,
    Headers,
)

log = logging.getLogger(__name__)

_METADATA_TIMEOUT = 10.0


class KafkaBus:
    """A Kafka cluster reached through ``bootstrap_servers`` (``host:port[,host:port…]``)."""

    def __init__(
        self,
        bootstrap_servers: str,
        *,
        client_id: str = "aetheris",
        linger_ms: float = 1.0,
        fetch_wait_max_ms: int = 10,
        replication_factor: int = 1,
        extra_config: Mapping[str, Any] | None = None,
    ) -> None:
        self.bootstrap_servers = bootstrap_servers
        self._client_id = client_id
        self._linger_ms = linger_ms
        self._fetch_wait_max_ms = fetch_wait_max_ms
        self._replication_factor = replication_factor
        self._extra = dict(extra_config or {})
        self._admin: AdminClient | None = None

    def producer_config(self) -> dict[str, Any]:
        """The librdkafka settings of every publisher (exposed for tests and docs)."""
        return {
            "bootstrap.servers": self.bootstrap_servers,
            "client.id": self._client_id,
            "enable.idempotence": True,
            "acks": "all",
            "partitioner": "murmur2_random",
            "linger.ms": self._linger_ms,
            **self._extra,
        }

    def consumer_config(self) -> dict[str, Any]:
        """The librdkafka settings of every reader: assigned partitions, no group commits."""
        return {
            "bootstrap.servers": self.bootstrap_servers,
            "client.id": self._client_id,
            # Readers are assigned partitions explicitly and keep their own offsets (the
            # pipeline's are in its recovery snapshots); a group id is required but unused.
            "group.id": f"aetheris-reader-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest",
            "fetch.wait.max.ms": self._fetch_wait_max_ms,
            **self._extra,
        }

    def _admin_client(self) -> AdminClient:
        if self._admin is None:
            self._admin = AdminClient(
                {"bootstrap.servers": self.bootstrap_servers, "client.id": self._client_id}
            )
        return self._admin

    def create_topics(self, names: Sequence[str], partitions: int) -> list[str]:
        if partitions < 1:
            raise ValueError(f"a topic has at least one partition, got {partitions}")
        if not names:
            return []
        admin = self._admin_client()
        futures = admin.create_topics(
            [NewTopic(name, partitions, self._replication_factor) for name in names],
            operation_timeout=_METADATA_TIMEOUT,
            request_timeout=_METADATA_TIMEOUT,
        )
        created: list[str] = []
        for name, future in futures.items():
            try:
                future.result()
            except KafkaException as exc:
                error = exc.args[0]
                exists = KafkaError.TOPIC_ALREADY_EXISTS
                if isinstance(error, KafkaError) and error.code() == exists:
                    continue
                raise BusError(f"cannot create topic {name!r}: {exc}") from None
            created.append(name)
        for name in created:
            self._wait_for_topic(name)
        return created

    def delete_topics(self, names: Sequence[str]) -> None:
        """Delete topics (tests and benchmarks clean up after themselves); missing ones are
        ignored."""
        if not names:
            return
        futures = self._admin_client().delete_topics(
            list(names), operation_timeout=_METADATA_TIMEOUT, request_timeout=_METADATA_TIMEOUT
        )
        for name, future in futures.items():
            try:
                future.result()
            except KafkaException as exc:
                error = exc.args[0]
                missing = KafkaError.UNKNOWN_TOPIC_OR_PART
                if isinstance(error, KafkaError) and error.code() == missing:
                    continue
                raise BusError(f"cannot delete topic {name!r}: {exc}") from None

    def _wait_for_topic(self, topic: str) -> None:
        deadline = time.monotonic() + _METADATA_TIMEOUT
        while True:
            try:
                self.partition_count(topic)
            except BusError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
            else:
                return

    def partition_count(self, topic: str) -> int:
        try:
            # All topics: asking for one by name lets a broker with auto-creation create it.
            metadata = self._admin_client().list_topics(timeout=_METADATA_TIMEOUT)
        except KafkaException as exc:
            raise BusError(f"cannot reach Kafka at {self.bootstrap_servers}: {exc}") from None
        found = metadata.topics.get(topic)
        if found is None or found.error is not None or not found.partitions:
            reason = found.error.str() if found is not None and found.error else "no partitions"
            raise BusError(
                f"topic {topic!r} is not usable ({reason}); create it: aetheris topics create"
            )
        return len(found.partitions)

    def end_offsets(self, topic: str) -> dict[int, int]:
        count = self.partition_count(topic)
        consumer = Consumer(self.consumer_config())
        try:
            ends: dict[int, int] = {}
            for partition in range(count):
                _low, high = consumer.get_watermark_offsets(
                    TopicPartition(topic, partition), timeout=_METADATA_TIMEOUT, cached=False
                )
                ends[partition] = int(high)
            return ends
        except KafkaException as exc:
            raise BusError(f"cannot read the end offsets of {topic!r}: {exc}") from None
        finally:
            consumer.close()

    def publisher(self) -> KafkaPublisher:
        return KafkaPublisher(self.producer_config())

    def reader(self, topic: str, offsets: Mapping[int, int] | None = None) -> KafkaReader:
        if offsets is None:
            offsets = dict.fromkeys(range(self.partition_count(topic)), BEGINNING)
        return KafkaReader(self.consumer_config(), topic, offsets)

    def close(self) -> None:
        self._admin = None


class KafkaPublisher:
    """An idempotent, ``acks=all`` producer; failures surface on :meth:`flush`."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        self._failures: list[str] = []
        self._failed = 0
        self._producer = Producer(
            {**config, "on_delivery": self._on_delivery, "error_cb": self._on_error}
        )

    def _on_delivery(self, error: KafkaError | None, message: Message) -> None:
        if error is not None:
            self._failed += 1
            if len(self._failures) < 10:
                self._failures.append(f"{message.topic()}: {error.str()}")

    def _on_error(self, error: KafkaError) -> None:
        if error.fatal():
            self._failed += 1
            self._failures.append(f"fatal producer error: {error.str()}")
        else:
            log.warning("kafka producer: %s", error.str())

    def publish(
        self,
        topic: str,
        key: str,
        value: bytes,
        headers: Headers = (),
        on_delivery: DeliveryCallback | None = None,
    ) -> None:
        options: dict[str, Any] = {}  # no callback of its own: the producer's default one
        if on_delivery is not None:

            def report(error: KafkaError | None, message: Message) -> None:
                self._on_delivery(error, message)
                on_delivery(None if error is None else error.str())

            options["on_delivery"] = report
        if headers:
            options["headers"] = list(headers)
        encoded = key.encode("utf-8")
        while True:
            try:
                self._producer.produce(topic, value=value, key=encoded, **options)
            except BufferError:
                self._producer.poll(0.05)  # queue full: let deliveries drain, then retry
                continue
            except KafkaException as exc:
                raise BusError(f"cannot publish to {topic!r}: {exc}") from None
            return

    def publish_many(self, topic: str, key: str, values: Iterable[bytes]) -> int:
        """Queue many pre-encoded messages under one key, in order (the bulk path of
        imports): one produce call each, nothing built per message, delivery reports
        served every 10,000 messages; returns how many were queued."""
        encoded = key.encode("utf-8")
        produce, poll = self._producer.produce, self._producer.poll
        count = 0
        try:
            for count, value in enumerate(values, start=1):
                while True:
                    try:
                        produce(topic, value, encoded)
                    except BufferError:
                        poll(0.05)  # queue full: let deliveries drain, then retry
                        continue
                    break
                if count % 10_000 == 0:
                    poll(0)
        except KafkaException as exc:
            raise BusError(f"cannot publish to {topic!r}: {exc}") from None
        return count

    def poll(self) -> None:
        self._producer.poll(0)

    def flush(self, timeout: float = 30.0) -> None:
        remaining = self._producer.flush(timeout)
        if remaining:
            raise DeliveryError(f"{remaining} messages not acknowledged within {timeout:g} s")
        if self._failed:
            failed, failures = self._failed, "; ".join(self._failures)
            self._failed, self._failures = 0, []
            raise DeliveryError(f"{failed} messages were not delivered: {failures}")

    def close(self) -> None:
        self.flush()


class KafkaReader:
    """A consumer assigned to given partitions of one topic (no consumer group)."""

    def __init__(self, config: Mapping[str, Any], topic: str, offsets: Mapping[int, int]) -> None:
        self._topic = topic
        self._consumer = Consumer(dict(config))
        self._consumer.incremental_assign(
            [TopicPartition(topic, partition, offset) for partition, offset in offsets.items()]
        )

    def read(self, max_messages: int, timeout: float) -> list[BusMessage]:
        """Up to ``max_messages``, waiting at most ``timeout`` for the first one only.

        librdkafka's ``consume(n, timeout)`` waits until it has ``n`` messages or the
        timeout has passed, so a reader that asked for a large batch would hold back
        messages that had arrived for up to ``timeout``. Here a wait is a ``poll`` for one
        message, returning as soon as one arrives; the rest of the batch is only what is
        already fetched.
        """
        try:
            if timeout <= 0:
                messages = self._consumer.consume(max_messages, 0)
            else:
                first = self._consumer.poll(timeout)
                if first is None:
                    return []
                messages = [first]
                if max_messages > 1:
                    messages.extend(self._consumer.consume(max_messages - 1, 0))
        except KafkaException as exc:
            raise BusError(f"cannot read {self._topic!r}: {exc}") from None
        received = time.time_ns()
        topic = self._topic
        batch: list[BusMessage] = []
        append = batch.append
        make = tuple.__new__  # BusMessage(...) without its Python-level __new__: per message
        for message in messages:
            error = message.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF or error.retriable():
                    log.debug("kafka reader %s: %s", topic, error.str())
                    continue
                raise BusError(f"cannot read {topic!r}: {error.str()}")
            kind, stamp = message.timestamp()
            headers = message.headers()
            append(
                make(
                    BusMessage,
                    (
                        topic,
                        message.partition() or 0,
                        message.offset() or 0,
                        message.key(),
                        message.value(),
                        None if kind == TIMESTAMP_NOT_AVAILABLE else stamp,
                        _headers(headers) if headers else (),
                        received,
                    ),
                )
            )
        return batch

    def assign(self, partition: int, offset: int) -> None:
        self._consumer.incremental_assign([TopicPartition(self._topic, partition, offset)])

    def close(self) -> None:
        self._consumer.close()


def _headers(found: Any) -> Headers:
    """A message's ``headers()`` (a list of pairs, or a dict) as ``Headers``; non-empty."""
    pairs = found.items() if isinstance(found, dict) else found
    return tuple(
        (name, value.encode("utf-8") if isinstance(value, str) else value or b"")
        for name, value in pairs
    )
