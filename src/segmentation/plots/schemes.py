"""Plots of any scheme: segment sizes against revenue, and migration between two months.

Each function takes data and returns a :class:`matplotlib.figure.Figure` built without pyplot
(or draws on the ``ax`` given), so nothing is shown or kept in pyplot's state; a notebook
displays the returned figure.
"""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from segmentation.plots._axes import figure_and_axes, legend_above
from segmentation.schemes.base import Segmentation
from segmentation.schemes.migration import Migration

__all__ = ["plot_migration", "plot_segment_profile"]

_TEXT = {
    "customers": {"zh": "客户占比", "en": "share of customers"},
    "revenue": {"zh": "收入占比", "en": "share of revenue"},
    "share": {"zh": "占比（%）", "en": "share (%)"},
    "from": {"zh": "上月分层", "en": "last month"},
    "to": {"zh": "本月分层", "en": "this month"},
    "migration": {"zh": "分层迁移（行占比）", "en": "Migration (row shares)"},
}


def plot_segment_profile(
    segmentation: Segmentation, *, lang: str = "zh", ax: Axes | None = None
) -> Figure:
    """Share of customers against share of revenue per segment, lowest value at the bottom.

    Parameters
    ----------
    segmentation : Segmentation
    lang : {"zh", "en"}
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure when omitted.

    Returns
    -------
    matplotlib.figure.Figure
    """
    profile = segmentation.profile
    names = profile[f"name_{lang}"].tolist()
    y = np.arange(len(profile))
    fig, ax = figure_and_axes(ax, figsize=(8, 0.45 * len(profile) + 1.8))
    height = 0.4
    ax.barh(
        y + height / 2, profile["share"], height, color="#4C72B0", label=_TEXT["customers"][lang]
    )
    ax.barh(
        y - height / 2,
        profile["revenue_share"].fillna(0.0),
        height,
        color="#DD8452",
        label=_TEXT["revenue"][lang],
    )
    ax.set_yticks(y, names)
    ax.xaxis.set_major_formatter("{x:.0%}")
    ax.set_xlabel(_TEXT["share"][lang])
    # Above the bars, never over them: the longest bar may reach any side.
    legend_above(ax, segmentation.display_title(lang))
    return fig


def plot_migration(migration: Migration, *, lang: str = "zh", ax: Axes | None = None) -> Figure:
    """Heatmap of the row shares of a migration matrix: where last month's segments went.

    Parameters
    ----------
    migration : Migration
        :func:`segmentation.schemes.migration.migration_between`.
    lang : {"zh", "en"}
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure when omitted.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import seaborn as sns  # imported here: a notebook without a heatmap skips its 0.5 s

    shares = migration.named("row_shares", lang)
    fig, ax = figure_and_axes(
        ax, figsize=(1.0 + 0.8 * shares.shape[1], 1.0 + 0.5 * shares.shape[0])
    )
    sns.heatmap(
        shares.astype(float),
        annot=True,
        fmt=".0%",
        cmap="Blues",
        vmin=0,
        vmax=1,
        cbar=False,
        ax=ax,
    )
    ax.set_xlabel(_TEXT["to"][lang])
    ax.set_ylabel(_TEXT["from"][lang])
    ax.set_title(_TEXT["migration"][lang])
    return fig
