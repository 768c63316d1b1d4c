"""``aetheris connect rest --connection ID``: the token comes from the account's stored,
encrypted connection (no token file, no environment variable) and is never logged."""

from __future__ import annotations

import json
import os
from pathlib import Path

import psycopg

from infra.bus import Topics
from infra.bus.kafka import KafkaBus
from infra.db.brokers import PostgresBrokerConnections
from infra.db.database import prepare_database
from infra.db.pool import create_pool
from infra.db.scratch import scratch_database
from infra.secrets import SecretBox, new_key
from schemas.brokers import ConnectionCreate
from tests.integration.kafka.oanda_server import FakeOanda
from tests.integration.kafka.support import aetheris, read_topic
from tests.integration.kafka.test_oanda_poller import HISTORY, OANDA_ACCOUNT, TOKEN


def test_connect_rest_takes_its_token_from_a_stored_connection(
    kafka: KafkaBus, topics: Topics, kafka_env: dict[str, str], tmp_path: Path
) -> None:
    admin_url = os.environ.get(
        "AETHERIS_TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
    )
    key = new_key()
    oanda = FakeOanda(OANDA_ACCOUNT, TOKEN)
    oanda.transactions = list(HISTORY)
    oanda.balance, oanda.nav = "10002.9500", "10001.9500"
    try:
        with scratch_database(admin_url, prefix="aetheris_test_rest_stored") as url:
            prepare_database(url, timescale="off")
            with psycopg.connect(url, autocommit=True) as conn:
                owner = conn.execute(
                    "INSERT INTO users (email) VALUES ('rest@example.com') RETURNING id"
                ).fetchone()
                assert owner is not None
                conn.execute(
                    "INSERT INTO accounts (account_id, owner_id, ruleset, initial_balance, "
                    "currency) VALUES ('OANDA-STORED', %s, 'personal', 10000, 'USD')",
                    (owner[0],),
                )
            pool = create_pool(url, size=1, name="rest-stored", application_name="rest-stored")
            try:
                stored = PostgresBrokerConnections(pool, SecretBox([key])).create(
                    owner[0],
                    "OANDA-STORED",
                    ConnectionCreate(
                        kind="rest",
                        broker="oanda",
                        label="practice",
                        settings={"broker_account": OANDA_ACCOUNT},
                        credentials={"api_token": TOKEN},
                    ),
                )
            finally:
                pool.close()
            env = {
                **kafka_env,
                "DATABASE_URL": url,
                "AETHERIS_DB_TIMESCALE": "off",
                "AETHERIS_ENCRYPTION_KEYS": key,
            }
            log = tmp_path / "rest.log"
            process = aetheris(
                [
                    "connect", "rest", "--broker", "oanda", "--api-url", oanda.url,
                    "--broker-account", OANDA_ACCOUNT, "--account", "OANDA-STORED",
                    "--connection", str(stored.id), "--since-transaction-id", "0",
                    "--interval", "0.5", "--duration", "3", "--data-dir", str(tmp_path / "d"),
                ],
                env,
                log,
            )  # fmt: skip
            try:
                assert process.wait(60) == 0, log.read_text()
            finally:
                if process.poll() is None:
                    process.kill()

            other = aetheris(
                [
                    "connect", "rest", "--broker", "oanda", "--api-url", oanda.url,
                    "--broker-account", OANDA_ACCOUNT, "--account", "SOMEONE-ELSE",
                    "--connection", str(stored.id), "--duration", "1",
                ],
                env,
                tmp_path / "other.log",
            )  # fmt: skip
            assert other.wait(60) == 2
    finally:
        oanda.close()
    events = [json.loads(m.value or b"") for m in read_topic(kafka, topics.events, at_least=3)]
    trades = [(e["broker_trade_id"], e["status"]) for e in events if e["type"] == "trade"]
    assert trades == [("3", "open"), ("3", "closed"), ("6", "open")]
    assert TOKEN not in log.read_text()
    assert "has no stored REST connection" in (tmp_path / "other.log").read_text()
