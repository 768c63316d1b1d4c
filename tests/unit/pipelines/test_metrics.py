"""The pipeline's Prometheus metrics count what the dataflow did (worked example)."""

from __future__ import annotations

from datetime import timedelta

from prometheus_client import REGISTRY

from infra.bus import partition_for
from pipelines.inprocess import InProcessPipeline
from pipelines.metrics import LagMonitor, read_offsets

from .streams import START, account, balance, make_bus, publish_lines


def value(name: str, **labels: str) -> float:
    found = REGISTRY.get_sample_value(name, labels)
    return 0.0 if found is None else found


def test_counters_follow_events_breaches_and_dead_letters() -> None:
    names = (
        "aetheris_pipeline_events_in_total",
        "aetheris_pipeline_events_out_total",
        "aetheris_pipeline_dead_letters_total",
        "aetheris_pipeline_batch_events_sum",
    )
    before = {name: value(name) for name in names}
    level3 = value("aetheris_pipeline_breaches_total", rule="max_daily_loss", level="3")
    level1 = value("aetheris_pipeline_breaches_total", rule="max_daily_loss", level="1")
    bus, topics = make_bus()
    # A1 on ftmo-2step (5 % daily loss of 100,000): 94,999 is a 5,001 loss, past all three
    # levels at once: breaches at levels 1, 2 and 3, and a daily rule at level 3 locks the
    # account for the day: one status event. "not json" and a tick of an unknown account
    # are two dead letters. 5 messages in; 3 + 1 + 2 = 6 items out.
    publish_lines(
        bus,
        topics,
        [
            account("A1"),
            balance("A1", START, 100_000.0),
            balance("A1", START + timedelta(hours=1), 94_999.0),
            "not json",
            balance("NOBODY", START, 90_000.0),
        ],
    )
    InProcessPipeline(bus, topics).run_until_end()
    delta = {name: value(name) - before[name] for name in names}
    assert delta["aetheris_pipeline_events_in_total"] == 5
    assert delta["aetheris_pipeline_batch_events_sum"] == 5
    assert delta["aetheris_pipeline_dead_letters_total"] == 2
    assert value("aetheris_pipeline_breaches_total", rule="max_daily_loss", level="3") == (
        level3 + 1
    )
    assert value("aetheris_pipeline_breaches_total", rule="max_daily_loss", level="1") == (
        level1 + 1
    )
    breaches = len(bus.reader(topics.breaches).read(100, 0.0))
    letters = len(bus.reader(topics.deadletter).read(100, 0.0))
    assert (breaches, letters) == (3, 2)
    # Everything the step emitted (no live output here: no standings).
    assert delta["aetheris_pipeline_events_out_total"] == 6


def test_lag_is_the_end_offset_minus_what_this_process_read() -> None:
    topic = "lag-test-events"
    read_offsets[(topic, 0)] = 7
    read_offsets[(topic, 1)] = 3
    try:
        monitor = LagMonitor(lambda name: {0: 10, 1: 3} if name == topic else {}, topic)
        monitor.measure()
        assert value("aetheris_pipeline_consumer_lag", topic=topic, partition="0") == 3
        assert value("aetheris_pipeline_consumer_lag", topic=topic, partition="1") == 0
    finally:
        del read_offsets[(topic, 0)], read_offsets[(topic, 1)]


def test_the_lag_of_a_real_run_is_zero_at_the_end() -> None:
    bus, topics = make_bus(partitions=2)
    publish_lines(bus, topics, [account("L1"), balance("L1", START, 100_000.0)])
    InProcessPipeline(bus, topics).run_until_end()
    LagMonitor(bus.end_offsets, topics.events).measure()
    partition = str(partition_for("L1", topics.partitions))
    assert value("aetheris_pipeline_consumer_lag", topic=topics.events, partition=partition) == 0
    assert read_offsets[(topics.events, int(partition))] == 2
