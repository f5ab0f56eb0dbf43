"""The customers table: rows of customer files, with the attributes that order exports carry
(a country, a province, a phone) filling their gaps or, without a customers file, making it."""

from __future__ import annotations

import numpy as np
import pandas as pd

from segmentation.ingest._assemble import Assembled
from segmentation.schema import CUSTOMERS, conform

__all__ = ["customers_table"]


def customers_table(assembled: Assembled | None, orders: Assembled) -> pd.DataFrame | None:
    """Customers from files, with attributes from order exports filling the gaps.

    Order files (e.g. Online Retail's Country) give each customer the latest non-missing value
    of each attribute. With a customers file, those values only fill its missing cells; without
    one, they make the customers table.
    """
    attributes = [c for c in CUSTOMERS.optional if c in orders.rows.columns]
    derived = None
    if attributes:
        derived = _latest_attributes(orders, attributes)
    if assembled is None:
        if derived is None or derived.empty:
            return None
        return conform(derived.reset_index(), CUSTOMERS)
    table = assembled.table
    if derived is not None and not derived.empty:
        filled = table.set_index("customer_id")
        extra = derived.reindex(filled.index)
        for column in extra.columns:
            filled[column] = filled[column].fillna(extra[column])
        table = conform(filled.reset_index(), CUSTOMERS)
    return table


def _latest_attributes(orders: Assembled, attributes: list[str]) -> pd.DataFrame:
    """Per customer, the latest non-missing value of each attribute on their kept orders."""
    codes = orders.customer_codes[orders.kept_order]  # kept rows are in time order
    columns: dict[str, pd.Series] = {}
    for attribute in attributes:
        values = orders.kept_rows[attribute]
        rows = np.flatnonzero((codes >= 0) & values.notna().to_numpy())
        # The last of each customer's rows: the largest position per customer code.
        last = np.full(len(orders.customer_ids), -1, dtype=np.int64)
        np.maximum.at(last, codes[rows], rows)
        known = np.flatnonzero(last >= 0)
        columns[attribute] = pd.Series(values.take(last[known]).array, index=known)
    derived = pd.DataFrame(columns)  # customers with at least one known value
    derived.index = pd.Index(orders.customer_ids.take(derived.index.to_numpy()), name="customer_id")
    return derived.sort_index()
