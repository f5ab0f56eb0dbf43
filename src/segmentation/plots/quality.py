"""Plots of the data-quality section: net revenue and buyers by month.

Each function takes data and returns a :class:`matplotlib.figure.Figure` built without pyplot
(or draws on the ``ax`` given), so nothing is shown or kept in pyplot's state.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from segmentation.plots._axes import figure_and_axes
from segmentation.quality import label

__all__ = ["plot_monthly_revenue"]

_TITLE = {"zh": "月度净收入（会员与游客）", "en": "Net revenue by month"}


def plot_monthly_revenue(
    monthly: pd.DataFrame, *, lang: str = "zh", ax: Axes | None = None
) -> Figure:
    """Stacked bars of member and guest net revenue per month, buyers as a line.

    Parameters
    ----------
    monthly : pandas.DataFrame
        The output of :func:`segmentation.quality.monthly_overview` in the same ``lang``.
    lang : {"zh", "en"}
    ax : matplotlib.axes.Axes, optional
        Where to draw (the buyers get a twin axis); a new 10 x 4 inch figure when omitted.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = figure_and_axes(ax, figsize=(10, 4))
    x = np.arange(len(monthly))
    member = monthly[label("member_revenue", lang)].to_numpy()
    guest = monthly[label("guest_revenue", lang)].to_numpy()
    ax.bar(x, member, color="#4C72B0", label=label("member_revenue", lang))
    ax.bar(x, guest, bottom=member, color="#DD8452", label=label("guest_revenue", lang))
    ax.set_ylabel(label("revenue", lang))
    ax.set_xticks(x, monthly.index, rotation=90)
    buyers_axis = ax.twinx()
    buyers_axis.plot(x, monthly[label("buyers", lang)].to_numpy(), color="#55A868", marker="o")
    buyers_axis.set_ylabel(label("buyers", lang), color="#55A868")
    ax.legend(loc="upper left")
    ax.set_title(_TITLE.get(lang, _TITLE["en"]))
    return fig
