"""``numeric_text``: the text a COPY of new trades writes for each float must store the
very numeric that the server's own ``float8::numeric`` cast stores (value and scale),
which is what the staging path stores. Checked against the server: worked examples
(each written out as the cast gives it), then any float.
"""

from __future__ import annotations

import math
import struct

import polars as pl
import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from infra.db.statements import numeric_text

pytestmark = pytest.mark.integration

# float -> what float8::numeric::text gives on the server (PostgreSQL's "%.15g").
WORKED = [
    (5000.0, "5000"),  # not "5000.0": the scale would differ
    (5000.25, "5000.25"),
    (-4.2, "-4.2"),
    (-0.0, "0"),
    (0.1, "0.1"),
    (0.30000000000000004, "0.3"),  # 17 digits: "%.15g" gives 0.3
    (123456789012345.6, "123456789012346"),  # 16 digits, rounded to 15
    (1e-5, "0.00001"),
    (1.5e-7, "0.00000015"),
    (1e16, "10000000000000000"),
    (2.5e20, "250000000000000000000"),
    (1234567.125, "1234567.125"),
]


def server_text(
    url: str, values: list[float | None], texts: list[str | None]
) -> list[tuple[str | None, str | None]]:
    """(cast text, our text as numeric) for each value, from the server."""
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT a::numeric::text, b::numeric::text "
            "FROM unnest(%s::float8[], %s::text[]) WITH ORDINALITY AS u (a, b, n) ORDER BY n",
            (values, texts),
        ).fetchall()


def test_worked_examples(database_url: str) -> None:
    values = [v for v, _ in WORKED]
    texts = numeric_text(pl.Series(values, dtype=pl.Float64)).to_list()
    got = server_text(database_url, list(values), texts)
    # The cast itself writes what the table says (the examples are right) ...
    assert [cast for cast, _ in got] == [want for _, want in WORKED]
    # ... and our text reads back as the same numeric, scale included.
    assert [ours for _, ours in got] == [want for _, want in WORKED]


def test_nulls_and_a_subnormal(database_url: str) -> None:
    # 5e-324 is the smallest subnormal: its shortest text has 1 digit, "%.15g" gives 15.
    values: list[float | None] = [None, 5e-324, 2.2250738585072014e-308, None]
    texts = numeric_text(pl.Series(values, dtype=pl.Float64)).to_list()
    assert texts[0] is None and texts[3] is None
    got = server_text(database_url, values, texts)
    assert [cast for cast, _ in got] == [ours for _, ours in got]
    assert str(got[1][0]).endswith("494065645841247")  # the 15 digits the cast keeps


def any_float() -> st.SearchStrategy[float]:
    bits = st.integers(min_value=0, max_value=2**64 - 1).map(
        lambda b: struct.unpack("<d", struct.pack("<Q", b))[0]
    )
    prices = st.decimals(min_value=-(10**7), max_value=10**7, places=8, allow_nan=False).map(float)
    return st.one_of(st.floats(allow_nan=False, allow_infinity=False), bits, prices).filter(
        math.isfinite
    )


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(any_float(), min_size=1, max_size=400))
def test_any_float_stores_as_the_cast_does(database_url: str, values: list[float]) -> None:
    texts = numeric_text(pl.Series(values, dtype=pl.Float64)).to_list()
    got = server_text(database_url, list(values), texts)
    assert [cast for cast, _ in got] == [ours for _, ours in got]
