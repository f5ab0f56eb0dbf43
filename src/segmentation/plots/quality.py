"""Plots of the data-quality section: net revenue and buyers by month.

Each function takes data and returns a :class:`matplotlib.figure.Figure` built without pyplot
(or draws on the ``ax`` given), so nothing is shown or kept in pyplot's state.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from segmentation.plots._axes import (
    MONEY_UNIT,
    count_axis,
    figure_and_axes,
    legend_above,
    money_axis,
)
from segmentation.quality import label

__all__ = ["PARTIAL_HATCH", "plot_monthly_revenue"]

#: The hatch of a month the data ends inside: drawn lighter and hatched, never as a collapse.
PARTIAL_HATCH = "//"

_TEXT = {
    "title": {"zh": "月度净收入（会员与游客）", "en": "Net revenue by month"},
    "revenue_axis": {"zh": "净收入（{unit}）", "en": "Net revenue ({unit})"},
    "buyers_axis": {"zh": "购买客户数（人）", "en": "Buying customers"},
    "partial": {"zh": "不完整月（数据截至 {day}）", "en": "partial month (data to {day})"},
    "partial_short": {"zh": "不完整月", "en": "partial"},
}
_MEMBER, _GUEST, _BUYERS = "#4C72B0", "#DD8452", "#55A868"


def plot_monthly_revenue(
    monthly: pd.DataFrame,
    *,
    lang: str = "zh",
    ax: Axes | None = None,
    data_end: pd.Timestamp | str | None = None,
) -> Figure:
    """Stacked bars of member and guest net revenue per month, buyers as a line.

    A month the data ends inside (``data_end`` before its last day, e.g. Online Retail's
    2011-12, which ends on 2011-12-09) is drawn lighter and hatched and labelled partial,
    so its smaller numbers do not read as a collapse.

    Parameters
    ----------
    monthly : pandas.DataFrame
        The output of :func:`segmentation.quality.monthly_overview` in the same ``lang``.
    lang : {"zh", "en"}
    ax : matplotlib.axes.Axes, optional
        Where to draw (the buyers get a twin axis); a new 10 x 4.5 inch figure when omitted.
    data_end : timestamp, optional
        The last day the data covers; None draws every month as complete.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = figure_and_axes(ax, figsize=(10, 4.5))
    x = np.arange(len(monthly))
    last_day = None if data_end is None else pd.Timestamp(data_end).normalize()
    partial = _partial_months(monthly.index, last_day)
    member = monthly[label("member_revenue", lang)].to_numpy(dtype=float)
    guest = monthly[label("guest_revenue", lang)].to_numpy(dtype=float)
    _stacked_bars(ax, x, member, guest, partial)
    ax.set_ylabel(_TEXT["revenue_axis"][lang].format(unit=MONEY_UNIT[lang]))
    money_axis(ax.yaxis)
    ax.set_xticks(x, _month_labels(monthly.index, partial, lang=lang), rotation=90)
    ax.set_xlabel(label("month", lang))
    buyers_axis = ax.twinx()
    buyers = monthly[label("buyers", lang)].to_numpy(dtype=float)
    _buyers_line(buyers_axis, x, buyers, partial)
    buyers_axis.set_ylabel(_TEXT["buyers_axis"][lang], color=_BUYERS)
    buyers_axis.set_ylim(bottom=0)
    count_axis(buyers_axis.yaxis)
    handles: list = [Patch(color=_MEMBER, label=label("member_revenue", lang))]
    if guest.any():  # CDNOW has no guests: no legend entry for bars that are never there
        handles.append(Patch(color=_GUEST, label=label("guest_revenue", lang)))
    handles.append(Line2D([], [], color=_BUYERS, marker="o", label=label("buyers", lang)))
    if last_day is not None and partial.any():
        day = last_day.strftime("%Y-%m-%d")
        handles.append(
            Patch(
                facecolor="white",
                edgecolor="grey",
                hatch=PARTIAL_HATCH,
                label=_TEXT["partial"][lang].format(day=day),
            )
        )
    legend_above(ax, _TEXT["title"][lang], handles=handles, labels=[h.get_label() for h in handles])
    return fig


def _month_labels(months: pd.Index, partial: np.ndarray, *, lang: str) -> list[str]:
    """``YYYY-MM`` per month, a partial one marked as such."""
    mark = _TEXT["partial_short"][lang]
    return [
        f"{month} {mark}" if is_partial else str(month)
        for month, is_partial in zip(months, partial, strict=True)
    ]


def _partial_months(months: pd.Index, last_day: pd.Timestamp | None) -> np.ndarray:
    """Which months (``YYYY-MM``) end after ``last_day``."""
    if last_day is None:
        return np.zeros(len(months), dtype=bool)
    ends = pd.PeriodIndex(months.astype(str), freq="M").end_time.normalize()
    return np.asarray(ends > last_day)


def _stacked_bars(
    ax: Axes, x: np.ndarray, member: np.ndarray, guest: np.ndarray, partial: np.ndarray
) -> None:
    """Member bars with guest bars (when there are any) on top; partial months lighter and
    hatched."""
    layers = [(member, None, _MEMBER)] + ([(guest, member, _GUEST)] if guest.any() else [])
    for bars, bottom, colour in layers:
        drawn = ax.bar(x, bars, bottom=bottom, color=colour)
        for patch, is_partial in zip(drawn.patches, partial, strict=True):
            if bottom is not None:
                # A stacked bar's base is no floor: without this the axis ends at the tallest
                # bar's top, with no margin above it.
                patch.sticky_edges.y.clear()
            if is_partial:
                patch.set_alpha(0.45)
                patch.set_hatch(PARTIAL_HATCH)
                patch.set_edgecolor("white")


def _buyers_line(ax: Axes, x: np.ndarray, buyers: np.ndarray, partial: np.ndarray) -> None:
    """Buyers per month: solid through complete months, dashed to a hollow partial one."""
    complete = ~partial
    ax.plot(x[complete], buyers[complete], color=_BUYERS, marker="o")
    if partial.any() and complete.any():
        last = np.flatnonzero(complete)[-1]
        ahead = np.flatnonzero(partial & (x > last))
        if len(ahead):
            ax.plot(
                np.r_[x[last], x[ahead]],
                np.r_[buyers[last], buyers[ahead]],
                color=_BUYERS,
                linestyle="--",
                marker="o",
                markerfacecolor="white",
                markevery=list(range(1, len(ahead) + 1)),
            )
