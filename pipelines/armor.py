"""The Armor dataflow: input events from the bus → per-account risk state → breaches out.

    events topic (one Bytewax partition per topic partition)
      → key by account id (the message key)
      → a stateful step per account: decode with ``schemas``, ``risk_engine.apply``
        (bad message, unknown account or ruleset → dead letter with the reason)
      → breaches to the breach topic (and to any breach stores, e.g. the database)

Order: the events topic is keyed by account id, so one account's events are in one
partition, read in offset order by one Bytewax partition, and reach the account's state
in that order (docs/pipeline.md). A message whose key is not its ``account_id`` would
break that, so it is rejected too.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeGuard, cast

import bytewax.operators as op
from bytewax.dataflow import Dataflow, Stream
from bytewax.inputs import Source
from bytewax.operators import StatefulBatchLogic

from infra.bus import Bus, BusMessage, DeadLetter, Publisher, Topics, open_bus
from infra.rulesets import RulesetCatalog
from infra.settings import get_settings
from pipelines.sinks import (
    EmittedBreach,
    TopicWriter,
    WriterFactory,
    WriterSink,
    breach_topic_writer,
    dead_letter_topic_writer,
)
from pipelines.sources import BusSource, StopSignal
from pipelines.state import StateSnapshot, freeze, thaw
from risk_engine import AccountState, RulesetResolver, UnknownAccountError, apply
from schemas import (
    AccountEvent,
    BalanceEvent,
    BreachEvent,
    EventError,
    TradeEvent,
    parse_event,
)
from schemas.rulesets import RulesetError

log = logging.getLogger(__name__)

FLOW_ID = "aetheris-armor"

InputEvent = AccountEvent | BalanceEvent | TradeEvent


@dataclass(frozen=True, slots=True)
class Decoded:
    """A valid input event and the message it came in."""

    event: InputEvent
    message: BusMessage


ArmorOutput = EmittedBreach | DeadLetter
"""What the stateful step emits: breaches, and dead letters for events it could not apply."""


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


def decode(message: BusMessage) -> Decoded | DeadLetter:
    """Parse one message into an input event, or reject it with the reason (never raises)."""
    try:
        # ``where`` is only needed in an error: named afterwards, off the hot path.
        event = parse_event(message.value or b"", "")
    except EventError as exc:
        return reject(message, exc.reason)
    key = None if message.key is None else message.key.decode("utf-8", errors="replace")
    if key != event.account_id:
        return reject(
            message,
            f"message key {key!r} is not the event's account_id {event.account_id!r} "
            "(events must be keyed by account id to stay in order)",
        )
    return Decoded(event, message)


def account_key(message: BusMessage) -> str:
    """The routing key: the message key, which must be the account id (checked on decode).
    Messages without one share the empty key and are all rejected there."""
    return "" if message.key is None else message.key.decode("utf-8", errors="replace")


def is_breach(item: ArmorOutput) -> TypeGuard[EmittedBreach]:
    return isinstance(item, EmittedBreach)


class ArmorLogic(StatefulBatchLogic[BusMessage, ArmorOutput, StateSnapshot]):
    """One account's risk state in the stateful step: decode, then ``risk_engine.apply``.

    Messages are decoded here, on the account's worker, rather than before the exchange
    that routes them by key: raw bytes cross between processes much more cheaply than
    parsed events. Bad input (invalid JSON or fields, a key that is not the event's
    account id, a tick before its account, an unknown ruleset) becomes a dead letter and
    leaves the state as it was. Any other error the engine raises also becomes a dead
    letter (and is logged): one poisonous message must not stop every account's
    monitoring, nor crash-loop the dataflow after each restart. Snapshots are
    :func:`pipelines.state.freeze` copies (cheap; see that module).
    """

    def __init__(self, resolve: RulesetResolver, state: AccountState | None) -> None:
        self._resolve = resolve
        self.state = state

    def on_batch(self, values: list[BusMessage]) -> tuple[list[ArmorOutput], bool]:
        out: list[ArmorOutput] = []
        for message in values:
            item = decode(message)
            if isinstance(item, DeadLetter):
                out.append(item)
                continue
            try:
                self.state, breaches = apply(self.state, item.event, self._resolve)
            except (UnknownAccountError, RulesetError) as exc:
                out.append(reject(message, str(exc)))
                continue
            except Exception as exc:
                log.exception("risk engine failed on %s", where(message))
                out.append(reject(message, f"engine error: {exc!r}"))
                continue
            out.extend(EmittedBreach(breach, message.received_ns) for breach in breaches)
        # No state yet (only rejected ticks so far): nothing to keep for this account.
        return out, self.state is None

    def snapshot(self) -> StateSnapshot:
        assert self.state is not None
        return freeze(self.state)


def armor_logic(resolve: RulesetResolver) -> Callable[[StateSnapshot | None], ArmorLogic]:
    """The stateful step's builder: a fresh account, or one resumed from its snapshot."""

    def build(resume: StateSnapshot | None) -> ArmorLogic:
        return ArmorLogic(resolve, None if resume is None else thaw(resume))

    return build


