"""Plots of the CLV backtest: cumulative tracking and conditional expectations.

Each function takes a :class:`segmentation.clv.CLVBacktest` and returns a
:class:`matplotlib.figure.Figure` built without pyplot, so nothing is shown or kept in pyplot's
state. Fonts are left to :func:`segmentation.fonts.configure_plot_fonts`.
"""

from __future__ import annotations

import numpy as np
from matplotlib.dates import date2num
from matplotlib.figure import Figure

from segmentation.clv import CLVBacktest, PurchaseModelFit
from segmentation.errors import CLVInputError

__all__ = ["plot_conditional_expectations", "plot_p_alive_matrix", "plot_tracking"]

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
    },
}


def _text(lang: str) -> dict[str, str]:
    if lang not in _TEXT:
        raise CLVInputError(f"lang must be 'zh' or 'en', got {lang!r}.")
    return _TEXT[lang]


def plot_tracking(backtest: CLVBacktest, *, lang: str = "zh") -> Figure:
    """Cumulative repeat purchases of the cohort over calendar time, actual vs each model.

    The expected curve sums, over customers, the model's expected repeat purchases from each
    customer's first purchase to the end of each period; the dotted line marks the end of
    the calibration period.

    Parameters
    ----------
    backtest : CLVBacktest
    lang : {"zh", "en"}, default "zh"

    Returns
    -------
    matplotlib.figure.Figure

    References
    ----------
    Fader, P. S., Hardie, B. G. S. and Lee, K. L. (2005). "Counting Your Customers" the Easy
    Way: An Alternative to the Pareto/NBD Model. Marketing Science 24(2), 275-284, Figure 3.
    """
    text = _text(lang)
    figure = Figure(figsize=(8, 4.5), layout="constrained")
    axes = figure.subplots()
    tracking = backtest.tracking
    axes.plot(tracking["day"], tracking["actual"], color="black", linewidth=2, label=text["actual"])
    for name, fit in backtest.fits.items():
        axes.plot(tracking["day"], tracking[f"expected_{name}"], linestyle="--", label=fit.title)
    axes.axvline(
        float(date2num(backtest.calibration_end)),
        color="grey",
        linestyle=":",
        label=text["calibration_end"],
    )
    axes.set_title(text["tracking_title"])
    axes.set_xlabel(text["period"])
    axes.set_ylabel(text["cumulative"])
    axes.legend(loc="upper left")
    return figure


def plot_conditional_expectations(backtest: CLVBacktest, *, lang: str = "zh") -> Figure:
    """Mean holdout purchases by calibration frequency (0 to 6, 7+), actual vs each model.

    Parameters
    ----------
    backtest : CLVBacktest
    lang : {"zh", "en"}, default "zh"

    Returns
    -------
    matplotlib.figure.Figure

    References
    ----------
    Fader, P. S., Hardie, B. G. S. and Lee, K. L. (2005). "Counting Your Customers" the Easy
    Way: An Alternative to the Pareto/NBD Model. Marketing Science 24(2), 275-284, Figure 4.
    """
    text = _text(lang)
    figure = Figure(figsize=(8, 4.5), layout="constrained")
    axes = figure.subplots()
    table = backtest.by_frequency
    positions = np.arange(len(table))
    axes.plot(positions, table["actual"], color="black", marker="o", label=text["actual"])
    for name, fit in backtest.fits.items():
        axes.plot(
            positions, table[f"predicted_{name}"], linestyle="--", marker=".", label=fit.title
        )
    axes.set_xticks(positions, [str(label) for label in table.index])
    axes.set_title(text["by_frequency_title"])
    axes.set_xlabel(text["calibration_frequency"])
    axes.set_ylabel(text["holdout_mean"])
    axes.legend(loc="upper left")
    return figure


def plot_p_alive_matrix(
    fit: PurchaseModelFit,
    *,
    observed_days: float,
    max_frequency: int = 20,
    lang: str = "zh",
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
    fig = Figure(figsize=(8, 6), layout="constrained")
    ax = fig.subplots()
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
    ax.set_title(text["p_alive_title"].format(days=periods * fit.period_days))
    return fig
