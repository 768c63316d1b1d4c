"""Helpers every row-based parser shares: a bad value's column and reason, and a
contract validation error as one line. Pure."""

from __future__ import annotations

from pydantic import ValidationError


class RowProblem(ValueError):
    """A bad value in a row: the column and why (the parser adds the row number)."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(reason)
        self.where = where
        self.reason = reason


def trade_error_reason(exc: ValidationError) -> str:
    """A pydantic error list as one line: ``field: message; …``."""
    parts = []
    for error in exc.errors():
        location = ".".join(str(part) for part in error["loc"]) or "trade"
        parts.append(f"{location}: {error['msg']}")
    return "; ".join(parts)
