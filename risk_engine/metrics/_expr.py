"""Small expression helpers shared by the KPI modules: guarded division and ratios."""

from __future__ import annotations

import math

import polars as pl


def ratio(numerator: pl.Expr, denominator: pl.Expr) -> pl.Expr:
    """``numerator / denominator``, null when the denominator is zero or null."""
    return pl.when(denominator != 0).then(numerator / denominator).otherwise(None)


def ratio_or_infinite(numerator: pl.Expr, denominator: pl.Expr) -> pl.Expr:
    """``numerator / |denominator|``; +/-infinity for a non-zero numerator over zero, null for 0/0.

    Profit factor and Calmar use it: all wins and no losses is an unbounded edge,
    not an unknown one.
    """
    return (
        pl.when(denominator != 0)
        .then(numerator / denominator.abs())
        .when(numerator > 0)
        .then(pl.lit(math.inf))
        .when(numerator < 0)
        .then(pl.lit(-math.inf))
        .otherwise(None)
    )


def count_rate(count: pl.Expr, total: pl.Expr) -> pl.Expr:
    """``count / total`` as a rate; 0 when there is nothing to count (the empty journal's 0 %)."""
    return pl.when(total > 0).then(count / total).otherwise(0.0)
