"""The CLV forecast: expected purchases, P(alive), expected spend and discounted CLV per buyer."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from segmentation.clv._compress import CustomerPatterns, compress_customers
from segmentation.clv._lifetimes import FitLimits, default_fit_limits
from segmentation.clv._purchase import (
    DEFAULT_PENALIZERS,
    PurchaseModelFit,
    _buyer_columns,
    _check_fit_options,
    _check_model,
    _fit_purchase_patterns,
)
from segmentation.clv._spend import _SPEND_BASES, SpendModelFit, fit_spend_model
from segmentation.config import config_section
from segmentation.errors import CLVFitError, CLVInputError, MissingColumnError

__all__ = [
    "DEFAULT_MIN_DROPOUT_PROBABILITY",
    "DEFAULT_MONTH_DAYS",
    "NOT_FINITE",
    "NO_DROPOUT",
    "CLVForecast",
    "customer_clv",
    "forecast_from_config",
]

DEFAULT_MONTH_DAYS = 365.25 / 12
#: Below this fitted mean probability of dropping out after a purchase, a BG/NBD or MBG/NBD
#: fit has not identified dropout (config ``clv.min_dropout_probability``).
DEFAULT_MIN_DROPOUT_PROBABILITY = 1e-6
#: The words of :class:`CLVFitError` that say why a model was passed over, so a report can
#: say the same in another language.
NO_DROPOUT = "dropout is not identified"
NOT_FINITE = "predictions are not finite"


@dataclass(frozen=True)
class CLVForecast:
    """Per-customer CLV and the models behind it.

    Attributes
    ----------
    table : pandas.DataFrame
        Indexed by customer_id, one row per customer who bought (potential customers have no
        CLV: the models start at a first purchase). Columns ``frequency``, ``recency``, ``T``
        (days), ``monetary_value``, ``expected_purchases`` (repeat purchase periods over the
        horizon, undiscounted), ``p_alive``, ``expected_avg_spend``, ``spend_basis``
        (``gamma_gamma`` or ``population_mean``) and ``clv`` (discounted).
    purchase_fit : PurchaseModelFit
    spend_fit : SpendModelFit
    horizon_days : float
    monthly_discount_rate : float
    month_days : float
    passed_over : dict of str to str
        Models tried before ``purchase_fit``'s and why each was not used
        (``clv.fallback_models``, :func:`forecast_from_config`); empty when the first served.
    """

    table: pd.DataFrame
    purchase_fit: PurchaseModelFit
    spend_fit: SpendModelFit
    horizon_days: float
    monthly_discount_rate: float
    month_days: float
    passed_over: dict[str, str] = field(default_factory=dict)


def customer_clv(
    snapshot_or_summary: pd.DataFrame,
    *,
    model: str | PurchaseModelFit = "mbgnbd",
    horizon_days: float = 365.0,
    monthly_discount_rate: float = 0.01,
    month_days: float = DEFAULT_MONTH_DAYS,
    spend_model: SpendModelFit | None = None,
    time_unit_days: float = 7.0,
    period_days: int = 1,
    penalizers: Sequence[float] = DEFAULT_PENALIZERS,
    min_repeat_customers: int = 30,
    fit_limits: FitLimits | None = None,
    min_dropout_probability: float = DEFAULT_MIN_DROPOUT_PROBABILITY,
) -> CLVForecast:
    """Expected purchases, P(alive), expected spend and discounted CLV per customer.

    The horizon is cut into months of ``month_days`` (the last one possibly shorter). The
    expected purchases of month ``k`` are ``E[X(t_k)] - E[X(t_{k-1})]`` from the purchase
    model's conditional expectation, valued at the Gamma-Gamma expected spend and discounted
    by ``(1 + monthly_discount_rate) ** k``. This is lifetimes'
    ``GammaGammaFitter.customer_lifetime_value`` (which takes a whole number of months and a
    fixed month of 4.345 weeks or 30 days), with the horizon in days.

    Parameters
    ----------
    snapshot_or_summary : pandas.DataFrame
        The customer snapshot or a repeat purchase summary (``frequency``, ``recency``,
        ``T`` in days, ``monetary_value``), indexed by customer_id.
    model : str or PurchaseModelFit, default "mbgnbd"
        A fitted model, or the name of one to fit on these customers. The defaults are
        those of the config's ``clv`` section (:func:`forecast_from_config`).
    horizon_days : float, default 365
    monthly_discount_rate : float, default 0.01
    month_days : float, default 365.25 / 12
    spend_model : SpendModelFit, optional
        Fitted on these customers when omitted.
    time_unit_days, period_days, penalizers, min_repeat_customers, fit_limits
        Passed to :func:`fit_purchase_model` and :func:`fit_spend_model` when they fit;
        ``period_days`` is taken from ``model`` when it is a fit.
    min_dropout_probability : float, default 1e-6
        A BG/NBD or MBG/NBD fit whose mean probability of dropping out after a purchase,
        ``a / (a + b)``, is below this has not identified dropout, and raises
        :class:`CLVFitError` (see :func:`_check_dropout_identified`).

    Returns
    -------
    CLVForecast

    Raises
    ------
    CLVUnavailableError, CLVFitError
        When a model cannot be fitted, a BG/NBD or MBG/NBD fit has not identified dropout,
        or a prediction is not finite (never returned as NaN).

    References
    ----------
    Fader, P. S., Hardie, B. G. S. and Lee, K. L. (2005). RFM and CLV: Using Iso-Value Curves
    for Customer Base Analysis. Journal of Marketing Research 42(4), 415-430.
    """
    _check_forecast_options(snapshot_or_summary, horizon_days, month_days, monthly_discount_rate)
    started = time.perf_counter()
    if isinstance(model, PurchaseModelFit):
        period_days = model.period_days
    rows = _buyer_columns(snapshot_or_summary, what="customer CLV", period_days=period_days)
    f = rows["frequency"].to_numpy(dtype=float)
    r = rows["recency"].to_numpy(dtype=float)
    t = rows["T"].to_numpy(dtype=float)
    m = rows["monetary_value"].to_numpy(dtype=float)
    # One compression serves the fit and every prediction (the model is the slow part).
    patterns = compress_customers(f, r, t)
    fit_limits = fit_limits or default_fit_limits()
    if isinstance(model, PurchaseModelFit):
        purchase_fit = model
    else:
        # fit_purchase_model on these rows, which are already checked and compressed.
        _check_fit_options(model, period_days, time_unit_days)
        purchase_fit = _fit_purchase_patterns(
            patterns,
            model=model,
            time_unit_days=time_unit_days,
            period_days=period_days,
            penalizers=penalizers,
            min_repeat_customers=min_repeat_customers,
            started=started,
            fit_limits=fit_limits,
        )
    _check_dropout_identified(purchase_fit, min_dropout_probability)
    if spend_model is None:
        spend_model = fit_spend_model(
            rows,
            penalizers=penalizers,
            min_repeat_customers=min_repeat_customers,
            fit_limits=fit_limits,
        )
    expected, discounted = _expected_purchases(
        purchase_fit,
        patterns,
        horizon_days=horizon_days,
        month_days=month_days,
        monthly_discount_rate=monthly_discount_rate,
    )
    p_alive = purchase_fit._on_unique(purchase_fit.fitter.conditional_probability_alive, patterns)
    spend, usable = spend_model._expected_average_spend(f, m)
    table = pd.DataFrame(
        {
            "frequency": f.astype(np.int64),
            "recency": r,
            "T": t,
            "monetary_value": m,
            "expected_purchases": expected,
            "p_alive": p_alive[patterns.inverse],
            "expected_avg_spend": spend,
            "spend_basis": pd.Categorical.from_codes(
                np.where(usable, 0, 1).astype(np.int8), categories=pd.Index(_SPEND_BASES)
            ),
            "clv": spend * discounted,
        },
        index=rows.index,
    )
    _check_finite(table, purchase_fit)
    return CLVForecast(
        table=table,
        purchase_fit=purchase_fit,
        spend_fit=spend_model,
        horizon_days=float(horizon_days),
        monthly_discount_rate=float(monthly_discount_rate),
        month_days=float(month_days),
    )


def _check_forecast_options(
    frame: pd.DataFrame, horizon_days: float, month_days: float, monthly_discount_rate: float
) -> None:
    if not horizon_days > 0:
        raise CLVInputError(f"horizon_days must be positive, got {horizon_days}.")
    if not month_days > 0:
        raise CLVInputError(f"month_days must be positive, got {month_days}.")
    if not monthly_discount_rate > -1:
        raise CLVInputError(
            f"monthly_discount_rate must be above -1, got {monthly_discount_rate}; "
            "0.01 means 1% a month."
        )
    if "monetary_value" not in frame.columns:
        raise MissingColumnError(
            "customer CLV: missing column 'monetary_value'; pass the customer snapshot or "
            "features.repeat_purchase_summary."
        )


def _expected_purchases(
    purchase_fit: PurchaseModelFit,
    patterns: CustomerPatterns,
    *,
    horizon_days: float,
    month_days: float,
    monthly_discount_rate: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Per customer: expected purchases over the horizon, and their discounted sum by month."""
    n_months = max(1, math.ceil(horizon_days / month_days - 1e-9))
    boundaries = np.minimum(np.arange(1, n_months + 1) * month_days, horizon_days)
    # Expected purchases up to each month end, on the unique rows.
    cumulative = purchase_fit._expected_purchases_by_day(boundaries, patterns)
    monthly = np.diff(np.column_stack([np.zeros(len(patterns)), cumulative]), axis=1)
    discount = (1.0 + monthly_discount_rate) ** -np.arange(1, n_months + 1, dtype=float)
    return cumulative[:, -1][patterns.inverse], (monthly @ discount)[patterns.inverse]


