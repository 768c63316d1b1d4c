"""The pipeline inside this process: the embedded default (``make demo``) and the tests.

Runs the same dataflow as production on a background thread, over any bus (usually
the in-process one); :meth:`InProcessPipeline.stop` ends it cleanly.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from infra.bus import Bus, InProcessBus, Topics
from pipelines.armor import STANDING_INTERVAL_SECONDS, STANDINGS_PER_SECOND, bus_flow
from pipelines.live import LiveFactory
from pipelines.runner import RecoveryConfig, ensure_recovery_store, run_main
from pipelines.sinks import WriterFactory
from pipelines.sources import ROUND_SIZE
from risk_engine import RulesetResolver
from schemas import BreachEvent


class InProcessPipeline:
    """The Armor dataflow on a thread of this process."""

    def __init__(
        self,
        bus: Bus,
        topics: Topics,
        *,
        resolve: RulesetResolver | None = None,
        breach_stores: Sequence[WriterFactory[BreachEvent]] = (),
        snapshot_interval_seconds: float = 5.0,
        recovery_dir: Path | None = None,
        round_size: int = ROUND_SIZE,
        live: LiveFactory | None = None,
        standing_interval_seconds: float = STANDING_INTERVAL_SECONDS,
        standings_per_second: float | None = STANDINGS_PER_SECOND,
    ) -> None:
        self._bus = bus
        self._topics = topics
        self._resolve = resolve
        self._breach_stores = breach_stores
        self._epoch = timedelta(seconds=snapshot_interval_seconds)
        self._recovery_dir = recovery_dir
        self._round_size = round_size
        self._live = live
        self._standing_interval = standing_interval_seconds
        self._standings_per_second = standings_per_second
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def run_until_end(self) -> None:
        """Process every message published so far, then return (on this thread)."""
        self._run(until_end=True)

    def start(self) -> None:
        """Start tailing the events topic on a background thread."""
        if self._thread is not None:
            raise RuntimeError("the pipeline is already running")
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run_guarded, name="aetheris-pipeline", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop tailing, flush the outputs and wait; re-raise what stopped it, if anything."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._stop.set()
        thread.join(timeout)
        if thread.is_alive():
            raise TimeoutError(f"the pipeline did not stop within {timeout:g} s")
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run_guarded(self) -> None:
        try:
            self._run(until_end=False)
        except BaseException as exc:
            self._error = exc

    def _run(self, *, until_end: bool) -> None:
        flow = bus_flow(
            self._bus,
            self._topics,
            resolve=self._resolve,
            until_end=until_end,
            stop=self._stop,
            breach_stores=self._breach_stores,
            # The in-process bus's end offsets are exact: no grace needed at the end.
            end_grace_seconds=0.0 if isinstance(self._bus, InProcessBus) else 0.5,
            round_size=self._round_size,
            live=self._live,
            standing_interval_seconds=self._standing_interval,
            standings_per_second=self._standings_per_second,
        )
        recovery = None
        if self._recovery_dir is not None:
            ensure_recovery_store(self._recovery_dir, 1)
            recovery = RecoveryConfig(self._recovery_dir, timedelta(0))
        run_main(flow, epoch_interval=self._epoch, recovery_config=recovery)
