"""Retry delays: exponential backoff with full jitter, capped (pure; the caller passes
the random draw in, so tests can pin it)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    """``base * 2**(attempt-1)`` capped at ``cap``, scaled by a uniform draw in [0, 1)."""

    base_seconds: float = 2.0
    cap_seconds: float = 3600.0
    max_attempts: int = 8

    def __post_init__(self) -> None:
        if self.base_seconds <= 0 or self.cap_seconds < self.base_seconds:
            raise ValueError("need 0 < base_seconds <= cap_seconds")
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")

    def ceiling(self, attempt: int) -> float:
        """The longest wait after failed attempt number ``attempt`` (1-based)."""
        if attempt < 1:
            raise ValueError(f"attempt numbers start at 1, got {attempt}")
        exponent = min(attempt - 1, 62)  # 2**62 * base is past any cap: no overflow
        return min(self.cap_seconds, self.base_seconds * 2.0**exponent)

    def delay(self, attempt: int, draw: float) -> float:
        """The wait after failed attempt ``attempt``: ``ceiling * draw`` (full jitter)."""
        if not 0.0 <= draw < 1.0:
            raise ValueError(f"the random draw must be in [0, 1), got {draw}")
        return self.ceiling(attempt) * draw

    def gives_up_after(self, attempt: int) -> bool:
        """Whether attempt ``attempt`` was the last one allowed."""
        return attempt >= self.max_attempts
