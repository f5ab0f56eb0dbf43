"""Plots of the scheme comparison: agreement between schemes and lift curves.

Each function takes data and returns a :class:`matplotlib.figure.Figure` built without pyplot
(or draws on the ``ax`` given).
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from segmentation.plots._axes import figure_and_axes

__all__ = ["plot_agreement", "plot_lift_curves"]

_TEXT = {
    "agreement": {"zh": "方案一致性（调整兰德指数 ARI）", "en": "Agreement between schemes (ARI)"},
    "lift": {
        "zh": "累计未来收入占比（按分层的未来人均收入从高到低）",
        "en": "Cumulative share of future revenue, best segments first",
    },
    "customers": {"zh": "客户累计占比", "en": "cumulative share of customers"},
    "revenue": {"zh": "未来收入累计占比", "en": "cumulative share of future revenue"},
    "random": {"zh": "随机", "en": "random"},
}


def _title(titles: Mapping[str, Mapping[str, str]], name: str, lang: str) -> str:
    return titles.get(name, {}).get(lang) or titles.get(name, {}).get("en") or name


def plot_agreement(
    matrix: pd.DataFrame,
    titles: Mapping[str, Mapping[str, str]],
    *,
    lang: str = "zh",
    ax: Axes | None = None,
) -> Figure:
    """Heatmap of a pairwise agreement matrix (ARI or AMI), schemes by display title.

    Parameters
    ----------
    matrix : pandas.DataFrame
        :func:`segmentation.evaluate.agreement_matrix`.
    titles : mapping
        Scheme name to bilingual title.
    lang : {"zh", "en"}
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure when omitted.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import seaborn as sns  # imported here: a notebook without a heatmap skips its 0.5 s

    labels = [_title(titles, name, lang) for name in matrix.index]
    shown = pd.DataFrame(matrix.to_numpy(dtype=float), index=labels, columns=labels)
    size = 1.5 + 0.6 * len(labels)
    fig, ax = figure_and_axes(ax, figsize=(size + 1.5, size))
    sns.heatmap(shown, annot=True, fmt=".2f", cmap="viridis", vmin=0, vmax=1, square=True, ax=ax)
    ax.set_title(_TEXT["agreement"][lang])
    return fig


def plot_lift_curves(
    curves: Mapping[str, pd.DataFrame],
    titles: Mapping[str, Mapping[str, str]],
    *,
    lang: str = "zh",
    ax: Axes | None = None,
) -> Figure:
    """Lift (gains) curves of several schemes on one axis, with the random diagonal.

    Parameters
    ----------
    curves : mapping of str to pandas.DataFrame
        Scheme name to :func:`segmentation.evaluate.lift_curve`.
    titles : mapping
        Scheme name to bilingual title.
    lang : {"zh", "en"}
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure when omitted.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = figure_and_axes(ax, figsize=(7, 6))
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", label=_TEXT["random"][lang])
    for name, curve in curves.items():
        ax.plot(
            curve["customer_share"],
            curve["revenue_share"],
            marker=".",
            label=_title(titles, name, lang),
        )
    ax.axvline(0.2, color="grey", linewidth=0.8)
    ax.set_xlabel(_TEXT["customers"][lang])
    ax.set_ylabel(_TEXT["revenue"][lang])
    ax.xaxis.set_major_formatter("{x:.0%}")
    ax.yaxis.set_major_formatter("{x:.0%}")
    ax.set_title(_TEXT["lift"][lang])
    ax.legend(fontsize="small", loc="lower right")
    return fig
