"""Every CLV fit of a month's analysis in one call: the backtest that picks the model, and
the forecast the CLV tiers fit on each snapshot with it.

Nothing else in the analysis feeds them, and they are numpy and scipy alone (no OpenMP), so
the analysis hands this call to a forked child process (:class:`segmentation.forked.
ForkedCall`) while it computes the outcomes and the drivers: about 12 s of a million
customers' analysis on the other core.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from segmentation.clv._backtest import CLVBacktest, backtest_from_config
from segmentation.clv._choice import scheme_model_overrides
from segmentation.clv._forecast import CLVForecast, forecast_from_config
from segmentation.config import Settings, merge_config
from segmentation.errors import CLVFitError, CLVUnavailableError, SegmentationInputError

__all__ = ["MonthCLVFits", "month_clv_fits"]


@dataclass(frozen=True)
class MonthCLVFits:
    """The CLV backtest, the model it chose for the schemes, and each snapshot's forecast.

    Attributes
    ----------
    backtest : CLVBacktest or None
        None when the history cannot support one (``unavailable`` says why).
    unavailable : str
        Why there is no backtest; empty when there is one.
    model_overrides : dict
        The config to merge for the schemes (``clv.model``: the backtest's choice).
    model_reason : str
        Why that model, as the report says it.
    forecasts : dict of pandas.Timestamp to CLVForecast or str
        Each snapshot's forecast with that config, as the CLV tiers fit it, or the reason the
        data could not support one (the message of the CLV error it raised).
    seconds : dict of str to float
        Wall seconds of the backtest and of the forecasts.
    """

    backtest: CLVBacktest | None
    unavailable: str
    model_overrides: dict[str, Any]
    model_reason: str
    forecasts: dict[pd.Timestamp, CLVForecast | str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


def month_clv_fits(
    orders: pd.DataFrame,
    snapshots: Mapping[pd.Timestamp, pd.DataFrame],
    *,
    days: Sequence[pd.Timestamp],
    config: Mapping[str, Any],
    holdout_end: pd.Timestamp,
) -> MonthCLVFits:
    """The month's CLV backtest (its holdout ending on ``holdout_end``), and the forecast of
    each of ``days``' snapshots with the model it chose.

    Parameters
    ----------
    orders : pandas.DataFrame
        Canonical orders.
    snapshots : mapping of pandas.Timestamp to pandas.DataFrame
        :func:`segmentation.features.customer_snapshot` by as-of day.
    days : sequence of pandas.Timestamp
        The snapshots to forecast, in the order the schemes run on them.
    config : mapping
        :func:`segmentation.config.load_config`.
    holdout_end : pandas.Timestamp
        The report's as-of day.

    Returns
    -------
    MonthCLVFits
        Each forecast is what :func:`segmentation.schemes.clv_tiers.clv_tier_scheme` fits on
        that snapshot with the schemes' config, to the bit.
    """
    began = time.perf_counter()
    try:
        backtest, unavailable = (
            backtest_from_config(orders, config=config, holdout_end=holdout_end),
            "",
        )
    except SegmentationInputError as error:
        # Too short a history or too few repeat buyers: the report says so instead.
        backtest, unavailable = None, str(error)
    overrides, reason = scheme_model_overrides(config, backtest, unavailable=unavailable)
    backtest_seconds = time.perf_counter() - began
    schemes_config = Settings(merge_config(config, overrides))
    forecasts: dict[pd.Timestamp, CLVForecast | str] = {}
    for day in days:
        try:
            forecasts[day] = forecast_from_config(snapshots[day], config=schemes_config)
        except (CLVUnavailableError, CLVFitError) as error:
            forecasts[day] = str(error)
    return MonthCLVFits(
        backtest=backtest,
        unavailable=unavailable,
        model_overrides=overrides,
        model_reason=reason,
        forecasts=forecasts,
        seconds={
            "clv_backtest": backtest_seconds,
            "clv_forecasts": time.perf_counter() - began - backtest_seconds,
        },
    )
