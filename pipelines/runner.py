"""Running a dataflow: one process, several workers, or one process of a cluster.

Recovery: with a recovery directory, Bytewax snapshots every operator's state (source
offsets, per-account risk state) at the end of each epoch, ``snapshot_interval``
seconds long; after a crash the dataflow resumes from the last committed snapshot and
replays at most one epoch, so outputs are at-least-once with identical breach ids.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import bytewax.recovery
import bytewax.run
import bytewax.testing
from bytewax.dataflow import Dataflow

# Bytewax's Rust entry points ship without annotations; these are their signatures.
RecoveryConfig = cast(Callable[[Path, timedelta], Any], bytewax.recovery.RecoveryConfig)
init_db_dir = cast(Callable[[Path, int], None], bytewax.recovery.init_db_dir)
cli_main = cast(Callable[..., None], bytewax.run.cli_main)
run_main = cast(Callable[..., None], bytewax.testing.run_main)


@dataclass(frozen=True, slots=True)
class RunOptions:
    """How to run: workers in this process, cluster addresses, recovery."""

    workers_per_process: int = 1
    # Cluster mode: this process's index and every process's ``host:port`` (itself included).
    process_id: int | None = None
    addresses: tuple[str, ...] = ()
    recovery_dir: Path | None = None
    snapshot_interval_seconds: float = 5.0
    # Keep superseded snapshots this long (set it to how often the recovery dir is backed up).
    backup_interval_seconds: float = 0.0

    def __post_init__(self) -> None:
        if self.workers_per_process < 1:
            raise ValueError("at least one worker per process")
        if (self.process_id is None) != (not self.addresses):
            raise ValueError("cluster mode needs both a process id and the addresses")
        if self.process_id is not None and not 0 <= self.process_id < len(self.addresses):
            raise ValueError(
                f"process id {self.process_id} is not an index of the {len(self.addresses)} "
                "addresses"
            )
        if self.snapshot_interval_seconds <= 0:
            raise ValueError("the snapshot interval must be positive")


def recovery_partitions(db_dir: Path) -> list[Path]:
    """The recovery database partitions in ``db_dir``."""
    return sorted(db_dir.glob("part-*.sqlite3"))


def ensure_recovery_store(db_dir: Path, partitions: int) -> bool:
    """Create ``partitions`` empty recovery partitions if ``db_dir`` has none; True if created.

    Same as ``python -m bytewax.recovery DB_DIR PARTITIONS``. An existing store is kept
    as it is: that is the state a restarted dataflow resumes from.
    """
    if recovery_partitions(db_dir):
        return False
    db_dir.mkdir(parents=True, exist_ok=True)
    init_db_dir(db_dir, partitions)
    return True


def set_priority(nice: int) -> str | None:
    """Give this process's threads, and the threads they start, the nice value ``nice``.

    Linux keeps a nice value per thread and a new thread inherits its creator's, so this
    sets every thread running now; call it before the dataflow starts its consumer's and
    producer's threads. Returns ``None``, or why it could not (a negative value needs
    CAP_SYS_NICE, or root, or an RLIMIT_NICE that allows it).
    """
    try:
        threads = [int(tid) for tid in os.listdir("/proc/self/task")]
    except OSError:
        threads = [0]  # no procfs: this thread, which the dataflow's threads inherit from
    try:
        for tid in threads:
            try:
                os.setpriority(os.PRIO_PROCESS, tid, nice)
            except ProcessLookupError:
                continue  # the thread ended meanwhile
    except PermissionError as exc:
        return (
            f"cannot set nice {nice} ({exc.strerror}): run as a user with CAP_SYS_NICE "
            "(systemd: AmbientCapabilities=CAP_SYS_NICE or Nice=; a container: --cap-add "
            "SYS_NICE), or leave AETHERIS_PIPELINE_NICE unset"
        )
    return None


def run_dataflow(flow: Dataflow, options: RunOptions) -> None:
    """Run ``flow`` in this process until its sources end (forever when tailing)."""
    recovery = None
    if options.recovery_dir is not None:
        if not recovery_partitions(options.recovery_dir):
            raise FileNotFoundError(
                f"no recovery partitions in {options.recovery_dir}: create them first "
                "(aetheris pipeline init-recovery)"
            )
        recovery = RecoveryConfig(
            options.recovery_dir, timedelta(seconds=options.backup_interval_seconds)
        )
    # This process runs nothing else: move everything loaded so far (modules, schemas, the
    # flow) out of the cyclic collector's reach, so its full collections scan only live
    # state. Their pauses stall every tick; unfrozen they were the pipeline's p99.
    gc.collect()
    gc.freeze()
    cli_main(
        flow,
        workers_per_process=options.workers_per_process,
        process_id=options.process_id,
        addresses=list(options.addresses) or None,
        epoch_interval=timedelta(seconds=options.snapshot_interval_seconds),
        recovery_config=recovery,
    )
