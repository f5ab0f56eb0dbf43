"""Forecast intervals: each customer's, each segment's and the shop's, from bootstrap draws.

Each parameter draw (:mod:`segmentation.clv._bootstrap`) gives every customer an expected
number of purchases, a P(alive) and a CLV by the forecast's own formulas; an interval is the
central quantiles of those values over the draws (the percentile bootstrap). The per-draw
work runs on a seeded sample of at most ``max_customers`` customers, stratified by segment
(every segment keeps at least ``min(size, max_customers // (2 * segments))`` of its own):
the sampled customers get their own intervals, and each segment's (and the shop's) draws
are its forecast total times the sample's ratio of the draw to the forecast (a ratio
estimator; exact when every customer is in the sample).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from segmentation.clv._bootstrap import (
    BootstrapDraws,
    IntervalSettings,
    bootstrap_purchase,
    bootstrap_spend,
    purchase_with_params,
    spend_with_params,
)
from segmentation.clv._compress import compress_customers
from segmentation.clv._forecast import CLVForecast, _expected_purchases
from segmentation.clv._lifetimes import FitLimits

__all__ = [
    "ForecastIntervals",
    "forecast_intervals",
    "interval_columns",
    "stratified_sample",
]

_MEASURES = ("expected_purchases", "p_alive", "clv")


def interval_columns(name: str, level: float) -> tuple[str, str]:
    """The low and high column of ``name`` at ``level``: ``clv_low_95``, ``clv_high_95``."""
    tag = f"{round(100 * level):d}"
    return f"{name}_low_{tag}", f"{name}_high_{tag}"


@dataclass(frozen=True)
class ForecastIntervals:
    """Intervals of the CLV forecast from a customer bootstrap of both models.

    Attributes
    ----------
    customers : pandas.DataFrame
        The sampled customers (index customer_id): ``expected_purchases``, ``p_alive``,
        ``clv`` and each one's ``<name>_low_<level>`` / ``<name>_high_<level>``.
    segments : pandas.DataFrame
        One row per segment with buyers: ``customers``, ``clv_total``, ``clv_mean`` and
        their intervals.
    shop : pandas.Series
        ``revenue`` (undiscounted expected revenue over the horizon), ``clv_total`` and
        their intervals, ``customers``.
    levels : tuple of float
    resamples, failed : int
        Draws used, and refits left out (either model).
    n_customers, sampled, fit_customers : int
        Customers forecast, customers in the per-draw sample, customers a refit saw.
    horizon_days : float
    scheme : str
        The scheme whose segments ``segments`` lists.
    """

    customers: pd.DataFrame
    segments: pd.DataFrame
    shop: pd.Series
    levels: tuple[float, ...]
    resamples: int
    failed: int
    n_customers: int
    sampled: int
    fit_customers: int
    horizon_days: float
    scheme: str


def stratified_sample(segments: np.ndarray, *, max_customers: int, random_state: int) -> np.ndarray:
    """Positions of a seeded sample of at most ``max_customers``, stratified by segment.

    Each segment keeps ``min(size, max(floor, round(max_customers * share)))`` customers,
    ``floor = max_customers // (2 * segments)``; every position when they all fit. Sorted.
    """
    n = len(segments)
    if n <= max_customers:
        return np.arange(n)
    rng = np.random.default_rng(random_state)
    codes, uniques = pd.factorize(segments, sort=True)
    floor = max(1, max_customers // (2 * len(uniques)))
    chosen = []
    for code in range(len(uniques)):
        members = np.flatnonzero(codes == code)
        take = min(len(members), max(floor, round(max_customers * len(members) / n)))
        chosen.append(rng.choice(members, size=take, replace=False))
    return np.sort(np.concatenate(chosen))


def _draw_values(
    forecast: CLVForecast, rows: pd.DataFrame, purchase: BootstrapDraws, spend: BootstrapDraws
) -> dict[str, np.ndarray]:
    """Per draw (rows) and sampled customer (columns): each measure, and the undiscounted
    expected revenue."""
    patterns = compress_customers(rows["frequency"], rows["recency"], rows["T"])
    f = rows["frequency"].to_numpy(dtype=float)
    m = rows["monetary_value"].to_numpy(dtype=float)
    n_draws = min(len(purchase.params), len(spend.params))
    values = {name: np.empty((n_draws, len(rows))) for name in (*_MEASURES, "revenue")}
    for k in range(n_draws):
        fit = purchase_with_params(forecast.purchase_fit, purchase.params.iloc[k])
        expected, discounted = _expected_purchases(
            fit,
            patterns,
            horizon_days=forecast.horizon_days,
            month_days=forecast.month_days,
            monthly_discount_rate=forecast.monthly_discount_rate,
        )
        alive = fit._on_unique(fit.fitter.conditional_probability_alive, patterns)
        spend_fit = spend_with_params(forecast.spend_fit, spend.params.iloc[k])
        average, _ = spend_fit._expected_average_spend(f, m)
        values["expected_purchases"][k] = expected
        values["p_alive"][k] = alive[patterns.inverse]
        values["clv"][k] = average * discounted
        values["revenue"][k] = average * expected
    # A draw whose predictions are not finite (lifetimes' BG/NBD formula with a + b < 1 for
    # customers without a repeat purchase) is left out.
    finite = np.all([np.isfinite(v).all(axis=1) for v in values.values()], axis=0)
    return {name: v[finite] for name, v in values.items()}


def _quantile_columns(
    draws: np.ndarray, name: str, levels: Sequence[float]
) -> dict[str, np.ndarray]:
    """``<name>_low_<level>`` and ``<name>_high_<level>`` over axis 0 of ``draws``."""
    columns: dict[str, np.ndarray] = {}
    for level in levels:
        low, high = interval_columns(name, level)
        tail = (1.0 - level) / 2.0
        columns[low] = np.quantile(draws, tail, axis=0)
        columns[high] = np.quantile(draws, 1.0 - tail, axis=0)
    return columns


def _group_rows(
    table: pd.DataFrame,
    labels: np.ndarray,
    sample: np.ndarray,
    values: dict[str, np.ndarray],
    levels: Sequence[float],
) -> pd.DataFrame:
    """Each segment's total and mean CLV with their intervals (ratio-scaled draws)."""
    rows = {}
    clv_all = table["clv"].to_numpy(dtype=float)
    for segment in pd.unique(labels):
        members = labels == segment
        in_sample = members[sample]
        total = float(clv_all[members].sum())
        size = int(members.sum())
        point = float(clv_all[sample][in_sample].sum())
        ratio = values["clv"][:, in_sample].sum(axis=1) / point if point > 0 else np.ones(1)
        draws = total * ratio
        row: dict[str, float] = {"customers": size, "clv_total": total, "clv_mean": total / size}
        row.update({k: float(v) for k, v in _quantile_columns(draws, "clv_total", levels).items()})
        row.update(
            {k: float(v) for k, v in _quantile_columns(draws / size, "clv_mean", levels).items()}
        )
        rows[segment] = row
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame["customers"] = frame["customers"].astype(np.int64)
    frame.index.name = "segment"
    return frame


