"""The Armor dataflow: input events from the bus → per-account risk state → breaches out.

    events topic (one Bytewax partition per topic partition)
      → group what was read by state shard (a stable hash of the key, the account id)
      → a stateful step per shard holding each of its accounts' state: decode with
        ``schemas``, ``risk_engine.apply`` (bad message, unknown account or ruleset →
        dead letter with the reason)
      → breaches to the breach topic (and to any breach stores, e.g. the database),
        status changes to the status topic, and, with a live output, each changed
        account's standing (at most once per interval), its breaches and status changes
        to Redis (pipelines/live.py)

Order: the events topic is keyed by account id, so one account's events are in one
partition, read in offset order by one Bytewax partition; they stay in that order
through their shard and reach the account's state in it (docs/pipeline.md). A message
whose key is not its ``account_id`` would break that, so it is rejected too.
"""

from __future__ import annotations

import logging
import pickle
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Final, TypeGuard, cast
from zlib import crc32

import bytewax.operators as op
from bytewax.dataflow import Dataflow, Stream
from bytewax.inputs import Source
from bytewax.operators import StatefulBatchLogic
from pydantic import ValidationError

from infra.bus import Bus, BusMessage, DeadLetter, Publisher, Topics, open_bus
from infra.live import LiveItem, Standing, open_live
from infra.rulesets import RulesetCatalog
from infra.settings import get_settings
from pipelines.archive import ArchiveInput
from pipelines.live import LiveFactory, LiveSink, StandingBudget, StandingSchedule
from pipelines.metrics import (
    BATCH_EVENTS,
    BATCH_SECONDS,
    BREACHES,
    DEAD_LETTERS,
    EVENTS_OUT,
    SNAPSHOT_SECONDS,
)
from pipelines.sinks import (
    EmittedBreach,
    TopicWriter,
    WriterFactory,
    WriterSink,
    breach_topic_writer,
    dead_letter_topic_writer,
    status_topic_writer,
)
from pipelines.sources import ROUND_SIZE, BusSource, StopSignal
from pipelines.state import LAYOUT, check_layout, freeze, thaw
from risk_engine import AccountState, RulesetResolver, UnknownAccountError, snapshot_fields, step
from schemas import BreachEvent, StatusEvent
from schemas.parsing import event_error_reason
from schemas.records import Decoded, EventDecoder
from schemas.rulesets import RulesetError

log = logging.getLogger(__name__)

FLOW_ID = "aetheris-armor"

InputEvent = Decoded
"""A decoded message: the contract's event, or its record on the fast path (``schemas.records``)."""


ArmorOutput = EmittedBreach | StatusEvent | Standing | DeadLetter
"""What the stateful step emits: breaches, status changes, standings (with a live
output), and dead letters for events it could not apply."""

STANDING_INTERVAL_SECONDS = 0.1
"""The least time between two standings of one account (``AETHERIS_STANDING_INTERVAL_MS``)."""
STANDINGS_PER_SECOND = 2_000.0
"""The most standings a pipeline process publishes a second, all accounts together
(``AETHERIS_STANDINGS_PER_SECOND``; docs/live-standing.md)."""


def where(message: BusMessage) -> str:
    """``topic[partition]@offset``: how errors name a message."""
    return f"{message.topic}[{message.partition}]@{message.offset}"


def reject(message: BusMessage, reason: str) -> DeadLetter:
    """A dead letter for ``message``: where it was read, why, and the message as text."""
    return DeadLetter(
        source_topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        key=None if message.key is None else message.key.decode("utf-8", errors="replace"),
        reason=f"{where(message)}: {reason}",
        raw=(message.value or b"").decode("utf-8", errors="replace"),
    )


DECODE: Final = EventDecoder()
"""The contract's decoding of a message's JSON (``schemas.records``): a record on the fast
path, else the contract's validator with its checks, its UTC conversion of each timestamp,
and its ``ValidationError`` that names the field."""


def decode(message: BusMessage) -> InputEvent | DeadLetter:
    """Parse one message into an input event, or reject it with the reason (never raises)."""
    try:
        event = DECODE(message.value or b"")
    except ValidationError as exc:
        return reject(message, event_error_reason(exc))
    if message.key == event.account_id.encode():
        return event
    return wrong_key(message, event)


