"""Ids as pandas categoricals: customer ids share one set of categories across orders and
customers, so later steps count and join customers on integer codes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from segmentation.arrays import arrow_text, strictly_increasing
from segmentation.ingest._assemble import Assembled
from segmentation.schema import ORDERS

__all__ = ["dictionary_column", "dictionary_encoded"]


def dictionary_encoded(
    orders: Assembled,
    customers: pd.DataFrame | None,
    *,
    coded: Mapping[str, pd.Categorical] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """The orders and customers with their :attr:`TableSpec.dictionary` columns encoded.

    ``coded`` gives orders columns already encoded by :func:`dictionary_column`.

    Customer ids in both tables take one set of categories, the sorted ids of every customer
    in either; the orders' codes come from the factorisation made while assembling (no text
    is hashed twice). Order ids keep their first appearance's order; other columns are
    sorted.
    """
    table = orders.table
    codes = orders.customer_codes[orders.kept_order]  # -1 for guests
    id_text = arrow_text(orders.customer_ids)
    has_id = codes >= 0
    used = np.bincount(codes[has_id], minlength=len(id_text)) > 0
    listed = arrow_text(customers["customer_id"]) if customers is not None else None
    # Usually the customers table (sorted, one row per id) lists everyone who ordered: then
    # it is the categories as it stands, and one lookup places the orders' ids in it.
    position = None
    if listed is not None and strictly_increasing(listed):
        found = pc.fill_null(pc.index_in(id_text, value_set=listed), -1).to_numpy()
        if bool((found[used] >= 0).all()):
            categories, position = listed, found
    if position is None:
        known = [id_text.filter(pa.array(used)), *([listed] if listed is not None else [])]
        everyone = pc.unique(pa.concat_arrays(known))
        categories = everyone.take(pc.sort_indices(everyone))
        position = pc.fill_null(pc.index_in(id_text, value_set=categories), -1).to_numpy()
    id_dtype = _categorical_dtype(pd.array(categories, dtype=table["customer_id"].dtype))
    row_code = np.full(len(codes), -1, dtype=np.int64)
    row_code[has_id] = position[codes[has_id]]
    encoded = {"customer_id": pd.Categorical.from_codes(row_code, dtype=id_dtype, validate=False)}
    for column in ORDERS.dictionary:
        if coded and column in coded:
            encoded[column] = coded[column]
        elif column != "customer_id":
            encoded[column] = dictionary_column(table[column], sort=column != "order_id")
    orders_out = table.assign(**encoded)
    if customers is None or listed is None:
        return orders_out, None
    listed_code = (
        np.arange(len(listed), dtype=np.int64)
        if categories is listed
        else pc.fill_null(pc.index_in(listed, value_set=categories), -1).to_numpy()
    )
    return orders_out, customers.assign(
        customer_id=pd.Categorical.from_codes(listed_code, dtype=id_dtype, validate=False)
    )


def dictionary_column(values: pd.Series, *, sort: bool) -> pd.Categorical:
    """A text column as a categorical of that text: pyarrow's hashing, in first-appearance
    order of the values, or sorted."""
    encoded = pc.dictionary_encode(arrow_text(values))
    codes = pc.fill_null(encoded.indices, -1).to_numpy().astype(np.int64)
    dictionary = encoded.dictionary
    if sort and len(dictionary):
        order = pc.sort_indices(dictionary).to_numpy()
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order))
        dictionary = dictionary.take(pa.array(order))
        has_value = codes >= 0
        codes[has_value] = rank[codes[has_value]]
    dtype = _categorical_dtype(pd.array(dictionary, dtype=values.dtype))
    return pd.Categorical.from_codes(codes, dtype=dtype, validate=False)


def _categorical_dtype(categories: Any) -> pd.CategoricalDtype:
    """An unordered categorical dtype over ``categories``, which must hold no repeats.

    pyarrow's ``unique`` and ``dictionary_encode`` give them unique already; pandas' public
    constructor would hash them all again to check (half a second for a million order ids),
    so its unchecked constructor is used where pandas has it.
    """
    index = pd.Index(categories)
    unchecked = getattr(pd.CategoricalDtype, "_from_fastpath", None)
    if unchecked is None:
        return pd.CategoricalDtype(index, ordered=False)
    dtype: pd.CategoricalDtype = unchecked(index, ordered=False)
    return dtype
