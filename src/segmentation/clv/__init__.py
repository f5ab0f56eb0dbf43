"""Customer lifetime value: BG/NBD, Pareto/NBD or MBG/NBD purchases and Gamma-Gamma spend.

Fits on customers compressed to unique rows, the discounted CLV forecast, the holdout backtest
that picks a model, and a BG/NBD simulator; ``_lifetimes`` alone imports lifetimes.
"""

from __future__ import annotations

from segmentation.clv._backtest import (
    CLVBacktest,
    backtest_from_config,
    clv_backtest,
    default_backtest_dates,
)
from segmentation.clv._bootstrap import (
    BootstrapDraws,
    IntervalSettings,
    bootstrap_purchase,
    bootstrap_spend,
)
from segmentation.clv._calibration import (
    HoldoutCheck,
    ProbabilityCalibration,
    brier_score,
    buy_probability,
    holdout_check,
    probability_calibration,
    reliability_table,
    segment_rate_probability,
)
from segmentation.clv._choice import scheme_model, scheme_model_overrides
from segmentation.clv._compress import CustomerPatterns, compress_customers
from segmentation.clv._forecast import (
    DEFAULT_MIN_DROPOUT_PROBABILITY,
    DEFAULT_MONTH_DAYS,
    NO_DROPOUT,
    NOT_FINITE,
    CLVForecast,
    customer_clv,
    forecast_from_config,
)
from segmentation.clv._intervals import ForecastIntervals, forecast_intervals, interval_columns
from segmentation.clv._lifetimes import FitLimits, default_fit_limits
from segmentation.clv._lifetimes import _import_lifetimes as import_lifetimes
from segmentation.clv._month_fits import MonthCLVFits, month_clv_fits
from segmentation.clv._purchase import (
    DEFAULT_PENALIZERS,
    MODEL_NAMES,
    MODEL_TITLES,
    PARAMETER_NAMES,
    PARETO_FIT_OPTIONS,
    FitAttempt,
    PurchaseModelFit,
    fit_purchase_model,
    fit_purchase_rows,
)
from segmentation.clv._simulate import (
    benchmark_compressed_fit,
    lifetimes_summary,
)
from segmentation.clv._spend import SpendModelFit, fit_spend_model
from segmentation.errors import CLVFitError, CLVInputError, CLVUnavailableError

__all__ = [
    "DEFAULT_MIN_DROPOUT_PROBABILITY",
    "DEFAULT_MONTH_DAYS",
    "DEFAULT_PENALIZERS",
    "MODEL_NAMES",
    "MODEL_TITLES",
    "NOT_FINITE",
    "NO_DROPOUT",
    "PARAMETER_NAMES",
    "PARETO_FIT_OPTIONS",
    "BootstrapDraws",
    "CLVBacktest",
    "CLVFitError",
    "CLVForecast",
    "CLVInputError",
    "CLVUnavailableError",
    "CustomerPatterns",
    "FitAttempt",
    "FitLimits",
    "ForecastIntervals",
    "HoldoutCheck",
    "IntervalSettings",
    "MonthCLVFits",
    "ProbabilityCalibration",
    "PurchaseModelFit",
    "SpendModelFit",
    "backtest_from_config",
    "benchmark_compressed_fit",
    "bootstrap_purchase",
    "bootstrap_spend",
    "brier_score",
    "buy_probability",
    "clv_backtest",
    "compress_customers",
    "customer_clv",
    "default_backtest_dates",
    "default_fit_limits",
    "fit_purchase_model",
    "fit_purchase_rows",
    "fit_spend_model",
    "forecast_from_config",
    "forecast_intervals",
    "holdout_check",
    "import_lifetimes",
    "interval_columns",
    "lifetimes_summary",
    "month_clv_fits",
    "probability_calibration",
    "reliability_table",
    "scheme_model",
    "scheme_model_overrides",
    "segment_rate_probability",
]
