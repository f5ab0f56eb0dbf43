"""Plots of the CLV backtest: cumulative tracking and conditional expectations.

Each function takes a :class:`segmentation.clv.CLVBacktest` and returns a
:class:`matplotlib.figure.Figure` built without pyplot (or draws on the ``ax`` given), so
nothing is shown or kept in pyplot's state. Fonts are left to
:func:`segmentation.fonts.configure_plot_fonts`.

References
----------
Fader, P. S., Hardie, B. G. S. and Lee, K. L. (2005). "Counting Your Customers" the Easy
Way: An Alternative to the Pareto/NBD Model. Marketing Science 24(2), 275-284.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.dates import date2num
from matplotlib.figure import Figure

from segmentation.clv import CLVBacktest, PurchaseModelFit
from segmentation.i18n import check_lang
from segmentation.plots._axes import count_axis, figure_and_axes

__all__ = [
    "plot_conditional_expectations",
    "plot_p_alive_matrix",
    "plot_reliability",
    "plot_tracking",
]

_TEXT = {
    "zh": {
        "tracking_title": "累计复购次数：实际与模型预期",
        "period": "日期",
        "cumulative": "累计复购次数",
        "actual": "实际",
        "calibration_end": "校准期结束",
        "by_frequency_title": "预测期人均复购次数（按校准期复购次数分组）",
        "calibration_frequency": "校准期复购次数",
        "holdout_mean": "预测期人均复购次数",
        "p_alive_title": "P(存活)：按复购次数与最近一次购买时间（观察期 {days:.0f} 天）",
        "recency": "首购到最近一次购买的天数",
        "frequency": "复购次数",
        "reliability_title": "{model}：预测购买概率与实际购买占比（{days} 天，Brier {brier}）",
        "predicted": "预测购买概率（分箱平均）",
        "observed": "实际购买客户占比",
        "perfect": "完全校准",
    },
    "en": {
        "tracking_title": "Cumulative repeat purchases: actual vs expected",
        "period": "Date",
        "cumulative": "Cumulative repeat purchases",
        "actual": "Actual",
        "calibration_end": "End of calibration",
        "by_frequency_title": "Holdout purchases per customer by calibration frequency",
        "calibration_frequency": "Repeat purchases in calibration",
        "holdout_mean": "Holdout purchases per customer",
        "p_alive_title": "P(alive) by repeat purchases and recency ({days:.0f} days observed)",
        "recency": "Days from first to last purchase",
        "frequency": "Repeat purchases",
        "reliability_title": "{model}: forecast probability of buying against the share who "
        "bought ({days} days, Brier {brier})",
        "predicted": "Forecast probability of buying (bin mean)",
        "observed": "Share who bought",
        "perfect": "Perfectly calibrated",
    },
}


def _text(lang: str) -> dict[str, str]:
    check_lang(lang)
    return _TEXT[lang]


def plot_tracking(backtest: CLVBacktest, *, lang: str = "zh", ax: Axes | None = None) -> Figure:
    """Cumulative repeat purchases of the cohort over calendar time, actual vs each model.

    The expected curve sums, over customers, the model's expected repeat purchases from each
    customer's first purchase to the end of each period; the dotted line marks the end of
    the calibration period. Figure 3 of Fader, Hardie and Lee (2005).

    Parameters
    ----------
    backtest : CLVBacktest
        Its ``tracking`` table holds the actual and expected cumulative repeat purchases by
        day, and ``calibration_end`` the day the dotted line marks.
    lang : {"zh", "en"}, default "zh"
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure when omitted.

    Returns
    -------
    matplotlib.figure.Figure
    """
    text = _text(lang)
    tracking = backtest.tracking
    figure, axes = _actual_against_models(
        backtest, tracking["day"], tracking, "expected_", text=text, ax=ax, actual={"linewidth": 2}
    )
    axes.axvline(
        float(date2num(backtest.calibration_end)),
        color="grey",
        linestyle=":",
        label=text["calibration_end"],
    )
    _finish(axes, text, title="tracking_title", x="period", y="cumulative")
    count_axis(axes.yaxis)
    return figure


def plot_conditional_expectations(
    backtest: CLVBacktest, *, lang: str = "zh", ax: Axes | None = None
) -> Figure:
    """Mean holdout purchases by calibration frequency (0 to 6, 7+), actual vs each model.

    Figure 4 of Fader, Hardie and Lee (2005).

    Parameters
    ----------
    backtest : CLVBacktest
        Its ``by_frequency`` table is drawn.
    lang : {"zh", "en"}, default "zh"
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure when omitted.

    Returns
    -------
    matplotlib.figure.Figure
    """
    text = _text(lang)
    table = backtest.by_frequency
    positions = np.arange(len(table))
    figure, axes = _actual_against_models(
        backtest,
        positions,
        table,
        "predicted_",
        text=text,
        ax=ax,
        actual={"marker": "o"},
        model={"marker": "."},
    )
    axes.set_xticks(positions, [str(label) for label in table.index])
    _finish(axes, text, title="by_frequency_title", x="calibration_frequency", y="holdout_mean")
    return figure


def _actual_against_models(
    backtest: CLVBacktest,
    x: Any,
    table: Any,
    prefix: str,
    *,
    text: Mapping[str, str],
    ax: Axes | None,
    actual: Mapping[str, Any],
    model: Mapping[str, Any] | None = None,
) -> tuple[Figure, Axes]:
    """``table["actual"]`` as a black line and each model's ``prefix + name`` column dashed,
    against ``x``, on ``ax`` or a new 8 x 4.5 inch figure."""
    figure, axes = figure_and_axes(ax, figsize=(8, 4.5))
    axes.plot(x, table["actual"], color="black", label=text["actual"], **actual)
    for name, fit in backtest.fits.items():
        axes.plot(x, table[f"{prefix}{name}"], linestyle="--", label=fit.title, **(model or {}))
    return figure, axes


def _finish(axes: Axes, text: Mapping[str, str], *, title: str, x: str, y: str) -> None:
    """Title, axis labels (keys of ``text``) and the legend, upper left."""
    axes.set_title(text[title])
    axes.set_xlabel(text[x])
    axes.set_ylabel(text[y])
    axes.legend(loc="upper left")


def plot_p_alive_matrix(
    fit: PurchaseModelFit,
    *,
    observed_days: float,
    max_frequency: int = 20,
    lang: str = "zh",
    ax: Axes | None = None,
) -> Figure:
    """P(alive) over a grid of repeat purchases and recency, for customers observed
    ``observed_days`` since their first purchase (Fader, Hardie & Lee 2005, figure 2).

    Parameters
    ----------
    fit : PurchaseModelFit
        A fitted purchase model; the probabilities are its own (lifetimes') formula.
    observed_days : float
        T, the days from first purchase to the end of observation.
    max_frequency : int, default 20
    lang : {"zh", "en"}
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure when omitted.

    Returns
    -------
    matplotlib.figure.Figure
    """
    text = _text(lang)
    # Recency and T in whole purchase periods, as the model was fitted on.
    periods = max(int(observed_days // fit.period_days), 1)
    recency = np.arange(periods + 1, dtype=float) * fit.period_days
    frequency = np.arange(max_frequency + 1, dtype=float)
    f_grid, r_grid = np.meshgrid(frequency, recency, indexing="ij")
    t_grid = np.full_like(r_grid, periods * fit.period_days)
    p_alive = fit.probability_alive(f_grid.ravel(), r_grid.ravel(), t_grid.ravel())
    # Zero repeat purchases with a positive recency cannot happen: leave those cells blank.
    matrix = np.where((f_grid == 0) & (r_grid > 0), np.nan, p_alive.reshape(f_grid.shape))
    fig, ax = figure_and_axes(ax, figsize=(8, 6))
    image = ax.imshow(
        matrix,
        origin="lower",
        aspect="auto",
        cmap="RdYlGn",
        vmin=0,
        vmax=1,
        extent=(0, recency[-1], -0.5, max_frequency + 0.5),
        interpolation="nearest",
    )
    fig.colorbar(image, ax=ax, label="P(alive)")
    ax.set_xlabel(text["recency"])
    ax.set_ylabel(text["frequency"])
    count_axis(ax.yaxis)
    ax.set_title(text["p_alive_title"].format(days=periods * fit.period_days))
    return fig


def plot_reliability(
    reliability: Any,
    *,
    model_title: str,
    horizon_days: int,
    brier: float,
    lang: str = "zh",
    ax: Axes | None = None,
) -> Figure:
    """Reliability curve: in each bin of the forecast probability of buying, the mean
    forecast against the share of customers who bought; the diagonal is perfect calibration.

    Parameters
    ----------
    reliability : pandas.DataFrame
        :func:`segmentation.clv.reliability_table`: ``predicted``, ``observed``, ``customers``.
    model_title : str
        The purchase model, named in the title with the window and the Brier score.
    horizon_days : int
    brier : float
    lang : {"zh", "en"}, default "zh"
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.figure.Figure

    References
    ----------
    Brier, G. W. (1950). Verification of forecasts expressed in terms of probability.
    Monthly Weather Review 78(1), 1-3.
    """
    text = _text(lang)
    figure, axes = figure_and_axes(ax, figsize=(6.0, 5.0))
    axes.plot([0, 1], [0, 1], color="grey", linestyle=":", label=text["perfect"])
    sizes = 20 + 180 * np.sqrt(reliability["customers"] / max(reliability["customers"].max(), 1))
    axes.plot(reliability["predicted"], reliability["observed"], color="C0", label=model_title)
    axes.scatter(reliability["predicted"], reliability["observed"], s=sizes, color="C0")
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1)
    axes.set_title(
        text["reliability_title"].format(model=model_title, days=horizon_days, brier=f"{brier:.3f}")
    )
    axes.set_xlabel(text["predicted"])
    axes.set_ylabel(text["observed"])
    axes.legend(loc="upper left")
    return figure
