"""Array helpers every step shares: text as pyarrow, integer codes, runs and day numbers.

Nothing here knows about customers or orders; these are the small kernels that ingest,
features and the CLV models would otherwise each write again.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "arrow_text",
    "day_number",
    "factorized",
    "run_start_mask",
    "run_starts",
    "strictly_increasing",
]


def arrow_text(values: object) -> pa.Array:
    """Text (ids, names) as one pyarrow ``large_string`` array.

    pandas' pyarrow-backed text is taken without a copy where it can be; one string type
    throughout lets arrays from different tables concatenate and compare.

    Parameters
    ----------
    values : array-like
        Text: a pandas Series, Index or array, or anything ``pandas.array`` accepts as text.

    Returns
    -------
    pyarrow.Array
        One chunk, type ``large_string``; missing values are nulls.
    """
    strings = pd.array(values, dtype=pd.StringDtype("pyarrow"))  # type: ignore[call-overload]
    array = pa.array(strings)
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    return array.cast(pa.large_string())


def strictly_increasing(strings: pa.Array) -> bool:
    """Whether text is sorted bytewise (as pyarrow compares it), without repeats or nulls.

    Parameters
    ----------
    strings : pyarrow.Array
        Text, e.g. from :func:`arrow_text`.

    Returns
    -------
    bool
        True for fewer than two values without nulls.
    """
    if strings.null_count:
        return False
    if len(strings) < 2:
        return True
    return bool(pc.all(pc.less(strings.slice(0, len(strings) - 1), strings.slice(1))).as_py())


def factorized(values: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Integer codes (-1 for missing) and the distinct values they number.

    A categorical (as ingest writes the ids) gives its own codes and categories, with no
    hashing; other columns are ``pandas.factorize``-d, in order of first appearance.

    Parameters
    ----------
    values : pandas.Series
        Ids or other values to code.

    Returns
    -------
    codes : numpy.ndarray
        One integer per value; -1 where the value is missing.
    distinct : pandas.Index
        The value of each code.
    """
    if isinstance(values.dtype, pd.CategoricalDtype):
        return values.cat.codes.to_numpy(), values.cat.categories
    codes, uniques = pd.factorize(values)
    return codes, pd.Index(uniques)


def run_start_mask(values: pd.Series | np.ndarray) -> np.ndarray:
    """Where each run of equal values starts, as a mask (a sorted column: where each value
    starts).

    Parameters
    ----------
    values : pandas.Series or numpy.ndarray
        Values in runs, e.g. customer ids sorted by customer.

    Returns
    -------
    numpy.ndarray
        Booleans, True at the first value of each run.
    """
    starts = np.ones(len(values), dtype=bool)
    if len(values) > 1:
        array = values.array if isinstance(values, pd.Series) else values
        starts[1:] = np.asarray(array[1:] != array[:-1], dtype=bool)
    return starts


def run_starts(sorted_keys: np.ndarray) -> np.ndarray:
    """Positions where a run of equal values starts in an already sorted array.

    Parameters
    ----------
    sorted_keys : numpy.ndarray

    Returns
    -------
    numpy.ndarray
        int64 positions, increasing; empty for an empty array.
    """
    if len(sorted_keys) == 0:
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(run_start_mask(sorted_keys))


def day_number(timestamp: pd.Timestamp) -> int:
    """Days since 1970-01-01 of the timestamp's calendar day.

    Parameters
    ----------
    timestamp : pandas.Timestamp

    Returns
    -------
    int
    """
    return int(np.datetime64(timestamp.date(), "D").astype(np.int64))
