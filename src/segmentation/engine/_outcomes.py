"""The backtest's outcomes where the orders are, summed per segment.

The report scores every scheme computed as of a calibration day on what its customers did
in the days after (:func:`segmentation.evaluate.future_outcomes`). On an engine the
per-customer outcomes stay there: each segment's customers, future revenue (whole cents) and
buyers come back, with the count, sum and sum of squares of everyone's revenue, all whole
numbers, so every engine returns the same ones and the scores
(:func:`segmentation.ranking.scores_from_sums`) are equal to the bit.
"""

from __future__ import annotations

from collections.abc import Sequence

import ibis
import pandas as pd

from segmentation.engine._load import EngineTables
from segmentation.engine._netting import net_orders, order_rows
from segmentation.features import as_of_cutoff

__all__ = ["future_outcomes_expr", "outcome_sums_expr", "outcome_totals"]


def future_outcomes_expr(
    tables: EngineTables,
    customers: ibis.Table,
    *,
    calibration_end: str | pd.Timestamp,
    horizon_days: int,
) -> ibis.Table:
    """What each customer did in the ``horizon_days`` after ``calibration_end``.

    As :func:`segmentation.evaluate.future_outcomes`: revenue is the net of every row dated
    in the window; a customer bought when one of their orders in the window is a purchase
    (not refund rows only, not refunded in full).

    Parameters
    ----------
    tables : EngineTables
    customers : ibis.Table
        Has ``customer_id``: the customers scored (the calibration snapshot).
    calibration_end : str or pandas.Timestamp
        The calibration as-of day (inclusive); the window starts the next day.
    horizon_days : int
        Length of the window in days.

    Returns
    -------
    ibis.Table
        ``customer_id``, ``revenue_cents`` (int64, 0 without rows) and ``bought`` (boolean),
        one row per customer of ``customers``.
    """
    start = as_of_cutoff(calibration_end)
    end = as_of_cutoff(pd.Timestamp(calibration_end).normalize() + pd.Timedelta(days=horizon_days))
    # A customer's rows (not a guest's) before the window's end, as a snapshot reads them,
    # from the window's start.
    rows = order_rows(tables.orders, ibis.literal(end.to_pydatetime(), type="timestamp"))
    rows = rows.filter(rows.order_ts >= ibis.literal(start.to_pydatetime(), type="timestamp"))
    revenue = rows.group_by(window_id=rows.customer_id).aggregate(
        window_cents=rows.amount_cents.sum().fill_null(0)
    )
    netted = net_orders(rows, money_scale=tables.money_scale)
    purchases = netted.filter(netted.is_purchase)
    buyers = purchases.select(buyer_id=purchases.customer_id).distinct()
    scored = customers.select("customer_id")
    joined = scored.left_join(revenue, scored.customer_id == revenue.window_id).left_join(
        buyers, scored.customer_id == buyers.buyer_id
    )
    return joined.select(
        "customer_id",
        revenue_cents=joined.window_cents.fill_null(0).cast("int64"),
        bought=joined.buyer_id.notnull(),
    )


def outcome_sums_expr(
    labels: ibis.Table,
    outcomes: ibis.Table,
    schemes: Sequence[str],
    *,
    snapshot: ibis.Table,
) -> ibis.Table:
    """Per scheme and segment: customers, future revenue, future buyers, and the customers
    who had bought by the calibration day.

    Parameters
    ----------
    labels : ibis.Table
        ``customer_id`` and one column of segment keys per scheme, as of the calibration day.
    outcomes : ibis.Table
        :func:`future_outcomes_expr` of the same customers.
    schemes : sequence of str
        The scheme columns of ``labels``.
    snapshot : ibis.Table
        The calibration snapshot: its buyers (``is_potential`` false) are counted per
        segment, for the share of buyers in the largest segment (a collapsed scheme).

    Returns
    -------
    ibis.Table
        ``scheme``, ``segment``, then int64 ``customers``, ``revenue_cents``, ``buyers`` (who
        bought in the horizon) and ``calibration_buyers``.
    """
    bought = snapshot.select(bought_id="customer_id", was_buyer=~snapshot.is_potential)
    joined = labels.join(outcomes, "customer_id")
    joined = joined.join(bought, joined.customer_id == bought.bought_id)
    per_scheme = [
        joined.group_by(segment=joined[scheme].cast("string"))
        .aggregate(
            customers=joined.count().cast("int64"),
            revenue_cents=joined.revenue_cents.sum().cast("int64"),
            buyers=joined.bought.cast("int64").sum().cast("int64"),
            calibration_buyers=joined.was_buyer.cast("int64").sum().cast("int64"),
        )
        .mutate(scheme=ibis.literal(scheme))
        for scheme in schemes
    ]
    stacked = ibis.union(*per_scheme)
    return stacked.select(
        "scheme", "segment", "customers", "revenue_cents", "buyers", "calibration_buyers"
    )


def outcome_totals(outcomes: ibis.Table) -> tuple[int, int, int]:
    """The customers scored, and the exact sum and sum of squares of their revenue in cents.

    The squares are summed as 38-digit decimals, so that no total rounds or overflows
    whatever the engine.

    Returns
    -------
    tuple of int
        ``(n, sum, sum of squares)``.
    """
    cents = outcomes.revenue_cents.cast("decimal(18, 0)")
    row = (
        outcomes.aggregate(
            n=outcomes.count().cast("int64"),
            total=cents.sum(),
            squares=(cents * cents).sum(),
        )
        .to_pyarrow()
        .to_pylist()[0]
    )
    return int(row["n"]), int(row["total"] or 0), int(row["squares"] or 0)