def wrong_key(message: BusMessage, event: InputEvent) -> DeadLetter:
    """The dead letter of a message whose key is not its event's account id."""
    key = None if message.key is None else message.key.decode("utf-8", errors="replace")
    return reject(
        message,
        f"message key {key!r} is not the event's account_id {event.account_id!r} "
        "(events must be keyed by account id to stay in order)",
    )


STATE_SHARDS = 16
"""How many state shards the accounts are spread over (see :class:`ShardLogic`). Recovery
snapshots are keyed by shard, so a store only resumes with the shard count it was
written with (checked on resume)."""


SHARD_CACHE_KEYS = 100_000
"""How many message keys (account ids) the grouping step keeps the shard of."""


def shard_batches(shards: int) -> Callable[[list[BusMessage]], list[tuple[str, list[BusMessage]]]]:
    """Group what the source read into one item per state shard, in read order: Bytewax's
    per-item routing and calls then cost once per shard and read, not once per tick."""

    names = [str(shard) for shard in range(shards)]
    shard_of: dict[bytes | None, str] = {}  # per key: one lookup instead of a hash per tick

    def group(messages: list[BusMessage]) -> list[tuple[str, list[BusMessage]]]:
        groups: dict[str, list[BusMessage]] = {}
        for message in messages:
            key = message.key
            shard = shard_of.get(key)
            if shard is None:
                if len(shard_of) >= SHARD_CACHE_KEYS:
                    shard_of.clear()
                shard = shard_of[key] = names[crc32(key or b"") % shards]
            found = groups.get(shard)
            if found is None:
                groups[shard] = [message]
            else:
                found.append(message)
        return list(groups.items())

    return group


def is_breach(item: ArmorOutput) -> TypeGuard[EmittedBreach]:
    return isinstance(item, EmittedBreach)


def is_dead_letter(item: ArmorOutput) -> TypeGuard[DeadLetter]:
    return isinstance(item, DeadLetter)


def is_status(item: ArmorOutput) -> TypeGuard[StatusEvent]:
    return isinstance(item, StatusEvent)


def live_item(item: ArmorOutput) -> LiveItem | None:
    """What of the step's output goes to the live store: all but dead letters."""
    if isinstance(item, EmittedBreach):
        return item.breach
    if isinstance(item, DeadLetter):
        return None
    return item


ShardSnapshot = tuple[str, int, dict[str, bytes]]
"""``(account state layout, shard count, account id → pickled frozen state)``."""


