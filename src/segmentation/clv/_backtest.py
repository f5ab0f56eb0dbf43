"""The backtest: purchase models fitted on a calibration period and scored on the holdout.

Defaults: the backtest run by the CLI and the report counts purchase weeks
(``clv.backtest.period_days: 7``): it fits all three models on every customer, and weeks make
that fast at a million customers (:func:`segmentation.clv.benchmark_compressed_fit` measures
it). :func:`clv_backtest` itself defaults to days, the published route. The CLV schemes read
``clv.period_days``, which is 1: a scheme sees only the customer snapshot, which counts
purchase days, and purchase weeks cannot be recovered from it without the orders.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from segmentation.arrays import day_number, run_start_mask
from segmentation.clv._choice import _against_baseline, _choice_reason, _usable_fits
from segmentation.clv._compress import CustomerPatterns, compress_customers
from segmentation.clv._lifetimes import FitLimits, default_fit_limits
from segmentation.clv._purchase import (
    DEFAULT_PENALIZERS,
    MODEL_NAMES,
    PurchaseModelFit,
    _check_fit_options,
    _check_model,
    _check_period_days,
    _fit_purchase_patterns,
)
from segmentation.clv._spend import _json_float
from segmentation.config import config_section
from segmentation.errors import CLVFitError, CLVInputError
from segmentation.features import purchase_days

__all__ = [
    "CLVBacktest",
    "_calibration_summary",
    "backtest_from_config",
    "clv_backtest",
    "default_backtest_dates",
]


@dataclass(frozen=True)
class CLVBacktest:
    """Purchase models fitted on a calibration period and scored on the holdout after it.

    Attributes
    ----------
    calibration_end, holdout_end : pandas.Timestamp
        The last day of each period (both whole days included).
    time_unit_days : float
    period_days : int
        Days per purchase period (1: purchase days, 7: purchase weeks ending on
        ``calibration_end``); every count below is of purchase periods.
    holdout_days : int
    fits : dict of str to PurchaseModelFit
        Every model that converged, by name.
    failures : dict of str to str
        Models that could not be fitted, with the reason.
    metrics : pandas.DataFrame
        One row per model (see :func:`clv_backtest`).
    chosen : str
        The model with the smallest holdout MAE; among models tied within
        ``mae_tie_tolerance``, the first in ``MODEL_NAMES`` order.
    reason : str
        One line saying why, e.g. ``"Pareto/NBD: holdout MAE 0.610 vs BG/NBD 0.630 ..."``.
    customers : pandas.DataFrame
        Per cohort customer: calibration ``frequency``, ``recency``, ``T`` (days),
        ``holdout_actual`` and ``predicted_<model>``.
    tracking : pandas.DataFrame
        Per period end (``day``): ``actual`` cumulative repeat purchase periods of the cohort
        and ``expected_<model>`` (sum over customers of the expected purchases since their
        first purchase).
    by_frequency : pandas.DataFrame
        Holdout purchases per customer by calibration frequency (0 to 6 and "7+"): actual
        mean and ``predicted_<model>`` mean.
    """

    calibration_end: pd.Timestamp
    holdout_end: pd.Timestamp
    time_unit_days: float
    period_days: int
    holdout_days: int
    fits: dict[str, PurchaseModelFit]
    failures: dict[str, str]
    metrics: pd.DataFrame
    chosen: str
    reason: str
    customers: pd.DataFrame
    tracking: pd.DataFrame
    by_frequency: pd.DataFrame

    selection_metric: str = "mae"
    mae_tie_tolerance: float = 0.0

    @property
    def ranked(self) -> list[str]:
        """The usable models, smallest holdout MAE first (ties in ``MODEL_NAMES`` order)."""
        return _ranked(self.metrics.loc[list(self.fits), "mae"], self.mae_tie_tolerance)

    @property
    def tied(self) -> list[str]:
        """The models tied with the best (``mae_tie_tolerance``), in ``MODEL_NAMES`` order;
        just the chosen one when none ties with it."""
        return _tied(self.metrics.loc[list(self.fits), "mae"], self.mae_tie_tolerance)

    def to_dict(self) -> dict[str, Any]:
        """Dates, parameters, log-likelihoods and metrics as plain Python values (for JSON)."""
        models: dict[str, Any] = {}
        for name, fit in self.fits.items():
            entry = fit.summary()
            entry["metrics"] = {
                str(column): _json_value(self.metrics.at[name, column])
                for column in self.metrics.columns
            }
            models[name] = entry
        return {
            "calibration_end": self.calibration_end.strftime("%Y-%m-%d"),
            "holdout_end": self.holdout_end.strftime("%Y-%m-%d"),
            "time_unit_days": float(self.time_unit_days),
            "period_days": int(self.period_days),
            "holdout_days": int(self.holdout_days),
            "n_customers": len(self.customers),
            "chosen_model": self.chosen,
            "reason": self.reason,
            "selection_metric": "per-customer mean absolute error of holdout repeat purchases",
            "models": models,
            "failures": dict(self.failures),
        }


def _json_value(value: Any) -> Any:
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return _json_float(float(value))
    return value


def _purchase_periods(
    orders: pd.DataFrame, *, as_of: pd.Timestamp, anchor_day: int, period_days: int
) -> pd.DataFrame:
    """Unique (customer_id, day) of purchases up to ``as_of``, ``day`` the last of its period.

    Periods of ``period_days`` end on ``anchor_day``, the calibration end, as
    :func:`segmentation.features.repeat_purchase_summary` counts them; later ones follow on.
    Sorted by customer_id and day.
    """
    days = purchase_days(orders, as_of=as_of)
    customer = days["customer_id"]
    day = days["day"].to_numpy(dtype=np.int64)
    day = anchor_day - period_days * ((anchor_day - day) // period_days)
    # Sorted by customer and day, and moving a day to its period's end keeps that order: a
    # repeated (customer, period) is the row before it.
    keep = run_start_mask(customer)
    if len(day) > 1:
        keep[1:] |= day[1:] != day[:-1]
    return pd.DataFrame({"customer_id": customer[keep].reset_index(drop=True), "day": day[keep]})


def default_backtest_dates(
    orders: pd.DataFrame,
    *,
    holdout_days: int = 273,
    calibration_end: str | pd.Timestamp | None = None,
    holdout_end: str | pd.Timestamp | None = None,
) -> tuple[pd.Timestamp, pd.Timestamp]:
    """Backtest dates, filling in the ones not given.

    ``holdout_end`` defaults to the last order day and ``calibration_end`` to ``holdout_end``
    minus ``holdout_days``, shortened to half the days from the first order day to
    ``holdout_end`` (both included) when there are fewer than twice the holdout. On CDNOW
    (1997-01-01 to 1998-06-30, 546 days) this gives 1997-09-30, as in the papers.

    Parameters
    ----------
    orders : pandas.DataFrame
        Canonical orders.
    holdout_days : int, default 273
        39 weeks, as in Fader, Hardie & Lee (2005).
    calibration_end, holdout_end : str or pandas.Timestamp, optional
        Dates already chosen; returned as days.

    Returns
    -------
    (pandas.Timestamp, pandas.Timestamp)
        ``calibration_end``, ``holdout_end``.

    Raises
    ------
    CLVInputError
        A date that cannot be read, or a history too short to split.
    """
    cal_end = _parse_day(calibration_end, "calibration_end")
    hold_end = _parse_day(holdout_end, "holdout_end")
    stamps = orders.loc[orders["customer_id"].notna(), "order_ts"].dropna()
    if stamps.empty:
        raise CLVInputError("orders: no order with a customer_id and an order_ts to backtest on.")
    first = pd.Timestamp(stamps.min()).normalize()
    if hold_end is None:
        hold_end = pd.Timestamp(stamps.max()).normalize()
    if cal_end is None:
        days = (hold_end - first).days + 1  # both ends included
        holdout = min(int(holdout_days), days // 2)
        if holdout < 1:
            raise CLVInputError(
                f"orders: the order history from {first:%Y-%m-%d} to {hold_end:%Y-%m-%d} "
                f"holds {days} day(s); a backtest needs at least two days of history."
            )
        cal_end = hold_end - pd.Timedelta(days=holdout)
    return cal_end, hold_end


def _parse_day(value: str | pd.Timestamp | None, name: str) -> pd.Timestamp | None:
    if value is None:
        return None
    try:
        day = pd.Timestamp(value)
    except ValueError:
        day = None
    if day is None or pd.isna(day):
        raise CLVInputError(f"{name}: cannot read {value!r} as a date; use YYYY-MM-DD.")
    return day.normalize()


def _calibration_summary(
    orders: pd.DataFrame, *, calibration_end: pd.Timestamp, period_days: int
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """The backtest cohort's frequency, recency and T, with their purchase periods.

    The summary is :func:`segmentation.features.repeat_purchase_summary` (``as_of`` the
    calibration end, ``period_days``) restricted to those three columns (tests check it),
    counted from the calibration purchase periods the tracking curve needs anyway, which
    saves a second pass over the orders.

    Returns
    -------
    (pandas.DataFrame, numpy.ndarray, numpy.ndarray)
        The summary indexed by customer_id (sorted), the day of every calibration purchase
        period (sorted by customer and day), and which of those is a customer's first.
    """
    end_day = day_number(calibration_end)
    periods = _purchase_periods(
        orders, as_of=calibration_end, anchor_day=end_day, period_days=period_days
    )
    days = periods["day"].to_numpy(dtype=np.int64)
    # Sorted by customer and day: a customer's first period is the first of their rows and
    # their last period the row before the next customer's first.
    first_row = run_start_mask(periods["customer_id"])
    first = np.flatnonzero(first_row)
    last = np.append(first[1:], len(days))[: len(first)] - 1
    summary = pd.DataFrame(
        {
            "frequency": (last - first).astype(np.int64),
            "recency": (days[last] - days[first]).astype(float),
            "T": (end_day - days[first]).astype(float),
        },
        index=pd.Index(periods["customer_id"].iloc[first].array, name="customer_id"),
    )
    return summary, days, first_row


def clv_backtest(
    orders: pd.DataFrame,
    *,
    calibration_end: str | pd.Timestamp,
    holdout_end: str | pd.Timestamp,
    model: str = "auto",
    time_unit_days: float = 7.0,
    period_days: int = 1,
    penalizers: Sequence[float] = DEFAULT_PENALIZERS,
    min_repeat_customers: int = 30,
    fit_limits: FitLimits | None = None,
    mae_tie_tolerance: float = 1e-4,
) -> CLVBacktest:
    """Fit purchase models on a calibration period and score them on the holdout after it.

    The cohort is every customer whose first purchase is on or before ``calibration_end``;
    they are summarised with :func:`segmentation.features.repeat_purchase_summary` up to
    ``calibration_end``, in purchase periods of ``period_days`` ending on ``calibration_end``.
    Their holdout purchases are the purchase periods (of days as
    :func:`segmentation.features.order_purchases` nets orders) after ``calibration_end`` up to
    and including ``holdout_end``; the periods run on from ``calibration_end``, so none
    straddles it, and the last one may be cut short by ``holdout_end``.

    ``metrics`` has one row per model: ``log_likelihood``; ``holdout_actual`` and
    ``holdout_predicted`` (sum of conditional expectations) with ``holdout_error``
    (predicted / actual - 1); ``cumulative_actual`` and ``cumulative_expected`` at
    ``holdout_end`` from the tracking curve, with ``cumulative_error``; ``mae``, ``rmse`` and
    ``correlation`` of holdout purchases per customer; ``zero_repeat_customers`` with their
    ``zero_repeat_actual_mean`` and ``zero_repeat_predicted_mean``; and ``penalizer``.

    The model is chosen by the smallest ``mae``: the mean absolute error per customer of
    holdout repeat purchases, the error a per-customer ranking (CLV tiers, churn risk) makes.
    A model that does not converge, stops at ``fit_limits``, or whose holdout predictions
    are not finite is left out with its reason in ``failures``.

    Parameters
    ----------
    orders : pandas.DataFrame
        Canonical orders.
    calibration_end, holdout_end : str or pandas.Timestamp
        Last days of the two periods.
    model : {"auto", "bgnbd", "pareto", "mbgnbd"}, default "auto"
        ``"auto"`` fits all three and chooses; a name fits that one only.
    time_unit_days : float, default 7
        Days per model time unit; also the tracking period (rounded to whole periods).
    period_days : int, default 1
        1 counts purchase days, as the papers and the CDNOW figures do; 7 counts purchase
        weeks, which fits a million customers far faster (config
        ``clv.backtest.period_days``, 7 by default; see :mod:`segmentation.clv._compress`).
    penalizers, min_repeat_customers, fit_limits
        Passed to :func:`fit_purchase_model`; each model's fit has its own ``fit_limits``
        (the built-in config's ``clv.fit_limits`` when omitted).
    mae_tie_tolerance : float, default 1e-4
        Models whose MAE is within this relative tolerance of the smallest tie, and the
        first of them in ``MODEL_NAMES`` order is chosen (config
        ``clv.backtest.mae_tie_tolerance``): MAEs that agree to the fourth significant digit
        differ by the CPU's rounding, not by what the models say.

    Returns
    -------
    CLVBacktest

    References
    ----------
    Fader, P. S., Hardie, B. G. S. and Lee, K. L. (2005). "Counting Your Customers" the Easy
    Way: An Alternative to the Pareto/NBD Model. Marketing Science 24(2), 275-284.
    """
    _check_model(model, allow_auto=True)
    cal_end, hold_end = _backtest_period(calibration_end, holdout_end)
    holdout_days = (hold_end - cal_end).days
    _check_period_days(period_days)
    # Purchase periods: calibration from the calibration view, holdout from the holdout view,
    # so a refund booked after calibration_end does not rewrite the calibration period.
    cal_end_day = day_number(cal_end)
    hold_end_day = day_number(hold_end)
    cohort = _backtest_cohort(orders, calibration_end=cal_end, period_days=period_days)
    fits, failures = _fit_models(
        cohort,
        MODEL_NAMES if model == "auto" else (model,),
        model=model,
        time_unit_days=time_unit_days,
        period_days=period_days,
        penalizers=penalizers,
        min_repeat_customers=min_repeat_customers,
        fit_limits=fit_limits or default_fit_limits(),
    )
    holdout_counts, holdout_period_days = _holdout_periods(
        orders,
        cohort.summary.index,
        holdout_end=hold_end,
        anchor_day=cal_end_day,
        period_days=period_days,
    )
    actual = holdout_counts.astype(float)
    customers = _cohort_customers(cohort, actual)
    tracking, ends = _tracking_actual(
        cohort,
        holdout_period_days,
        calibration_day=cal_end_day,
        holdout_day=hold_end_day,
        step=period_days * max(1, round(time_unit_days / period_days)),
    )
    metrics = _score_models(
        fits,
        cohort,
        actual,
        customers,
        tracking,
        ends=ends,
        calibration_day=cal_end_day,
        holdout_days=holdout_days,
    )
    metrics = _against_baseline(metrics, _naive_baseline(cohort, holdout_days), actual)
    fits, failures = _usable_fits(fits, failures, metrics, customers)
    if not mae_tie_tolerance >= 0:
        raise CLVInputError(
            f"clv.backtest.mae_tie_tolerance must be 0 or more, got {mae_tie_tolerance!r}."
        )
    tied = _tied(metrics.loc[list(fits), "mae"], mae_tie_tolerance)
    chosen = tied[0]
    return CLVBacktest(
        calibration_end=cal_end,
        holdout_end=hold_end,
        time_unit_days=float(time_unit_days),
        period_days=period_days,
        holdout_days=holdout_days,
        fits=fits,
        failures=failures,
        metrics=metrics,
        chosen=chosen,
        reason=_choice_reason(
            chosen,
            metrics.loc[list(fits)],
            holdout_days,
            period_days,
            failures,
            tied=tied[1:],
            tolerance=mae_tie_tolerance,
        ),
        customers=customers,
        tracking=tracking,
        by_frequency=_by_frequency(customers, cohort.frequency, fits),
        mae_tie_tolerance=float(mae_tie_tolerance),
    )


def _backtest_period(
    calibration_end: str | pd.Timestamp, holdout_end: str | pd.Timestamp
) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The two dates as days, the holdout end after the calibration end."""
    cal_end = _parse_day(calibration_end, "calibration_end")
    hold_end = _parse_day(holdout_end, "holdout_end")
    if cal_end is None or hold_end is None:
        raise CLVInputError("clv_backtest needs calibration_end and holdout_end dates.")
    if hold_end <= cal_end:
        raise CLVInputError(
            f"holdout_end {hold_end:%Y-%m-%d} must be after calibration_end {cal_end:%Y-%m-%d}."
        )
    return cal_end, hold_end


@dataclass(frozen=True)
class _Cohort:
    """The backtest's customers at the calibration end.

    ``summary`` holds their frequency, recency and T (days) by customer_id; ``first_days``
    the day of each one's first purchase period, ``repeat_days`` the day of every repeat
    purchase period up to the calibration end.
    """

    summary: pd.DataFrame
    frequency: np.ndarray
    patterns: CustomerPatterns
    first_days: np.ndarray
    repeat_days: np.ndarray


def _backtest_cohort(
    orders: pd.DataFrame, *, calibration_end: pd.Timestamp, period_days: int
) -> _Cohort:
    summary, days, first_row = _calibration_summary(
        orders, calibration_end=calibration_end, period_days=period_days
    )
    f = summary["frequency"].to_numpy(dtype=np.int64)
    r = summary["recency"].to_numpy(dtype=float)
    t = summary["T"].to_numpy(dtype=float)
    # One compression serves every model and its predictions.
    patterns = compress_customers(f, r, t)
    return _Cohort(summary, f, patterns, days[first_row], days[~first_row])


def _fit_models(
    cohort: _Cohort,
    names: Sequence[str],
    *,
    model: str,
    time_unit_days: float,
    period_days: int,
    penalizers: Sequence[float],
    min_repeat_customers: int,
    fit_limits: FitLimits,
) -> tuple[dict[str, PurchaseModelFit], dict[str, str]]:
    """Every model of ``names`` that converges within ``fit_limits``, and the reason of each
    one that does not."""
    fits: dict[str, PurchaseModelFit] = {}
    failures: dict[str, str] = {}
    for name in names:
        started = time.perf_counter()
        _check_fit_options(name, period_days, time_unit_days)
        try:
            fits[name] = _fit_purchase_patterns(
                cohort.patterns,
                model=name,
                time_unit_days=time_unit_days,
                period_days=period_days,
                penalizers=penalizers,
                min_repeat_customers=min_repeat_customers,
                started=started,
                fit_limits=fit_limits,
            )
        except CLVFitError as error:
            failures[name] = str(error)
    if not fits:
        raise CLVFitError(
            "no purchase model could be fitted: " + " | ".join(failures.values()),
            model=model,
        )
    return fits, failures


def _holdout_periods(
    orders: pd.DataFrame,
    cohort_ids: pd.Index,
    *,
    holdout_end: pd.Timestamp,
    anchor_day: int,
    period_days: int,
) -> tuple[np.ndarray, np.ndarray]:
    """The cohort's purchase periods after ``anchor_day``: how many per customer, and their days.

    The days are those of the periods' ends, which may lie past ``holdout_end``.
    """
    later = _purchase_periods(
        orders, as_of=holdout_end, anchor_day=anchor_day, period_days=period_days
    )
    later = later.loc[later["day"].to_numpy() > anchor_day]
    # Look up each customer once, not each of their periods (the rows are sorted by customer).
    later_starts = np.flatnonzero(run_start_mask(later["customer_id"]))
    position = np.repeat(
        cohort_ids.get_indexer(pd.Index(later["customer_id"].iloc[later_starts].array)),
        np.diff(np.append(later_starts, len(later))),
    )
    later = later.loc[position >= 0]
    counts = np.bincount(position[position >= 0], minlength=len(cohort_ids))
    return counts, later["day"].to_numpy()


def _cohort_customers(cohort: _Cohort, actual: np.ndarray) -> pd.DataFrame:
    """Per cohort customer: calibration frequency, recency and T, and holdout purchases."""
    summary = cohort.summary
    return pd.DataFrame(
        {
            "frequency": cohort.frequency,
            "recency": summary["recency"].to_numpy(dtype=float),
            "T": summary["T"].to_numpy(dtype=float),
            "holdout_actual": actual.astype(np.int64),
        },
        index=summary.index,
    )


def _tracking_actual(
    cohort: _Cohort,
    holdout_period_days: np.ndarray,
    *,
    calibration_day: int,
    holdout_day: int,
    step: int,
) -> tuple[pd.DataFrame, np.ndarray]:
    """The cohort's cumulative repeat purchase periods at each tracking period end, and the ends.

    The ends are aligned on the calibration end so that every end closes whole periods; the
    last one is the holdout end.
    """
    start_day = int(cohort.first_days.min())
    first_end = calibration_day - step * ((calibration_day - start_day) // step)
    ends = np.arange(first_end, holdout_day + 1, step, dtype=np.int64)
    if ends[-1] != holdout_day:
        ends = np.append(ends, holdout_day)
    holdout_days_seen = np.minimum(holdout_period_days, holdout_day)
    repeat_days = np.sort(np.concatenate([cohort.repeat_days, holdout_days_seen]))
    tracking = pd.DataFrame(
        {
            "day": pd.to_datetime(ends, unit="D"),
            "actual": np.searchsorted(repeat_days, ends, side="right").astype(np.int64),
        },
        index=pd.RangeIndex(1, len(ends) + 1, name="period"),
    )
    tracking.attrs["calibration_period"] = int(np.searchsorted(ends, calibration_day, "right"))
    return tracking, ends


def _score_models(
    fits: Mapping[str, PurchaseModelFit],
    cohort: _Cohort,
    actual: np.ndarray,
    customers: pd.DataFrame,
    tracking: pd.DataFrame,
    *,
    ends: np.ndarray,
    calibration_day: int,
    holdout_days: int,
) -> pd.DataFrame:
    """Each model's metrics; adds its predictions to ``customers`` and its curve to ``tracking``."""
    first_values, first_counts = np.unique(cohort.first_days, return_counts=True)
    elapsed = ends[:, None] - first_values[None, :]
    rows: dict[str, dict[str, float]] = {}
    for name, fit in fits.items():
        predicted = fit._expected_purchases_unique(holdout_days, cohort.patterns)[
            cohort.patterns.inverse
        ]
        customers[f"predicted_{name}"] = predicted
        expected_curve = (
            fit.expected_purchases_since_first(np.maximum(elapsed, 0)) * first_counts
        ).sum(axis=1)
        tracking[f"expected_{name}"] = expected_curve
        expected_at_cal = float(
            (
                fit.expected_purchases_since_first(np.maximum(calibration_day - first_values, 0))
                * first_counts
            ).sum()
        )
        rows[name] = _model_metrics(
            fit, predicted, actual, cohort.frequency == 0, expected_curve, expected_at_cal, tracking
        )
    metrics = pd.DataFrame.from_dict(rows, orient="index")
    metrics.index.name = "model"
    for column in ("n_customers", "zero_repeat_customers"):
        metrics[column] = metrics[column].astype(np.int64)
    return metrics


def _model_metrics(
    fit: PurchaseModelFit,
    predicted: np.ndarray,
    actual: np.ndarray,
    zero: np.ndarray,
    expected_curve: np.ndarray,
    expected_at_cal: float,
    tracking: pd.DataFrame,
) -> dict[str, float]:
    """One row of :attr:`CLVBacktest.metrics` (see :func:`clv_backtest`)."""
    residual = predicted - actual
    with np.errstate(all="ignore"):
        corr = float(np.corrcoef(predicted, actual)[0, 1]) if len(actual) > 1 else np.nan
    return {
        "n_customers": float(len(actual)),
        "log_likelihood": fit.log_likelihood,
        "holdout_actual": float(actual.sum()),
        "holdout_predicted": float(predicted.sum()),
        "holdout_error": float(predicted.sum() / actual.sum() - 1.0)
        if actual.sum() > 0
        else np.nan,
        "holdout_expected_unconditional": float(expected_curve[-1] - expected_at_cal),
        "cumulative_actual": float(tracking["actual"].iloc[-1]),
        "cumulative_expected": float(expected_curve[-1]),
        "cumulative_error": float(expected_curve[-1] / tracking["actual"].iloc[-1] - 1.0)
        if tracking["actual"].iloc[-1] > 0
        else np.nan,
        "mae": float(np.mean(np.abs(residual))),
        "rmse": float(np.sqrt(np.mean(residual**2))),
        "correlation": corr,
        "zero_repeat_customers": float(np.count_nonzero(zero)),
        "zero_repeat_actual_mean": float(actual[zero].mean()) if zero.any() else np.nan,
        "zero_repeat_predicted_mean": float(predicted[zero].mean()) if zero.any() else np.nan,
        "penalizer": fit.penalizer,
    }


def _by_frequency(
    customers: pd.DataFrame, frequency: np.ndarray, fits: Mapping[str, PurchaseModelFit]
) -> pd.DataFrame:
    """Holdout purchases per customer by calibration frequency (0 to 6, "7+"), by model."""
    buckets = np.minimum(frequency, 7)
    labels = np.array([str(k) for k in range(7)] + ["7+"], dtype=object)[buckets]
    grouped = customers.assign(calibration_frequency=labels).groupby(
        "calibration_frequency", sort=False
    )
    by_frequency = grouped.agg(
        customers=("holdout_actual", "size"), actual=("holdout_actual", "mean")
    )
    for name in fits:
        by_frequency[f"predicted_{name}"] = grouped[f"predicted_{name}"].mean()
    order = [k for k in [*(str(k) for k in range(7)), "7+"] if k in by_frequency.index]
    return by_frequency.reindex(order)


def backtest_from_config(
    orders: pd.DataFrame,
    *,
    config: Mapping[str, Any],
    calibration_end: str | pd.Timestamp | None = None,
    holdout_end: str | pd.Timestamp | None = None,
    model: str | None = None,
    period_days: int | None = None,
) -> CLVBacktest:
    """:func:`clv_backtest` with every option the caller leaves out taken from the config.

    The dates default as :func:`default_backtest_dates` says (with ``clv.backtest.holdout_days``);
    the model and the purchase period come from ``clv.backtest``, the rest from ``clv``.

    Parameters
    ----------
    orders : pandas.DataFrame
        Canonical orders; rows after ``holdout_end`` are ignored.
    config : mapping
        :func:`segmentation.config.load_config` output.
    calibration_end, holdout_end : str or pandas.Timestamp, optional
    model : {"auto", "bgnbd", "pareto", "mbgnbd"}, optional
    period_days : int, optional

    Returns
    -------
    CLVBacktest
    """
    settings = config_section(config, "clv")
    backtest = settings["backtest"]
    calibration, holdout = default_backtest_dates(
        orders,
        holdout_days=int(backtest["holdout_days"]),
        calibration_end=calibration_end,
        holdout_end=holdout_end,
    )
    return clv_backtest(
        orders,
        calibration_end=calibration,
        holdout_end=holdout,
        model=model or str(backtest["model"]),
        time_unit_days=float(settings["time_unit_days"]),
        period_days=int(backtest["period_days"] if period_days is None else period_days),
        penalizers=[float(p) for p in settings["penalizers"]],
        min_repeat_customers=int(settings["min_repeat_customers"]),
        fit_limits=FitLimits.from_config(config),
        mae_tie_tolerance=float(backtest["mae_tie_tolerance"]),
    )


def _tie_limit(mae: pd.Series, tolerance: float) -> float:
    """The largest MAE that ties with the smallest."""
    return float(mae.min()) * (1.0 + tolerance)


def _ranked(mae: pd.Series, tolerance: float) -> list[str]:
    """Models by holdout MAE, those tied with the best first in ``MODEL_NAMES`` order.

    Only the best's ties are grouped: the others follow by MAE, so a chain of near-equal
    values cannot pull a worse model into first place."""
    mae = mae.astype(float)
    limit = _tie_limit(mae, tolerance)
    return sorted(
        (str(name) for name in mae.index),
        key=lambda name: (
            mae[name] > limit,
            0.0 if mae[name] <= limit else mae[name],
            MODEL_NAMES.index(name),
        ),
    )


def _tied(mae: pd.Series, tolerance: float) -> list[str]:
    """The best model and those tied with it, in ``MODEL_NAMES`` order: the head of
    :func:`_ranked`."""
    limit = _tie_limit(mae.astype(float), tolerance)
    return [name for name in _ranked(mae, tolerance) if float(mae[name]) <= limit]


def _naive_baseline(cohort: _Cohort, holdout_days: int) -> np.ndarray:
    """Each customer's past repeat-purchase rate (purchases per day since the first) times
    the holdout's length: what an analyst would forecast without a model."""
    summary = cohort.summary
    frequency = summary["frequency"].to_numpy(dtype=float)
    days = summary["T"].to_numpy(dtype=float)
    rate = np.divide(frequency, days, out=np.zeros_like(frequency), where=days > 0)
    return rate * holdout_days
