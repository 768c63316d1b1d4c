"""The drop-copy session: a QuickFIX initiator around the pure book.

QuickFIX does the session layer: logon, heartbeats, sequence numbers kept in a
FileStore under the data dir (so a restart logs on with the next numbers and the
counterparty's messages missed while away come back through a ResendRequest, with
PossDup=Y, or as a gap fill), reconnects. :class:`DropCopyHandler` does the rest: each
ExecutionReport is parsed, applied to the :class:`DropCopyBook`, its events published
and flushed, then the book saved — so a crash in between replays the report on resend
and the ExecID dedup (or the engine's trade dedup) keeps it from counting twice.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import quickfix as fix

from connectors.fix import wire
from connectors.fix.book import DropCopyBook
from connectors.fix.parse import FixMessageError, is_relevant, parse_execution_report
from connectors.instruments import InstrumentError
from connectors.statefile import JsonStateFile
from connectors.synclog import SyncLogWriter, SyncRun
from infra.bus import BusError, EventPublisher
from schemas import AccountEvent, BalanceEvent, TradeEvent

_log = logging.getLogger("aetheris.connectors.fix")

SOH = "\x01"
_SESSION_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d:[0-5]\d$")
# While not logged on, a warning this often says so (QuickFIX retries quietly).
NOT_LOGGED_ON_WARNING_SECONDS = 30.0
# A long session's sync log row gets its counts so far at most this often.
PROGRESS_SECONDS = 5.0
TAG_USERNAME = 553
TAG_PASSWORD = 554


class StopSignal(Protocol):
    def is_set(self) -> bool: ...

    def wait(self, timeout: float | None = None) -> bool: ...


@dataclass(frozen=True)
class FixSessionConfig:
    """Where the drop-copy session connects and how it identifies itself."""

    host: str
    port: int
    sender_comp_id: str
    target_comp_id: str
    data_dir: Path
    heartbeat_seconds: int = 30
    reconnect_seconds: int = 5
    username: str | None = None
    password: str | None = None  # sent in the Logon (554); never logged
    # The daily session in UTC (HH:MM:SS): QuickFIX resets the sequence numbers when a
    # new one begins. Equal times: one 24-hour session a day, from that time.
    session_start: str = "00:00:00"
    session_end: str = "00:00:00"
    reset_on_logon: bool = False  # send ResetSeqNumFlag=Y in every Logon

    @property
    def session_dir(self) -> Path:
        """The session's own folder: QuickFIX's FileStore and the book's state."""
        return self.data_dir / "fix" / f"{self.sender_comp_id}-{self.target_comp_id}"

    def quickfix_settings(self) -> str:
        for name, value in (
            ("sender comp id", self.sender_comp_id),
            ("target comp id", self.target_comp_id),
            ("host", self.host),
        ):
            if (
                not value
                or any(c in value for c in "\r\n[]=/\\")
                or value != value.strip()
                or value.startswith(".")
            ):
                raise ValueError(
                    f"the FIX {name} {value!r} is empty or has a character FIX forbids"
                )
        for name, value in (("start", self.session_start), ("end", self.session_end)):
            if not _SESSION_TIME.match(value):
                raise ValueError(f"the session {name} time {value!r} is not HH:MM:SS (UTC)")
        reset = "Y" if self.reset_on_logon else "N"
        return "\n".join(
            [
                "[DEFAULT]",
                "ConnectionType=initiator",
                f"FileStorePath={self.session_dir / 'store'}",
                f"StartTime={self.session_start}",
                f"EndTime={self.session_end}",
                "UseDataDictionary=N",
                f"ResetOnLogon={reset}",
                "ResetOnLogout=N",
                "ResetOnDisconnect=N",
                f"ReconnectInterval={self.reconnect_seconds}",
                "",
                "[SESSION]",
                "BeginString=FIX.4.4",
                f"SenderCompID={self.sender_comp_id}",
                f"TargetCompID={self.target_comp_id}",
                f"SocketConnectHost={self.host}",
                f"SocketConnectPort={self.port}",
                f"HeartBtInt={self.heartbeat_seconds}",
                "",
            ]
        )


