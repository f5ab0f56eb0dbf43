"""The choice of k: every k scored on one sample, the most stable well-separated one chosen
among those whose every cluster is large enough to act on.

Silhouette, Calinski-Harabasz and Davies-Bouldin measure separation; the bootstrap Jaccard
(:func:`bootstrap_jaccard`) measures stability; the smallest cluster's share of the sample
measures whether every cluster is worth a campaign. Size comes first, then stability, then
separation (:data:`K_RULE`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import (
    calinski_harabasz_score,
    davies_bouldin_score,
    pairwise_distances_chunked,
)

from segmentation.clustering._fitting import (
    ClusterFit,
    check_algorithm,
    effective_sample_size,
    fit_for_ks,
)
from segmentation.clustering._stability import resampled_jaccards
from segmentation.errors import SchemeUnavailable, SegmentationInputError

__all__ = ["K_RULE", "SCHEME", "check_k_range", "choose_k", "score_ks", "select_k"]

#: The segmentation scheme these models serve: its name is the one a
#: :class:`~segmentation.errors.SchemeUnavailable` from the choice of k carries.
SCHEME = "clusters"

#: How :func:`select_k` picks k, in words for the report: ``str.format`` it with
#: ``min_jaccard`` and ``min_share`` (a fraction, shown as a percentage).
K_RULE = {
    "zh": (
        "最小一类不足买家 {min_share:.0%} 的 k 不予考虑（太小，无法单独运营）；其余 k 中，"
        "在自助抽样平均 Jaccard ≥ {min_jaccard} 的 k 里取轮廓系数最高者（并列取较小的 k）；"
        "若没有 k 达到该稳定性，取平均 Jaccard 最高的 k，并标注为不稳定；"
        "若每个 k 都有这么小的类，取最小一类占比最大的 k。"
    ),
    "en": (
        "A k whose smallest cluster holds under {min_share:.0%} of buyers is left out (too "
        "small to act on); of the others, the k with the highest silhouette among those whose "
        "mean bootstrap Jaccard is at least {min_jaccard} (ties: the smaller k); if none is "
        "that stable, the one with the highest mean Jaccard, flagged as unstable; if every k "
        "has a cluster that small, the k whose smallest cluster is largest."
    ),
}


def choose_k(
    features: np.ndarray | pd.DataFrame,
    *,
    k_range: tuple[int, int] = (2, 10),
    algorithm: str = "kmeans",
    random_state: int = 0,
    n_bootstrap: int = 20,
    sample_size: int = 10_000,
    min_jaccard: float = 0.6,
    min_cluster_share: float = 0.0,
    options: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Score every k in a range on one sample and mark the k :func:`select_k` picks.

    Parameters
    ----------
    features : array-like of shape (n, d)
        Standardised features.
    k_range : (int, int), default (2, 10)
        Smallest and largest k, inclusive; a k above the number of distinct points, or not
        below the number of points, is dropped.
    algorithm : {"kmeans", "gmm", "ward"}, default "kmeans"
    random_state : int, default 0
        Seed of the sample, the fits and the bootstrap.
    n_bootstrap : int, default 20
        Resamples for :func:`bootstrap_jaccard`; 0 skips stability (then k is chosen by
        silhouette alone).
    sample_size : int, default 10000
        Every score is computed on a random sample of at most this many rows (Ward: at most
        ``options["ward_sample_size"]``, default 4000).
    min_jaccard : float, default 0.6
        The stability a k needs to be eligible.
    min_cluster_share : float, default 0
        The share of the sample a k's smallest cluster needs for the k to be eligible (the
        config's ``clustering.min_cluster_share``; 0: no size requirement).
    options : mapping, optional
        ``n_init``, ``gmm_covariance_type``, ``ward_sample_size``, ``kmeans_max_iterations``,
        ``gmm_max_iterations``.

    Returns
    -------
    pandas.DataFrame
        Indexed by k: ``silhouette``, ``calinski_harabasz``, ``davies_bouldin``,
        ``jaccard_mean`` and ``jaccard_min`` (over clusters of the cluster-wise mean Jaccard),
        ``n_unstable`` (clusters below ``min_jaccard``), ``smallest_share`` (of the sample),
        ``chosen`` (one True row).

    References
    ----------
    Rousseeuw, P. J. (1987). Silhouettes. J. Comput. Appl. Math. 20, 53-65.
    Caliński, T. and Harabasz, J. (1974). A dendrite method for cluster analysis. Comm. in
    Statistics 3(1), 1-27.
    Davies, D. L. and Bouldin, D. W. (1979). A cluster separation measure. IEEE PAMI 1(2).
    Hennig, C. (2007). Cluster-wise assessment of cluster stability. CSDA 52(1), 258-271.
    """
    table, _, _ = score_ks(
        np.asarray(features, dtype=float),
        k_range=k_range,
        algorithm=algorithm,
        rng=np.random.default_rng(random_state),
        n_bootstrap=n_bootstrap,
        sample_size=sample_size,
        min_jaccard=min_jaccard,
        min_cluster_share=min_cluster_share,
        options=options or {},
    )
    return table


