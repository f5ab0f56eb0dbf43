"""Choosing the purchase model: which fits are usable, the naive baseline they must beat,
the reason given for the choice, and the model the CLV schemes use."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from segmentation.clv._purchase import (
    MODEL_NAMES,
    MODEL_TITLES,
    PurchaseModelFit,
    _check_model,
    _period_name,
)
from segmentation.config import config_section
from segmentation.errors import CLVFitError

if TYPE_CHECKING:
    from segmentation.clv._backtest import CLVBacktest

__all__ = [
    "_against_baseline",
    "_choice_reason",
    "_usable_fits",
    "scheme_model",
    "scheme_model_overrides",
]


def scheme_model(
    config: Mapping[str, Any], backtest: CLVBacktest | None, *, unavailable: str = ""
) -> tuple[str, str]:
    """The purchase model the CLV schemes use, and why, in one English line.

    ``clv.model`` pinned to a model wins; ``auto`` takes the backtest's choice, or
    ``clv.model_without_backtest`` when the backtest could not run.

    Parameters
    ----------
    config : mapping
        :func:`segmentation.config.load_config` output.
    backtest : CLVBacktest or None
        The month's backtest; None when it could not run.
    unavailable : str, optional
        Why the backtest could not run.

    Returns
    -------
    model : str
    reason : str
    """
    settings = config_section(config, "clv")
    pinned = str(settings["model"])
    if pinned != "auto":
        _check_model(pinned, allow_auto=False)
        return pinned, f"{MODEL_TITLES[pinned]}: pinned by the config (clv.model)"
    if backtest is not None:
        return backtest.chosen, f"{MODEL_TITLES[backtest.chosen]}: chosen by the backtest"
    stand_in = str(settings["model_without_backtest"])
    return stand_in, (
        f"{MODEL_TITLES[stand_in]}: clv.model_without_backtest, as the backtest could not run"
        + (f" ({unavailable})" if unavailable else "")
    )


def scheme_model_overrides(
    config: Mapping[str, Any], backtest: CLVBacktest | None, *, unavailable: str = ""
) -> tuple[dict[str, Any], str]:
    """The ``clv`` config overrides that give the CLV schemes their model, and why.

    :func:`scheme_model`'s model, and with ``clv.model: auto`` the backtest's other usable
    models as ``clv.fallback_models``, best first: a model that fits the purchase weeks of the
    backtest can still fail on the schemes' purchase days, with non-finite predictions or no
    dropout found (Online Retail 2011-11: the three models tie and BG/NBD, first in a tie,
    finds none), and the next best is then used, with the reason
    (:func:`segmentation.clv.forecast_from_config`).

    Parameters
    ----------
    config : mapping
        :func:`segmentation.config.load_config` output.
    backtest : CLVBacktest or None
        The month's backtest; None when it could not run.
    unavailable : str, optional
        Why the backtest could not run.

    Returns
    -------
    overrides : dict
        ``{"clv": {"model": ..., "fallback_models": [...]}}`` for
        :func:`segmentation.config.merge_config`.
    reason : str
    """
    model, reason = scheme_model(config, backtest, unavailable=unavailable)
    auto = str(config_section(config, "clv")["model"]) == "auto"
    fallbacks = [name for name in backtest.ranked if name != model] if auto and backtest else []
    return {"clv": {"model": model, "fallback_models": fallbacks}}, reason


def _against_baseline(
    metrics: pd.DataFrame, baseline: np.ndarray, actual: np.ndarray
) -> pd.DataFrame:
    """``metrics`` with the naive baseline's holdout MAE and whether each model beats it."""
    baseline_mae = float(np.mean(np.abs(baseline - actual))) if len(actual) else np.nan
    out = metrics.copy()
    out["baseline_mae"] = baseline_mae
    out["beats_baseline"] = out["mae"].to_numpy(dtype=float) < baseline_mae
    return out


def _usable_fits(
    fits: Mapping[str, PurchaseModelFit],
    failures: Mapping[str, str],
    metrics: pd.DataFrame,
    customers: pd.DataFrame,
) -> tuple[dict[str, PurchaseModelFit], dict[str, str]]:
    """The fits whose holdout predictions and error are finite; the others become failures.

    A comparison with NaN is always false, so a model with a NaN error would otherwise win
    ``min``: it is unavailable instead, with the reason.

    Raises
    ------
    CLVFitError
        When no model has finite holdout metrics.
    """
    usable, failed = {}, dict(failures)
    for name, fit in fits.items():
        predicted = customers[f"predicted_{name}"].to_numpy(dtype=float)
        mae = float(metrics["mae"].to_numpy(dtype=float)[metrics.index.get_loc(name)])
        if np.isfinite(mae) and np.isfinite(predicted).all():
            usable[name] = fit
        else:
            failed[name] = (
                f"{MODEL_TITLES[name]}: holdout predictions are not finite (MAE {mae}); "
                "the model is left out"
            )
    if not usable:
        raise CLVFitError(
            "CLV backtest: no purchase model gave finite holdout predictions: "
            + "; ".join(failed.values()),
            model=",".join(fits),
        )
    return usable, failed


def _choice_reason(
    chosen: str,
    metrics: pd.DataFrame,
    holdout_days: int,
    period_days: int,
    failures: Mapping[str, str],
    *,
    tied: Sequence[str] = (),
    tolerance: float = 0.0,
) -> str:
    title = MODEL_TITLES[chosen]
    maes = dict(zip(metrics.index, metrics["mae"].to_numpy(dtype=float), strict=True))
    mae = maes[chosen]
    others = [
        f"{MODEL_TITLES[str(name)]} {value:.3f}" for name, value in maes.items() if name != chosen
    ]
    period = _period_name(period_days)
    basis = (
        f"(mean absolute error per customer of repeat purchase {period}s in the "
        f"{holdout_days}-day holdout; lower is better)"
    )
    if not others:
        reason = f"{title}: the only model fitted; holdout MAE {mae:.3f} {basis}"
    else:
        reason = f"{title}: holdout MAE {mae:.3f} vs {', '.join(others)} {basis}"
    if tied:
        names = ", ".join(MODEL_TITLES[name] for name in tied)
        reason += (
            f"; {names} tie with it (MAE within {tolerance:.2%}, "
            "clv.backtest.mae_tie_tolerance), and it comes first in the order "
            + ", ".join(MODEL_TITLES[name] for name in MODEL_NAMES)
        )
    baseline = float(metrics["baseline_mae"].to_numpy(dtype=float)[0])
    verdict = "beats" if mae < baseline else "does not beat"
    reason += (
        f"; it {verdict} the naive baseline (each customer's past rate × the holdout), "
        f"MAE {baseline:.3f}"
    )
    if failures:
        reason += "; not fitted or left out: " + ", ".join(MODEL_TITLES[name] for name in failures)
    return reason