def fields_of(raw: str) -> dict[int, str]:
    """Tag → value of one FIX message string (the first of a repeated tag wins)."""
    fields: dict[int, str] = {}
    for part in raw.split(SOH):
        tag, sep, value = part.partition("=")
        if sep and tag.isdigit():
            fields.setdefault(int(tag), value)
    return fields


class DropCopyHandler:
    """Applies drop-copy messages to the book, publishes, persists and counts runs.

    With ``fix_account``, only reports whose Account (tag 1) is that value are taken (a
    drop-copy session often carries several accounts). Called on QuickFIX's thread; a
    lock keeps its calls in order."""

    def __init__(
        self,
        book: DropCopyBook,
        publisher: EventPublisher,
        state: JsonStateFile,
        sync_log: SyncLogWriter,
        *,
        source: str,
        fix_account: str | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        retry_delay: Callable[[int], float] = lambda attempt: min(30.0, 2.0**attempt),
    ) -> None:
        self.book = book
        self.fix_account = fix_account
        self.publisher = publisher
        self.state = state
        self.sync_log = sync_log
        self.source = source
        self.clock = clock
        self.run: SyncRun | None = None
        self._progress_at = clock()
        self.retry_delay = retry_delay
        self.stopping = threading.Event()  # set when the connector shuts down
        self.logged_on = threading.Event()
        self.logons = 0
        self._lock = threading.Lock()
        saved = state.load()
        if saved is not None:
            book.restore(saved)

    def _new_run(self) -> SyncRun:
        run = SyncRun(self.source, self.book.account_id, self.clock(), format="fix")
        self.sync_log.start(run)
        self._progress_at = run.started_at
        return run

    def on_logon(self) -> None:
        with self._lock:
            self.logons += 1
            self.run = self._new_run()
        _log.info("drop-copy session %s logged on", self.source)
        self.logged_on.set()

    def on_logout(self) -> None:
        if self.logged_on.is_set():  # QuickFIX also calls this after a failed connection
            _log.info("drop-copy session %s logged out", self.source)
        self.logged_on.clear()
        self.finish_run()

    def finish_run(self) -> None:
        with self._lock:
            run, self.run = self.run, None
        if run is not None:
            self.sync_log.finish(run, self.clock())

    def on_message(self, raw: str) -> None:
        fields = fields_of(raw)
        with self._lock:
            run = self.run or self._new_run()
            self.run = run
            if (
                fields.get(wire.TAG_MSG_TYPE) != wire.MSG_EXECUTION_REPORT
                or not is_relevant(fields)
                or (
                    self.fix_account is not None
                    and fields.get(wire.TAG_ACCOUNT) != self.fix_account
                )
            ):
                run.count("ignored")
                return
            where = f"ExecID {fields.get(wire.TAG_EXEC_ID, '?')} (MsgSeqNum {fields.get(34, '?')})"
            try:
                outcome = self.book.handle(parse_execution_report(fields))
            except (FixMessageError, InstrumentError) as exc:
                run.error(where, str(exc))
                _log.warning("drop-copy %s: %s skipped: %s", self.source, where, exc)
                return
            if not self._deliver(outcome.events, where, fields.get(34, "?")):
                self._reload()  # undo: the report was not delivered, so it was not applied
                run.error(where, "not delivered to the bus before shutdown")
                return
            self.state.save(self.book.to_state())
            run.count(outcome.kind)
            run.ticks += sum(1 for e in outcome.events if e.type == "balance")
            now = self.clock()
            if (now - self._progress_at).total_seconds() >= PROGRESS_SECONDS:
                self._progress_at = now
                self.sync_log.progress(run)
            for note in outcome.notes:
                _log.info("drop-copy %s: %s: %s", self.source, where, note)

    def _deliver(self, events: tuple[TradeEvent | BalanceEvent, ...], where: str, seq: str) -> bool:
        """Publish and wait for the bus; while it fails, publish again after a pause.

        This holds QuickFIX's thread, so the broker sees no more reports (and may drop
        the session) until the bus is back: nothing is read that could not be delivered.
        ``False`` when the connector stops before the bus came back."""
        attempt = 0
        while True:
            try:
                for event in events:
                    self.publisher.publish_event(event)
                self.publisher.flush()
                return True
            except BusError as exc:
                attempt += 1
                if self.stopping.is_set():
                    _log.error(
                        "drop-copy %s: %s was not delivered before shutdown (%s); it is not "
                        "in the saved state: ask the broker to resend from MsgSeqNum %s",
                        self.source,
                        where,
                        exc,
                        seq,
                    )
                    return False
                pause = self.retry_delay(attempt)
                _log.warning(
                    "drop-copy %s: %s: the bus failed (%s); publishing again in %.1f s",
                    self.source,
                    where,
                    exc,
                    pause,
                )
                self.stopping.wait(pause)

    def _reload(self) -> None:
        saved = self.state.load()
        if saved is None:
            self.book.reset()
        else:
            self.book.restore(saved)


