"""risk_engine is pure: no clock reads, no environment, no files or sockets in its source."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ENGINE = Path(__file__).resolve().parents[2] / "risk_engine"
FORBIDDEN = [
    r"datetime\.now\(",
    r"datetime\.utcnow\(",
    r"date\.today\(",
    r"\btime\.time\(",
    r"\btime\.monotonic\(",
    r"\bperf_counter\(",
    r"\bos\.environ",
    r"\bgetenv\(",
    r"\bopen\(",
    r"\.read_text\(",
    r"\.write_text\(",
    r"\bimport socket\b",
    r"\brandom\.",
]


def _sources() -> list[Path]:
    return sorted(ENGINE.rglob("*.py"))


def test_the_engine_has_sources() -> None:
    assert len(_sources()) >= 5


@pytest.mark.parametrize("pattern", FORBIDDEN)
def test_no_clock_env_or_io_in_the_engine(pattern: str) -> None:
    offenders = [
        f"{path.relative_to(ENGINE.parent)}:{number}"
        for path in _sources()
        for number, line in enumerate(path.read_text("utf-8").splitlines(), start=1)
        if re.search(pattern, line)
    ]
    assert offenders == []
