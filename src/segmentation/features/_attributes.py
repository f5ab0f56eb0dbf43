"""What the snapshot carries besides purchases: the customers table, interactions, products.

The customers table gives each customer's profile (:data:`ATTRIBUTE_COLUMNS`) and who is known
by the as-of date; an interaction log gives counts in trailing windows; unit prices and
categories give the price level and the breadth of what a customer buys.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from segmentation.arrays import arrow_text, factorized, strictly_increasing
from segmentation.features._kernels import (
    as_text,
    float_values,
    stable_group_order,
    sum_by,
)

__all__ = [
    "ATTRIBUTE_COLUMNS",
    "INTERACTION_COLUMNS",
    "PRODUCT_COLUMNS",
    "Listed",
    "customer_attributes",
    "interaction_counts",
    "product_features",
]

#: Customer attributes the snapshot carries from the customers table, in this order.
ATTRIBUTE_COLUMNS: tuple[str, ...] = (
    "region",
    "city",
    "city_tier",
    "source_channel",
    "industry",
    "tags",
    "first_seen_ts",
)


#: Present only when an interaction log is given.
INTERACTION_COLUMNS: tuple[str, ...] = ("interactions_30d", "interactions_90d")

#: Present only when the orders carry unit prices and categories.
PRODUCT_COLUMNS: tuple[str, ...] = ("avg_unit_price_ratio", "category_breadth")

_INTERACTION_WINDOW_DAYS = {"interactions_30d": 30, "interactions_90d": 90}


class Listed(NamedTuple):
    """The customers table as the snapshot reads it."""

    frame: pd.DataFrame  # attributes, one row per listed customer, indexed by customer_id
    ids: pa.Array  # the frame's index as one large_string array
    known: np.ndarray  # first seen by the cutoff (or, undated, without any order row)
    strictly_sorted: bool  # ids strictly increasing: sorted and without repeats


def customer_attributes(
    customers: pd.DataFrame | None, cutoff: pd.Timestamp, *, order_customers: pd.Series
) -> Listed:
    """Attributes per listed customer (one row each) and which of them are known by ``cutoff``.

    A listed customer is known when first seen before ``cutoff``. One without a
    ``first_seen_ts`` (ingest builds the customers table from the orders when an export has
    none) is known from their first order row on, through the orders, so that a customer
    whose first order comes after ``cutoff`` is not counted as known before it; one without
    any order row is known throughout, as nothing dates them.
    """
    if customers is None:
        dtypes = {column: "string" for column in ATTRIBUTE_COLUMNS}
        dtypes["first_seen_ts"] = "datetime64[ns]"
        empty = pd.DataFrame({c: pd.Series(dtype=d) for c, d in dtypes.items()})
        empty.index = pd.Index([], dtype="string", name="customer_id")
        return Listed(empty, pa.array([], type=pa.large_string()), np.zeros(0, bool), True)
    text_columns = [c for c in ATTRIBUTE_COLUMNS if c != "first_seen_ts"]
    frame = pd.DataFrame(
        {
            column: (
                as_text(customers[column])
                if column in customers.columns
                else pd.Series(pd.NA, index=customers.index, dtype="string")
            )
            for column in text_columns
        }
    )
    frame["first_seen_ts"] = (
        pd.to_datetime(customers["first_seen_ts"])
        if "first_seen_ts" in customers.columns
        else pd.Series(pd.NaT, index=customers.index, dtype="datetime64[ns]")
    )
    frame.insert(0, "customer_id", as_text(customers["customer_id"]))
    has_id = frame["customer_id"].notna()
    if not bool(has_id.all()):
        frame = frame.loc[has_id]
    ids = arrow_text(frame["customer_id"])
    # Ingest writes the table sorted by id: strictly increasing ids need no hash to dedupe.
    strictly_sorted = strictly_increasing(ids)
    if not strictly_sorted:
        listed_twice = frame["customer_id"].duplicated(keep=False).to_numpy(dtype=bool)
        if listed_twice.any():
            # Sorting on every column makes the kept row independent of the row order.
            kept = (
                frame.loc[listed_twice]
                .sort_values(["customer_id", "first_seen_ts", *text_columns], kind="stable")
                .drop_duplicates("customer_id", keep="first")
            )
            frame = pd.concat([frame.loc[~listed_twice], kept])
            ids = arrow_text(frame["customer_id"])
    frame = frame.set_index("customer_id")
    first_seen = frame["first_seen_ts"]
    known = (first_seen < cutoff).to_numpy(dtype=bool, copy=True)
    undated = first_seen.isna().to_numpy(dtype=bool)
    if undated.any():
        known[undated] = ~_has_order_rows(frame.index[undated], order_customers)
    frame["first_seen_ts"] = first_seen.where(first_seen < cutoff)
    return Listed(frame, ids, known, strictly_sorted)


def _has_order_rows(ids: pd.Index, order_customers: pd.Series) -> np.ndarray:
    """Whether each of ``ids`` has an order row (any date, refunds included)."""
    if isinstance(order_customers.dtype, pd.CategoricalDtype):
        # Ingest's coded ids: the distinct buyers from the codes, without hashing every row.
        codes = order_customers.cat.codes.to_numpy()
        present = np.zeros(len(order_customers.cat.categories), dtype=bool)
        present[codes[codes >= 0]] = True
        buyers: object = order_customers.cat.categories[present]
    else:
        buyers = order_customers.dropna().unique()
    return _positions(ids, buyers) >= 0


def _positions(values: object, lookup: object) -> np.ndarray:
    """Position of each of ``values`` in ``lookup`` (-1 when absent), hashed by pyarrow."""
    found = pc.index_in(arrow_text(values), value_set=arrow_text(lookup))
    return pc.fill_null(found, -1).to_numpy().astype(np.int64)


def interaction_counts(
    interactions: pd.DataFrame, universe: pd.Index, cutoff: pd.Timestamp
) -> dict[str, np.ndarray]:
    """Interactions per customer in each trailing window ending at ``cutoff``."""
    longest = max(_INTERACTION_WINDOW_DAYS.values())
    ts = interactions["ts"]
    in_window = (
        interactions["customer_id"].notna()
        & (ts < cutoff)
        & (ts >= cutoff - pd.Timedelta(days=longest))
    ).to_numpy(dtype=bool)
    codes, ids = pd.factorize(interactions["customer_id"].loc[in_window])
    position = _positions(ids, universe)[codes]
    window_ts = ts.loc[in_window]
    counts: dict[str, np.ndarray] = {}
    for column, days in _INTERACTION_WINDOW_DAYS.items():
        within = (window_ts >= cutoff - pd.Timedelta(days=days)).to_numpy(dtype=bool)
        keep = within & (position >= 0)
        counts[column] = np.bincount(position[keep], minlength=len(universe)).astype(np.int64)
    return counts


def product_features(
    unit_price: pd.Series | None,
    category: pd.Series | None,
    in_window: np.ndarray,
    row_customer: np.ndarray,
    all_amount: np.ndarray,
    n_customers: int,
) -> tuple[np.ndarray, np.ndarray] | None:
    """Mean price ratio to the category median and category breadth, or None without data.

    ``unit_price``, ``category`` and ``all_amount`` (NaN where missing) are the orders'
    columns, every row; ``row_customer`` is for the in-window rows only.
    """
    if unit_price is None or category is None:
        return None
    all_price = float_values(unit_price)
    all_category_codes, categories = factorized(category)
    sale_line = in_window & (all_amount > 0) & (all_price > 0) & (all_category_codes >= 0)
    if not sale_line.any():
        return None
    category_code = all_category_codes[sale_line].astype(np.intp, copy=False)
    del all_category_codes
    price = all_price[sale_line]
    customer = row_customer[sale_line[in_window]]
    median = _medians_by_code(category_code, price, len(categories))
    ratio = np.divide(price, median.take(category_code), out=price)
    lines = np.bincount(customer, minlength=n_customers)
    ratio_sum = sum_by(customer, ratio, n_customers)
    avg_ratio = np.divide(ratio_sum, lines, out=np.full(n_customers, np.nan), where=lines > 0)
    return avg_ratio, _distinct_per_customer(customer, category_code, n_customers, len(categories))


#: Up to this many categories, medians are taken one category at a time after one linear
#: sort by category; more go through a pandas groupby.
_MAX_LOOPED_CATEGORIES = 4096


def _medians_by_code(codes: np.ndarray, values: np.ndarray, n_codes: int) -> np.ndarray:
    """Median of ``values`` per code (NaN for a code without values), as pandas' groupby
    median computes it: the middle value, or the mean of the two middle values."""
    median = np.full(n_codes, np.nan)
    if n_codes > _MAX_LOOPED_CATEGORIES:
        grouped_median = pd.Series(values).groupby(codes, sort=True).median()
        median[grouped_median.index.to_numpy()] = grouped_median.to_numpy()
        return median
    by_code, counts = stable_group_order(codes, n_codes)
    grouped = values[by_code]
    bounds = np.concatenate([[0], np.cumsum(counts)])
    for code in np.flatnonzero(counts):
        # The slice is a private copy's: partitioning it in place is harmless.
        median[code] = np.median(grouped[bounds[code] : bounds[code + 1]], overwrite_input=True)
    return median


def _distinct_per_customer(
    customer: np.ndarray, code: np.ndarray, n_customers: int, n_codes: int
) -> np.ndarray:
    """Distinct codes per customer: a bitmap of the pairs, or a sort when that is too large."""
    if n_codes <= 8:
        # One byte per (customer, code), eight to a customer: a popcount of each customer's
        # eight bytes, read as one integer, counts their codes.
        bought = np.zeros((n_customers, 8), dtype=bool)
        slot = customer << 3
        slot |= code
        bought.reshape(-1)[slot] = True
        return np.bitwise_count(bought.view(np.uint64).reshape(-1)).astype(np.int64)
    pair = customer * n_codes + code
    if n_customers * n_codes <= max(64 * len(pair), 1 << 20):
        seen = np.zeros(n_customers * n_codes, dtype=bool)
        seen[pair] = True
        return seen.reshape(n_customers, n_codes).sum(axis=1).astype(np.int64)
    pair = np.sort(pair)  # numpy's hash-based unique is several times slower on integers
    distinct = pair[np.r_[True, pair[1:] != pair[:-1]]] if len(pair) else pair
    return np.bincount(distinct // n_codes, minlength=n_customers).astype(np.int64)
