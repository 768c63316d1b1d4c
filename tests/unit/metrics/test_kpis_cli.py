"""`aetheris kpis FILE`: per-account KPIs as sorted JSON or tables; bad lines reported, skipped."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from aetheris.cli import main
from schemas import event_json
from tests.unit.metrics.builders import account, trade
from tests.unit.metrics.week import WEEK


def write(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "journal.jsonl"
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


def week_lines() -> list[str]:
    other = (account(5_000.0, "B2", currency="EUR"), trade(-12.5, account_id="B2"))
    return [event_json(event) for event in (*WEEK, *other)]


def test_json_has_every_account_with_sorted_keys(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["kpis", str(write(tmp_path, *week_lines()))]) == 0
    out, err = capsys.readouterr()
    report = json.loads(out)
    assert list(report) == ["accounts"]
    assert list(report["accounts"]) == ["A1", "B2"]
    a1 = report["accounts"]["A1"]
    assert list(a1) == sorted(a1)
    assert a1["execution"]["net_pnl"] == 220.0
    assert a1["risk"]["max_drawdown"] == 100.0
    assert report["accounts"]["B2"]["currency"] == "EUR"
    assert out == json.dumps(report, sort_keys=True, indent=2) + "\n"
    assert "9 closed trades" in err
    assert "0 bad lines" in err


def test_bad_lines_are_reported_with_their_number_and_skipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = week_lines()
    lines.insert(2, '{"type": "trade", "account_id": "A1", "colour": "red"}')
    lines.insert(4, "not json")
    assert main(["kpis", str(write(tmp_path, *lines)), "--account", "A1"]) == 0
    out, err = capsys.readouterr()
    assert "aetheris kpis: line 3: " in err
    assert "aetheris kpis: line 5: not valid JSON" in err
    assert "2 bad lines" in err
    assert json.loads(out)["accounts"]["A1"]["execution"]["trades"] == 8


def test_one_account_and_the_combined_book(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, *week_lines())
    assert main(["kpis", str(path), "--account", "B2", "--combined"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert list(report["accounts"]) == ["B2"]
    assert report["combined"]["account_ids"] == ["B2"]
    assert report["combined"]["execution"]["net_pnl"] == -12.5
    assert main(["kpis", str(path), "--combined"]) == 0
    combined = json.loads(capsys.readouterr().out)["combined"]
    assert combined["execution"]["net_pnl"] == 207.5
    assert combined["currency"] is None  # USD and EUR


def test_table_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["kpis", str(write(tmp_path, *week_lines())), "--format", "table"]) == 0
    out = capsys.readouterr().out
    assert "== A1 USD ==" in out
    assert "== B2 EUR ==" in out
    profit_factor = next(line for line in out.splitlines() if line.startswith("profit_factor"))
    assert "2.5714" in profit_factor
    win_rate = next(line for line in out.splitlines() if line.startswith("win_rate"))
    assert "50.00 %" in win_rate
    assert "XAUUSD" in out and "Infinity" in out


def test_stdin(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(week_lines()) + "\n"))
    assert main(["kpis", "-", "--account", "A1"]) == 0
    assert json.loads(capsys.readouterr().out)["accounts"]["A1"]["execution"]["wins"] == 4


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--account", "NOPE"], "no events for account 'NOPE'"),
        (["--timezone", "Mars/Olympus"], "unknown time zone"),
        (["--periods-per-year", "0"], "periods_per_year must be positive"),
    ],
)
def test_bad_options_exit_with_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    assert main(["kpis", str(write(tmp_path, *week_lines())), *extra]) == 2
    assert message in capsys.readouterr().err


def test_a_missing_file_exits_with_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["kpis", str(tmp_path / "nope.jsonl")]) == 2
    assert "cannot open" in capsys.readouterr().err
