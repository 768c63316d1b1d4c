"""Sample statements (tests/data/statements/<format>/), written by hand for these tests."""

from __future__ import annotations

from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "data" / "statements"


def read(format_name: str, filename: str) -> bytes:
    return (DATA / format_name / filename).read_bytes()
