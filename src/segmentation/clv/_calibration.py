"""Calibration on the holdout: is the probability of buying right, and did the interval of the
forecast total cover what happened?

- **Probability of buying** in the next ``t`` days, from the purchase model: for BG/NBD and
  MBG/NBD a customer alive at the end (P(alive)) with ``x`` repeat purchases and age ``T``
  buys unless no purchase event falls in ``t`` (dropout happens only at a purchase), so
  ``P(buy) = P(alive) * (1 - ((alpha + T) / (alpha + T + t)) ** (r + x))``. For Pareto/NBD
  the lifetime can end before the first purchase: ``P(none | lambda, mu) = mu / (lambda + mu)
  + lambda / (lambda + mu) * exp(-(lambda + mu) t)``, averaged over the posterior
  ``lambda ~ Gamma(r + x, alpha + T)``, ``mu ~ Gamma(s, beta + T)`` by seeded Monte Carlo.
- **From a scheme**: each segment's share of customers who bought in the ``t`` days before
  the calibration day, applied to every member.
- **Brier score** (mean squared error of a probability against what happened, 0 is perfect)
  and a **reliability curve** (equal-width bins of the probability: mean forecast against the
  share who bought).
- **The holdout total**: bootstrap parameter draws of the backtest's chosen model give the
  expected total's spread; simulated holdouts (each customer's purchases drawn from the
  model given their history) add the process noise, so the interval is for the realised
  total, which is what it is checked against.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from segmentation.clv._bootstrap import IntervalSettings, bootstrap_purchase, purchase_with_params
from segmentation.clv._compress import compress_customers
from segmentation.clv._lifetimes import FitLimits
from segmentation.clv._purchase import PurchaseModelFit

__all__ = [
    "HoldoutCheck",
    "ProbabilityCalibration",
    "brier_score",
    "buy_probability",
    "holdout_check",
    "probability_calibration",
    "reliability_table",
    "segment_rate_probability",
    "simulate_holdout_counts",
]


def brier_score(probability: Any, outcome: Any) -> float:
    """Mean of ``(probability - outcome) ** 2``: 0 is perfect, 0.25 is a coin at 50%.

    Parameters
    ----------
    probability : array-like of float
    outcome : array-like of bool or 0/1

    References
    ----------
    Brier, G. W. (1950). Verification of forecasts expressed in terms of probability.
    Monthly Weather Review 78(1), 1-3.
    """
    p = np.asarray(probability, dtype=float)
    y = np.asarray(outcome, dtype=float)
    return float(np.mean((p - y) ** 2)) if len(p) else float("nan")


def reliability_table(probability: Any, outcome: Any, *, bins: int = 10) -> pd.DataFrame:
    """Equal-width bins of the forecast probability: customers, mean forecast, share who bought.

    Bins with no customer are left out; the last bin includes 1.

    Returns
    -------
    pandas.DataFrame
        Indexed by bin (1-based): ``lower``, ``upper``, ``customers``, ``predicted``,
        ``observed``.
    """
    p = np.asarray(probability, dtype=float)
    y = np.asarray(outcome, dtype=float)
    which = np.minimum((p * bins).astype(np.int64), bins - 1)
    counts = np.bincount(which, minlength=bins)
    seen = counts > 0
    table = pd.DataFrame(
        {
            "lower": np.arange(bins) / bins,
            "upper": np.arange(1, bins + 1) / bins,
            "customers": counts.astype(np.int64),
            "predicted": np.bincount(which, weights=p, minlength=bins) / np.maximum(counts, 1),
            "observed": np.bincount(which, weights=y, minlength=bins) / np.maximum(counts, 1),
        },
        index=pd.RangeIndex(1, bins + 1, name="bin"),
    )
    return table.loc[seen]


def buy_probability(
    model: str,
    params: Mapping[str, float],
    *,
    frequency: Any,
    T: Any,
    p_alive: Any,
    t: float,
    draws: int = 400,
    random_state: int = 0,
) -> np.ndarray:
    """Probability of at least one purchase in the next ``t`` (model time units), per customer.

    Parameters
    ----------
    model : {"bgnbd", "mbgnbd", "pareto"}
    params : mapping
        The model's parameters in model time units.
    frequency, T, p_alive : array-like
        Repeat purchases, age (model time units) and P(alive) per customer.
    t : float
        The window, in model time units.
    draws : int, default 400
        Monte Carlo draws per unique (frequency, T, P(alive)) for Pareto/NBD.
    random_state : int, default 0

    Returns
    -------
    numpy.ndarray
    """
    x = np.asarray(frequency, dtype=float)
    age = np.asarray(T, dtype=float)
    alive = np.asarray(p_alive, dtype=float)
    r, alpha = float(params["r"]), float(params["alpha"])
    if model != "pareto":
        return alive * (1.0 - ((alpha + age) / (alpha + age + t)) ** (r + x))
    s, beta = float(params["s"]), float(params["beta"])
    keys = pd.MultiIndex.from_arrays([x, age])
    codes, uniques = pd.factorize(keys)
    ux = uniques.get_level_values(0).to_numpy(dtype=float)[:, None]
    ut = uniques.get_level_values(1).to_numpy(dtype=float)[:, None]
    rng = np.random.default_rng(random_state)
    lam = rng.gamma(r + ux, 1.0 / (alpha + ut), size=(len(ux), draws))
    mu = rng.gamma(s, 1.0 / (beta + ut), size=(len(ux), draws))
    none = (mu + lam * np.exp(-(lam + mu) * t)) / (lam + mu)
    return alive * (1.0 - none.mean(axis=1)[codes])


def segment_rate_probability(labels: pd.Series, bought_before: pd.Series) -> pd.Series:
    """Each customer's segment's share of buyers in the window before: a scheme's forecast.

    Parameters
    ----------
    labels : pandas.Series
        Segment per customer.
    bought_before : pandas.Series of bool
        Whether each customer bought in the window before the calibration day (same index).
    """
    rate = bought_before.astype(float).groupby(labels, observed=True).transform("mean")
    return rate.astype(float)


def _on_index(labels: Mapping[str, pd.Series], index: pd.Index) -> dict[str, pd.Series]:
    """Each scheme's segments as ``labels.reindex(index)``, the ids looked up once per
    distinct index instead of once per scheme (every scheme of a run shares the snapshot's:
    a lookup of a million text ids takes 0.15 s)."""
    positions: dict[int, np.ndarray] = {}
    aligned = {}
    for name, series in labels.items():
        if not isinstance(series.dtype, pd.CategoricalDtype):
            aligned[name] = series.reindex(index)
            continue
        found = positions.get(id(series.index))
        if found is None:
            found = positions[id(series.index)] = series.index.get_indexer(index)
        values = series.array.take(found, allow_fill=True)  # -1 (not found) is missing
        aligned[name] = pd.Series(values, index=index, name=series.name)
    return aligned


def simulate_holdout_counts(
    fit: PurchaseModelFit,
    *,
    frequency: np.ndarray,
    T: np.ndarray,
    p_alive: np.ndarray,
    t: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """One simulated holdout per customer: purchases in the next ``t`` model time units, drawn
    from the model given each customer's history (alive with P(alive); rate and dropout from
    their posteriors)."""
    p = fit.params
    x = np.asarray(frequency, dtype=float)
    age = np.asarray(T, dtype=float)
    alive = rng.random(len(x)) < p_alive
    lam = rng.gamma(p["r"] + x, 1.0 / (p["alpha"] + age))
    if fit.model == "pareto":
        lifetime = rng.exponential(1.0, len(x)) / rng.gamma(p["s"], 1.0 / (p["beta"] + age))
        counts = rng.poisson(lam * np.minimum(lifetime, t))
    else:
        extra = 1.0 if fit.model == "mbgnbd" else 0.0
        dropout = rng.beta(p["a"], p["b"] + x + extra)
        counts = np.minimum(rng.poisson(lam * t), rng.geometric(np.maximum(dropout, 1e-12)))
    return np.where(alive, counts, 0)


@dataclass(frozen=True)
class HoldoutCheck:
    """The backtest's holdout total against its forecast interval.

    Attributes
    ----------
    model : str
    actual, expected : float
        Repeat purchase periods in the holdout, and the model's expected total.
    intervals : pandas.DataFrame
        Indexed by level: ``low``, ``high``, ``covered`` (the actual inside, ends included).
    holdout_days, period_days : int
    resamples, simulation_draws, failed : int
    """

    model: str
    actual: float
    expected: float
    intervals: pd.DataFrame
    holdout_days: int
    period_days: int
    resamples: int
    simulation_draws: int
    failed: int

    @property
    def widest(self) -> pd.Series:
        """The row of the highest level (what the report states)."""
        return self.intervals.iloc[-1]


def holdout_check(
    fit: PurchaseModelFit,
    customers: pd.DataFrame,
    *,
    holdout_days: int,
    settings: IntervalSettings,
    fit_limits: FitLimits,
    random_state: int = 0,
    levels: Sequence[float] | None = None,
) -> HoldoutCheck:
    """Interval of the holdout's total repeat purchase periods, and whether it covered the actual.

    Parameters
    ----------
    fit : PurchaseModelFit
        The model fitted on the calibration period.
    customers : pandas.DataFrame
        :attr:`CLVBacktest.customers`: ``frequency``, ``recency``, ``T`` (days) and
        ``holdout_actual``.
    holdout_days : int
    settings : IntervalSettings
        ``resamples``, ``simulation_draws``, ``max_fit_customers`` and ``levels``.
    fit_limits : FitLimits
    random_state : int, default 0
    levels : sequence of float, optional
        Instead of ``settings.levels``.

    Returns
    -------
    HoldoutCheck
    """
    rng = np.random.default_rng(random_state)
    patterns = compress_customers(customers["frequency"], customers["recency"], customers["T"])
    draws = bootstrap_purchase(
        fit,
        resamples=settings.resamples,
        random_state=random_state,
        max_fit_customers=settings.max_fit_customers,
        fit_limits=fit_limits,
    )
    expected = float(fit._expected_purchases_unique(holdout_days, patterns) @ patterns.weight)
    totals = np.array(
        [
            purchase_with_params(fit, row)._expected_purchases_unique(holdout_days, patterns)
            @ patterns.weight
            for _, row in draws.params.iterrows()
        ]
    )
    # A draw whose predictions are not finite (lifetimes' BG/NBD formula with a + b < 1 for
    # customers without a repeat purchase) is left out and counted as failed.
    failed = draws.n_failed + int(np.count_nonzero(~np.isfinite(totals)))
    totals = totals[np.isfinite(totals)]
    unit = fit.time_unit_days
    alive = fit._on_unique(fit.fitter.conditional_probability_alive, patterns)[patterns.inverse]
    noise = np.array(
        [
            simulate_holdout_counts(
                fit,
                frequency=customers["frequency"].to_numpy(dtype=float),
                T=customers["T"].to_numpy(dtype=float) / unit,
                p_alive=alive,
                t=holdout_days / unit,
                rng=rng,
            ).sum()
            for _ in range(settings.simulation_draws)
        ]
    )
    predictive = (totals[:, None] + (noise - expected)[None, :]).ravel()
    actual = float(customers["holdout_actual"].sum())
    rows = {}
    for level in sorted(levels or settings.levels):
        low, high = np.quantile(predictive, [(1 - level) / 2, (1 + level) / 2])
        rows[float(level)] = {"low": low, "high": high, "covered": bool(low <= actual <= high)}
    intervals = pd.DataFrame.from_dict(rows, orient="index")
    intervals.index.name = "level"
    return HoldoutCheck(
        model=fit.model,
        actual=actual,
        expected=expected,
        intervals=intervals,
        holdout_days=int(holdout_days),
        period_days=fit.period_days,
        resamples=len(totals),
        simulation_draws=settings.simulation_draws,
        failed=failed,
    )


@dataclass(frozen=True)
class ProbabilityCalibration:
    """How well each source's probability of buying matched who bought in the holdout.

    Attributes
    ----------
    brier : pandas.DataFrame
        One row per source, best (lowest) first: ``"model"`` (the purchase model) and each
        scheme's name; columns ``brier`` and ``customers``.
    reliability : pandas.DataFrame
        The model's :func:`reliability_table` (empty without a model).
    model : str
        The purchase model, or "" when the CLV forecast was unavailable.
    horizon_days : int
    bought_share : float
        The share of the customers who bought in the holdout.
    """

    brier: pd.DataFrame
    reliability: pd.DataFrame
    model: str
    horizon_days: int
    bought_share: float


def probability_calibration(
    bought: pd.Series,
    *,
    bought_before: pd.Series,
    scheme_labels: Mapping[str, pd.Series],
    model_probability: pd.Series | None = None,
    model: str = "",
    horizon_days: int,
    bins: int = 10,
) -> ProbabilityCalibration:
    """Brier scores of the model and of each scheme's segment purchase rate, and the model's
    reliability curve, on the customers of ``bought``.

    Parameters
    ----------
    bought : pandas.Series of bool
        Per customer evaluated (the calibration day's buyers): bought in the holdout.
    bought_before : pandas.Series of bool
        Bought in the same number of days before the calibration day.
    scheme_labels : mapping of str to pandas.Series
        Each scheme's segment per customer, at the calibration day.
    model_probability : pandas.Series, optional
        The model's probability of buying in the holdout (:func:`buy_probability`).
    model : str, optional
    horizon_days : int
    bins : int, default 10

    Returns
    -------
    ProbabilityCalibration
    """
    index = bought.index
    outcome = bought.astype(bool)
    before = bought_before.reindex(index).fillna(False).astype(bool)
    rows: dict[str, dict[str, float]] = {}
    reliability = reliability_table([], [], bins=bins)
    if model_probability is not None:
        probability = model_probability.reindex(index).to_numpy(dtype=float)
        rows["model"] = {"brier": brier_score(probability, outcome), "customers": len(index)}
        reliability = reliability_table(probability, outcome, bins=bins)
    for name, segment in _on_index(scheme_labels, index).items():
        rate = segment_rate_probability(segment, before)
        rows[name] = {"brier": brier_score(rate, outcome), "customers": len(index)}
    brier = pd.DataFrame.from_dict(rows, orient="index", columns=["brier", "customers"])
    brier["customers"] = brier["customers"].astype(np.int64)
    brier = brier.sort_values("brier", kind="stable")
    brier.index.name = "source"
    return ProbabilityCalibration(
        brier=brier,
        reliability=reliability,
        model=model,
        horizon_days=int(horizon_days),
        bought_share=float(outcome.mean()) if len(outcome) else float("nan"),
    )
