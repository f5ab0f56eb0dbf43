"""The plain pandas baseline the customer snapshot is timed against: the same summary as an
analyst would first write it, with groupbys on the ids."""

from __future__ import annotations

import pandas as pd

__all__ = ["pandas_groupby_summary"]


def pandas_groupby_summary(orders: pd.DataFrame, *, as_of: str | pd.Timestamp) -> pd.DataFrame:
    """The snapshot's purchase columns computed the plain pandas way: groupbys on the ids.

    The same definitions as :func:`segmentation.features.customer_snapshot` (orders netted,
    fully refunded orders not purchases, purchase days counted as lifetimes counts them), in
    the code an analyst would write first; the baseline the snapshot is timed against.

    Parameters
    ----------
    orders : pandas.DataFrame
        Canonical orders.
    as_of : str or pandas.Timestamp
        The observation end (the whole day included).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``customer_id`` (sorted), one row per customer with a purchase:
        ``n_orders``, ``frequency``, ``recency``, ``T``, ``monetary_value`` and
        ``monetary_total``.
    """
    from segmentation.features import REFUND_TOLERANCE, as_of_cutoff

    rows = orders.loc[
        orders["customer_id"].notna() & (orders["order_ts"] < as_of_cutoff(as_of)),
        ["customer_id", "order_id", "order_ts", "amount"],
    ]
    rows = rows.assign(sale=rows["amount"] >= 0, refund=rows["amount"] < 0)
    per_order = rows.groupby(["customer_id", "order_id"], sort=False).agg(
        order_ts=("order_ts", "min"),
        amount=("amount", "sum"),
        sale=("sale", "any"),
        refund=("refund", "any"),
    )
    purchase = per_order["sale"] & ~(
        per_order["refund"] & (per_order["amount"] <= REFUND_TOLERANCE)
    )
    purchases = per_order.loc[purchase].reset_index()
    purchases["day"] = purchases["order_ts"].dt.normalize()
    per_day = purchases.groupby(["customer_id", "day"], sort=True)["amount"].sum().reset_index()
    by_customer = per_day.groupby("customer_id", sort=True)
    first_day = by_customer["day"].min()
    n_days = by_customer.size()
    frequency = n_days - 1
    repeat_spend = by_customer["amount"].sum() - by_customer["amount"].first()
    end = pd.Timestamp(as_of).normalize()
    summary = pd.DataFrame(
        {
            "n_orders": purchases.groupby("customer_id", sort=True).size(),
            "frequency": frequency,
            "recency": (by_customer["day"].max() - first_day).dt.days.astype(float),
            "T": (end - first_day).dt.days.astype(float),
            "monetary_value": (repeat_spend / frequency.clip(lower=1)).where(frequency > 0, 0.0),
        }
    )
    summary["monetary_total"] = per_order.groupby("customer_id")["amount"].sum()
    return summary
