"""Exact quantiles that every SQL engine can compute: the order statistics come from a
histogram of distinct values with a running count (a GROUP BY and a window sum, which
BigQuery and Trino compile too, unlike a quantile aggregate), and the interpolation between
the two neighbouring order statistics is numpy's own ``linear`` method, done here on a few
numbers, so the quantiles equal ``numpy.quantile`` of the same values to the bit."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import ibis
import numpy as np

__all__ = [
    "exact_medians",
    "exact_quantiles",
    "interpolate_quantiles",
    "order_statistic_positions",
    "order_statistics",
]


def order_statistic_positions(n: int, quantiles: Sequence[float]) -> list[int]:
    """The 0-based ranks (in ascending order) whose values the quantiles of ``n`` values
    interpolate between, as numpy's ``linear`` method picks them.

    Parameters
    ----------
    n : int
        How many values, at least 1.
    quantiles : sequence of float
        In [0, 1].

    Returns
    -------
    list of int
        Sorted, without repeats: at most two per quantile.
    """
    virtual = (n - 1) * np.asarray(quantiles, dtype=np.float64)
    below = np.minimum(np.floor(virtual), n - 1).astype(np.int64)
    above = np.minimum(below + 1, n - 1)
    return sorted({int(k) for k in np.concatenate([below, above])})


def interpolate_quantiles(
    n: int, quantiles: Sequence[float], order_statistics: dict[int, float]
) -> np.ndarray:
    """``numpy.quantile(values, quantiles)`` (method ``linear``) from the ``n`` values'
    order statistics at :func:`order_statistic_positions`.

    The arithmetic is numpy's (``numpy/lib/_function_base_impl.py``: ``_quantile`` and
    ``_lerp``) step for step: the virtual index ``(n - 1) q``, its floor, the weight
    ``gamma``, and ``a + (b - a) gamma``, or ``b - (b - a)(1 - gamma)`` from ``gamma`` 0.5 on.
    """
    virtual = (n - 1) * np.asarray(quantiles, dtype=np.float64)
    floor = np.floor(virtual)
    last = virtual >= n - 1
    # numpy takes the last value (index -1) for both neighbours at or past the end.
    below_index = np.where(last, -1, floor).astype(np.int64)
    gamma = virtual - below_index
    below_rank = np.where(last, n - 1, below_index)
    above_rank = np.where(last, n - 1, below_index + 1)
    a = np.array([order_statistics[int(k)] for k in below_rank], dtype=np.float64)
    b = np.array([order_statistics[int(k)] for k in above_rank], dtype=np.float64)
    diff_b_a = b - a
    edges = a + diff_b_a * gamma
    upper = gamma >= 0.5
    edges[upper] = (b - diff_b_a * (1 - gamma))[upper]
    return edges


def exact_quantiles(
    table: ibis.Table, columns: Mapping[str, ibis.Value], quantiles: Sequence[float]
) -> dict[str, np.ndarray]:
    """``numpy.quantile`` of each of ``columns`` (its non-null values) at ``quantiles``,
    computed on the engine in two small queries, whose answers are a count per column and a
    few order statistics per column.

    Parameters
    ----------
    table : ibis.Table
        The table the columns are of (cache it first when it is costly to compute).
    columns : mapping of str to ibis.Value
        Numeric columns of ``table`` by name; compared as float64.
    quantiles : sequence of float
        In [0, 1].

    Returns
    -------
    dict of str to numpy.ndarray
        float64, one per quantile, for each name; empty where a column has no values.
    """
    found = order_statistics(table, columns, lambda n: order_statistic_positions(n, quantiles))
    edges = {name: np.zeros(0, dtype=np.float64) for name in columns}
    for name, (n, statistics) in found.items():
        edges[name] = interpolate_quantiles(n, quantiles, statistics)
    return edges


def exact_medians(table: ibis.Table, columns: Mapping[str, ibis.Value]) -> dict[str, float]:
    """``numpy.median`` of each of ``columns`` (its non-null values; NaN without any): the
    middle value, or the mean of the two middle values, from two order statistics."""
    found = order_statistics(table, columns, lambda n: sorted({(n - 1) // 2, n // 2}))
    medians = {name: float("nan") for name in columns}
    for name, (n, statistics) in found.items():
        # numpy's median of two is their mean: (a + b) / 2.
        medians[name] = float((statistics[(n - 1) // 2] + statistics[n // 2]) / 2.0)
    return medians


def order_statistics(
    table: ibis.Table,
    columns: Mapping[str, ibis.Value],
    ranks: Callable[[int], list[int]],
) -> dict[str, tuple[int, dict[int, float]]]:
    """Each column's count of non-null values and its order statistics (0-based ranks in
    ascending order) at ``ranks(count)``, in two small queries; columns without values are
    left out."""
    # One histogram of distinct values per column, stacked: (column, value, count).
    stacked = ibis.union(
        *(
            table.select(column=ibis.literal(name), value=value.cast("float64"))
            for name, value in columns.items()
        )
    )
    stacked = stacked.filter(stacked.value.notnull())
    histogram = stacked.group_by("column", "value").aggregate(count=stacked.count())
    counts = histogram.group_by("column").aggregate(n=histogram["count"].sum()).to_pyarrow()
    n_by_column = {
        name: int(n)
        for name, n in zip(counts["column"].to_pylist(), counts["n"].to_pylist(), strict=True)
    }
    if not n_by_column:
        return {}
    positions = {name: ranks(n) for name, n in n_by_column.items()}
    wanted = sorted({k for ks in positions.values() for k in ks})
    running = histogram.mutate(
        below=histogram["count"]
        .sum()
        .over(
            ibis.window(
                group_by=histogram.column, order_by=histogram.value, preceding=None, following=0
            )
        )
    )
    # The value at rank k is the smallest whose running count passes k.
    picks = (
        running.group_by("column")
        .aggregate(**{f"at_{k}": running.value.min(where=running.below > k) for k in wanted})
        .to_pyarrow()
        .to_pylist()
    )
    return {
        row["column"]: (
            n_by_column[row["column"]],
            {k: float(row[f"at_{k}"]) for k in positions[row["column"]]},
        )
        for row in picks
    }
