"""The broker side as deployed: `aetheris api serve` (its production wiring, body caps
included) takes a signed MetaTrader batch and a statement upload, and
`aetheris worker sync --burst` runs the upload's job on the same PostgreSQL, Redis and
Kafka."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from api.bridgeauth import sign
from tests.integration.api.brokers_support import batch_body
from tests.integration.api.conftest import ACCOUNT, PASSWORD

MT4 = Path(__file__).resolve().parents[2] / "data/statements/mt4-html/statement-2150977.htm"


@pytest.fixture
def serve_env(serve_env: dict[str, str], redis_prefix: str) -> dict[str, str]:
    """The sync queue named after this test's Redis prefix (its keys are cleaned up)."""
    return {**serve_env, "AETHERIS_SYNC_QUEUE": f"sync-{redis_prefix}"}


def test_bridge_and_upload_through_the_served_api_and_the_worker(
    server: str, serve_env: dict[str, str], tmp_path: Path
) -> None:
    with httpx.Client(base_url=f"{server}/api/v1", timeout=30) as http:
        email = f"sync-{tmp_path.name}@example.com"
        assert http.post("/auth/register", json={"email": email, "password": PASSWORD}).is_success
        token = http.post("/auth/login", json={"email": email, "password": PASSWORD}).json()[
            "access_token"
        ]
        auth = {"Authorization": f"Bearer {token}"}
        account_id = http.post("/accounts", headers=auth, json=ACCOUNT).json()["id"]

        key = http.post(f"/accounts/{account_id}/bridge-key", headers=auth).json()["key"]
        body = batch_body("serve-batch-1")
        stamp = str(int(time.time()))
        signed = {
            "Content-Type": "application/json",
            "X-Aetheris-Account": account_id,
            "X-Aetheris-Timestamp": stamp,
            "X-Aetheris-Signature": sign(key.encode(), stamp, body),
        }
        accepted = http.post("/bridge/metatrader", content=body, headers=signed)
        assert accepted.status_code == 200, accepted.text
        assert accepted.json()["new"] == 3  # 5001 closed, 5002 open, the deposit
        assert http.post("/bridge/metatrader", content=body, headers=signed).status_code == 409

        upload = http.post(
            f"/brokers/sync/{account_id}/statement",
            params={"format": "auto", "timezone": "GMT+2/+3-US", "filename": "statement.htm"},
            content=MT4.read_bytes(),
            headers={**auth, "Content-Type": "application/octet-stream"},
        )
        assert upload.status_code == 202, upload.text
        job_id = upload.json()["job_id"]

        worker = subprocess.run(
            [sys.executable, "-m", "aetheris.cli", "worker", "sync", "--burst"],
            env=serve_env,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        assert worker.returncode == 0, worker.stdout + worker.stderr
        job = http.get(f"/brokers/sync/{job_id}", headers=auth).json()
        assert (job["status"], job["attempts"]) == ("done", 1), job
        log = job["sync_log"]
        assert (log["new"], log["details"]["format"]) == (4, "mt4-html")  # recognised

        trades = http.get("/trades", params={"account_id": account_id}, headers=auth).json()
        ids = sorted(t["broker_trade_id"] for t in trades["items"])
        assert ids == ["1001", "1002", "1005", "1007", "5001", "5002"]
        assert key not in worker.stdout + worker.stderr
