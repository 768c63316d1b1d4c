"""Keys pick partitions exactly as Kafka's Java client (murmur2) does."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from infra.bus import murmur2, partition_for

# Kafka's own test vectors (clients/src/test/java/org/apache/kafka/common/utils/UtilsTest.java).
KAFKA_VECTORS = {
    "21": -973932308,
    "foobar": -790332482,
    "a-little-bit-long-string": -985981536,
    "a-little-bit-longer-string": -1486304829,
    "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
    "abc": 479470107,
}


@pytest.mark.parametrize(("key", "expected"), KAFKA_VECTORS.items())
def test_murmur2_matches_the_java_client(key: str, expected: int) -> None:
    assert murmur2(key.encode()) == expected


@given(st.text(min_size=1, max_size=64), st.integers(min_value=1, max_value=64))
def test_a_key_always_lands_in_the_same_valid_partition(key: str, partitions: int) -> None:
    first = partition_for(key, partitions)
    assert 0 <= first < partitions
    assert partition_for(key, partitions) == first


def test_a_topic_without_partitions_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one partition"):
        partition_for("A1", 0)
