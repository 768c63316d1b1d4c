"""`aetheris replay`: breaches to stdout in event order, bad lines to stderr, a summary."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from aetheris.cli import main

ACCOUNT = (
    '{"type":"account","account_id":"A1","ruleset":"ftmo-2step",'
    '"initial_balance":100000,"currency":"USD"}'
)


def balance(ts: str, bal: float, equity: float, account: str = "A1") -> str:
    return json.dumps(
        {"type": "balance", "account_id": account, "ts": ts, "balance": bal, "equity": equity}
    )


def write(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


def test_breaches_are_written_as_jsonl_in_event_order(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(
        tmp_path,
        ACCOUNT,
        balance("2026-03-02T09:00:00Z", 100_000, 96_400),
        balance("2026-03-02T10:12:03Z", 100_000, 94_850),
    )
    assert main(["replay", str(path)]) == 0
    out, err = capsys.readouterr()
    lines = [json.loads(line) for line in out.splitlines()]
    breaches = [line for line in lines if line["type"] == "breach"]
    assert [(b["rule"], b["level"], b["ts"]) for b in breaches] == [
        ("max_daily_loss", 1, "2026-03-02T09:00:00Z"),
        ("max_daily_loss", 2, "2026-03-02T10:12:03Z"),
        ("max_daily_loss", 3, "2026-03-02T10:12:03Z"),
    ]
    assert breaches[2]["value"] == 5150.0
    assert breaches[2]["threshold"] == 95000.0
    assert set(breaches[2]) == {
        "type",
        "breach_id",
        "account_id",
        "rule",
        "level",
        "ts",
        "value",
        "limit",
        "threshold",
        "message",
    }
    # The level 3 locks the account for the rest of the day: a status line follows it.
    assert [line["type"] for line in lines] == ["breach"] * 3 + ["status"]
    assert lines[3] == {
        "type": "status",
        "status_id": lines[3]["status_id"],
        "account_id": "A1",
        "status": "locked",
        "previous": "active",
        "ts": "2026-03-02T10:12:03Z",
        "rule": "max_daily_loss",
        "until": "2026-03-02T23:00:00Z",
        "message": (
            "max_daily_loss reached level 3 (Daily loss 5,150.00 reached the limit 5,000.00): "
            "trading is locked until the next trading day starts at 2026-03-02T23:00:00Z"
        ),
    }
    assert "replay: 3 events read, 0 bad lines, 3 breaches, 1 status changes, 1 accounts" in err


def test_bad_lines_are_reported_with_their_number_and_skipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(
        tmp_path,
        ACCOUNT,
        '{"type":"balance","account_id":"A1"}',
        balance("2026-03-02T09:00:00Z", 1_000, 1_000, account="ZZ"),
        "",
        balance("2026-03-02T10:00:00Z", 100_000, 93_000),
    )
    assert main(["replay", str(path)]) == 0
    out, err = capsys.readouterr()
    # daily loss 1-3 and the max loss warning of one tick, then the lock they cause
    assert [json.loads(line)["type"] for line in out.splitlines()] == ["breach"] * 4 + ["status"]
    assert "line 2: field 'balance.ts': required field is missing" in err
    assert "line 3: account 'ZZ' is not registered" in err
    assert "2 events read, 2 bad lines, 4 breaches" in err


def test_strict_stops_at_the_first_bad_line_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(
        tmp_path,
        ACCOUNT,
        balance("2026-03-02T09:00:00Z", 100_000, 93_000),
        "not json",
        balance("2026-03-03T09:00:00Z", 94_000, 80_000),
    )
    assert main(["replay", "--strict", str(path)]) == 2
    out, err = capsys.readouterr()
    assert len(out.splitlines()) == 5  # only what came before line 3 (4 breaches, a lock)
    assert "line 3: not valid JSON" in err


def test_an_unknown_ruleset_is_a_bad_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, ACCOUNT.replace("ftmo-2step", "no-such-firm"))
    assert main(["replay", str(path)]) == 0
    assert "line 1: unknown ruleset 'no-such-firm'" in capsys.readouterr().err


def test_a_ruleset_file_path_relative_to_the_events_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "desk.json").write_text(
        json.dumps({"name": "desk", "max_loss": {"limit_amount": 1_000}}), "utf-8"
    )
    path = write(
        tmp_path,
        ACCOUNT.replace("ftmo-2step", "rules/desk.json"),
        balance("2026-03-02T09:00:00Z", 100_000, 99_000),
    )
    assert main(["replay", str(path)]) == 0
    out, _ = capsys.readouterr()
    *_, last, failed = [json.loads(line) for line in out.splitlines()]
    assert (last["rule"], last["level"], last["threshold"]) == ("max_loss", 3, 99_000)
    assert (failed["type"], failed["status"], failed["rule"]) == ("status", "failed", "max_loss")


def test_a_missing_file_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", "/nonexistent/events.jsonl"]) == 2
    assert "cannot open /nonexistent/events.jsonl" in capsys.readouterr().err


def test_the_console_script_reads_stdin() -> None:
    events = "\n".join([ACCOUNT, balance("2026-03-02T09:00:00Z", 100_000, 90_000)]) + "\n"
    done = subprocess.run(
        [sys.executable, "-m", "aetheris.cli", "replay", "-"],
        input=events,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    rules = [json.loads(line)["rule"] for line in done.stdout.splitlines()]
    # A level 3 of the total loss fails the account (and outranks the daily lock).
    assert rules == ["max_daily_loss"] * 3 + ["max_loss"] * 4