def _check_dropout_identified(purchase_fit: PurchaseModelFit, minimum: float) -> None:
    """Refuse a BG/NBD or MBG/NBD fit that has not identified dropout.

    Each customer's dropout probability after a purchase follows Beta(a, b). When the data
    show no customer leaving, the fit drives its mean ``a / (a + b)`` to 0 and the
    likelihood goes flat along ``b``: where the optimiser stops on that ridge depends on the
    last bits of the arithmetic, so on the CPU. lifetimes' predictions do depend on ``b``
    there: on Online Retail's purchase days as of 2011-11-30 (all three models find no
    dropout), BG/NBD stopped at b = 2.8e-08 on one machine, where its conditional
    expectation is not finite for 1,126 buyers without a repeat purchase (``hyp2f1``'s
    ``c = a + b + x - 1`` near -1), and at b = 17,097 on another, where it is finite; past
    b = 1e7 it is finite and wrong (28 times too large at b = 1e9 on the tests' sample).
    Refusing the fit makes the choice the same on every machine. Pareto/NBD is not refused:
    with its s near 0, its predictions move by 1e-9 relative over four orders of magnitude
    of beta on the same data (1.2e-5 over two on the tests' CDNOW sample), and stay finite.
    """
    if purchase_fit.model not in ("bgnbd", "mbgnbd"):
        return
    a, b = (float(purchase_fit.fitter.params_[name]) for name in ("a", "b"))
    mean = a / (a + b)
    if not mean >= minimum:
        raise CLVFitError(
            f"{purchase_fit.title}: {NO_DROPOUT}: the fitted mean probability "
            f"of dropping out after a purchase, a / (a + b) = {mean:.2g} (a = {a:.3g}, "
            f"b = {b:.3g}), is below clv.min_dropout_probability ({minimum:g}). The data "
            "show no customer leaving, so b is arbitrary and the predictions depend on it; "
            "CLV is unavailable with this model. Pareto/NBD's predictions barely move along "
            "its own such ridge: try it.",
            model=purchase_fit.model,
        )


