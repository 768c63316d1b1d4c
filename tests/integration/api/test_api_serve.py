"""`aetheris api serve` as an operator runs it: a real uvicorn process with two workers
on PostgreSQL, Redis and Kafka; it refuses to start without what it needs."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import httpx
import pyotp
import pytest

from infra.bus import BEGINNING, Topics
from infra.bus.kafka import KafkaBus
from schemas import AccountEvent, parse_event
from tests.integration.api.conftest import PASSWORD, SECRET_KEY, free_port


def _start(env: dict[str, str], port: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "aetheris.cli", "api", "serve", "--port", str(port)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"AETHERIS_SECRET_KEY": None}, "AETHERIS_SECRET_KEY is not set"),
        ({"AETHERIS_SECRET_KEY": "weak-key"}, "AETHERIS_SECRET_KEY is too weak"),
        ({"AETHERIS_ENCRYPTION_KEYS": None}, "AETHERIS_ENCRYPTION_KEYS is not set"),
        ({"REDIS_URL": None}, "REDIS_URL not set"),
        ({"REDIS_URL": "redis://127.0.0.1:1/0"}, "Redis at redis://127.0.0.1:1/0 is unreachable"),
        (
            {"DATABASE_URL": "postgresql://postgres:hunter2@127.0.0.1:1/x"},
            "PostgreSQL at postgresql://postgres:***@127.0.0.1:1/x is unreachable",
        ),
        ({"AETHERIS_RATE_LIMIT_LOGIN": "lots"}, "AETHERIS_RATE_LIMIT_LOGIN: 'lots' is not"),
        ({"KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1"}, "Kafka at 127.0.0.1:1 is unreachable"),
    ],
)
def test_it_refuses_to_start_without_what_it_needs(
    serve_env: dict[str, str], change: dict[str, str | None], message: str
) -> None:
    env = dict(serve_env)
    for name, value in change.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    done = _start(env, free_port())
    assert done.returncode == 2, done.stdout + done.stderr
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert "hunter2" not in done.stderr and SECRET_KEY not in done.stderr


def test_a_new_user_registers_enrols_totp_logs_in_and_adds_an_account(
    server: str, kafka: KafkaBus, topics: Topics
) -> None:
    email = f"new-{time.time_ns()}@example.com"
    with httpx.Client(base_url=f"{server}/api/v1", timeout=15) as http:
        assert (
            http.post("/auth/register", json={"email": email, "password": PASSWORD}).status_code
            == 201
        )
        tokens = http.post("/auth/login", json={"email": email, "password": PASSWORD}).json()
        auth = {"Authorization": f"Bearer {tokens['access_token']}"}
        enrolment = http.post("/auth/totp/enrol", headers=auth).json()
        totp = pyotp.TOTP(enrolment["secret"])
        now = datetime.now(UTC)
        confirmed = http.post("/auth/totp/confirm", headers=auth, json={"code": totp.at(now)})
        assert confirmed.status_code == 200, confirmed.text
        assert (
            http.post("/auth/login", json={"email": email, "password": PASSWORD}).status_code == 401
        )
        # The next step's code (one step of drift) logs in; the confirming one would not.
        later = totp.at(now + timedelta(seconds=30))
        login = http.post(
            "/auth/login", json={"email": email, "password": PASSWORD, "totp_code": later}
        )
        assert login.status_code == 200, login.text
        auth = {"Authorization": f"Bearer {login.json()['access_token']}"}
        created = http.post(
            "/accounts",
            headers=auth,
            json={
                "name": "Topstep",
                "ruleset": "topstep-50k",
                "initial_balance": 50_000,
                "currency": "USD",
            },
        )
        assert created.status_code == 201, created.text
        account_id = created.json()["id"]
        # Several workers share nothing but the services: every request sees the same state.
        for _ in range(6):
            one = http.get(f"/accounts/{account_id}", headers=auth)
            assert one.status_code == 200
        assert http.get("/docs").status_code == 404
    reader = kafka.reader(topics.events, dict.fromkeys(range(topics.partitions), BEGINNING))
    try:
        events = []
        for _ in range(50):
            events += [parse_event(m.value or b"", "bus") for m in reader.read(100, 0.2)]
            if events:
                break
    finally:
        reader.close()
    assert events == [
        AccountEvent(
            account_id=account_id,
            ruleset="topstep-50k",
            initial_balance=50_000,
            currency="USD",
            name="Topstep",
        )
    ]


def test_a_100_kb_id_or_a_nul_is_a_4xx_from_the_real_server(server: str) -> None:
    host, port = server.removeprefix("http://").split(":")
    for target in (b"/api/v1/accounts/" + b"A" * 100_000, b"/api/v1/accounts/%00"):
        with socket.create_connection((host, int(port)), timeout=10) as raw:
            raw.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            answer = b""
            while chunk := raw.recv(65_536):
                answer += chunk
        status = int(answer.split(b" ", 2)[1])
        assert 400 <= status < 500, answer[:200]
        assert b"A" * 1_000 not in answer
