"""The CLV schemes: CLV tiers (低/中/高价值) and churn risk (高/中/低风险) from the CLV forecast.

Both fit :func:`segmentation.clv.forecast_from_config` on the snapshot's buyers (churn risk
reuses the ``p_alive`` column the registry adds from the CLV tiers' forecast); customers who
never bought are their own lowest segment, ``potential``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from segmentation.clv import CLVForecast, forecast_from_config
from segmentation.errors import (
    CLVFitError,
    CLVInputError,
    CLVUnavailableError,
    SchemeUnavailable,
)
from segmentation.schemes.base import (
    Segmentation,
    config_section,
    config_segments,
    make_segmentation,
)

__all__ = ["CLV_SCHEMES", "churn_risk_scheme", "clv_tier_scheme", "forecast_positions"]


def _increasing_pair(value: Any, *, where: str) -> tuple[float, float]:
    try:
        low, high = (float(v) for v in value)
    except (TypeError, ValueError):
        raise CLVInputError(
            f"config {where}: expected two numbers such as [0.5, 0.8], found {value!r}."
        ) from None
    if not 0 < low < high < 1:
        raise CLVInputError(
            f"config {where}: expected two increasing numbers between 0 and 1, found {value!r}."
        )
    return low, high


def _forecast(
    snapshot: pd.DataFrame,
    config: Mapping[str, Any],
    *,
    scheme: str,
    computed: CLVForecast | str | None = None,
) -> CLVForecast:
    """The snapshot's forecast: ``computed`` when given (a string is the reason there is
    none), else fitted here."""
    if isinstance(computed, str):
        raise SchemeUnavailable(scheme, computed)
    if computed is not None:
        return computed
    try:
        return forecast_from_config(snapshot, config=config)
    except (CLVUnavailableError, CLVFitError) as error:
        raise SchemeUnavailable(scheme, str(error)) from error


def forecast_positions(snapshot: pd.DataFrame, table: pd.DataFrame) -> np.ndarray:
    """The snapshot's row of each row of a CLV forecast's ``table``.

    Parameters
    ----------
    snapshot : pandas.DataFrame
        The snapshot the forecast was made from.
    table : pandas.DataFrame
        :attr:`segmentation.clv.CLVForecast.table`, indexed by customer_id.

    Returns
    -------
    numpy.ndarray
        ``snapshot.index[positions]`` equals ``table.index``; -1 for an id the snapshot
        does not hold.

    Raises
    ------
    CLVInputError
        When the snapshot's index has duplicates.
    """
    if not snapshot.index.is_unique:
        raise CLVInputError("snapshot: customer_id (the index) has duplicates.")
    # The forecast's rows are the snapshot's buyers in snapshot order (customer_clv): when
    # that checks out, their positions are the buyers' mask, with no lookup of a million ids.
    buyers = snapshot["T"].notna().to_numpy(dtype=bool)
    if "is_potential" in snapshot.columns:
        buyers = buyers & ~snapshot["is_potential"].fillna(False).astype(bool).to_numpy(dtype=bool)
    positions = np.flatnonzero(buyers)
    if snapshot.index[positions].equals(table.index):
        return positions
    return snapshot.index.get_indexer(table.index)


def _forecast_details(forecast: CLVForecast) -> dict[str, Any]:
    return {
        "purchase_model": forecast.purchase_fit.summary(),
        "spend_model": forecast.spend_fit.summary(),
        "horizon_days": forecast.horizon_days,
        "monthly_discount_rate": forecast.monthly_discount_rate,
        "customer_clv": forecast.table,
        "passed_over": dict(forecast.passed_over),
        "forecast": forecast,  # the fits themselves: the forecast intervals resample them
    }


def clv_tier_scheme(
    snapshot: pd.DataFrame,
    *,
    config: Mapping[str, Any],
    random_state: int = 0,
    previous: Segmentation | None = None,
    forecast: CLVForecast | str | None = None,
) -> Segmentation:
    """CLV tiers 低/中/高价值 from the discounted CLV of each buyer; 潜在客户 below them.

    ``config["clv_tier"]["method"]`` is ``"quantile"`` (CLV below the first quantile of
    ``quantiles`` is low, from the second on high) or ``"cumulative_share"`` (customers in
    descending CLV order: those holding the first ``cumulative_shares[0]`` of total CLV are
    high, the next ``cumulative_shares[1]`` mid, the rest low). Potential customers, who never
    bought, have no CLV under these models, which start at a first purchase: they are their
    own lowest segment, ``potential``.

    Parameters
    ----------
    snapshot : pandas.DataFrame
        The customer snapshot.
    config : mapping
        :func:`segmentation.config.load_config` output (sections ``clv`` and ``clv_tier``).
    random_state : int, default 0
        Unused: the fit is deterministic.
    previous : Segmentation, optional
        Unused: tiers are recomputed from this snapshot.
    forecast : CLVForecast or str, optional
        The snapshot's :func:`segmentation.clv.forecast_from_config` with this ``config``,
        computed elsewhere (the month's analysis fits it in a forked child), or the reason
        the data could not support one; fitted here when omitted.

    Returns
    -------
    Segmentation
        ``details`` holds the thresholds, both models' parameters and the per-customer
        ``customer_clv`` table.

    Raises
    ------
    SchemeUnavailable
        Too few repeat buyers, or a model that cannot be fitted.
    """
    section = config_section(config, "clv_tier")
    forecast = _forecast(snapshot, config, scheme="clv_tier", computed=forecast)
    segments = config_segments(config, "clv_tier", ["potential", "low", "mid", "high"])
    clv = forecast.table["clv"].to_numpy(dtype=float)
    method = str(section["method"])
    if method == "quantile":
        q_low, q_high = _increasing_pair(section["quantiles"], where="clv_tier.quantiles")
        low_cut, high_cut = (float(v) for v in np.quantile(clv, [q_low, q_high]))
        # 0, 1 or 2 cuts reached; picking from three objects makes no string per customer.
        reached = (clv >= low_cut).astype(np.int8) + (clv >= high_cut)
        tiers = np.array(["low", "mid", "high"], dtype=object)[reached]
        thresholds = {"quantiles": [q_low, q_high], "clv_cuts": [low_cut, high_cut]}
    elif method == "cumulative_share":
        shares = [float(v) for v in section["cumulative_shares"]]
        if len(shares) != 3 or min(shares) < 0 or not math.isclose(sum(shares), 1.0):
            raise CLVInputError(
                "config clv_tier.cumulative_shares: expected three shares (high, mid, low) "
                f"summing to 1, such as [0.7, 0.2, 0.1], found {shares!r}."
            )
        order = np.argsort(-clv, kind="stable")
        total = float(clv.sum())
        # A customer belongs to the tier in which their CLV starts, so the top one is high.
        before = (np.cumsum(clv[order]) - clv[order]) / total if total > 0 else np.ones(len(clv))
        ranked = np.where(
            before < shares[0], "high", np.where(before < shares[0] + shares[1], "mid", "low")
        )
        tiers = np.empty(len(clv), dtype=object)
        tiers[order] = ranked
        thresholds = {"cumulative_shares": shares}
    else:
        raise CLVInputError(
            f"config clv_tier.method: {method!r} is not known; use quantile or cumulative_share."
        )
    keys = np.full(len(snapshot), "potential", dtype=object)
    keys[forecast_positions(snapshot, forecast.table)] = tiers
    title = section["title"]
    return make_segmentation(
        scheme="clv_tier",
        title=title,
        snapshot=snapshot,
        keys=keys,
        segments=segments,
        details={"method": method, **thresholds, **_forecast_details(forecast)},
    )


def churn_risk_scheme(
    snapshot: pd.DataFrame,
    *,
    config: Mapping[str, Any],
    random_state: int = 0,
    previous: Segmentation | None = None,
) -> Segmentation:
    """Churn risk 高/中/低风险 from each buyer's P(alive); 潜在客户 below them.

    P(alive) below ``config["churn_risk"]["p_alive_thresholds"][0]`` is high risk, from the
    second threshold on low risk. Categories run from the lowest value up: ``potential``,
    ``high_risk``, ``mid_risk``, ``low_risk``. Under BG/NBD every one-time buyer has
    P(alive) = 1 (the model lets customers drop out only after a repeat purchase), so they
    would all be low risk; Pareto/NBD and MBG/NBD, the default, do not have this property.
    When the snapshot already has a ``p_alive`` column (the registry adds the ``clv_tier``
    forecast), it is used as it is instead of fitting the same model a second time.

    Parameters
    ----------
    snapshot : pandas.DataFrame
        The customer snapshot.
    config : mapping
        :func:`segmentation.config.load_config` output (sections ``clv`` and ``churn_risk``).
    random_state : int, default 0
        Unused: the fit is deterministic.
    previous : Segmentation, optional
        Unused.

    Returns
    -------
    Segmentation
        ``details`` holds the ``p_alive_thresholds`` and the purchase ``model`` whose
        P(alive) it used.

    Raises
    ------
    SchemeUnavailable
        Too few repeat buyers, or a model that cannot be fitted.
    """
    section = config_section(config, "churn_risk")
    low, high = _increasing_pair(
        section["p_alive_thresholds"], where="churn_risk.p_alive_thresholds"
    )
    segments = config_segments(
        config, "churn_risk", ["potential", "high_risk", "mid_risk", "low_risk"]
    )
    keys = np.full(len(snapshot), "potential", dtype=object)
    details: dict[str, Any] = {"p_alive_thresholds": [low, high]}
    if "p_alive" in snapshot.columns:
        # The registry passes on the clv_tier forecast: one fit serves both schemes.
        p_alive_given = snapshot["p_alive"].to_numpy(dtype=float)
        buyers = np.flatnonzero(~np.isnan(p_alive_given))
        p_alive = p_alive_given[buyers]
        settings = config_section(config, "clv")
        model = str(settings["model"])
        if model == "auto":
            model = str(settings["model_without_backtest"])
        details["p_alive_source"] = "snapshot column p_alive (the clv_tier forecast)"
    else:
        forecast = _forecast(snapshot, config, scheme="churn_risk")
        p_alive = forecast.table["p_alive"].to_numpy(dtype=float)
        buyers = forecast_positions(snapshot, forecast.table)
        model = forecast.purchase_fit.model
        details.update(_forecast_details(forecast))
    details["model"] = model
    # 0, 1 or 2 thresholds not undercut (NaN undercuts none, as np.where would have it).
    reached = (~(p_alive < low)).astype(np.int8) + ~(p_alive < high)
    keys[buyers] = np.array(["high_risk", "mid_risk", "low_risk"], dtype=object)[reached]
    if model == "bgnbd":
        details["note_en"] = "BG/NBD gives every one-time buyer P(alive) = 1 (low risk)."
        details["note_zh"] = "BG/NBD模型下，只购买过一次的客户P(存活)恒为1（低风险）。"
    if len(p_alive) and float(np.min(p_alive)) >= 0.99:
        # Said, not hidden: a fit with no drop-out puts every buyer in one tier.
        details["note_en"] = (
            "The model finds no drop-out in this history (P(alive) ≥ 0.99 for every buyer), "
            "so churn risk does not separate customers here."
        )
        details["note_zh"] = (
            "模型在这段历史中没有发现客户流失（所有买家P(存活) ≥ 0.99），流失风险分层在此无法区分客户。"
        )
    title = section["title"]
    return make_segmentation(
        scheme="churn_risk",
        title=title,
        snapshot=snapshot,
        keys=keys,
        segments=segments,
        details=details,
    )


CLV_SCHEMES: dict[str, Callable[..., Segmentation]] = {
    "clv_tier": clv_tier_scheme,
    "churn_risk": churn_risk_scheme,
}
