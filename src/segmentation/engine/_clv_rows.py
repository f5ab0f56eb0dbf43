"""The CLV fits' inputs on the engine, and their predictions joined back there.

A purchase model's likelihood and its predictions depend on a customer's ``(frequency,
recency, T)`` only, so the fits run on the unique rows with their counts (lifetimes'
``weights=``). On an engine those rows are one GROUP BY: a few thousand rows come to Python
whatever the number of customers, and the predictions made for them go back as a small
table joined to the customers on the engine.
"""

from __future__ import annotations

from collections.abc import Sequence

import ibis
import pandas as pd

__all__ = ["CLV_ROW_KEYS", "clv_rows_expr", "join_row_predictions"]

#: The columns a customer's CLV row is keyed by (days, as the snapshot counts them).
CLV_ROW_KEYS: tuple[str, ...] = ("frequency", "recency", "T")


def clv_rows_expr(snapshot: ibis.Table) -> ibis.Table:
    """The buyers' unique ``(frequency, recency, T)`` rows and how many customers have each.

    The rows are those :func:`segmentation.clv.compress_customers` gives for the same
    snapshot's buyers, in its order (frequency, then recency, then T), so that a fit on
    them (:func:`segmentation.clv.fit_purchase_rows`) equals the pandas path's fit to the
    bit.

    Parameters
    ----------
    snapshot : ibis.Table
        From :func:`segmentation.engine.customer_snapshot_expr`; potential customers (no
        purchase) are left out, as the models describe customers after a first purchase.

    Returns
    -------
    ibis.Table
        ``frequency`` (int64), ``recency`` and ``T`` (float64, days) and ``weight`` (int64,
        customers with that row), ordered.
    """
    buyers = snapshot.filter(~snapshot.is_potential)
    rows = buyers.group_by(list(CLV_ROW_KEYS)).aggregate(weight=buyers.count().cast("int64"))
    return rows.order_by(list(CLV_ROW_KEYS))


def join_row_predictions(
    customers: ibis.Table,
    predictions: pd.DataFrame,
    *,
    columns: Sequence[str] | None = None,
) -> ibis.Table:
    """``customers`` with the predictions made for their ``(frequency, recency, T)`` row.

    Parameters
    ----------
    customers : ibis.Table
        Has ``customer_id`` and the row keys :data:`CLV_ROW_KEYS` (the snapshot does).
    predictions : pandas.DataFrame
        One row per unique key (:func:`clv_rows_expr`'s rows) with the key columns and the
        predicted values; put on the engine as a small table.
    columns : sequence of str, optional
        The prediction columns to bring; every column but the keys and ``weight`` when
        omitted.

    Returns
    -------
    ibis.Table
        ``customer_id`` and the prediction columns; null for a customer whose row has no
        prediction (a potential customer).
    """
    keys = list(CLV_ROW_KEYS)
    own = {*keys, "weight"}
    wanted = [c for c in predictions.columns if c not in own] if columns is None else columns
    table = ibis.memtable(
        predictions[[*keys, *wanted]].astype({"frequency": "int64", "recency": float, "T": float})
    )
    joined = customers.select("customer_id", *keys).left_join(table, keys)
    return joined.select("customer_id", *wanted)