class ShardLogic(StatefulBatchLogic[list[BusMessage], ArmorOutput, ShardSnapshot]):
    """The risk state of the accounts of one shard: decode, then ``risk_engine.apply``.

    State is per account, as before; the shard is the unit Bytewax routes, calls and
    snapshots (as a Kafka Streams task holds the stores of many keys). A key per account
    cost a Bytewax call, routing and snapshot row per tick or account, paid for each tick
    of a broker burst before its breach could go out (figures: docs/pipeline.md). One
    account's messages all go to one shard, in read order, so they are applied in the
    order they were produced.

    Messages are decoded here, on the shard's worker, rather than before the exchange
    that routes them: raw bytes cross between processes much more cheaply than parsed
    events. Bad input (invalid JSON or fields, a key that is not the event's account id, a
    tick before its account, an unknown ruleset) becomes a dead letter and leaves the
    state as it was. Any other error the engine raises also becomes a dead letter (and is
    logged): one poisonous message must not stop every account's monitoring, nor
    crash-loop the dataflow after each restart.

    With a ``standing`` schedule (a live output), each account changed by a batch gets
    its standing emitted after the batch's outputs, at most once per interval and within
    the process's standing budget (:class:`pipelines.live.StandingSchedule`): an account
    held back goes at a notification, its latest state winning, or at the end of the
    input. An account with a breach or a status change in the batch goes at once.

    Snapshots are incremental: an account's :func:`pipelines.state.freeze` copy is pickled
    once after each epoch it changed in, and kept; the shard's snapshot is those bytes
    (copying bytes is all an unchanged account costs). A resumed shard thaws an account
    on its first event.
    """

    def __init__(
        self,
        resolve: RulesetResolver,
        shards: int,
        resume: ShardSnapshot | None,
        standing: StandingSchedule | None = None,
    ) -> None:
        self._resolve = resolve
        self._shards = shards
        self._states: dict[str, AccountState] = {}
        self._changed: set[str] = set()
        self._frozen: dict[str, bytes] = {}
        self._schedule = standing
        if resume is not None:
            layout, written_with, frozen = resume
            check_layout(layout)  # eagerly: accounts are thawed on their first event
            if written_with != shards:
                raise ValueError(
                    f"the recovery store was written with {written_with} state shards, this "
                    f"dataflow has {shards}: resume with the same count, or replay from the "
                    "topic into a new store"
                )
            self._frozen = dict(frozen)

    def _state(self, account_id: str) -> AccountState | None:
        state = self._states.get(account_id)
        if state is None:
            frozen = self._frozen.get(account_id)
            if frozen is not None:
                state = self._states[account_id] = thaw(pickle.loads(frozen))  # noqa: S301 - our own store
        return state

    def on_batch(self, values: list[list[BusMessage]]) -> tuple[list[ArmorOutput], bool]:
        started = time.perf_counter()
        out: list[ArmorOutput] = []
        resolve, states, changed = self._resolve, self._states, self._changed
        live = self._schedule is not None
        touched: set[str] = set()
        eventful: set[str] = set()
        count = dead = 0
        decode = DECODE
        for messages in values:
            count += len(messages)
            for message in messages:
                # decode(), inline: one call less per message on the hot path.
                raw = message.value or b""
                try:
                    event = decode(raw)
                except ValidationError as exc:
                    out.append(reject(message, event_error_reason(exc)))
                    dead += 1
                    continue
                account_id = event.account_id
                if message.key != account_id.encode():
                    out.append(wrong_key(message, event))
                    dead += 1
                    continue
                state = states.get(account_id)
                if state is None:
                    state = self._state(account_id)
                try:
                    state, outputs = step(state, event, resolve)
                except (UnknownAccountError, RulesetError) as exc:
                    out.append(reject(message, str(exc)))
                    dead += 1
                    continue
                except Exception as exc:
                    log.exception(
                        "risk engine failed on %s",
                        where(message),
                        extra={"account_id": account_id},
                    )
                    out.append(reject(message, f"engine error: {exc!r}"))
                    dead += 1
                    continue
                states[account_id] = state
                changed.add(account_id)
                if outputs:
                    for item in outputs:
                        if isinstance(item, BreachEvent):
                            BREACHES.labels(item.rule, str(item.level)).inc()
                            out.append(EmittedBreach(item, message.received_ns))
                        else:
                            out.append(item)
                    if live:
                        eventful.add(account_id)
                if live:
                    touched.add(account_id)
        if touched:
            self._standings(out, touched, eventful)
        # Per batch, not per event: a handful of increments whatever the batch's size.
        if dead:
            DEAD_LETTERS.inc(dead)
        EVENTS_OUT.inc(len(out))
        BATCH_EVENTS.observe(count)
        BATCH_SECONDS.observe(time.perf_counter() - started)
        # No account yet (only rejected messages so far): nothing to keep for this shard.
        return out, not states and not self._frozen

    def _standings(self, out: list[ArmorOutput], touched: set[str], eventful: set[str]) -> None:
        """Emit the standings of the accounts a batch changed that may go now; hold the rest."""
        assert self._schedule is not None
        out.extend(self._standing(a) for a in self._schedule.changed(touched, eventful))

    def _standing(self, account_id: str) -> Standing:
        return Standing(account_id, snapshot_fields(self._states[account_id]))

    def notify_at(self) -> datetime | None:
        schedule = self._schedule
        when = None if schedule is None else schedule.next_wakeup()
        if schedule is None or when is None:
            return None
        wait = max(0.0, when - schedule.clock())
        return datetime.now(UTC) + timedelta(seconds=wait)

    def on_notify(self) -> tuple[list[ArmorOutput], bool]:
        """The held standings that may go now."""
        if self._schedule is None:
            return [], False
        due: list[ArmorOutput] = [self._standing(a) for a in self._schedule.due()]
        EVENTS_OUT.inc(len(due))
        return due, False

    def on_eof(self) -> tuple[list[ArmorOutput], bool]:
        """The end of the input: every held standing goes now (none is lost at the end)."""
        if self._schedule is None:
            return [], False
        rest: list[ArmorOutput] = [self._standing(a) for a in self._schedule.rest()]
        EVENTS_OUT.inc(len(rest))
        return rest, False

    def snapshot(self) -> ShardSnapshot:
        started = time.perf_counter()
        for account_id in self._changed:
            self._frozen[account_id] = pickle.dumps(
                freeze(self._states[account_id]), pickle.HIGHEST_PROTOCOL
            )
        self._changed.clear()
        taken = LAYOUT, self._shards, dict(self._frozen)
        SNAPSHOT_SECONDS.observe(time.perf_counter() - started)
        return taken


