"""Running a suite of checks over rows with great-expectations: which rows fail which
checks (for routing them to the dead-letter table) and a summary per check (for reports).

Rows come in as mappings with the contract's field names; they become a pandas frame
with a ``_row`` column holding each row's position, which great-expectations reports
back for every failing row.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from infra.quality.suites import (
    TICK_COLUMNS,
    TRADE_COLUMNS,
    TRADE_TEXT_COLUMNS,
    TRADE_TIME_COLUMNS,
    Check,
    tick_checks,
    trade_checks,
)

if TYPE_CHECKING:
    import pandas as pd
    import polars as pl

ROW = "_row"
IMPORT_TRADE_KEY = ("account_id", "broker_trade_id", "status")
STORED_TRADE_KEY = ("account_id", "broker_trade_id")


@dataclass(frozen=True)
class CheckOutcome:
    """How one check went over a batch: failing rows counted, a few shown."""

    key: str
    reason: str
    success: bool
    unexpected_count: int
    examples: tuple[str, ...] = ()
    error: str | None = None  # the check itself could not run


@dataclass(frozen=True)
class QualityResult:
    """The outcome of a suite over a batch of rows."""

    suite: str
    rows: int
    outcomes: tuple[CheckOutcome, ...]
    # Position of each failing row -> the reasons it failed (per-row runs only).
    row_failures: Mapping[int, tuple[str, ...]] = field(default_factory=dict)

    @property
    def success(self) -> bool:
        return all(outcome.success for outcome in self.outcomes)

    @property
    def failed(self) -> tuple[CheckOutcome, ...]:
        return tuple(outcome for outcome in self.outcomes if not outcome.success)


# -- frames -----------------------------------------------------------------------------


def _text(value: Any) -> Any:
    return None if value is None else str(value)


def _number(value: Any) -> Any:
    return float(value) if isinstance(value, Decimal) else value


def _nanoseconds(times: pd.Series) -> pd.Series:
    """Times in nanoseconds when they fit (1677-2262): great-expectations compares such a
    column in one vectorised step, a microsecond one value by value in Python (a third
    of the suite's time). Times outside that range stay as they are."""
    import pandas as pd  # noqa: PLC0415 -- only when validating

    try:
        return times.astype("datetime64[ns]")
    except (pd.errors.OutOfBoundsDatetime, OverflowError, ValueError):
        return times


def _frame(
    records: Sequence[Mapping[str, Any]],
    columns: Sequence[str],
    *,
    times: Sequence[str],
    texts: Sequence[str],
) -> pd.DataFrame:
    import pandas as pd  # noqa: PLC0415 -- only when validating

    data: dict[str, Any] = {ROW: range(len(records))}
    for column in columns:
        values = [record.get(column) for record in records]
        if column in times:
            # Held as naive UTC: great-expectations compares tz-aware columns through a
            # pandas path that is deprecated; every time here is UTC anyway.
            data[column] = _nanoseconds(
                pd.to_datetime(
                    pd.Series(values, dtype=object), utc=True, errors="coerce", format="ISO8601"
                ).dt.tz_convert(None)
            )
        elif column in texts:
            data[column] = pd.Series([_text(v) for v in values], dtype=object)
        else:
            data[column] = pd.to_numeric(
                pd.Series([_number(v) for v in values], dtype=object), errors="coerce"
            )
    return pd.DataFrame(data)


def trades_frame(records: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Trade rows (contract field names) as a frame; bad timestamps and numbers -> null."""
    return _frame(records, TRADE_COLUMNS, times=TRADE_TIME_COLUMNS, texts=TRADE_TEXT_COLUMNS)


def ticks_frame(records: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Balance tick rows as a frame; bad timestamps and numbers -> null."""
    return _frame(records, TICK_COLUMNS, times=("ts",), texts=("account_id",))


# Times whose nanoseconds fit an int64 (1677-09-21 .. 2262-04-11), with a day's margin.
_NS_RANGE = (datetime(1677, 9, 22, tzinfo=UTC), datetime(2262, 4, 10, tzinfo=UTC))


def _polars_frame(
    frame: pl.DataFrame,
    columns: Sequence[str],
    *,
    times: Sequence[str],
    texts: Sequence[str],
) -> pd.DataFrame:
    """What :func:`_frame` makes of the frame's rows, column by column (no per-row
    Python): texts as objects (``None`` for null), numbers as float64 (NaN for null),
    times as naive UTC nanoseconds (NaT for null). Times outside the nanosecond range
    take :func:`_frame`'s own way."""
    import numpy as np  # noqa: PLC0415 -- only when validating
    import pandas as pd  # noqa: PLC0415
    import polars as pl  # noqa: PLC0415

    low, high = _NS_RANGE
    outside = frame.select(
        pl.any_horizontal([((pl.col(n) < low) | (pl.col(n) > high)).any() for n in times])
    ).item()
    if outside:
        return _frame(frame.to_dicts(), columns, times=times, texts=texts)
    data: dict[str, Any] = {ROW: np.arange(frame.height)}
    for column in columns:
        series = frame[column]
        if column in times:
            naive = series.dt.replace_time_zone(None).cast(pl.Datetime("ns"))
            data[column] = pd.Series(naive.to_numpy(), dtype="datetime64[ns]")
        elif column in texts:
            data[column] = pd.Series(series.to_numpy(), dtype=object)
        else:
            data[column] = pd.Series(series.cast(pl.Float64).to_numpy(), dtype="float64")
    return pd.DataFrame(data)


def validate_trade_frame(
    frame: pl.DataFrame, *, now: datetime, unique_key: tuple[str, ...] = IMPORT_TRADE_KEY
) -> QualityResult:
    """:func:`validate_trades` over a polars frame of trades (the contract's columns);
    ``row_failures`` by position in the frame."""
    return run_checks(
        "trades",
        trade_checks(now, unique_key=unique_key),
        _polars_frame(frame, TRADE_COLUMNS, times=TRADE_TIME_COLUMNS, texts=TRADE_TEXT_COLUMNS),
        per_row=True,
        example_columns=("account_id", "broker_trade_id"),
    )


def validate_tick_frame(frame: pl.DataFrame, *, now: datetime) -> QualityResult:
    """:func:`validate_ticks` over a polars frame ``account_id, ts, balance, equity``."""
    return run_checks(
        "balance_ticks",
        tick_checks(now),
        _polars_frame(frame, TICK_COLUMNS, times=("ts",), texts=("account_id",)),
        per_row=True,
        example_columns=("account_id", "ts"),
    )


# -- running ----------------------------------------------------------------------------

_lock = threading.Lock()
_gx: dict[str, Any] = {}


def _batch_definition(suite: str) -> Any:
    """One ephemeral great-expectations context per process, one data asset per suite."""
    if "context" not in _gx:
        import great_expectations as gx  # noqa: PLC0415 -- slow import
        from great_expectations.data_context.types.base import (  # noqa: PLC0415
            DataContextConfig,
            InMemoryStoreBackendDefaults,
            ProgressBarsConfig,
        )

        context = gx.get_context(
            mode="ephemeral",
            project_config=DataContextConfig(
                store_backend_defaults=InMemoryStoreBackendDefaults(),
                analytics_enabled=False,
                progress_bars=ProgressBarsConfig(globally=False),
            ),
        )
        _gx["context"] = context
        _gx["source"] = context.data_sources.add_pandas("aetheris")
    key = f"batch:{suite}"
    if key not in _gx:
        asset = _gx["source"].add_dataframe_asset(suite)
        _gx[key] = asset.add_batch_definition_whole_dataframe(f"{suite}-batch")
    return _gx[key]


def _raised(exception_info: Any) -> str | None:
    if not isinstance(exception_info, dict):
        return None
    if exception_info.get("raised_exception"):
        return str(exception_info.get("exception_message") or "the check raised an error")
    for value in exception_info.values():
        if isinstance(value, dict) and value.get("raised_exception"):
            return str(value.get("exception_message") or "the check raised an error")
    return None


def _describe(item: Any, *, with_row: bool) -> str:
    if not isinstance(item, dict):
        return str(item)
    values = ", ".join(f"{name}={value}" for name, value in item.items() if name != ROW)
    return f"row {item[ROW]}: {values}" if with_row and ROW in item else values


def run_checks(
    suite: str,
    checks: Sequence[Check],
    frame: pd.DataFrame,
    *,
    per_row: bool,
    example_columns: Sequence[str] = (),
    examples: int = 5,
) -> QualityResult:
    """Validate ``frame`` (with a ``_row`` column) against ``checks``.

    ``per_row``: report every failing row (import batches); otherwise count them and
    keep ``examples`` per check, shown with ``example_columns`` (stored data).
    """
    rows = len(frame)
    if rows == 0:
        return QualityResult(
            suite=suite,
            rows=0,
            outcomes=tuple(CheckOutcome(c.key, c.reason, True, 0) for c in checks),
        )
    import great_expectations as gx  # noqa: PLC0415

    result_format = {
        "result_format": "COMPLETE" if per_row else "SUMMARY",
        "unexpected_index_column_names": [ROW, *example_columns],
        "partial_unexpected_count": examples,
    }
    with _lock:
        batch_definition = _batch_definition(suite)  # creates the context suites need
        expectations = gx.ExpectationSuite(name=suite)
        for check in checks:
            expectations.add_expectation(check.build())
        batch = batch_definition.get_batch(batch_parameters={"dataframe": frame})
        validation = batch.validate(expectations, result_format=result_format)

    outcomes: list[CheckOutcome] = []
    failures: dict[int, list[str]] = {}
    for result in validation.results:
        meta = result.expectation_config.meta or {}
        key = str(meta.get("check", result.expectation_config.type))
        reason = str(meta.get("reason", key))
        error = _raised(result.exception_info)
        details = result.result or {}
        index_key = "unexpected_index_list" if per_row else "partial_unexpected_index_list"
        listed = details.get(index_key) or []
        count = int(details.get("unexpected_count") or len(listed))
        if per_row:
            for item in listed:
                if isinstance(item, dict) and ROW in item:
                    failures.setdefault(int(item[ROW]), []).append(reason)
        outcomes.append(
            CheckOutcome(
                key=key,
                reason=reason,
                success=bool(result.success) and error is None,
                unexpected_count=count,
                examples=tuple(_describe(item, with_row=per_row) for item in listed[:examples]),
                error=error,
            )
        )
    return QualityResult(
        suite=suite,
        rows=rows,
        outcomes=tuple(outcomes),
        row_failures={row: tuple(reasons) for row, reasons in sorted(failures.items())},
    )


def validate_trades(
    records: Sequence[Mapping[str, Any]],
    *,
    now: datetime,
    unique_key: tuple[str, ...] = IMPORT_TRADE_KEY,
    per_row: bool = True,
) -> QualityResult:
    """Run the trade suite over trade rows (contract field names)."""
    return run_checks(
        "trades",
        trade_checks(now, unique_key=unique_key),
        trades_frame(records),
        per_row=per_row,
        example_columns=("account_id", "broker_trade_id"),
    )


def validate_ticks(
    records: Sequence[Mapping[str, Any]], *, now: datetime, per_row: bool = True
) -> QualityResult:
    """Run the tick suite over balance tick rows."""
    return run_checks(
        "balance_ticks",
        tick_checks(now),
        ticks_frame(records),
        per_row=per_row,
        example_columns=("account_id", "ts"),
    )
