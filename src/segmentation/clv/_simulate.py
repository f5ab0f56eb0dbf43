"""Simulated BG/NBD customers, lifetimes' own summary, and the compressed fit's benchmark."""

from __future__ import annotations

import time
from typing import Any

import pandas as pd

from segmentation.clv._lifetimes import FitLimits, _import_lifetimes, _lifetimes_call
from segmentation.clv._purchase import fit_purchase_model
from segmentation.datasets import simulate_bgnbd_summary

__all__ = ["benchmark_compressed_fit", "lifetimes_summary"]


def lifetimes_summary(orders: pd.DataFrame, *, as_of: str | pd.Timestamp) -> pd.DataFrame:
    """lifetimes' own ``summary_data_from_transaction_data`` of the orders, for comparison.

    Every order row with a customer id up to the end of ``as_of`` is a transaction (lifetimes
    has no notion of an order's rows or of refunds), counted in purchase days (``freq="D"``)
    with ``amount`` as the monetary value. This is the baseline the customer snapshot is
    timed against (``make bench``); the kit itself never calls it.

    Parameters
    ----------
    orders : pandas.DataFrame
        Canonical orders.
    as_of : str or pandas.Timestamp
        The observation end; the whole of its day is included.

    Returns
    -------
    pandas.DataFrame
        lifetimes' result: indexed by customer_id, ``frequency``, ``recency``, ``T`` (days)
        and ``monetary_value``.

    References
    ----------
    Fader, P. S., Hardie, B. G. S. and Lee, K. L. (2005). "Counting Your Customers" the Easy
    Way: An Alternative to the Pareto/NBD Model. Marketing Science 24(2), 275-284.
    """
    lifetimes = _import_lifetimes()
    rows = orders.loc[orders["customer_id"].notna(), ["customer_id", "order_ts", "amount"]]
    with _lifetimes_call():
        summary: pd.DataFrame = lifetimes.utils.summary_data_from_transaction_data(
            rows,
            "customer_id",
            "order_ts",
            monetary_value_col="amount",
            observation_period_end=pd.Timestamp(as_of).normalize(),
            freq="D",
        )
    return summary


def benchmark_compressed_fit(
    n_customers: int,
    *,
    model: str = "bgnbd",
    period_days: int = 1,
    seed: int = 0,
    baseline: bool = True,
    time_unit_days: float = 7.0,
    fit_limits: FitLimits | None = None,
) -> dict[str, Any]:
    """Time lifetimes on the compressed rows against lifetimes on one row per customer.

    Both fits are :func:`fit_purchase_model` with the same options (Pareto/NBD with
    :data:`PARETO_FIT_OPTIONS`), on simulated BG/NBD customers counted in ``period_days``;
    only ``compress`` differs. Plain lifetimes' Pareto/NBD takes minutes from a few hundred
    thousand customers up.

    Parameters
    ----------
    n_customers : int
    model : {"bgnbd", "pareto", "mbgnbd"}, default "bgnbd"
    period_days : int, default 1
        1 counts purchase days, 7 purchase weeks (see :func:`simulate_bgnbd_summary`).
    seed : int, default 0
    baseline : bool, default True
        ``False`` times the compressed fit only.
    time_unit_days : float, default 7
    fit_limits : FitLimits, optional
        Of both fits; the built-in config's ``clv.fit_limits`` when omitted. The one row per
        customer baseline of Pareto/NBD takes about two minutes at a million customers.

    Returns
    -------
    dict
        ``model``, ``period_days``, ``n_customers``, ``n_patterns`` (unique rows),
        ``compressed_seconds``, ``compressed_params`` and, with the baseline,
        ``uncompressed_seconds``, ``uncompressed_params``, ``speedup`` and
        ``max_relative_param_difference``.
    """
    summary = simulate_bgnbd_summary(
        n_customers, seed=seed, time_unit_days=time_unit_days, period_days=period_days
    )
    options: dict[str, Any] = {
        "model": model,
        "time_unit_days": time_unit_days,
        "period_days": period_days,
        "min_repeat_customers": 1,
        "fit_limits": fit_limits,
    }
    _import_lifetimes()  # once, outside both timings
    started = time.perf_counter()
    fit = fit_purchase_model(summary, **options)
    compressed_seconds = time.perf_counter() - started
    result: dict[str, Any] = {
        "model": model,
        "period_days": period_days,
        "n_customers": n_customers,
        "n_patterns": fit.n_patterns,
        "compressed_seconds": compressed_seconds,
        "compressed_params": fit.params,
    }
    if not baseline:
        return result
    started = time.perf_counter()
    reference = fit_purchase_model(summary, compress=False, **options)
    uncompressed_seconds = time.perf_counter() - started
    result.update(
        uncompressed_seconds=uncompressed_seconds,
        uncompressed_params=reference.params,
        speedup=uncompressed_seconds / compressed_seconds,
        max_relative_param_difference=max(
            abs(fit.params[k] / reference.params[k] - 1.0) for k in fit.params
        ),
    )
    return result
