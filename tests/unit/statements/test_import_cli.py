"""``aetheris import`` refuses bad options before touching a service, with one JSON
object under --json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aetheris.cli import main
from aetheris.commands import import_
from infra.settings import get_settings
from tests.unit.statements.samples import DATA

MT5 = str(DATA / "mt5-html" / "ReportHistory-51234567.html")


def refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["import", *argv, "--account", "A-1", "--json"]) == 2
    captured = capsys.readouterr()
    lines = captured.out.strip().splitlines()
    assert len(lines) == 1
    result = json.loads(lines[0])
    assert (result["new"], result["duplicates"], result["updated"]) == (0, 0, 0)
    assert result["status"] == "failed"
    reason: str = result["errors"][0]["reason"]
    assert reason in captured.err
    return reason


def test_unknown_format(capsys: pytest.CaptureFixture[str]) -> None:
    assert "unknown format 'mt6-html'" in refused([MT5, "--format", "mt6-html"], capsys)


def test_registration_needs_both_options(capsys: pytest.CaptureFixture[str]) -> None:
    assert "go together" in refused([MT5, "--ruleset", "ftmo-2step"], capsys)
    reason = refused([MT5, "--ruleset", "ftmo-2step", "--initial-balance", "-5"], capsys)
    assert "must be positive" in reason


def test_bad_timezone_and_missing_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert "unknown time zone 'Mars/Olympus'" in refused(
        [MT5, "--timezone", "Mars/Olympus"], capsys
    )
    assert "cannot read" in refused([str(tmp_path / "nope.html")], capsys)


def test_oversized_file_is_refused_before_reading(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    big = tmp_path / "big.csv"
    big.write_bytes(b"x" * 2048)
    monkeypatch.setattr(import_, "MAX_FILE_BYTES", 1024)
    assert "the limit is 1024" in refused([str(big)], capsys)


def test_bad_mapping_says_where(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    mapping = tmp_path / "m.toml"
    mapping.write_text('[format]\ndelimiter = "::"\n')
    csv = str(DATA / "generic-csv" / "trades.csv")
    assert "m.toml: format.delimiter" in refused([csv, "--mapping", str(mapping)], capsys)
    assert "--mapping is for" in refused(
        [
            csv,
            "--format",
            "mt4-html",
            "--mapping",
            str(DATA / "generic-csv" / "journal-mapping.toml"),
        ],
        capsys,
    )


def test_unreachable_database_is_a_clear_failure(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = "postgresql://nobody:s3cret-pw@127.0.0.1:1/none?connect_timeout=2"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    get_settings.cache_clear()
    try:
        code = main(["import", MT5, "--account", "A-1", "--timezone", "UTC", "--json"])
    finally:
        get_settings.cache_clear()
    assert code == 1
    captured = capsys.readouterr()
    result = json.loads(captured.out)
    assert result["status"] == "failed"
    assert result["errors"][0]["reason"].startswith("the database:")
    assert "port 1" in captured.err  # says which server
    assert "s3cret-pw" not in captured.err + captured.out  # never the password