def _check_finite(table: pd.DataFrame, purchase_fit: PurchaseModelFit) -> None:
    numeric = table[["expected_purchases", "p_alive", "expected_avg_spend", "clv"]].to_numpy()
    bad = ~np.isfinite(numeric).all(axis=1)
    if bad.any():
        raise CLVFitError(
            f"{purchase_fit.title}: {NOT_FINITE} for {int(bad.sum()):,} of "
            f"{len(table):,} customers (e.g. customer_id {table.index[bad][:3].tolist()}); CLV "
            "is unavailable with this model rather than returned as NaN. Try another model.",
            model=purchase_fit.model,
        )


def forecast_from_config(snapshot: pd.DataFrame, *, config: Mapping[str, Any]) -> CLVForecast:
    """:func:`customer_clv` with every option from the config's ``clv`` section.

    The CLV schemes' forecast: the model is ``clv.model`` (``clv.model_without_backtest`` when
    it is ``auto`` and no backtest resolved it, see :func:`scheme_model`), checked before the
    data is read. When that model's fit fails or its predictions are not finite, the models
    of ``clv.fallback_models`` are tried in turn, and the forecast records why each model
    before the one used was passed over.

    Parameters
    ----------
    snapshot : pandas.DataFrame
        The customer snapshot.
    config : mapping
        :func:`segmentation.config.load_config` output.

    Returns
    -------
    CLVForecast

    Raises
    ------
    CLVInputError
        An unknown ``clv.model`` or ``clv.fallback_models`` entry.
    CLVUnavailableError
        As :func:`customer_clv` (too few repeat buyers: no model would do).
    CLVFitError
        When every model tried fails; the message names each model's reason.
    """
    settings = config_section(config, "clv")
    model = str(settings["model"])
    if model == "auto":  # no backtest has resolved it: the documented stand-in
        model = str(settings["model_without_backtest"])
    models = list(dict.fromkeys([model, *(str(name) for name in settings["fallback_models"])]))
    for name in models:
        _check_model(name, allow_auto=False)
    passed_over: dict[str, str] = {}
    for name in models:
        try:
            forecast = customer_clv(
                snapshot,
                model=name,
                horizon_days=float(settings["horizon_days"]),
                monthly_discount_rate=float(settings["monthly_discount_rate"]),
                month_days=float(settings["month_days"]),
                time_unit_days=float(settings["time_unit_days"]),
                period_days=int(settings["period_days"]),
                penalizers=[float(p) for p in settings["penalizers"]],
                min_repeat_customers=int(settings["min_repeat_customers"]),
                fit_limits=FitLimits.from_config(config),
                min_dropout_probability=float(settings["min_dropout_probability"]),
            )
        except CLVFitError as error:
            if len(models) == 1:  # nothing to fall back on: the model's own words suffice
                raise
            passed_over[name] = str(error)
            continue
        return replace(forecast, passed_over=passed_over)
    raise CLVFitError(
        "no purchase model gave a usable forecast: " + "; ".join(passed_over.values()),
        model=model,
    )
