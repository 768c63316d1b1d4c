"""The statement formats by name (fixed by issue 13), and ``--format auto``.

Each format lives in its broker's package (``connectors/<kind>/formats.py``) and is
imported on first use, so one broken or absent format never stops the others and the
CLI does not pay for parsers it does not use. A format object follows
:class:`connectors.statements.model.StatementFormat`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from importlib import import_module

from connectors.statements.model import StatementFormat

HEAD_BYTES = 64 * 1024
"""How much of a file ``detect`` looks at."""

# name → (module, attribute) of the format object
FORMAT_PATHS: dict[str, tuple[str, str]] = {
    "mt4-html": ("connectors.metatrader.formats", "MT4_HTML"),
    "mt5-html": ("connectors.metatrader.formats", "MT5_HTML"),
    "mt5-xlsx": ("connectors.metatrader.formats", "MT5_XLSX"),
    "ctrader-csv": ("connectors.ctrader.formats", "CTRADER_CSV"),
    "ibkr-activity-csv": ("connectors.ibkr.formats", "IBKR_ACTIVITY_CSV"),
    "ibkr-flex-xml": ("connectors.ibkr.formats", "IBKR_FLEX_XML"),
    "tradovate-csv": ("connectors.tradovate.formats", "TRADOVATE_CSV"),
    "ninjatrader-csv": ("connectors.ninjatrader.formats", "NINJATRADER_CSV"),
    "topstepx-csv": ("connectors.topstepx.formats", "TOPSTEPX_CSV"),
    "generic-csv": ("connectors.generic_csv.formats", "GENERIC_CSV"),
}


class FormatError(ValueError):
    """An unknown format name, or a file ``--format auto`` cannot place."""


def _load(name: str) -> StatementFormat | None:
    module_name, attribute = FORMAT_PATHS[name]
    try:
        module = import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and module_name.startswith(exc.name):
            return None  # the broker's package is not in this build
        raise
    found: StatementFormat | None = getattr(module, attribute, None)
    return found


class _Formats(Mapping[str, StatementFormat]):
    """Read-only name → format mapping that imports each broker package on first use."""

    def __init__(self) -> None:
        self._loaded: dict[str, StatementFormat | None] = {}

    def _get(self, name: str) -> StatementFormat | None:
        if name not in FORMAT_PATHS:
            return None
        if name not in self._loaded:
            self._loaded[name] = _load(name)
        return self._loaded[name]

    def __getitem__(self, name: str) -> StatementFormat:
        found = self._get(name)
        if found is None:
            raise KeyError(name)
        return found

    def __iter__(self) -> Iterator[str]:
        return (name for name in FORMAT_PATHS if self._get(name) is not None)

    def __len__(self) -> int:
        return sum(1 for _ in self)


FORMATS: Mapping[str, StatementFormat] = _Formats()


def get_format(name: str) -> StatementFormat:
    """The format called ``name``; :class:`FormatError` lists the known ones."""
    try:
        return FORMATS[name]
    except KeyError:
        known = ", ".join(FORMATS) or "none"
        raise FormatError(f"unknown statement format {name!r} (known: {known}, auto)") from None


def detect(head: bytes, filename: str) -> str:
    """The one format whose ``sniff`` accepts the file's first bytes (``--format auto``).

    :class:`FormatError` when none or several match, naming them.
    """
    head = head[:HEAD_BYTES]
    matches = [name for name, fmt in FORMATS.items() if fmt.sniff(head, filename)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise FormatError(
            f"{filename or 'the file'}: no statement format recognises it; give --format "
            f"(one of: {', '.join(FORMATS)})"
        )
    raise FormatError(
        f"{filename or 'the file'}: several formats recognise it ({', '.join(matches)}); "
        "give --format"
    )