def armor_logic(
    resolve: RulesetResolver,
    shards: int = STATE_SHARDS,
    standing: Callable[[], StandingSchedule] | None = None,
) -> Callable[[ShardSnapshot | None], ShardLogic]:
    """The stateful step's builder: a fresh shard, or one resumed from its snapshot;
    ``standing`` makes each shard's standing schedule (a live output)."""

    def build(resume: ShardSnapshot | None) -> ShardLogic:
        return ShardLogic(resolve, shards, resume, None if standing is None else standing())

    return build


def build_armor_flow(
    source: Source[BusMessage],
    *,
    resolve: RulesetResolver,
    breach_output: WriterFactory[EmittedBreach],
    deadletter_output: WriterFactory[DeadLetter],
    breach_stores: Sequence[WriterFactory[BreachEvent]] = (),
    status_output: WriterFactory[StatusEvent] | None = None,
    live_output: LiveFactory | None = None,
    standing_interval_seconds: float = STANDING_INTERVAL_SECONDS,
    archive: WriterFactory[ArchiveInput] | None = None,
    standings_per_second: float | None = STANDINGS_PER_SECOND,
    sink_parts: int = 1,
    shards: int = STATE_SHARDS,
    flow_id: str = FLOW_ID,
) -> Dataflow:
    """The dataflow, wired to the given source and outputs.

    ``breach_stores`` is the seam for more breach outputs (the database): each gets every
    breach, keyed by account; what a store has not confirmed when an epoch ends is part
    of the snapshot and is written again after a crash (:class:`pipelines.sinks.Writer`).
    ``status_output`` gets every status change, keyed by account. ``live_output`` builds
    each worker's live publisher: standings (at most one per account per
    ``standing_interval_seconds``, at most ``standings_per_second`` for the process, None:
    unbounded), breaches and status changes, in order per account.
    ``archive`` (the database) gets every message read, every breach and every status
    change, keyed by account (:mod:`pipelines.archive`).
    """
    flow = Dataflow(flow_id)
    if shards < 1:
        raise ValueError(f"at least one state shard, got {shards}")
    if standing_interval_seconds < 0:
        raise ValueError(f"the standing interval cannot be negative: {standing_interval_seconds}")
    schedule = None
    if live_output is not None:
        budget = StandingBudget(standings_per_second)  # one for every shard of the process

        def schedule() -> StandingSchedule:
            return StandingSchedule(standing_interval_seconds, budget)

    read = op.input("events", flow, source)
    keyed = op.flat_map_batch("by-shard", read, shard_batches(shards))
    outcomes = op.stateful_batch("armor", keyed, armor_logic(resolve, shards, schedule))
    items = op.key_rm("unkey", outcomes)
    if live_output is not None:
        live: Stream[LiveItem] = op.filter_map("live-items", items, live_item)
        sink: LiveSink = LiveSink(live_output)
        op.output("live-out", live, sink)
    split = op.branch("breaches", items, is_breach)

    breaches = op.key_on("breach-key", split.trues, lambda item: item.breach.account_id)
    op.output("breach-out", breaches, WriterSink(breach_output, sink_parts))
    for index, store in enumerate(breach_stores):
        events = op.map_value(f"breach-event-{index}", breaches, lambda item: item.breach)
        op.output(f"breach-store-{index}", events, WriterSink(store, sink_parts))

    others = op.branch("dead-letters", split.falses, is_dead_letter)
    rejected = others.trues
    letters = op.key_on("deadletter-key", rejected, lambda item: item.key or "")
    op.output("deadletter-out", letters, WriterSink(deadletter_output, sink_parts))

    changes = cast(Stream[StatusEvent], op.filter("statuses", others.falses, is_status))
    keyed_changes = op.key_on("status-key", changes, lambda item: item.account_id)
    if status_output is not None:
        op.output("status-out", keyed_changes, WriterSink(status_output, sink_parts))

    if archive is not None:
        read_keyed = op.key_on("archive-read-key", read, archive_key)
        fired = op.map_value("archive-breach", breaches, lambda item: item.breach)
        archived = op.merge("archive-in", read_keyed, fired, keyed_changes)
        op.output("archive-out", archived, WriterSink(archive, sink_parts))
    return flow


