"""The drop-copy handler around its ports: the in-process bus, a state file, a memory sync log."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from connectors.fix.book import DropCopyBook
from connectors.fix.connector import SOH, DropCopyHandler, FixSessionConfig, fields_of
from connectors.instruments import load_instruments
from connectors.statefile import JsonStateFile, StateFileError, file_name
from connectors.synclog import MemorySyncLogWriter
from infra.bus import EventPublisher, InProcessBus, Topics
from tests.unit.connectors.fakes import FlakyPublisher

NOW = datetime(2026, 3, 2, 20, 0, tzinfo=UTC)


def raw(**tags: str) -> str:
    body = {"35": "8", "150": "F", "55": "ES", "54": "1", "32": "1", "31": "5000",
            "60": "20260302-14:00:00"}  # fmt: skip
    body.update({k.lstrip("t"): v for k, v in tags.items()})
    return SOH.join(f"{k}={v}" for k, v in body.items()) + SOH


def handler(tmp_path: Path, fix_account: str | None = None) -> tuple[DropCopyHandler, InProcessBus]:
    bus = InProcessBus()
    bus.create_topics(["e", "b", "d"], 1)
    book = DropCopyBook(
        "A1", currency="USD", initial_balance=1000.0, instruments=load_instruments()
    )
    return (
        DropCopyHandler(
            book,
            EventPublisher(bus.publisher(), Topics("e", "b", "d", 1)),
            JsonStateFile(tmp_path / "book.json"),
            MemorySyncLogWriter(),
            source="fix:test",
            fix_account=fix_account,
            clock=lambda: NOW,
        ),
        bus,
    )


def test_fields_of_a_message() -> None:
    assert fields_of(f"8=FIX.4.4{SOH}35=8{SOH}17=E1{SOH}58=a=b{SOH}") == {
        8: "FIX.4.4",
        35: "8",
        17: "E1",
        58: "a=b",
    }


def test_a_run_counts_new_ignored_errors_and_other_accounts(tmp_path: Path) -> None:
    h, bus = handler(tmp_path, fix_account="ACC-7")
    h.on_logon()
    h.on_message(raw(t17="E1", t1="ACC-7"))  # new
    h.on_message(raw(t17="E2", t1="OTHER"))  # another account on the same session
    h.on_message(raw(t17="E3", t1="ACC-7", t150="0"))  # a new order: moves nothing
    h.on_message(raw(t17="E4", t1="ACC-7", t55="ZZZ"))  # not in the instrument table
    h.on_message(raw(t17="E5", t1="ACC-7", t32="-2"))  # a bad quantity
    h.on_message(f"35=0{SOH}")  # not an ExecutionReport
    h.on_logout()
    [log] = h.sync_log.logs  # type: ignore[attr-defined]
    assert (log.trades_new, log.trades_error, log.status) == (1, 2, "partial")
    assert log.errors[0]["where"].startswith("ExecID E4")
    assert "'ZZZ' is not in the instrument table" in log.errors[0]["reason"]
    assert "tag 32 (LastQty)" in log.errors[1]["reason"]
    assert len(bus.reader("e").read(100, 0.0)) == 2  # the open trade and its balance
    assert JsonStateFile(tmp_path / "book.json").load() is not None


def test_state_is_reloaded_by_a_new_handler(tmp_path: Path) -> None:
    first, _ = handler(tmp_path)
    first.on_message(raw(t17="E1"))
    second, bus = handler(tmp_path)
    second.on_message(raw(t17="E1", t43="Y"))
    assert second.run is not None and second.run.duplicate == 1
    assert bus.reader("e").read(100, 0.0) == []


def test_a_corrupt_state_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "book.json").write_text("[1, 2")
    with pytest.raises(StateFileError, match="is not JSON"):
        handler(tmp_path)


@pytest.mark.parametrize("bad", ["", "AETH\nERIS", "A]B", " X"])
def test_comp_ids_that_would_break_the_settings_are_refused(bad: str, tmp_path: Path) -> None:
    config = FixSessionConfig("127.0.0.1", 1, bad, "BROKER", tmp_path)
    with pytest.raises(ValueError, match="sender comp id"):
        config.quickfix_settings()


def test_session_schedule_goes_into_the_quickfix_settings(tmp_path: Path) -> None:
    config = FixSessionConfig(
        "127.0.0.1",
        9880,
        "AETHERIS",
        "BROKER",
        tmp_path,
        session_start="22:00:00",
        session_end="21:55:00",
        reset_on_logon=True,
    )
    text = config.quickfix_settings()
    assert "StartTime=22:00:00" in text and "EndTime=21:55:00" in text
    assert "ResetOnLogon=Y" in text
    assert f"FileStorePath={tmp_path / 'fix' / 'AETHERIS-BROKER' / 'store'}" in text
    with pytest.raises(ValueError, match="session start time '25:00:00' is not HH:MM:SS"):
        FixSessionConfig("h", 1, "A", "B", tmp_path, session_start="25:00:00").quickfix_settings()


def flaky_handler(tmp_path: Path, failures: int) -> tuple[DropCopyHandler, FlakyPublisher]:
    bus = FlakyPublisher(failures)
    book = DropCopyBook(
        "A1", currency="USD", initial_balance=1000.0, instruments=load_instruments()
    )
    h = DropCopyHandler(
        book,
        EventPublisher(bus, Topics("e", "b", "d", 1)),
        JsonStateFile(tmp_path / "book.json"),
        MemorySyncLogWriter(),
        source="fix:test",
        clock=lambda: NOW,
        retry_delay=lambda attempt: 0.0,
    )
    return h, bus


def test_a_bus_outage_is_waited_out_and_the_report_published_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    h, bus = flaky_handler(tmp_path, failures=2)
    h.on_message(raw(t17="E1"))
    assert len(bus.delivered) == 2  # the open trade and the balance, once
    assert "the bus failed" in caplog.text
    state = JsonStateFile(tmp_path / "book.json").load()
    assert state is not None and state["seen_exec_ids"] == ["E1"]
    assert h.run is not None and h.run.new == 1


def test_a_report_not_delivered_before_shutdown_is_not_kept_as_applied(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    h, bus = flaky_handler(tmp_path, failures=1)
    h.on_message(raw(t17="E1"))  # delivered after one retry, saved
    bus.failures = 100
    h.stopping.set()
    h.on_message(raw(t17="E2", t54="2", t34="7"))
    assert "E2" not in h.book.seen_exec_ids  # the book went back to the saved state
    assert "E1" in h.book.seen_exec_ids
    assert "ask the broker to resend from MsgSeqNum 7" in caplog.text
    assert h.run is not None and h.run.error_count == 1


@pytest.mark.parametrize("bad", ["../../etc", "A/B", ".hidden"])
def test_comp_ids_cannot_reach_outside_the_data_dir(bad: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="target comp id"):
        FixSessionConfig("127.0.0.1", 1, "AETHERIS", bad, tmp_path).quickfix_settings()


def test_state_file_names_keep_ids_inside_their_folder() -> None:
    assert file_name("101-004", "A/../../x") == "101-004-A%2F..%2F..%2Fx"
    assert file_name("..") == "%2E%2E"
    assert "/" not in file_name("/etc/passwd")
