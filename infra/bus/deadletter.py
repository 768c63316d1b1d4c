"""The dead-letter record: a message the pipeline could not apply, and why."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict


class DeadLetter(BaseModel):
    """A rejected input message with the reason; published to the dead-letter topic.

    ``raw`` is the message value as text (undecodable bytes replaced); ``source_topic``,
    ``partition`` and ``offset`` say where it was read, so it can be found and re-sent.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["deadletter"] = "deadletter"
    source_topic: str
    partition: int
    offset: int
    key: str | None
    reason: str
    raw: str

    @property
    def where(self) -> str:
        return f"{self.source_topic}[{self.partition}]@{self.offset}"
