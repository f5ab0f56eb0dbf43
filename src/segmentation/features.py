"""Customer features as of a date: one row per customer, computed in one vectorised pass.

Purchases are orders, not line items: the rows of an order are netted (refund rows carry the
order's id and a negative amount). An order that has refund rows and nets to zero or less is a
fully refunded order and is not a purchase. A cancellation with its own order id (Online
Retail's ``C`` invoices) is not a purchase either, but its negative amount is netted into the
customer's monetary totals.

Counting follows ``lifetimes.utils.summary_data_from_transaction_data`` with ``freq="D"``:
purchases on the same calendar day are one purchase period, ``frequency`` is the number of
periods after the first, ``recency`` is the days from the first to the last period and ``T``
the days from the first period to ``as_of``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = [
    "as_of_cutoff",
    "order_purchases",
    "repeat_purchase_summary",
]


def as_of_cutoff(as_of: str | pd.Timestamp) -> pd.Timestamp:
    """The first instant after the as-of day: ``as_of`` includes the whole of its day.

    Parameters
    ----------
    as_of : str or pandas.Timestamp
        A date (``"2011-11-30"``) or timestamp; its time of day is ignored.

    Returns
    -------
    pandas.Timestamp
        Midnight at the start of the day after ``as_of``; rows with ``order_ts`` strictly
        before it are "as of" that day.
    """
    return pd.Timestamp(as_of).normalize() + pd.Timedelta(days=1)


def order_purchases(orders: pd.DataFrame, *, as_of: str | pd.Timestamp) -> pd.DataFrame:
    """Net the line items of each customer's orders up to ``as_of``.

    Parameters
    ----------
    orders : pandas.DataFrame
        Canonical orders (see :mod:`segmentation.schema`); guest rows (no customer id) are
        ignored.
    as_of : str or pandas.Timestamp
        Rows dated after this day are ignored.

    Returns
    -------
    pandas.DataFrame
        One row per (customer_id, order_id): ``order_ts`` (the earliest row, the purchase
        time), ``amount`` (net), ``has_refund`` (any negative row) and ``is_purchase``
        (not a refund-only or fully refunded order).
    """
    cutoff = as_of_cutoff(as_of)
    rows = orders.loc[
        orders["customer_id"].notna() & (orders["order_ts"] < cutoff),
        ["customer_id", "order_id", "order_ts", "amount"],
    ]
    grouped = rows.assign(negative=rows["amount"] < 0, sale=rows["amount"] >= 0).groupby(
        ["customer_id", "order_id"], sort=True, observed=True
    )
    per_order = grouped.agg(
        order_ts=("order_ts", "min"),
        amount=("amount", "sum"),
        has_refund=("negative", "any"),
        has_sale=("sale", "any"),
    )
    per_order["is_purchase"] = per_order["has_sale"] & ~(
        per_order["has_refund"] & (per_order["amount"] <= 0)
    )
    return per_order.drop(columns="has_sale").reset_index()


def repeat_purchase_summary(orders: pd.DataFrame, *, as_of: str | pd.Timestamp) -> pd.DataFrame:
    """Frequency, recency, T and monetary value per customer, as lifetimes counts them.

    Parameters
    ----------
    orders : pandas.DataFrame
        Canonical orders.
    as_of : str or pandas.Timestamp
        The observation end (inclusive of the whole day).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``customer_id`` (customers with at least one purchase up to ``as_of``),
        sorted, with columns ``first_purchase``, ``last_purchase``, ``n_orders`` (purchases),
        ``frequency`` (repeat purchase days), ``recency`` and ``T`` (days, float),
        ``monetary_value`` (mean net spend of the repeat purchase days, 0 when there are
        none, as lifetimes defines it) and ``monetary_total`` (net of every refund and
        cancellation up to ``as_of``).

    References
    ----------
    Fader, P. S., Hardie, B. G. S. and Lee, K. L. (2005). "Counting Your Customers" the Easy
    Way: An Alternative to the Pareto/NBD Model. Marketing Science 24(2), 275-284.
    """
    per_order = order_purchases(orders, as_of=as_of)
    monetary_total = per_order.groupby("customer_id", sort=True)["amount"].sum()
    purchases = per_order.loc[per_order["is_purchase"]]
    customer_codes, customers = pd.factorize(purchases["customer_id"], sort=True)
    day = purchases["order_ts"].to_numpy().astype("datetime64[D]").astype(np.int64)
    amount = purchases["amount"].to_numpy(dtype=float)

    # Sort by (customer, day) once; a purchase period is a run of equal (customer, day) pairs.
    order = np.lexsort((day, customer_codes))
    codes, day, amount = customer_codes[order], day[order], amount[order]
    new_period = np.ones(len(codes), dtype=bool)
    new_period[1:] = (codes[1:] != codes[:-1]) | (day[1:] != day[:-1])
    period_start = np.flatnonzero(new_period)
    period_code = codes[period_start]
    period_day = day[period_start]
    period_amount = np.add.reduceat(amount, period_start) if len(amount) else amount

    n_customers = len(customers)
    n_periods = np.bincount(period_code, minlength=n_customers)
    first_period = np.flatnonzero(np.r_[True, period_code[1:] != period_code[:-1]])
    first_day = period_day[first_period]
    last_day = period_day[np.r_[first_period[1:], len(period_code)] - 1]
    first_amount = period_amount[first_period]
    total_over_periods = np.bincount(period_code, weights=period_amount, minlength=n_customers)
    frequency = n_periods - 1
    with np.errstate(invalid="ignore", divide="ignore"):
        monetary_value = np.where(
            frequency > 0, (total_over_periods - first_amount) / np.maximum(frequency, 1), 0.0
        )
    end_day = np.datetime64(pd.Timestamp(as_of).normalize().date(), "D").astype(np.int64)
    first_ts = purchases["order_ts"].to_numpy()[order][period_start][first_period]
    last_idx = np.r_[period_start[1:], len(codes)] - 1
    last_ts_per_period = purchases["order_ts"].to_numpy()[order][last_idx]
    last_ts = last_ts_per_period[np.r_[first_period[1:], len(period_code)] - 1]

    summary = pd.DataFrame(
        {
            "first_purchase": first_ts,
            "last_purchase": last_ts,
            "n_orders": np.bincount(codes, minlength=n_customers),
            "frequency": frequency.astype(np.int64),
            "recency": (last_day - first_day).astype(float),
            "T": (end_day - first_day).astype(float),
            "monetary_value": monetary_value,
        },
        index=pd.Index(customers, name="customer_id", dtype="string"),
    )
    summary["monetary_total"] = monetary_total.reindex(summary.index).to_numpy()
    return summary
