"""Run options and the recovery store."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.runner import RunOptions, ensure_recovery_store, recovery_partitions


def test_a_recovery_store_is_created_once_and_then_kept(tmp_path: Path) -> None:
    store = tmp_path / "recovery"
    assert ensure_recovery_store(store, 2)
    first = recovery_partitions(store)
    assert [p.name for p in first] == ["part-0.sqlite3", "part-1.sqlite3"]
    stamp = first[0].stat().st_mtime_ns
    assert not ensure_recovery_store(store, 5)  # kept: it is what a restart resumes from
    assert recovery_partitions(store)[0].stat().st_mtime_ns == stamp
    assert len(recovery_partitions(store)) == 2


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"workers_per_process": 0}, "at least one worker"),
        ({"process_id": 0}, "both a process id and the addresses"),
        ({"addresses": ("a:1", "b:2")}, "both a process id and the addresses"),
        ({"process_id": 2, "addresses": ("a:1", "b:2")}, "not an index"),
        ({"snapshot_interval_seconds": 0.0}, "must be positive"),
    ],
)
def test_inconsistent_run_options_are_refused(options: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RunOptions(**options)  # type: ignore[arg-type]


def test_cluster_options_name_this_process_among_the_addresses() -> None:
    options = RunOptions(process_id=1, addresses=("127.0.0.1:2101", "127.0.0.1:2102"))
    assert options.addresses[options.process_id or 0] == "127.0.0.1:2102"