def archive_key(message: BusMessage) -> str:
    """The account a message belongs to (its key; the dataflow rejects any other)."""
    return (message.key or b"").decode("utf-8", errors="replace")


class SharedPublisher:
    """One producer per process for every output partition: fewer connections to the
    broker and fuller batches than a producer per partition (librdkafka is thread-safe)."""

    def __init__(self, bus: Bus) -> None:
        self._bus = bus
        self._lock = threading.Lock()
        self._publisher: Publisher | None = None

    def get(self) -> Publisher:
        with self._lock:
            if self._publisher is None:
                self._publisher = self._bus.publisher()
            return self._publisher


def bus_flow(
    bus: Bus,
    topics: Topics,
    *,
    resolve: RulesetResolver | None = None,
    until_end: bool = False,
    stop: StopSignal | None = None,
    breach_stores: Sequence[WriterFactory[BreachEvent]] = (),
    archive: WriterFactory[ArchiveInput] | None = None,
    end_grace_seconds: float = 0.5,
    round_size: int = ROUND_SIZE,
    live: LiveFactory | None = None,
    standing_interval_seconds: float = STANDING_INTERVAL_SECONDS,
    standings_per_second: float | None = STANDINGS_PER_SECOND,
) -> Dataflow:
    """The dataflow over a bus (Kafka or in-process): the events topic in, breach,
    status and dead-letter topics out (no status topic when ``topics.status`` is None);
    ``round_size``: the least a Bytewax round hands out when that many messages wait
    (:class:`pipelines.sources.SharedFeed`); ``live``: the live output's publisher."""

    publisher = SharedPublisher(bus)
    status_topic = topics.status

    def breach_output(_part: int) -> TopicWriter[EmittedBreach]:
        return breach_topic_writer(publisher.get(), topics.breaches)

    def deadletter_output(_part: int) -> TopicWriter[DeadLetter]:
        return dead_letter_topic_writer(publisher.get(), topics.deadletter)

    def status_output(_part: int) -> TopicWriter[StatusEvent]:
        assert status_topic is not None
        return status_topic_writer(publisher.get(), status_topic)

    return build_armor_flow(
        BusSource(
            bus,
            topics.events,
            until_end=until_end,
            stop=stop,
            end_grace_seconds=end_grace_seconds,
            round_size=round_size,
        ),
        resolve=resolve if resolve is not None else RulesetCatalog(),
        breach_output=breach_output,
        deadletter_output=deadletter_output,
        breach_stores=breach_stores,
        status_output=None if status_topic is None else status_output,
        live_output=live,
        standing_interval_seconds=standing_interval_seconds,
        archive=archive,
        standings_per_second=standings_per_second,
        sink_parts=topics.partitions,
    )


def kafka_flow(until_end: bool = False) -> Dataflow:
    """For ``python -m bytewax.run "pipelines.armor:kafka_flow()"``: the flow from settings
    (with ``REDIS_URL``, the live standing goes to Redis)."""
    settings = get_settings()
    if not settings.kafka_bootstrap_servers:
        raise SystemExit("KAFKA_BOOTSTRAP_SERVERS is not set: the pipeline reads from Kafka")
    return bus_flow(
        open_bus(settings),
        Topics.from_settings(settings),
        until_end=until_end,
        round_size=settings.pipeline_round_size,
        live=(lambda: open_live(settings)) if settings.redis_url else None,
        standing_interval_seconds=settings.standing_interval_ms / 1000.0,
        standings_per_second=settings.standings_per_second or None,
    )
