"""The settings of a command that needs Kafka, or a clear word that it is not configured."""

from __future__ import annotations

import sys

from infra.settings import Settings, get_settings


def kafka_settings(prog: str, instead: str) -> Settings | None:
    """The settings when ``KAFKA_BOOTSTRAP_SERVERS`` is set; else say so, and what to use."""
    settings = get_settings()
    if settings.kafka_bootstrap_servers:
        return settings
    print(f"{prog}: KAFKA_BOOTSTRAP_SERVERS is not set ({instead})", file=sys.stderr)
    return None
