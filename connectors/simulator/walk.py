"""A seeded random walk of a trading desk: pure, deterministic for a given seed.

Every account trades one position at a time; its floating profit walks randomly and
its equity is balance + floating profit. Most accounts are steady; one in four drifts
into a rule on purpose (daily loss, total loss, trailing drawdown, loss per trade,
overtrading, tilt), so a demo or a benchmark sees every kind of breach.

Traders obey their firm as real ones must (:meth:`SimulatedDesk.apply_status`): a
failed (or passed) account flattens its position and never trades again; a locked one
flattens and sits out until the next trading day starts, then trades on.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from connectors.simulator.wire import SimAccount, SimDeal, SimEquity, SimRecord

CONTRACT_SIZE = 100_000.0  # EURUSD, per lot
COMMISSION_PER_LOT = 7.0  # round turn


@dataclass(frozen=True, slots=True)
class Behaviour:
    """How an account trades. Drift and volatility are per own tick, in fractions of the
    initial balance, of an open position's floating profit."""

    plan: str
    deposit: float
    drift: float
    volatility: float
    open_chance: float
    close_chance: float
    # Close a trade once its loss reaches this fraction of the balance (None: never forced).
    stop_out: float | None = None
    # Own ticks of rising before the drift turns down (the trailing-drawdown account).
    rise_ticks: int = 0
    # Double the size after this many losses in a row (the tilting account).
    revenge_after: int | None = None


PROFILES: dict[str, Behaviour] = {
    "steady": Behaviour("ftmo-2step", 100_000.0, 0.0, 0.0006, 0.2, 0.1),
    "daily_loss": Behaviour("ftmo-2step", 100_000.0, -0.0006, 0.0006, 0.5, 0.01),
    "max_loss": Behaviour("ftmo-1step", 100_000.0, -0.0008, 0.0006, 0.5, 0.01),
    "trailing": Behaviour("apex-50k-intraday", 50_000.0, 0.0008, 0.0004, 0.5, 0.01, rise_ticks=60),
    "trade_loss": Behaviour("personal", 100_000.0, -0.0004, 0.0002, 0.5, 0.0, stop_out=0.012),
    "overtrading": Behaviour("personal", 100_000.0, 0.0, 0.0001, 0.9, 0.6),
    "tilt": Behaviour(
        "personal", 100_000.0, -0.0003, 0.0001, 0.9, 0.0, stop_out=0.0015, revenge_after=3
    ),
}
DRIFTING = ("daily_loss", "max_loss", "trailing", "trade_loss", "overtrading", "tilt")
# Past this loss (a fraction of the initial balance) a drifting account stops drifting.
FLOOR = 0.15