def _shop_row(
    table: pd.DataFrame, sample: np.ndarray, values: dict[str, np.ndarray], levels: Sequence[float]
) -> pd.Series:
    """The shop's expected revenue and total CLV with their intervals."""
    revenue_all = table["expected_purchases"].to_numpy() * table["expected_avg_spend"].to_numpy()
    row: dict[str, float] = {"customers": float(len(table))}
    for name, point_all, draws in (
        ("revenue", revenue_all, values["revenue"]),
        ("clv_total", table["clv"].to_numpy(dtype=float), values["clv"]),
    ):
        total = float(point_all.sum())
        point = float(point_all[sample].sum())
        scaled = total * draws.sum(axis=1) / point if point > 0 else np.full(len(draws), total)
        row[name] = total
        row.update({k: float(v) for k, v in _quantile_columns(scaled, name, levels).items()})
    return pd.Series(row)


def forecast_intervals(
    forecast: CLVForecast,
    *,
    segments: pd.Series | None = None,
    scheme: str = "",
    settings: IntervalSettings,
    fit_limits: FitLimits,
    random_state: int = 0,
) -> ForecastIntervals:
    """Intervals of each customer's, each segment's and the shop's forecast.

    Parameters
    ----------
    forecast : CLVForecast
        The point forecast; its purchase and spend fits are bootstrapped.
    segments : pandas.Series, optional
        Segment per customer (index customer_id); the forecast's customers missing from it
        form one segment "" (and so does everyone when omitted).
    scheme : str, optional
        The scheme ``segments`` comes from, kept for the report.
    settings : IntervalSettings
        The config's ``clv.intervals``.
    fit_limits : FitLimits
        Each refit's limits.
    random_state : int, default 0
        Seeds the resamples and the sample.

    Returns
    -------
    ForecastIntervals
    """
    table = forecast.table
    labels = (
        np.full(len(table), "", dtype=object)
        if segments is None
        else segments.reindex(table.index).astype(object).fillna("").to_numpy()
    )
    purchase = bootstrap_purchase(
        forecast.purchase_fit,
        resamples=settings.resamples,
        random_state=random_state,
        max_fit_customers=settings.max_fit_customers,
        fit_limits=fit_limits,
    )
    spend = bootstrap_spend(
        forecast.spend_fit,
        resamples=settings.resamples,
        random_state=random_state,
        max_fit_customers=settings.max_fit_customers,
        fit_limits=fit_limits,
    )
    sample = stratified_sample(
        labels.astype(str), max_customers=settings.max_customers, random_state=random_state
    )
    rows = table.iloc[sample]
    values = _draw_values(forecast, rows, purchase, spend)
    customers = rows[list(_MEASURES)].copy()
    for name in _MEASURES:
        for column, data in _quantile_columns(values[name], name, settings.levels).items():
            customers[column] = data
    return ForecastIntervals(
        customers=customers,
        segments=_group_rows(table, labels, sample, values, settings.levels),
        shop=_shop_row(table, sample, values, settings.levels),
        levels=settings.levels,
        resamples=len(values["clv"]),
        failed=purchase.n_failed + spend.n_failed,
        n_customers=len(table),
        sampled=len(sample),
        fit_customers=purchase.fit_customers,
        horizon_days=forecast.horizon_days,
        scheme=scheme,
    )