class _Application(fix.Application):  # type: ignore[misc]
    """QuickFIX's callbacks, handed to the handler."""

    def __init__(self, handler: DropCopyHandler, config: FixSessionConfig) -> None:
        super().__init__()
        self.handler = handler
        self.config = config

    def onCreate(self, session_id: fix.SessionID) -> None:
        pass

    def onLogon(self, session_id: fix.SessionID) -> None:
        self.handler.on_logon()

    def onLogout(self, session_id: fix.SessionID) -> None:
        self.handler.on_logout()

    def toAdmin(self, message: fix.Message, session_id: fix.SessionID) -> None:
        header = message.getHeader()
        if header.isSetField(35) and header.getField(35) == "A":
            if self.config.username:
                message.setField(TAG_USERNAME, self.config.username)
            if self.config.password:
                message.setField(TAG_PASSWORD, self.config.password)

    def fromAdmin(self, message: fix.Message, session_id: fix.SessionID) -> None:
        header = message.getHeader()
        if header.isSetField(35) and header.getField(35) in ("5", "3"):  # Logout, Reject
            kind = "logged us out" if header.getField(35) == "5" else "rejected a message"
            text = message.getField(58) if message.isSetField(58) else "no reason given"
            _log.warning("drop-copy %s: the broker %s: %s", self.handler.source, kind, text)

    def toApp(self, message: fix.Message, session_id: fix.SessionID) -> None:
        pass

    def fromApp(self, message: fix.Message, session_id: fix.SessionID) -> None:
        try:
            self.handler.on_message(message.toString())
        except Exception:  # a bug must not kill QuickFIX's thread; it is logged with its trace
            _log.exception("drop-copy %s: a message could not be handled", self.handler.source)


def run_drop_copy(
    config: FixSessionConfig,
    handler: DropCopyHandler,
    stop: StopSignal,
    *,
    account: AccountEvent | None = None,
) -> None:
    """Publish ``account`` (if given), run the initiator until ``stop`` is set, log out."""
    if account is not None:
        handler.publisher.publish_event(account)
        handler.publisher.flush()
    settings = fix.SessionSettings()
    settings.setFromString(config.quickfix_settings())
    config.session_dir.mkdir(parents=True, exist_ok=True)
    application = _Application(handler, config)
    initiator = fix.SocketInitiator(application, fix.FileStoreFactory(settings), settings)
    initiator.start()
    _log.info("drop-copy %s: connecting to %s:%d", handler.source, config.host, config.port)
    waiting_since = time.monotonic()
    try:
        while not stop.wait(0.2):
            if handler.logged_on.is_set():
                waiting_since = time.monotonic()
            elif time.monotonic() - waiting_since >= NOT_LOGGED_ON_WARNING_SECONDS:
                waiting_since = time.monotonic()
                _log.warning(
                    "drop-copy %s: not logged on to %s:%d yet; retrying every %d s",
                    handler.source,
                    config.host,
                    config.port,
                    config.reconnect_seconds,
                )
    finally:
        handler.stopping.set()
        initiator.stop()
        handler.finish_run()