def profile_of(index: int) -> str:
    """One account in four drifts into a rule, cycling through the rules."""
    if index % 4 == 0:
        return DRIFTING[(index // 4) % len(DRIFTING)]
    return "steady"


def story_profile_of(index: int) -> str:
    """The demo's story: the first accounts drift into one rule each, the rest trade steadily."""
    return DRIFTING[index] if index < len(DRIFTING) else "steady"


# The story's account names: the template and what the trader is about to do.
STORY_NAMES = {
    "daily_loss": "FTMO 2-step · daily loss",
    "max_loss": "FTMO 1-step · heavy loser",
    "trailing": "Apex 50k · trailing drawdown",
    "trade_loss": "Personal · oversized loser",
    "overtrading": "Personal · overtrader",
    "tilt": "Personal · revenge trader",
    "steady": "steady",
}


@dataclass(slots=True)
class _Position:
    ticket: int
    action: str
    lots: float
    open_price: float
    open_time_ms: int
    profit: float = 0.0


@dataclass(slots=True)
class _Trader:
    login: str
    behaviour: Behaviour
    balance: float
    position: _Position | None = None
    next_ticket: int = 1
    losses_in_row: int = 0
    ticks: int = 0
    # The firm's word on the account: close what is open at the next slot; stop for good
    # (failed, passed); sit out until this event time (locked until the next day).
    flatten: bool = False
    done: bool = False
    paused_until_ms: int | None = None


class SimulatedDesk:
    """``accounts`` simulated accounts; :meth:`records` is the desk's endless feed.

    Records are spaced ``tick_interval`` apart in event time from ``start`` (one account
    after the other), so publishing at 1 / ``tick_interval`` records per second keeps
    event time close to wall-clock time.
    """

    def __init__(
        self,
        accounts: int,
        *,
        seed: int,
        start: datetime,
        tick_interval: timedelta,
        story: bool = False,
    ) -> None:
        if accounts < 1:
            raise ValueError("simulate at least one account")
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        self._rng = random.Random(seed)  # noqa: S311 - a seeded simulation, not secrets
        self._start_ms = int(start.timestamp() * 1000)
        self._step_ms = tick_interval / timedelta(milliseconds=1)
        profile = story_profile_of if story else profile_of
        self._traders = [
            _Trader(f"SIM{index:05d}", PROFILES[profile(index)], 0.0) for index in range(accounts)
        ]
        self._names = {
            t.login: f"{STORY_NAMES[profile(index)]} ({t.login})" if story else None
            for index, t in enumerate(self._traders)
        }
        for trader in self._traders:
            trader.balance = trader.behaviour.deposit
        self._by_login = {trader.login: trader for trader in self._traders}

    def apply_status(self, login: str, status: str, until: datetime | None = None) -> bool:
        """The firm changed an account's status: ``failed`` or ``passed`` stop it for good,
        ``locked`` pauses it until ``until`` (the next trading day), ``active`` lifts a
        pause. Either way an open position is closed at the account's next slot. False
        for an account this desk does not trade."""
        trader = self._by_login.get(login)
        if trader is None:
            return False
        if trader.done:
            return True  # failed or passed is final: nothing left to close or pause
        if status in ("failed", "passed"):
            trader.done = True
            trader.flatten = True
        elif status == "locked":
            trader.flatten = True
            if until is not None:
                trader.paused_until_ms = int(until.timestamp() * 1000)
        elif status == "active":
            trader.paused_until_ms = None
        return True

    def resume(self, login: str, balance: float, last_ticket: int) -> bool:
        """Carry on an account from a previous run: its balance (flat, no open position)
        and ticket numbers after its last one. False for an account this desk does not trade."""
        trader = self._by_login.get(login)
        if trader is None:
            return False
        trader.balance = balance
        trader.next_ticket = max(trader.next_ticket, last_ticket + 1)
        return True

    def retire(self, login: str) -> None:
        """An account that failed or passed in a previous run: it never trades again."""
        trader = self._by_login.get(login)
        if trader is not None:
            trader.done = True

    def trading(self, login: str) -> bool:
        """Whether the account still trades (False once failed or passed)."""
        trader = self._by_login.get(login)
        return trader is not None and not trader.done

    def accounts(self) -> list[SimAccount]:
        return [
            SimAccount(t.login, t.behaviour.plan, t.behaviour.deposit, "USD", self._names[t.login])
            for t in self._traders
        ]

    def records(self) -> Iterator[SimRecord]:
        """The account openings, then the accounts' ticks round-robin, until every
        account has stopped (forever, unless they all fail or pass)."""
        yield from self.accounts()
        # Event time advances one step per record sent, never for an account that sits
        # out, so a feed at 1 / tick_interval records a second stays on the wall clock
        # while some accounts have stopped; only when every account waits for its next
        # day does it jump there.
        slot = 0
        while True:
            trading = False
            sent = False
            for trader in self._traders:
                time_ms = int(self._start_ms + slot * self._step_ms)
                if trader.flatten:
                    trader.flatten = False
                    slot += 1
                    sent = True
                    yield from self._flatten(trader, time_ms)
                    trading = True
                    continue
                if trader.done:
                    continue
                trading = True
                if trader.paused_until_ms is not None:
                    if time_ms < trader.paused_until_ms:
                        continue  # locked: sits out the rest of the trading day
                    trader.paused_until_ms = None
                slot += 1
                sent = True
                yield from self._step(trader, time_ms)
            if not trading:
                return
            if not sent:  # everyone is locked: on to the first account's next day
                wake = min(t.paused_until_ms for t in self._traders if t.paused_until_ms)
                slot = max(slot + 1, math.ceil((wake - self._start_ms) / self._step_ms))

    def _flatten(self, trader: _Trader, time_ms: int) -> list[SimRecord]:
        """Close the open position, if any, and report the flat account."""
        out: list[SimRecord] = []
        if trader.position is not None:
            out.append(self._close(trader, trader.position, time_ms))
        out.append(SimEquity(trader.login, time_ms, trader.balance, trader.balance))
        return out

    def _step(self, trader: _Trader, time_ms: int) -> list[SimRecord]:
        rng = self._rng
        behaviour = trader.behaviour
        deposit = behaviour.deposit
        trader.ticks += 1
        out: list[SimRecord] = []
        position = trader.position
        if position is not None:
            drift = behaviour.drift
            if behaviour.rise_ticks and trader.ticks > behaviour.rise_ticks:
                drift = -abs(drift)
            if deposit - (trader.balance + position.profit) > FLOOR * deposit:
                drift = abs(drift)  # far enough: recover instead of digging deeper
            position.profit += rng.gauss(drift, behaviour.volatility) * deposit * position.lots
            stopped = (
                behaviour.stop_out is not None
                and -position.profit >= behaviour.stop_out * trader.balance
            )
            if stopped or rng.random() < behaviour.close_chance:
                out.append(self._close(trader, position, time_ms))
                position = None
        if position is None and rng.random() < behaviour.open_chance:
            out.append(self._open(trader, time_ms))
        floating = trader.position.profit if trader.position is not None else 0.0
        out.append(SimEquity(trader.login, time_ms, trader.balance, trader.balance + floating))
        return out

    def _open(self, trader: _Trader, time_ms: int) -> SimDeal:
        rng = self._rng
        revenge = trader.behaviour.revenge_after
        lots = 2.0 if revenge is not None and trader.losses_in_row >= revenge else 1.0
        position = _Position(
            ticket=trader.next_ticket,
            action=rng.choice(("buy", "sell")),
            lots=lots,
            open_price=round(1.05 + rng.random() * 0.1, 5),
            open_time_ms=time_ms,
        )
        trader.next_ticket += 1
        trader.position = position
        return SimDeal(
            login=trader.login,
            ticket=position.ticket,
            symbol="EURUSD",
            action="buy" if position.action == "buy" else "sell",
            lots=lots,
            open_price=position.open_price,
            open_time_ms=time_ms,
            commission=-COMMISSION_PER_LOT * lots,
        )

    def _close(self, trader: _Trader, position: _Position, time_ms: int) -> SimDeal:
        commission = -COMMISSION_PER_LOT * position.lots
        profit = position.profit + commission
        gross = position.profit
        direction = 1.0 if position.action == "buy" else -1.0
        move = direction * gross / (position.lots * CONTRACT_SIZE)
        close_price = round(max(position.open_price + move, 0.0001), 5)
        trader.balance += profit
        trader.position = None
        if profit < 0:
            trader.losses_in_row += 1
        elif profit > 0:
            trader.losses_in_row = 0
        return SimDeal(
            login=trader.login,
            ticket=position.ticket,
            symbol="EURUSD",
            action="buy" if position.action == "buy" else "sell",
            lots=position.lots,
            open_price=position.open_price,
            open_time_ms=position.open_time_ms,
            commission=commission,
            close_price=close_price,
            close_time_ms=time_ms,
            profit=profit,
        )
