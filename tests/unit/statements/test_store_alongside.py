"""``_store_alongside`` around its port (the store call faked): what is raised, what is
published, and when the store may commit. The real store is tested against the
database in tests/integration/db/test_import_publish_gate.py."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any, cast

import pytest

from connectors.statements import importer
from infra.db.pool import Pool
from infra.db.sinks import TradeCounts
from infra.db.statements import ImportRows, StoredImport

ROWS = ImportRows(new_trades=[])
POOL = cast(Pool, SimpleNamespace(max_size=4))


def run(work: Callable[[Callable[[ImportRows], None]], None]) -> StoredImport:
    stored, _ = importer._store_alongside(
        POOL, account_id="ACC", source="import:test", account=None, rows=ROWS,
        guessed=False, work=work,
    )  # fmt: skip
    return stored


def test_a_store_failed_before_the_hand_over_stops_the_publish(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    failed = threading.Event()

    def store_import(*_: Any, **__: Any) -> StoredImport:
        failed.set()
        raise RuntimeError("disk full")

    monkeypatch.setattr(importer, "store_import", store_import)
    published: list[str] = []

    def work(hand_over: Callable[[ImportRows], None]) -> None:
        assert failed.wait(10)
        hand_over(ROWS)
        published.append("events")

    with caplog.at_level(logging.WARNING), pytest.raises(RuntimeError, match="disk full"):
        run(work)
    assert published == []
    # The store's own error is reported once, not again as "rolled back after …".
    assert [r.getMessage() for r in caplog.records] == []


def test_the_store_commits_only_after_the_work_returned(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []

    def store_import(*_: Any, before_commit: Callable[[], None], **__: Any) -> StoredImport:
        seen.append("written")
        before_commit()
        seen.append("committed")
        return StoredImport(TradeCounts(new=3), 3, 0, 0)

    monkeypatch.setattr(importer, "store_import", store_import)

    def work(hand_over: Callable[[ImportRows], None]) -> None:
        hand_over(ROWS)
        seen.append("published")

    assert run(work).trades.new == 3
    assert seen.index("published") < seen.index("committed")


def test_a_failed_publish_rolls_the_store_back(monkeypatch: pytest.MonkeyPatch) -> None:
    outcome: list[str] = []

    def store_import(*_: Any, before_commit: Callable[[], None], **__: Any) -> StoredImport:
        try:
            before_commit()
        except Exception as exc:
            outcome.append(f"rolled back: {type(exc).__name__}")
            raise
        outcome.append("committed")
        return StoredImport(TradeCounts(), 0, 0, 0)

    monkeypatch.setattr(importer, "store_import", store_import)

    def work(hand_over: Callable[[ImportRows], None]) -> None:
        hand_over(ROWS)
        raise ConnectionError("broker gone")

    with pytest.raises(ConnectionError, match="broker gone"):
        run(work)
    assert outcome == ["rolled back: _Abandoned"]


def test_work_that_never_hands_over_rows_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def store_import(*_: Any, before_commit: Callable[[], None], **__: Any) -> StoredImport:
        before_commit()
        return StoredImport(TradeCounts(), 0, 0, 0)

    monkeypatch.setattr(importer, "store_import", store_import)
    with pytest.raises(RuntimeError, match="without deciding what to store"):
        run(lambda hand_over: None)
