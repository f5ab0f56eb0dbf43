"""The baselines the kit is timed against: the snapshot's summary as plain pandas groupbys,
as an analyst would first write it, and lifetimes' own fit given ``weights=``."""

from __future__ import annotations

import contextlib
import io
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["LIFETIMES_PARETO_OPTIONS", "lifetimes_weighted_fit", "pandas_groupby_summary"]

#: lifetimes' Pareto/NBD ``fit`` options of the weighted baseline: a start of ones (its
#: random start's mean, as the kit starts) and ``tol=1e-8``, so it stops at the kit's
#: log-likelihood (within 1e-6 on the bench's exports; its default 1e-4 stops short along
#: beta). BG/NBD runs with lifetimes' defaults, which already reach the kit's optimum.
LIFETIMES_PARETO_OPTIONS: dict[str, Any] = {"initial_params": np.ones(4), "tol": 1e-8}


def lifetimes_weighted_fit(model: str, rows: pd.DataFrame) -> Any:
    """lifetimes' own ``BetaGeoFitter`` or ``ParetoNBDFitter`` ``fit`` on unique rows with
    their counts as ``weights=``: the strongest plain-lifetimes way to fit what the kit fits.

    Parameters
    ----------
    model : {"bgnbd", "pareto"}
    rows : pandas.DataFrame
        ``frequency``, ``recency``, ``T`` (model time units) and ``weights``: the rows the
        kit's own fit ran on (its fitter's ``data``).

    Returns
    -------
    lifetimes fitter
        Fitted: ``params_`` and ``_negative_log_likelihood_``.
    """
    from segmentation.clv import import_lifetimes

    lifetimes = import_lifetimes()
    fitter = lifetimes.ParetoNBDFitter() if model == "pareto" else lifetimes.BetaGeoFitter()
    options = LIFETIMES_PARETO_OPTIONS if model == "pareto" else {}
    with contextlib.redirect_stdout(io.StringIO()), np.errstate(all="ignore"):
        fitter.fit(
            rows["frequency"], rows["recency"], rows["T"], weights=rows["weights"], **options
        )
    return fitter


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
