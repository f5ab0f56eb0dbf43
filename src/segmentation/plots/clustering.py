"""Plots of the behavioural clusters: the choice of k, the profiles, a 2-D projection.

Each function takes data and returns a :class:`matplotlib.figure.Figure` built without
pyplot (or draws on the axes given), so nothing is shown or kept in pyplot's state; a notebook
displays the returned figure. Fonts are left to :func:`segmentation.fonts.configure_plot_fonts`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import StrMethodFormatter

from segmentation.i18n import check_lang
from segmentation.plots._axes import (
    MONEY_UNIT,
    figure_and_axes,
    figure_of,
    format_count,
    format_money,
)
from segmentation.schemes.base import Segmentation

__all__ = [
    "FEATURE_LABELS",
    "plot_cluster_profiles",
    "plot_cluster_projection",
    "plot_k_selection",
]

FEATURE_LABELS: dict[str, dict[str, str]] = {
    "recency_days": {"zh": "距上次购买天数", "en": "days since last purchase"},
    "frequency": {"zh": "复购次数", "en": "repeat purchases"},
    "monetary_total": {"zh": "累计消费额", "en": "total spend"},
    "interactions_90d": {"zh": "近90天互动数", "en": "interactions, last 90 days"},
    "clv": {"zh": "预测CLV", "en": "predicted CLV"},
}

_TEXT = {
    "k_title": {"zh": "选择聚类数 k", "en": "Choosing the number of clusters k"},
    "silhouette": {"zh": "轮廓系数（越高越好）", "en": "Silhouette (higher is better)"},
    "calinski_harabasz": {
        "zh": "Calinski-Harabasz 指数（越高越好）",
        "en": "Calinski-Harabasz (higher is better)",
    },
    "davies_bouldin": {
        "zh": "Davies-Bouldin 指数（越低越好）",
        "en": "Davies-Bouldin (lower is better)",
    },
    "jaccard": {
        "zh": "自助抽样稳定性 Jaccard（越高越好）",
        "en": "Bootstrap stability, Jaccard (higher is better)",
    },
    "jaccard_mean": {"zh": "各群平均", "en": "mean over clusters"},
    "jaccard_min": {"zh": "最不稳定的群", "en": "least stable cluster"},
    "unstable": {"zh": "不可信 < {v}", "en": "untrustworthy < {v}"},
    "stable": {"zh": "稳定 ≥ {v}", "en": "stable ≥ {v}"},
    "chosen": {"zh": "选定 k = {k}", "en": "chosen k = {k}"},
    "profile_title": {
        "zh": "各群特征画像（颜色：相对中位客户的标准差；数字：群内中位数）",
        "en": "Cluster profiles (colour: SDs from the median buyer; numbers: cluster medians)",
    },
    "position": {"zh": "相对中位客户（标准差）", "en": "SDs from the median buyer"},
    "projection_title": {
        "zh": "聚类的二维投影（主成分分析，抽样 {n:,} 位客户）",
        "en": "Clusters on two principal components (sample of {n:,} customers)",
    },
    "pc": {"zh": "主成分{i}（解释 {v:.0%} 方差）", "en": "PC{i} ({v:.0%} of variance)"},
    "centroid": {"zh": "群中心", "en": "centroid"},
}


def _text(key: str, lang: str, **values: object) -> str:
    return _TEXT[key][lang].format(**values)


def _check_lang(lang: str) -> None:
    check_lang(lang)


# Features in money: their medians are shown with two decimals and the axis names the unit.
_MONEY_FEATURES = frozenset({"monetary_total", "clv"})
_UNITS = {"recency_days": {"zh": "天", "en": "days"}, **dict.fromkeys(_MONEY_FEATURES, MONEY_UNIT)}


def _feature_label(column: str, lang: str) -> str:
    return FEATURE_LABELS.get(column, {}).get(lang, column)


def _feature_label_with_unit(column: str, lang: str) -> str:
    unit = _UNITS.get(column, {}).get(lang)
    if not unit:
        return _feature_label(column, lang)
    return (
        f"{_feature_label(column, lang)}（{unit}）"
        if lang == "zh"
        else (f"{_feature_label(column, lang)} ({unit})")
    )


def _median_text(column: str, value: float) -> str:
    """A cluster median: money with two decimals, anything else a count or days."""
    return format_money(value) if column in _MONEY_FEATURES else format_count(value)


def plot_k_selection(
    k_table: pd.DataFrame,
    *,
    lang: str = "zh",
    unstable_below: float = 0.6,
    stable_above: float = 0.75,
    axes: Sequence[Axes] | None = None,
) -> Figure:
    """Silhouette, Calinski-Harabasz, Davies-Bouldin and bootstrap Jaccard against k.

    Parameters
    ----------
    k_table : pandas.DataFrame
        The table of :func:`segmentation.clustering.choose_k` (``details["k_table"]``),
        indexed by k, with a ``chosen`` column.
    lang : {"zh", "en"}, default "zh"
    unstable_below, stable_above : float
        Hennig's thresholds, drawn as horizontal lines on the Jaccard panel.
    axes : sequence of four matplotlib.axes.Axes, optional
        Where to draw the four panels; a new 2 x 2 figure when omitted.

    Returns
    -------
    matplotlib.figure.Figure
        Four panels; the chosen k is a dashed vertical line on each.
    """
    _check_lang(lang)
    if axes is None:
        fig = Figure(figsize=(11, 7), layout="constrained")
        axes = list(fig.subplots(2, 2, sharex=True).ravel())
    else:
        fig = figure_of(axes[0])
    ks = k_table.index.to_numpy()
    chosen = int(ks[k_table["chosen"].to_numpy(dtype=bool)][0])
    for ax, column in zip(
        axes[:3], ["silhouette", "calinski_harabasz", "davies_bouldin"], strict=True
    ):
        ax.plot(ks, k_table[column].to_numpy(dtype=float), marker="o", color="tab:blue")
        ax.set_title(_text(column, lang))
        ax.yaxis.set_major_formatter(StrMethodFormatter("{x:,.2f}"))
    jaccard_ax = axes[3]
    for column, style in (("jaccard_mean", "o-"), ("jaccard_min", "s--")):
        jaccard_ax.plot(ks, k_table[column].to_numpy(dtype=float), style, label=_text(column, lang))
    jaccard_ax.axhline(
        unstable_below, color="tab:red", lw=1, label=_text("unstable", lang, v=unstable_below)
    )
    jaccard_ax.axhline(
        stable_above, color="tab:green", lw=1, label=_text("stable", lang, v=stable_above)
    )
    jaccard_ax.set_ylim(0, 1.02)
    jaccard_ax.set_title(_text("jaccard", lang))
    for ax in axes:
        ax.axvline(chosen, color="black", ls=":", lw=1.5, label=_text("chosen", lang, k=chosen))
        ax.set_xticks(ks)
    for ax in axes[2:]:
        ax.set_xlabel("k")
    jaccard_ax.legend(loc="lower left", fontsize="small")
    fig.suptitle(_text("k_title", lang))
    return fig


def plot_cluster_profiles(
    segmentation: Segmentation, *, lang: str = "zh", ax: Axes | None = None
) -> Figure:
    """A heatmap of the clusters' feature profiles.

    Colour is where each cluster's centroid sits against the median buyer, in standard
    deviations of the transformed feature (the quantity the names come from); the numbers
    are the cluster medians in the feature's own units.

    Parameters
    ----------
    segmentation : Segmentation
        A result of :func:`segmentation.schemes.clusters.cluster_scheme`.
    lang : {"zh", "en"}, default "zh"
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure when omitted.

    Returns
    -------
    matplotlib.figure.Figure
        Rows are the clusters, lowest value first, labelled with name and share.
    """
    import seaborn as sns  # imported here: a notebook without a heatmap skips its 0.5 s

    _check_lang(lang)
    details = segmentation.details
    position: pd.DataFrame = details["centroid_position"]
    medians = details["feature_profile"][[f"{c}_median" for c in position.columns]]
    annotations = np.array(
        [
            [
                _median_text(column, value)
                for column, value in zip(position.columns, row, strict=True)
            ]
            for row in medians.to_numpy(dtype=float)
        ]
    )
    profile = segmentation.profile.loc[position.index]
    row_labels = [
        f"{name} ({share:.0%})"
        for name, share in zip(profile[f"name_{lang}"], profile["share"], strict=True)
    ]
    fig, ax = figure_and_axes(
        ax, figsize=(3.0 + 1.8 * position.shape[1], 1.5 + 0.6 * len(position))
    )
    limit = max(1.0, float(np.nanmax(np.abs(position.to_numpy(dtype=float)))))
    sns.heatmap(
        position.to_numpy(dtype=float),
        annot=annotations,
        fmt="",
        cmap="RdBu_r",
        center=0.0,
        vmin=-limit,
        vmax=limit,
        xticklabels=[_feature_label_with_unit(c, lang) for c in position.columns],
        yticklabels=row_labels,
        cbar_kws={"label": _text("position", lang)},
        ax=ax,
    )
    ax.tick_params(axis="y", rotation=0)
    ax.set_title(_text("profile_title", lang), fontsize="medium")
    return fig


def plot_cluster_projection(
    segmentation: Segmentation,
    snapshot: pd.DataFrame,
    *,
    lang: str = "zh",
    sample_size: int = 5000,
    random_state: int = 0,
    colors: Mapping[str, str] | None = None,
    ax: Axes | None = None,
) -> Figure:
    """The clustered customers on their first two principal components, coloured by cluster.

    Parameters
    ----------
    segmentation : Segmentation
        A result of :func:`segmentation.schemes.clusters.cluster_scheme`.
    snapshot : pandas.DataFrame
        The snapshot it was computed from (the features are recomputed from it).
    lang : {"zh", "en"}, default "zh"
    sample_size : int, default 5000
        At most this many customers are drawn (seeded), so the plot stays readable and small.
    random_state : int, default 0
        Seed of the sample.
    colors : mapping of str to str, optional
        Segment key to colour; defaults to seaborn's "deep" palette in category order.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure when omitted.

    Returns
    -------
    matplotlib.figure.Figure
        One scatter per cluster (customers without a purchase, potential or fully refunded, are left out) and
        the centroids marked with crosses.
    """
    # Imported here, not at the top: scikit-learn and seaborn take a notebook that draws
    # no projection 0.7 s to import.
    import seaborn as sns
    from sklearn.decomposition import PCA

    from segmentation.schemes.clusters import standardized_features

    _check_lang(lang)
    features = standardized_features(snapshot, segmentation)
    if features.shape[1] < 2:
        raise ValueError("a 2-D projection needs at least two clustering features")
    rng = np.random.default_rng(random_state)
    rows = np.arange(len(features))
    if len(rows) > sample_size:
        rows = np.sort(rng.choice(rows, sample_size, replace=False))
    sample = features.iloc[rows]
    labels = segmentation.labels.reindex(sample.index).to_numpy(dtype=object)
    pca = PCA(n_components=2, random_state=random_state).fit(sample.to_numpy())
    points = pca.transform(sample.to_numpy())
    details = segmentation.details
    centroids = (details["centroids"] - details["scaler_mean"]) / details["scaler_scale"]
    centres = pca.transform(centroids[features.columns].to_numpy())

    # The fitted clusters, in the labels' order: potential and fully refunded customers have
    # no purchases to place.
    keys = [k for k in segmentation.labels.cat.categories if k in centroids.index]
    palette = dict(zip(keys, sns.color_palette("deep", len(keys)), strict=True))
    palette.update(colors or {})
    names = segmentation.profile[f"name_{lang}"]
    fig, ax = figure_and_axes(ax, figsize=(8, 6))
    for key in keys:
        mine = labels == key
        ax.scatter(
            points[mine, 0],
            points[mine, 1],
            s=6,
            alpha=0.5,
            color=palette[key],
            label=f"{names[key]} ({int(mine.sum()):,})",
            rasterized=True,
        )
    ax.scatter(
        centres[:, 0],
        centres[:, 1],
        marker="X",
        s=120,
        color=[palette[k] for k in centroids.index],
        edgecolor="black",
    )
    # A neutral legend entry for the crosses, whose colours are the clusters'.
    ax.scatter(
        [], [], marker="X", s=120, color="white", edgecolor="black", label=_text("centroid", lang)
    )
    ratio = pca.explained_variance_ratio_
    ax.set_xlabel(_text("pc", lang, i=1, v=ratio[0]))
    ax.set_ylabel(_text("pc", lang, i=2, v=ratio[1]))
    ax.set_title(_text("projection_title", lang, n=len(sample)))
    ax.legend(markerscale=2, fontsize="small")
    return fig