def select_k(
    table: pd.DataFrame, *, min_jaccard: float = 0.6, min_cluster_share: float = 0.0
) -> int:
    """The k of a :func:`choose_k` table, by the rule in :data:`K_RULE`.

    Three questions, in order:

    1. **Size.** A k whose smallest cluster holds under ``min_cluster_share`` of the sample
       is left out: the best-separated k is often the one that splits off a handful of
       outliers (a few wholesale buyers), a cluster no team can give its own action, and the
       silhouette rewards that split. Only when every k has a cluster that small does the k
       whose smallest cluster is largest win, since nothing better is on offer.
    2. **Stability.** A segmentation is only useful if the same customers land together
       again on another draw of the data: of the k left, those whose mean bootstrap Jaccard
       reaches ``min_jaccard`` are eligible; if none does, the most stable k wins, and the
       report flags it as unstable.
    3. **Separation.** Among the eligible k, the silhouette (bounded, comparable across k)
       decides; ties go to the smaller k. Calinski-Harabasz and Davies-Bouldin measure the
       same compactness-against-separation trade-off, so they are reported beside it as a
       check rather than given votes that would count that trade-off three times. Without
       bootstrap scores (``n_bootstrap=0``) the best silhouette among the k left wins.

    Parameters
    ----------
    table : pandas.DataFrame
        Indexed by k, with ``silhouette``, ``jaccard_mean`` and, when ``min_cluster_share``
        is above 0, ``smallest_share``.
    min_jaccard : float, default 0.6
        Hennig's "should not be trusted below" threshold.
    min_cluster_share : float, default 0
        The config's ``clustering.min_cluster_share``; 0 asks nothing of the size.

    Returns
    -------
    int
    """
    scored = table.dropna(subset=["silhouette"])
    if scored.empty:
        raise ValueError("no k could be scored: every fit found fewer clusters than asked")
    if min_cluster_share > 0:
        large = scored.loc[scored["smallest_share"].to_numpy(dtype=float) >= min_cluster_share]
        if large.empty:
            return _k_of_best(scored, "smallest_share")
        scored = large
    jaccard = scored["jaccard_mean"].to_numpy(dtype=float)
    if np.isnan(jaccard).all():
        return _k_of_best(scored, "silhouette")
    eligible = scored.loc[jaccard >= min_jaccard]
    if eligible.empty:
        return _k_of_best(scored, "jaccard_mean")
    return _k_of_best(eligible, "silhouette")


def _k_of_best(table: pd.DataFrame, column: str) -> int:
    """The k of the highest ``column``; ties go to the smaller k (the table is sorted by k)."""
    return int(table.index.to_numpy()[np.argmax(table[column].to_numpy(dtype=float))])


def score_ks(
    features: np.ndarray,
    *,
    k_range: tuple[int, int],
    algorithm: str,
    rng: np.random.Generator,
    n_bootstrap: int,
    sample_size: int,
    min_jaccard: float,
    min_cluster_share: float,
    options: Mapping[str, Any],
) -> tuple[pd.DataFrame, dict[int, ClusterFit], dict[int, np.ndarray]]:
    """The table of :func:`choose_k`, the fits on the sample and the per-cluster Jaccard."""
    check_algorithm(algorithm)
    k_min, k_max = check_k_range(k_range)
    size = effective_sample_size(algorithm, sample_size, options)
    sample = features
    if len(features) > size:
        sample = features[np.sort(rng.choice(len(features), size, replace=False))]
    # k-means needs k distinct points; the silhouette needs k below the number of points.
    n_distinct = len(np.unique(sample, axis=0))
    ks = list(range(k_min, min(k_max, n_distinct, len(sample) - 1) + 1))
    if not ks:
        raise SchemeUnavailable(
            SCHEME,
            f"the sample has {n_distinct} distinct behaviour profiles among {len(sample)} "
            f"customers, too few for k >= {k_min}",
        )
    seed = int(rng.integers(2**31 - 1))
    fits = fit_for_ks(sample, ks, algorithm=algorithm, seed=seed, options=options)
    jaccards = (
        {
            k: per.mean(axis=0)
            for k, per in resampled_jaccards(
                sample, fits, algorithm=algorithm, n_bootstrap=n_bootstrap, rng=rng, options=options
            ).items()
        }
        if n_bootstrap > 0
        else {k: np.full(k, np.nan) for k in ks}
    )
    rows = []
    complete_ks = [
        k
        for k in ks
        if len(counts := np.bincount(fits[k].labels, minlength=k)) == k and (counts > 0).all()
    ]
    silhouettes = _silhouette_scores(sample, {k: fits[k].labels for k in complete_ks})
    for k in ks:
        labels = fits[k].labels
        counts = np.bincount(labels, minlength=k)
        complete = k in silhouettes
        rows.append(
            {
                "k": k,
                "silhouette": silhouettes[k] if complete else np.nan,
                "calinski_harabasz": calinski_harabasz_score(sample, labels)
                if complete
                else np.nan,
                "davies_bouldin": davies_bouldin_score(sample, labels) if complete else np.nan,
                "jaccard_mean": float(np.mean(jaccards[k])),
                "jaccard_min": float(np.min(jaccards[k])),
                "n_unstable": int((jaccards[k] < min_jaccard).sum()),
                "smallest_share": float(counts.min() / len(sample)),
            }
        )
    table = pd.DataFrame(rows).set_index("k")
    table["chosen"] = table.index == select_k(
        table, min_jaccard=min_jaccard, min_cluster_share=min_cluster_share
    )
    return table, fits, jaccards


