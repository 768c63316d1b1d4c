"""The app's shutdown with a live feed that will not stop (its Redis unreachable, say):
the wait is bounded, the reason is logged, and the app's closers still run."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from typing import Any, cast

import pytest

from api import app as app_module
from api.app import create_app
from api.realtime import RealtimeHub
from api.services import ApiServices
from infra.live.feed import FeedSink


class StuckFeed:
    """Starts; its ``stop`` never returns (a close waiting on a peer that never answers)."""

    def __init__(self) -> None:
        self.stopping = False
        self.cancelled = False

    async def start(self, sink: FeedSink) -> None:
        return None

    async def stop(self) -> None:
        self.stopping = True
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled = True
            raise

    async def watch(self, account_ids: Iterable[str]) -> None:
        return None

    def unwatch(self, account_ids: Iterable[str]) -> None:
        return None

    async def standings(self, account_ids: Sequence[str]) -> dict[str, str]:
        return {}


def services(feed: StuckFeed, closed: list[str]) -> ApiServices:
    """Only what the lifespan touches is real; the rest is never called here."""
    unused = cast(Any, None)
    return ApiServices(
        users=unused,
        accounts=unused,
        trades=unused,
        sessions=unused,
        standings=unused,
        events=unused,
        cipher=unused,
        limiter=unused,
        tokens=unused,
        passwords=unused,
        realtime=RealtimeHub(feed),
        closers=[lambda: closed.append("pool")],
    )


def test_a_live_feed_that_never_stops_does_not_hold_the_shutdown(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(app_module, "STOP_SECONDS", 0.2)
    feed = StuckFeed()
    closed: list[str] = []
    app = create_app(services(feed, closed))

    async def run() -> None:
        async with app.router.lifespan_context(app):
            assert closed == []
        # Without the bound, leaving the context waits on the feed forever: the outer
        # timeout (far above the bound) turns that into a failure, not a hung suite.

    with caplog.at_level(logging.WARNING, logger="api.app"):
        asyncio.run(asyncio.wait_for(run(), 30))
    assert feed.stopping and feed.cancelled
    assert closed == ["pool"]
    assert "the live feed did not stop within 0.2 s; leaving it" in caplog.text
