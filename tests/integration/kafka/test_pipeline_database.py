"""`aetheris pipeline run` with DATABASE_URL: breaches land in PostgreSQL as well as on the
breach topic, each once (the real broker, the real database, a separate process)."""

from __future__ import annotations

from pathlib import Path

import psycopg

from infra.bus import Topics
from infra.bus.kafka import KafkaBus
from infra.db.scratch import scratch_database
from tests.integration.db.conftest import ADMIN_URL
from tests.unit.pipelines.streams import breach_days, expected_breaches

from .support import aetheris, publish, read_topic


def test_pipeline_run_stores_every_breach_once(
    kafka: KafkaBus, topics: Topics, kafka_env: dict[str, str], tmp_path: Path
) -> None:
    lines = breach_days(accounts=12, days=2)
    expected = expected_breaches(lines)
    publisher = kafka.publisher()
    publish(publisher, topics.events, lines)
    publisher.flush()

    with scratch_database(ADMIN_URL, prefix="aetheris_pipeline") as url:
        env = {**kafka_env, "DATABASE_URL": url}
        for _ in range(2):  # a second run over the same input stores nothing twice
            process = aetheris(["pipeline", "run", "--until-end"], env, tmp_path / "run.log")
            assert process.wait(120) == 0, (tmp_path / "run.log").read_text()
        with psycopg.connect(url) as conn:
            stored = conn.execute(
                "SELECT breach_id, account_id, rule, level FROM breaches"
            ).fetchall()

    assert sorted(stored) == sorted((b.breach_id, b.account_id, b.rule, b.level) for b in expected)
    on_topic = read_topic(kafka, topics.breaches, at_least=len(expected))
    assert len(on_topic) >= len(expected)