def _silhouette_scores(
    sample: np.ndarray, labels_by_k: Mapping[int, np.ndarray]
) -> dict[int, float]:
    """``sklearn.metrics.silhouette_score(sample, labels)`` for every k, from one pass.

    scikit-learn computes the sample's pairwise distances (chunked by its working memory)
    once per call; every k here shares them. Each chunk's distances are summed per cluster
    for every k at once, as one matrix product with the clusters' indicator columns, where
    scikit-learn sums each row with ``bincount``: the scores equal scikit-learn's to within
    rounding (1e-12), in a fraction of the time.

    References
    ----------
    Rousseeuw, P. J. (1987). Silhouettes. J. Comput. Appl. Math. 20, 53-65.
    """
    if not labels_by_k:
        return {}
    ks = list(labels_by_k)
    frequencies = {k: np.bincount(labels_by_k[k]) for k in ks}
    # One indicator column per (k, cluster): chunk @ indicators sums each row's distances
    # to every cluster of every k.
    offsets = np.cumsum([0, *(len(frequencies[k]) for k in ks)])
    indicators = np.zeros((len(sample), int(offsets[-1])), dtype=np.float64)
    every_row = np.arange(len(sample))
    for j, k in enumerate(ks):
        indicators[every_row, offsets[j] + labels_by_k[k]] = 1.0
    intra: dict[int, list[np.ndarray]] = {k: [] for k in ks}
    inter: dict[int, list[np.ndarray]] = {k: [] for k in ks}
    start = 0
    # Chunks of 256 MB, not scikit-learn's default of a gigabyte: fresh memory that large
    # costs more to map than the distances cost to compute (measured: 0.5 s against 1.2 s
    # for 10,000 customers).
    chunks = pairwise_distances_chunked(sample, metric="euclidean", working_memory=256)
    for chunk in chunks:
        sums = chunk @ indicators
        rows = np.arange(len(chunk))
        for j, k in enumerate(ks):
            by_cluster = sums[:, offsets[j] : offsets[j + 1]]  # a view; sums is not reused
            own = (rows, labels_by_k[k][start : start + len(chunk)])
            intra[k].append(by_cluster[own])
            by_cluster[own] = np.inf
            by_cluster /= frequencies[k]
            inter[k].append(by_cluster.min(axis=1))
        start += len(chunk)
    scores = {}
    for k in ks:
        labels = labels_by_k[k]
        within, nearest = np.concatenate(intra[k]), np.concatenate(inter[k])
        with np.errstate(divide="ignore", invalid="ignore"):
            within /= (frequencies[k] - 1).take(labels, mode="clip")
            values = (nearest - within) / np.maximum(within, nearest)
        scores[k] = float(np.mean(np.nan_to_num(values)))
    return scores


def check_k_range(k_range: Sequence[int]) -> tuple[int, int]:
    if (
        len(k_range) != 2
        or not all(isinstance(k, int | np.integer) for k in k_range)
        or not 2 <= k_range[0] <= k_range[1]
    ):
        raise SegmentationInputError(
            f"config clustering.k_range: found {list(k_range)}; give two whole numbers "
            f"[smallest, largest] with 2 <= smallest <= largest, e.g. [2, 10]."
        )
    return int(k_range[0]), int(k_range[1])
