"""Small array kernels of the customer features: sums by code, counting sorts, days, text.

Each works on whole columns at once; nothing here knows which figure it computes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from segmentation.arrays import arrow_text

__all__ = [
    "NAT",
    "as_text",
    "day_numbers",
    "float_values",
    "minor_units",
    "reduceat",
    "spread",
    "stable_group_order",
    "sum_by",
    "to_day",
    "to_minor_units",
    "zero_for_missing",
]

NAT = np.iinfo(np.int64).min  # the int64 value of NaT


def spread(length: int, where: np.ndarray, values: np.ndarray, fill: float) -> np.ndarray:
    """An array of ``length`` with ``values`` at ``where`` and ``fill`` elsewhere."""
    dtype = np.float64 if isinstance(fill, float) else values.dtype
    out = np.full(length, fill, dtype=dtype)
    out[where] = values
    return out


def stable_group_order(keys: np.ndarray, n_groups: int) -> tuple[np.ndarray, np.ndarray]:
    """The positions of ``keys`` (integers in ``[0, n_groups)``, or -1 to leave out) sorted
    by key, stably, the -1 first; and the count of each key from 0.

    pandas' counting sort does it in linear time, about ten times faster than numpy's stable
    sort of 64-bit integers; numpy's is the fallback should that helper ever move.
    """
    keys = keys.astype(np.intp, copy=False)
    try:
        from pandas._libs.algos import groupsort_indexer
    except ImportError:  # pragma: no cover - pandas has it, but it is not public API
        pass
    else:
        order, counts = groupsort_indexer(keys, n_groups)
        if len(counts) == n_groups + 1:  # counts[0] counts the -1 keys
            return np.asarray(order, dtype=np.int64), np.asarray(counts[1:], dtype=np.int64)
    counts = np.bincount(keys[keys >= 0], minlength=n_groups).astype(np.int64)
    return np.argsort(keys, kind="stable").astype(np.int64), counts


def reduceat(ufunc: np.ufunc, values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """``ufunc.reduceat(values, starts)``: each run from a start to the next, reduced."""
    # reduceat rejects empty input; an empty group list reduces to an empty result.
    if len(starts) == 0:
        return values[:0]
    return ufunc.reduceat(values, starts)


def sum_by(codes: np.ndarray, weights: np.ndarray, length: int) -> np.ndarray:
    """Sum of ``weights`` per code, as floats even when there is nothing to sum."""
    return np.bincount(codes, weights=weights, minlength=length).astype(np.float64, copy=False)


#: The finest money the kit looks for in amounts: 10**-4 of a currency unit.
MAX_MONEY_DECIMALS = 4


def minor_units(amount: np.ndarray) -> float | None:
    """The coarsest power of ten whose multiples every amount is (100 for cents), or None.

    Float sums of amounts such as 0.1 and 0.2 carry residue (0.30000000000000004), so two
    customers who spent the same to the cent can differ in the last bit, and a total meant to
    be exactly a threshold can fall short of it. Amounts that are whole minor units have
    totals that are too, so their sums can be put back on the grid
    (:func:`to_minor_units`).

    Parameters
    ----------
    amount : numpy.ndarray
        Amounts in currency units; NaN is ignored.

    Returns
    -------
    float or None
        10**k for the smallest k in 0..:data:`MAX_MONEY_DECIMALS`, or None when some amount
        has a finer part.
    """
    for decimals in range(MAX_MONEY_DECIMALS + 1):
        scale = 10.0**decimals
        # A few thousand amounts turn down a grid too coarse at once; the rest then confirm,
        # a cache-sized block at a time (no temporaries the size of the orders).
        if _on_grid(amount[:4096], scale) and all(
            _on_grid(amount[start : start + _GRID_BLOCK], scale)
            for start in range(4096, len(amount), _GRID_BLOCK)
        ):
            return scale
    return None


_GRID_BLOCK = 1 << 16


def _on_grid(amount: np.ndarray, scale: float) -> bool:
    scaled = amount * scale
    off = np.abs(scaled - np.rint(scaled))
    # A parsed 12.34 is 1234.0000000000002 once scaled: within rounding of a whole unit.
    # NaN (a missing amount) compares false, so it never counts as off the grid.
    return not bool(np.any(off > 1e-6 * np.maximum(np.abs(scaled), 1.0)))


def to_minor_units(total: np.ndarray, scale: float | None) -> np.ndarray:
    """Sums of whole minor units put back on their grid: ``rint(total * scale) / scale``, the
    same bits as the exact count of minor units divided by ``scale``. In place; unchanged
    when ``scale`` is None (amounts with finer parts)."""
    if scale is None:
        return total
    np.multiply(total, scale, out=total)
    np.rint(total, out=total)
    np.divide(total, scale, out=total)
    return total


def float_values(values: pd.Series) -> np.ndarray:
    """A column as float64 with NaN where missing (no copy when it already is that)."""
    if values.dtype == np.float64:
        return values.to_numpy()
    return values.to_numpy(dtype=float, na_value=np.nan)


def zero_for_missing(values: np.ndarray) -> np.ndarray:
    """``values`` with NaN as 0 (the same array when nothing is missing)."""
    return np.nan_to_num(values, nan=0.0) if bool(np.isnan(values).any()) else values


def to_day(ts_int: np.ndarray, unit: str) -> np.ndarray:
    """Integer timestamps in ``unit`` to day numbers since the epoch (calendar days)."""
    ticks_per_day = np.timedelta64(1, "D").astype(f"timedelta64[{unit}]").astype(np.int64)
    # Floor division rounds down before 1970 too, as the calendar day does.
    return np.floor_divide(ts_int, ticks_per_day)


def as_text(values: pd.Series) -> pd.Series:
    """A column of ids or other text as pandas' string dtype.

    A categorical of text (as ingest writes ``customer_id``, ``order_id`` and ``category``)
    is decoded with one take of its categories, many times faster than
    ``astype("string")``; other columns are converted with ``astype("string")``.

    Parameters
    ----------
    values : pandas.Series
        Text, or a categorical whose categories are text.

    Returns
    -------
    pandas.Series
        The same values, index and name, as ``string``; missing values stay missing.
    """
    dtype = values.dtype
    if isinstance(dtype, pd.CategoricalDtype) and isinstance(
        dtype.categories.dtype, pd.StringDtype
    ):
        codes = values.cat.codes.to_numpy()
        text = arrow_text(dtype.categories).take(pa.array(codes, mask=codes < 0))
        return pd.Series(pd.arrays.ArrowStringArray(text), index=values.index, name=values.name)
    return values.astype("string")


def day_numbers(values: object) -> np.ndarray:
    """Day numbers as floats, NaN where the timestamp is missing."""
    stamps = np.asarray(values)
    days = np.full(len(stamps), np.nan)
    present = ~np.isnat(stamps)
    days[present] = stamps[present].astype("datetime64[D]").view(np.int64)
    return days
