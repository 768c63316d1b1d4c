"""What machine a benchmark ran on, for BENCHMARKS.md."""

from __future__ import annotations

import json
import os
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent / "out"


def describe() -> str:
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
        with open("/proc/meminfo", encoding="utf-8") as meminfo:
            total_kb = int(meminfo.readline().split()[1])
    except OSError:
        total_kb = 0
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"{when}; {os.cpu_count()} cores ({model}); {total_kb / 1024 / 1024:.0f} GiB RAM; "
        f"Python {platform.python_version()}"
    )


def write_result(name: str, result: dict[str, Any]) -> Path:
    """Write a benchmark's figures, with the machine, to ``bench/out/NAME.json``."""
    OUT.mkdir(exist_ok=True)
    path = OUT / f"{name}.json"
    path.write_text(json.dumps({"machine": describe(), **result}, indent=1))
    return path
