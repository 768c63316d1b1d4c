"""How KPI numbers are written in JSON: no NaN, no bare infinity.

Encoding (part of the published contract, see docs/kpis.md):
- an undefined number (NaN, or a ratio with nothing to divide) is ``null``;
- an unbounded one is the string ``"Infinity"`` or ``"-Infinity"`` (both
  Python's ``float()`` and JavaScript's ``Number()`` read them back);
- a timestamp is ISO-8601 UTC with ``Z``; a day is ``YYYY-MM-DD``.
"""

from __future__ import annotations

import math

POSITIVE_INFINITY = "Infinity"
NEGATIVE_INFINITY = "-Infinity"


def json_number(value: float) -> float | str | None:
    """A float as JSON allows it: NaN to null, infinities to their strings."""
    if math.isnan(value):
        return None
    if math.isinf(value):
        return POSITIVE_INFINITY if value > 0 else NEGATIVE_INFINITY
    return value
