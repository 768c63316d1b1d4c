"""The simulated broker feed: a seeded random walk of trading accounts, published live.

``wire.py`` is the simulated broker's own record shapes, ``walk.py`` the pure random
walk that produces them, ``parse.py`` turns them into contract events, and
``connector.py`` is the I/O loop that publishes them at a steady rate.
"""

from connectors.simulator.connector import FeedReport, run_feed
from connectors.simulator.parse import to_event
from connectors.simulator.walk import PROFILES, SimulatedDesk

__all__ = ["PROFILES", "FeedReport", "SimulatedDesk", "run_feed", "to_event"]