def build_armor_flow(
    source: Source[BusMessage],
    *,
    resolve: RulesetResolver,
    breach_output: WriterFactory[EmittedBreach],
    deadletter_output: WriterFactory[DeadLetter],
    breach_stores: Sequence[WriterFactory[BreachEvent]] = (),
    sink_parts: int = 1,
    flow_id: str = FLOW_ID,
) -> Dataflow:
    """The dataflow, wired to the given source and outputs.

    ``breach_stores`` is the seam for more breach outputs (the database): each gets every
    breach, keyed by account; what a store has not confirmed when an epoch ends is part
    of the snapshot and is written again after a crash (:class:`pipelines.sinks.Writer`).
    """
    flow = Dataflow(flow_id)
    keyed = op.key_on("by-account", op.input("events", flow, source), account_key)
    outcomes = op.stateful_batch("armor", keyed, armor_logic(resolve))
    split = op.branch("breaches", op.key_rm("unkey", outcomes), is_breach)

    breaches = op.key_on("breach-key", split.trues, lambda item: item.breach.account_id)
    op.output("breach-out", breaches, WriterSink(breach_output, sink_parts))
    for index, store in enumerate(breach_stores):
        events = op.map_value(f"breach-event-{index}", breaches, lambda item: item.breach)
        op.output(f"breach-store-{index}", events, WriterSink(store, sink_parts))

    rejected = cast(Stream[DeadLetter], split.falses)  # what the type guard turned away
    letters = op.key_on("deadletter-key", rejected, lambda item: item.key or "")
    op.output("deadletter-out", letters, WriterSink(deadletter_output, sink_parts))
    return flow


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
    end_grace_seconds: float = 0.5,
) -> Dataflow:
    """The dataflow over a bus (Kafka or in-process): the events topic in, breach and
    dead-letter topics out."""

    publisher = SharedPublisher(bus)

    def breach_output(_part: int) -> TopicWriter[EmittedBreach]:
        return breach_topic_writer(publisher.get(), topics.breaches)

    def deadletter_output(_part: int) -> TopicWriter[DeadLetter]:
        return dead_letter_topic_writer(publisher.get(), topics.deadletter)

    return build_armor_flow(
        BusSource(
            bus,
            topics.events,
            until_end=until_end,
            stop=stop,
            end_grace_seconds=end_grace_seconds,
        ),
        resolve=resolve if resolve is not None else RulesetCatalog(),
        breach_output=breach_output,
        deadletter_output=deadletter_output,
        breach_stores=breach_stores,
        sink_parts=topics.partitions,
    )


def kafka_flow(until_end: bool = False) -> Dataflow:
    """For ``python -m bytewax.run "pipelines.armor:kafka_flow()"``: the flow from settings."""
    settings = get_settings()
    if not settings.kafka_bootstrap_servers:
        raise SystemExit("KAFKA_BOOTSTRAP_SERVERS is not set: the pipeline reads from Kafka")
    return bus_flow(open_bus(settings), Topics.from_settings(settings), until_end=until_end)
