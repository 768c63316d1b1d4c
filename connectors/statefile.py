"""A connector's small persistent state (last transaction id, ExecIDs seen) as a JSON file.

Written atomically (a temporary file, fsync, rename), so a crash leaves the old or the
new state, never half of one.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import quote


def file_name(*parts: str) -> str:
    """A file name from ids that may hold any character (``A/1`` → ``A%2F1``): no id can
    reach outside the state folder."""
    name = "-".join(quote(part, safe="") for part in parts)
    return name.replace(".", "%2E") if name.startswith(".") else name


class StateFileError(RuntimeError):
    """The state file exists but cannot be read as this connector's state."""


class JsonStateFile:
    """One JSON object in ``path``; the folder is created on the first save."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> dict[str, Any] | None:
        """The saved object, or ``None`` when nothing was saved yet."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StateFileError(f"cannot read connector state {self.path}: {exc}") from None
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise StateFileError(f"connector state {self.path} is not JSON: {exc}") from None
        if not isinstance(value, dict):
            raise StateFileError(f"connector state {self.path} is not a JSON object")
        return value

    def save(self, state: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(self.path.name + ".tmp")
        with temporary.open("w", encoding="utf-8") as out:
            json.dump(state, out, separators=(",", ":"))
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, self.path)
