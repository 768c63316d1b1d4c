"""Run options and the recovery store."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines.runner import RunOptions, ensure_recovery_store, recovery_partitions, set_priority

REPO = Path(__file__).resolve().parents[3]


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


SET_PRIORITY_PROBE = """
import os, sys, threading
from pipelines.runner import set_priority

def nice_of(tid):
    return os.getpriority(os.PRIO_PROCESS, tid)

hold = threading.Event()
before = threading.Thread(target=hold.wait)
before.start()
problem = set_priority(int(sys.argv[1]))
after_tid = []
after = threading.Thread(target=lambda: (after_tid.append(threading.get_native_id()), hold.wait()))
after.start()
while not after_tid:
    pass
print(problem, nice_of(threading.get_native_id()), nice_of(before.native_id), nice_of(after_tid[0]))
hold.set()
"""


def test_set_priority_reaches_running_threads_and_the_threads_they_start() -> None:
    # A higher nice value needs no privilege; it runs in a child so this process keeps its own.
    start = os.getpriority(os.PRIO_PROCESS, 0)
    wanted = min(19, start + 3)
    done = subprocess.run(
        [sys.executable, "-c", SET_PRIORITY_PROBE, str(wanted)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.split() == ["None", str(wanted), str(wanted), str(wanted)]


def test_set_priority_says_why_it_could_not(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(which: int, who: int, value: int) -> None:
        raise PermissionError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "setpriority", refuse)
    problem = set_priority(-10)
    assert problem is not None
    assert "cannot set nice -10 (Operation not permitted)" in problem
    assert "CAP_SYS_NICE" in problem
