"""Simulated BG/NBD customers, lifetimes' own summary, and the compressed fit's benchmark."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd

from segmentation.clv._lifetimes import _import_lifetimes, _lifetimes_call
from segmentation.clv._purchase import _check_period_days, fit_purchase_model
from segmentation.errors import CLVInputError

__all__ = ["benchmark_compressed_fit", "lifetimes_summary", "simulate_bgnbd_summary"]


def simulate_bgnbd_summary(
    n_customers: int,
    *,
    r: float = 0.2425945,
    alpha: float = 4.4136019,
    a: float = 0.7929199,
    b: float = 2.4258881,
    cohort_days: int = 84,
    observation_days: int = 546,
    time_unit_days: float = 7.0,
    period_days: int = 1,
    seed: int = 0,
) -> pd.DataFrame:
    """Simulate customers who buy by a BG/NBD process, summarised from daily data.

    Each customer has a purchase rate ``lambda ~ Gamma(r, alpha)`` per time unit and a dropout
    probability ``p ~ Beta(a, b)``; they first buy on a day drawn uniformly from the first
    ``cohort_days`` days, buy again after exponential gaps, and after each repeat purchase
    drop out with probability ``p``. Purchases on the same day are one purchase day (or, with
    ``period_days`` 7, in the same week, weeks ending on the last day observed), and the
    history is observed for ``observation_days`` days, as a daily export would be.

    Parameters
    ----------
    n_customers : int
    r, alpha, a, b : float
        BG/NBD parameters per ``time_unit_days``; the defaults are Fader, Hardie & Lee's
        (2005) CDNOW estimates in weeks.
    cohort_days : int, default 84
        Days over which first purchases are spread (CDNOW: the 12 weeks of 1997 Q1).
    observation_days : int, default 546
        Days observed from the first cohort day (CDNOW: 78 weeks).
    time_unit_days : float, default 7
    period_days : int, default 1
    seed : int, default 0
        The same seed gives the same customers at every ``period_days``.

    Returns
    -------
    pandas.DataFrame
        ``frequency``, ``recency`` and ``T`` in days, as
        :func:`segmentation.features.repeat_purchase_summary` counts them with
        ``period_days``, and ``first_day`` (0-based); indexed by a RangeIndex named
        customer_id.
    """
    if n_customers < 1:
        raise CLVInputError(f"n_customers must be at least 1, got {n_customers}.")
    if not 0 < cohort_days <= observation_days:
        raise CLVInputError(
            f"need 0 < cohort_days <= observation_days, got {cohort_days} and {observation_days}."
        )
    _check_period_days(period_days)
    end_day = observation_days - 1

    def period_end(day: np.ndarray) -> np.ndarray:
        return end_day - period_days * ((end_day - day) // period_days)

    rng = np.random.default_rng(seed)
    rate_per_day = rng.gamma(r, 1.0 / alpha, n_customers) / time_unit_days
    dropout = rng.beta(a, b, n_customers)
    first_day = rng.integers(0, cohort_days, n_customers)
    clock = first_day + rng.uniform(0.0, 1.0, n_customers)
    first_period = period_end(first_day)
    last_period = first_period.copy()
    frequency = np.zeros(n_customers, dtype=np.int64)
    active = np.flatnonzero(rate_per_day > 0)
    while active.size:
        clock[active] += rng.exponential(1.0, active.size) / rate_per_day[active]
        active = active[clock[active] < observation_days]
        period = period_end(np.floor(clock[active]).astype(np.int64))
        new_period = period != last_period[active]
        frequency[active[new_period]] += 1
        last_period[active[new_period]] = period[new_period]
        active = active[rng.uniform(0.0, 1.0, active.size) >= dropout[active]]
    return pd.DataFrame(
        {
            "frequency": frequency,
            "recency": (last_period - first_period).astype(float),
            "T": (end_day - first_period).astype(float),
            "first_day": first_day,
        },
        index=pd.RangeIndex(n_customers, name="customer_id"),
    )


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
