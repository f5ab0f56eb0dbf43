"""Plots of the report's time axis: the cohort retention heatmap and a scheme's segment sizes
at each month-end, stacked.

Each function takes data and returns a :class:`matplotlib.figure.Figure` built without pyplot
(or draws on the ``ax`` given).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from segmentation.features import CohortMatrix
from segmentation.plots._axes import count_axis, figure_and_axes

__all__ = ["plot_cohort_retention", "plot_segment_sizes"]

_TEXT = {
    "retention": {
        "zh": "按首购月份的客户留存：每月仍有购买的客户占比",
        "en": "Retention by first-purchase month: share of each cohort buying in each month",
    },
    "offset": {"zh": "首购后的第几个月（0 = 首购当月）", "en": "months after the first purchase (0 = its month)"},
    "cohort": {"zh": "首购月份（人数）", "en": "first-purchase month (customers)"},
    "sizes": {"zh": "{title}：各月末人数", "en": "{title}: customers at each month-end"},
    "month_end": {"zh": "月末", "en": "month-end"},
    "customers": {"zh": "客户数", "en": "customers"},
}  # fmt: skip


def plot_cohort_retention(
    cohorts: CohortMatrix, *, lang: str = "zh", ax: Axes | None = None
) -> Figure:
    """Heatmap of the retention matrix: one row per non-empty cohort, one column per month
    after the first purchase; months not yet observed are blank.

    Parameters
    ----------
    cohorts : CohortMatrix
        :func:`segmentation.features.cohort_matrix`.
    lang : {"zh", "en"}, default "zh"
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure when omitted.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import seaborn as sns  # imported here: a notebook without a heatmap skips its 0.5 s

    shown = cohorts.sizes.gt(0).to_numpy()
    retention = cohorts.retention.loc[shown]
    rows = [f"{month} ({size:,})" for month, size in cohorts.sizes.loc[shown].items()]
    frame = pd.DataFrame(retention.to_numpy(dtype=float), index=rows, columns=retention.columns)
    fig, ax = figure_and_axes(
        ax, figsize=(2.0 + 0.42 * frame.shape[1], 1.2 + 0.32 * max(frame.shape[0], 1))
    )
    sns.heatmap(
        frame * 100,
        annot=True,
        fmt=".0f",
        annot_kws={"fontsize": 6},
        cmap="Blues",
        vmin=0,
        vmax=max(float(np.nanmax(frame.to_numpy()[:, 1:], initial=0.0)) * 100, 1.0),
        cbar=False,
        ax=ax,
    )
    ax.set_title(_TEXT["retention"][lang] + " (%)")
    ax.set_xlabel(_TEXT["offset"][lang])
    ax.set_ylabel(_TEXT["cohort"][lang])
    return fig


def plot_segment_sizes(
    sizes: pd.DataFrame,
    names: pd.Series,
    *,
    title: str,
    lang: str = "zh",
    ax: Axes | None = None,
) -> Figure:
    """Stacked bars of a scheme's segment sizes at each month-end, lowest segment at the
    bottom.

    Parameters
    ----------
    sizes : pandas.DataFrame
        ``SegmentHistory.sizes[scheme]``: month-ends by segment keys.
    names : pandas.Series
        Segment key to its display name in ``lang``.
    title : str
        The scheme's title in ``lang``.
    lang : {"zh", "en"}, default "zh"
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure when omitted.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import seaborn as sns  # imported here: a notebook without a heatmap skips its 0.5 s

    fig, ax = figure_and_axes(ax, figsize=(9.0, 4.5))
    labels = [f"{day:%Y-%m}" for day in sizes.index]
    positions = np.arange(len(labels))
    bottom = np.zeros(len(labels))
    palette = sns.color_palette("viridis", n_colors=max(sizes.shape[1], 1))
    for colour, key in zip(palette, sizes.columns, strict=False):
        counts = sizes[key].to_numpy(dtype=float)
        ax.bar(positions, counts, bottom=bottom, color=colour, label=str(names.get(key, key)))
        bottom += counts
    ax.set_xticks(positions, labels, rotation=45, ha="right")
    ax.set_xlabel(_TEXT["month_end"][lang])
    ax.set_ylabel(_TEXT["customers"][lang])
    count_axis(ax.yaxis)
    # Beside the bars, highest segment first as in the stack; a scheme may have a dozen.
    handles, legend_labels = ax.get_legend_handles_labels()
    ax.legend(
        handles[::-1],
        legend_labels[::-1],
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        frameon=False,
        fontsize="small",
    )
    ax.set_title(_TEXT["sizes"][lang].format(title=title))
    return fig
