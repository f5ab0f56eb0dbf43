"""Behavioural clusters as a segmentation scheme: chosen, profiled, named and checked for stability.

The scheme ``"clusters"`` groups the customers who have bought by how they buy:

1. **Features** (:func:`cluster_features`): ``log1p`` of ``recency_days``, ``frequency`` and
   ``monetary_total`` (negatives clipped at 0 first: a customer whose refunds exceed their
   purchases has spent nothing), plus ``interactions_90d`` and predicted ``clv`` when the
   snapshot has them, all standardised (:class:`sklearn.preprocessing.StandardScaler`). The
   feature set is the ``clustering.features`` / ``optional_features`` config.
2. **Potential customers** (never bought) have no behaviour: they are not clustered and get the
   segment ``"potential"``, the lowest, so everyone keeps exactly one label.
3. **Choice of k** (:func:`choose_k`): silhouette, Calinski-Harabasz and Davies-Bouldin on one
   fixed-seed sample, and Hennig's bootstrap stability (:func:`bootstrap_jaccard`) on the same
   sample; :func:`select_k` takes the best silhouette among the k whose mean cluster-wise
   Jaccard is at least 0.6.
4. **Fit and assignment**: the chosen model is fitted on the sample; everyone is assigned to
   the nearest centroid (GaussianMixture: the most likely component).
5. **Keys and order**: segments are ``"potential"`` then ``"c1"``.. ``"ck"``, ordered by the
   mean ``clv`` (or ``monetary_total``) of their members, lowest first. Given last month's
   result, clusters are matched to its centroids (Hungarian assignment) so that the same
   behaviour keeps the same key (:func:`match_clusters`).
6. **Names** (:func:`name_clusters`): bilingual, from where each centroid sits against the
   median buyer ("高价值活跃 / high-value active").

Reproducibility: the sample is the customers with the smallest seeded hash of their id, and
every computation runs on the buyers sorted by that hash, so the same ``random_state`` gives
the same labels, whatever the row order of the snapshot.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.cluster.hierarchy import fcluster, ward
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import cdist
from sklearn.cluster import KMeans
from sklearn.metrics import (
    calinski_harabasz_score,
    davies_bouldin_score,
    pairwise_distances_argmin,
    pairwise_distances_chunked,
)
from sklearn.mixture import GaussianMixture
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from segmentation.errors import MissingColumnError, SchemeUnavailable, SegmentationInputError
from segmentation.schemes.base import (
    Segment,
    Segmentation,
    make_segmentation,
)

__all__ = [
    "ALGORITHMS",
    "CLUSTER_SCHEMES",
    "K_RULE",
    "POTENTIAL_KEY",
    "ClusterFeatures",
    "bootstrap_jaccard",
    "choose_k",
    "cluster_features",
    "cluster_scheme",
    "match_clusters",
    "name_clusters",
    "select_k",
    "standardized_features",
]

ALGORITHMS = ("kmeans", "gmm", "ward")
SCHEME = "clusters"
TITLE = {"zh": "聚类分群", "en": "Behavioural clusters"}
POTENTIAL_KEY = "potential"
TRANSFORMS = ("log1p", "none")
K_RULE = {
    "zh": (
        "在自助抽样平均 Jaccard ≥ {min_jaccard} 的 k 中取轮廓系数最高者（并列取较小的 k）；"
        "若没有 k 达到该稳定性，取平均 Jaccard 最高的 k，并标注为不稳定。"
    ),
    "en": (
        "The k with the highest silhouette among those whose mean bootstrap Jaccard is at "
        "least {min_jaccard} (ties: the smaller k); if no k is that stable, the k with the "
        "highest mean Jaccard, flagged as unstable."
    ),
}


# --- features ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClusterFeatures:
    """The clustering features of the customers who have bought.

    Attributes
    ----------
    values : pandas.DataFrame
        Transformed (not yet standardised) features, one row per buying customer in snapshot
        order, indexed by customer_id, one column per feature used.
    raw : pandas.DataFrame
        The same rows and columns as the snapshot has them, for profiles.
    transforms : dict of str to str
        Feature column to transform (``"log1p"`` or ``"none"``), in column order.
    skipped : dict of str to str
        Optional features left out, with the reason.
    buyers : numpy.ndarray
        Boolean mask over the snapshot's rows: the customers who are clustered.
    """

    values: pd.DataFrame
    raw: pd.DataFrame
    transforms: dict[str, str]
    skipped: dict[str, str]
    buyers: np.ndarray


def cluster_features(
    snapshot: pd.DataFrame,
    *,
    features: Mapping[str, str],
    optional_features: Mapping[str, str] | None = None,
) -> ClusterFeatures:
    """Transform the snapshot's behaviour columns into clustering features.

    A customer is clustered when they have bought: ``is_potential`` is false (when the column
    exists) and ``recency_days`` is known (when the column exists; a customer whose only
    orders were refunded has no last purchase).

    Parameters
    ----------
    snapshot : pandas.DataFrame
        The customer snapshot, indexed by customer_id.
    features : mapping of str to str
        Required feature column to transform: ``"log1p"`` clips negatives at 0 and takes
        ``log(1 + x)``; ``"none"`` leaves the column as it is.
    optional_features : mapping of str to str, optional
        Used only when present, without missing values among the buyers, and not constant.

    Returns
    -------
    ClusterFeatures

    Raises
    ------
    MissingColumnError
        When a required feature column is not in the snapshot.
    SegmentationInputError
        When a transform is unknown, or a required feature is missing for some buyers.
    """
    buyers = np.ones(len(snapshot), dtype=bool)
    if "is_potential" in snapshot.columns:
        buyers &= ~snapshot["is_potential"].fillna(False).to_numpy(dtype=bool)
    if "recency_days" in snapshot.columns:
        buyers &= snapshot["recency_days"].notna().to_numpy()
    bought = snapshot.loc[buyers]

    transforms: dict[str, str] = {}
    skipped: dict[str, str] = {}
    for column, transform in features.items():
        _check_transform(f"clustering.features.{column}", transform)
        if column not in snapshot.columns:
            raise MissingColumnError(
                f"snapshot: no column {column!r}, which the clustering features need "
                f"(config clustering.features); compute it in the snapshot or remove it "
                f"from the config."
            )
        missing = bought[column].isna()
        if missing.any():
            raise SegmentationInputError(
                f"snapshot column {column!r}: {int(missing.sum())} customers who bought have "
                f"no value (first: {list(bought.index[missing.to_numpy()][:3])}); fill the "
                f"column or remove it from clustering.features."
            )
        transforms[column] = transform
    for column, transform in (optional_features or {}).items():
        _check_transform(f"clustering.optional_features.{column}", transform)
        if column in transforms:
            continue
        if column not in snapshot.columns:
            skipped[column] = "not in the snapshot"
        elif bought[column].isna().any():
            skipped[column] = f"missing for {int(bought[column].isna().sum())} buyers"
        elif bought[column].nunique() < 2:
            skipped[column] = "constant among buyers"
        else:
            transforms[column] = transform

    raw = bought[list(transforms)].astype(float)
    values = pd.DataFrame(
        {column: _transform(raw[column].to_numpy(), how) for column, how in transforms.items()},
        index=raw.index,
    )
    return ClusterFeatures(
        values=values, raw=raw, transforms=transforms, skipped=skipped, buyers=buyers
    )


def standardized_features(snapshot: pd.DataFrame, segmentation: Segmentation) -> pd.DataFrame:
    """The standardised features a clusters result was fitted on, recomputed for plotting.

    Parameters
    ----------
    snapshot : pandas.DataFrame
        The snapshot the segmentation was computed from.
    segmentation : Segmentation
        A result of :func:`cluster_scheme`.

    Returns
    -------
    pandas.DataFrame
        One row per clustered customer, one column per feature, in the standardised space.
    """
    details = segmentation.details
    features = cluster_features(snapshot, features=details["features"])
    mean, scale = details["scaler_mean"], details["scaler_scale"]
    return (features.values - mean) / scale


def _check_transform(where: str, transform: str) -> None:
    if transform not in TRANSFORMS:
        raise SegmentationInputError(
            f"config {where}: unknown transform {transform!r}; use one of {list(TRANSFORMS)}."
        )


def _transform(values: np.ndarray, how: str) -> np.ndarray:
    if how == "log1p":
        return np.log1p(np.clip(values, 0.0, None))
    return values.astype(float)


# --- fitting ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Fit:
    """One fitted clustering of the sample: labels 0..k-1 and how to assign anyone else."""

    labels: np.ndarray
    centers: np.ndarray
    mixture: GaussianMixture | None = None

    def assign(self, features: np.ndarray) -> np.ndarray:
        # One thread, as for the fits: a customer on a border gets the same cluster whatever
        # the number of cores (threads change the order of floating-point sums).
        with threadpool_limits(limits=1):
            if self.mixture is not None:
                return np.asarray(self.mixture.predict(features))
            return np.asarray(pairwise_distances_argmin(features, self.centers))


def _fit_for_ks(
    features: np.ndarray,
    ks: Sequence[int],
    *,
    algorithm: str,
    seed: int,
    options: Mapping[str, Any],
) -> dict[int, _Fit]:
    """Fit the algorithm for every k on the same points (Ward: one tree, cut at every k)."""
    fits: dict[int, _Fit] = {}
    # Each fit is on the sample (10,000 points by default), too small for BLAS and OpenMP
    # threads to pay: on 2 busy cores their spinning made k-means 6 and GaussianMixture 4 times
    # slower. One thread also makes the result independent of the number of cores.
    with threadpool_limits(limits=1):
        if algorithm == "ward":
            # The tree scikit-learn's AgglomerativeClustering(linkage="ward") builds (it calls
            # scipy's ward), computed once and cut at every k rather than rebuilt per k.
            tree = ward(features)
            for k in ks:
                labels = fcluster(tree, t=k, criterion="maxclust") - 1
                fits[k] = _Fit(labels=labels, centers=_centers(features, labels))
            return fits
        for k in ks:
            if algorithm == "kmeans":
                n_init = int(options.get("n_init", 4))
                model = KMeans(n_clusters=k, n_init=n_init, random_state=seed).fit(features)
                labels = model.labels_.astype(np.int64)
                fits[k] = _Fit(labels=labels, centers=model.cluster_centers_)
            else:
                mixture = GaussianMixture(
                    n_components=k,
                    covariance_type=str(options.get("gmm_covariance_type", "full")),
                    random_state=seed,
                ).fit(features)
                labels = mixture.predict(features).astype(np.int64)
                fits[k] = _Fit(labels=labels, centers=mixture.means_, mixture=mixture)
    return fits


def _centers(features: np.ndarray, labels: np.ndarray) -> np.ndarray:
    k = int(labels.max()) + 1
    counts = np.bincount(labels, minlength=k)
    sums = np.stack(
        [
            np.bincount(labels, weights=features[:, j], minlength=k)
            for j in range(features.shape[1])
        ],
        axis=1,
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        return sums / counts[:, None]


# --- stability --------------------------------------------------------------------------------


def _cluster_jaccard(original: np.ndarray, resampled: np.ndarray, k: int) -> np.ndarray:
    """For each original cluster, the best Jaccard similarity with any resample cluster."""
    k_resampled = int(resampled.max()) + 1
    table = np.bincount(original * k_resampled + resampled, minlength=k * k_resampled).reshape(
        k, k_resampled
    )
    union = table.sum(axis=1)[:, None] + table.sum(axis=0)[None, :] - table
    # clusterboot's zerobyzero=0: a cluster absent from the resample counts as dissolved.
    jaccard = np.divide(table, union, out=np.zeros(table.shape), where=union > 0)
    return jaccard.max(axis=1)


def _bootstrap(
    features: np.ndarray,
    fits: Mapping[int, _Fit],
    *,
    algorithm: str,
    n_bootstrap: int,
    rng: np.random.Generator,
    options: Mapping[str, Any],
) -> dict[int, np.ndarray]:
    """Cluster-wise Jaccard per resample, shape (n_bootstrap, k), for every k in ``fits``."""
    n = len(features)
    ks = sorted(fits)
    out = {k: np.empty((n_bootstrap, k)) for k in ks}
    for b in range(n_bootstrap):
        # clusterboot without multipleboot: a resample drawn with replacement, duplicates dropped.
        rows = np.unique(rng.integers(0, n, n))
        seed = int(rng.integers(2**31 - 1))
        refits = _fit_for_ks(features[rows], ks, algorithm=algorithm, seed=seed, options=options)
        for k in ks:
            out[k][b] = _cluster_jaccard(fits[k].labels[rows], refits[k].labels, k)
    return out


def bootstrap_jaccard(
    features: np.ndarray | pd.DataFrame,
    labels: np.ndarray | pd.Series,
    *,
    algorithm: str = "kmeans",
    n_bootstrap: int = 20,
    random_state: int = 0,
    options: Mapping[str, Any] | None = None,
) -> np.ndarray:
    """Hennig's cluster-wise stability: mean best Jaccard of each cluster over resamples.

    For each of ``n_bootstrap`` resamples (drawn with replacement, duplicates removed), the
    resample is clustered again with the same algorithm and number of clusters; each original
    cluster, restricted to the points in the resample, is compared with every new cluster and
    keeps its highest Jaccard similarity ``|C ∩ D| / |C ∪ D|``. The result is the mean over
    resamples. Below 0.6 a cluster should not be trusted; 0.75 and above it is stable.

    Parameters
    ----------
    features : array-like of shape (n, d)
        The (standardised) features the labels were computed on.
    labels : array-like of shape (n,)
        The original clustering, any hashable labels; clusters are taken in sorted order.
    algorithm : {"kmeans", "gmm", "ward"}, default "kmeans"
        How to recluster each resample.
    n_bootstrap : int, default 20
        Number of resamples.
    random_state : int, default 0
        Seed of the resampling and of every refit.
    options : mapping, optional
        ``n_init`` (k-means restarts) and ``gmm_covariance_type``.

    Returns
    -------
    numpy.ndarray of shape (k,)
        The mean Jaccard of each cluster, in sorted label order.

    References
    ----------
    Hennig, C. (2007). Cluster-wise assessment of cluster stability. Computational Statistics
    & Data Analysis 52(1), 258-271. (R: ``fpc::clusterboot``.)
    """
    _check_algorithm(algorithm)
    if n_bootstrap < 1:
        raise ValueError(f"n_bootstrap must be at least 1, got {n_bootstrap}")
    x = np.asarray(features, dtype=float)
    codes, uniques = pd.factorize(np.asarray(labels), sort=True)
    fit = _Fit(labels=codes.astype(np.int64), centers=_centers(x, codes))
    per_resample = _bootstrap(
        x,
        {len(uniques): fit},
        algorithm=algorithm,
        n_bootstrap=n_bootstrap,
        rng=np.random.default_rng(random_state),
        options=options or {},
    )
    return per_resample[len(uniques)].mean(axis=0)


# --- choice of k ------------------------------------------------------------------------------


def choose_k(
    features: np.ndarray | pd.DataFrame,
    *,
    k_range: tuple[int, int] = (2, 10),
    algorithm: str = "kmeans",
    random_state: int = 0,
    n_bootstrap: int = 20,
    sample_size: int = 10_000,
    min_jaccard: float = 0.6,
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
    options : mapping, optional
        ``n_init``, ``gmm_covariance_type``, ``ward_sample_size``.

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
    table, _, _ = _score_ks(
        np.asarray(features, dtype=float),
        k_range=k_range,
        algorithm=algorithm,
        rng=np.random.default_rng(random_state),
        n_bootstrap=n_bootstrap,
        sample_size=sample_size,
        min_jaccard=min_jaccard,
        options=options or {},
    )
    return table


def select_k(table: pd.DataFrame, *, min_jaccard: float = 0.6) -> int:
    """The k of a :func:`choose_k` table, by the rule in :data:`K_RULE`.

    Stability comes first because a segmentation is only useful if the same customers land
    together again on another draw of the data; among the k stable enough to trust, the
    silhouette (bounded, comparable across k) decides. Calinski-Harabasz and Davies-Bouldin
    measure the same compactness-against-separation trade-off, so they are reported beside it
    as a check rather than given votes that would count that trade-off three times. Without
    bootstrap scores (``n_bootstrap=0``) the best silhouette wins.

    Parameters
    ----------
    table : pandas.DataFrame
        Indexed by k, with ``silhouette`` and ``jaccard_mean``.
    min_jaccard : float, default 0.6
        Hennig's "should not be trusted below" threshold.

    Returns
    -------
    int
    """
    scored = table.dropna(subset=["silhouette"])
    if scored.empty:
        raise ValueError("no k could be scored: every fit found fewer clusters than asked")
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


def _score_ks(
    features: np.ndarray,
    *,
    k_range: tuple[int, int],
    algorithm: str,
    rng: np.random.Generator,
    n_bootstrap: int,
    sample_size: int,
    min_jaccard: float,
    options: Mapping[str, Any],
) -> tuple[pd.DataFrame, dict[int, _Fit], dict[int, np.ndarray]]:
    """The table of :func:`choose_k`, the fits on the sample and the per-cluster Jaccard."""
    _check_algorithm(algorithm)
    k_min, k_max = _check_k_range(k_range)
    size = _effective_sample_size(algorithm, sample_size, options)
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
    fits = _fit_for_ks(sample, ks, algorithm=algorithm, seed=seed, options=options)
    jaccards = (
        {
            k: per.mean(axis=0)
            for k, per in _bootstrap(
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
    table["chosen"] = table.index == select_k(table, min_jaccard=min_jaccard)
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


def _effective_sample_size(algorithm: str, sample_size: int, options: Mapping[str, Any]) -> int:
    if algorithm == "ward":
        return min(sample_size, int(options.get("ward_sample_size", 4000)))
    return sample_size


def _check_algorithm(algorithm: str) -> None:
    if algorithm not in ALGORITHMS:
        raise SegmentationInputError(
            f"config clustering.algorithm: unknown algorithm {algorithm!r}; use one of "
            f"{list(ALGORITHMS)}."
        )


def _check_k_range(k_range: Sequence[int]) -> tuple[int, int]:
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


# --- names and month-to-month keys ------------------------------------------------------------


def name_clusters(position: pd.DataFrame, *, naming: Mapping[str, Any]) -> pd.DataFrame:
    """Bilingual names and actions from where each cluster's centroid sits.

    Parameters
    ----------
    position : pandas.DataFrame
        One row per cluster (in category order), one column per feature: the centroid minus
        the median buyer, in standard deviations of the transformed feature.
    naming : mapping
        The ``clustering.naming`` config: ``band`` (a position above ``+band`` is "high",
        below ``-band`` "low", else "mid"), ``base_dimensions`` and ``dimensions`` (a list of
        ``{column, high, mid, low}``, each level ``{zh, en, action_zh?, action_en?}``). Only
        dimensions whose column is in ``position`` are used.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``position``: ``name_zh``, ``name_en``, ``action_zh``, ``action_en``.
        The first ``base_dimensions`` words always name a cluster ("高价值活跃",
        "high-value active"); the next dimensions are added, in order, only to clusters that
        share a name and differ on that dimension ("…·高频", "…, frequent"); clusters that
        still share a name are numbered in row order ("… 1", "… 2").
    """
    band = float(naming["band"])
    dimensions = [d for d in naming["dimensions"] if d["column"] in position.columns]
    n_base = int(naming.get("base_dimensions", 2))

    def level(value: float) -> str:
        return "high" if value > band else "low" if value < -band else "mid"

    levels = {d["column"]: [level(v) for v in position[d["column"]].to_numpy()] for d in dimensions}
    rows = range(len(position))
    base = [[d[levels[d["column"]][i]] for d in dimensions[:n_base]] for i in rows]
    names_zh = ["".join(w["zh"] for w in words) for words in base]
    names_en = [" ".join(w["en"] for w in words) for words in base]
    for dimension in dimensions[n_base:]:
        column = dimension["column"]
        for members in _same_name_groups(names_en):
            if len({levels[column][i] for i in members}) > 1:
                for i in members:
                    names_zh[i] += "·" + dimension[levels[column][i]]["zh"]
                    names_en[i] += ", " + dimension[levels[column][i]]["en"]
    for members in _same_name_groups(names_en):
        for number, i in enumerate(members, start=1):
            names_zh[i] += f" {number}"
            names_en[i] += f" {number}"
    return pd.DataFrame(
        {
            "name_zh": names_zh,
            "name_en": names_en,
            "action_zh": [
                "；".join(w["action_zh"] for w in ws if w.get("action_zh")) for ws in base
            ],
            "action_en": [
                "; ".join(w["action_en"] for w in ws if w.get("action_en")) for ws in base
            ],
        },
        index=position.index,
    )


def _same_name_groups(names: Sequence[str]) -> list[list[int]]:
    """Positions of the names shared by more than one cluster, each group in row order."""
    groups: dict[str, list[int]] = {}
    for i, name in enumerate(names):
        groups.setdefault(name, []).append(i)
    return [members for members in groups.values() if len(members) > 1]


def match_clusters(
    centroids: pd.DataFrame, previous: pd.DataFrame, *, scale: pd.Series
) -> pd.DataFrame:
    """Match this month's clusters to last month's by their centroids (Hungarian assignment).

    Parameters
    ----------
    centroids : pandas.DataFrame
        This month's centroids in the transformed feature space, one row per cluster.
    previous : pandas.DataFrame
        Last month's centroids, indexed by key, in the same space; only the columns both
        share are compared.
    scale : pandas.Series
        This month's standard deviation per feature: distances are measured in it.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``centroids``: ``previous_key`` (missing when unmatched: more clusters
        than last month) and ``distance`` (Euclidean, standardised).

    References
    ----------
    Kuhn, H. W. (1955). The Hungarian method for the assignment problem. Naval Research
    Logistics Quarterly 2, 83-97.
    """
    common = [c for c in centroids.columns if c in previous.columns]
    out = pd.DataFrame(
        {
            "previous_key": pd.Series(pd.NA, index=centroids.index, dtype="string"),
            "distance": np.nan,
        },
        index=centroids.index,
    )
    if not common or previous.empty:
        return out
    current = centroids[common].to_numpy() / scale[common].to_numpy()
    before = previous[common].to_numpy() / scale[common].to_numpy()
    cost = cdist(current, before)
    rows, cols = linear_sum_assignment(cost)
    out.iloc[rows, 0] = previous.index.to_numpy()[cols]
    out.iloc[rows, 1] = cost[rows, cols]
    return out


def _key_number(key: str) -> int:
    match = re.fullmatch(r"c(\d+)", key)
    return int(match.group(1)) if match else 0


# --- the scheme -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Settings:
    """The ``clustering`` config section, checked."""

    algorithm: str
    k_range: tuple[int, int]
    k_forced: bool
    sample_size: int
    n_bootstrap: int
    unstable_below: float
    stable_above: float
    min_customers: int
    options: dict[str, Any]

    @classmethod
    def from_config(cls, settings: Mapping[str, Any]) -> _Settings:
        algorithm = str(settings["algorithm"])
        _check_algorithm(algorithm)
        k = settings.get("k")
        if k is not None and (not isinstance(k, int | np.integer) or k < 2):
            raise SegmentationInputError(
                f"config clustering.k: found {k!r}; give a whole number of clusters of at "
                f"least 2, or null to choose k over clustering.k_range."
            )
        k_range = _check_k_range([int(k), int(k)] if k is not None else list(settings["k_range"]))
        numbers = {
            name: settings[name]
            for name in ("sample_size", "n_bootstrap", "min_customers", "n_init")
        }
        if not all(isinstance(v, int | np.integer) for v in numbers.values()) or not (
            numbers["sample_size"] >= 10
            and numbers["n_bootstrap"] >= 0
            and numbers["min_customers"] >= 3
            and numbers["n_init"] >= 1
        ):
            raise SegmentationInputError(
                f"config clustering: found {numbers}; use whole numbers with sample_size "
                f">= 10, n_bootstrap >= 0 (20 or more for Hennig's thresholds), "
                f"min_customers >= 3 and n_init >= 1."
            )
        unstable_below = float(settings["unstable_below"])
        stable_above = float(settings["stable_above"])
        if not 0 < unstable_below <= stable_above <= 1:
            raise SegmentationInputError(
                f"config clustering: found unstable_below={unstable_below}, stable_above="
                f"{stable_above}; use 0 < unstable_below <= stable_above <= 1 (Hennig: 0.6, "
                f"0.75)."
            )
        return cls(
            algorithm=algorithm,
            k_range=k_range,
            k_forced=k is not None,
            sample_size=int(numbers["sample_size"]),
            n_bootstrap=int(numbers["n_bootstrap"]),
            unstable_below=unstable_below,
            stable_above=stable_above,
            min_customers=int(numbers["min_customers"]),
            options={
                "n_init": int(numbers["n_init"]),
                "gmm_covariance_type": str(settings["gmm_covariance_type"]),
                "ward_sample_size": int(settings["ward_sample_size"]),
            },
        )


def cluster_scheme(
    snapshot: pd.DataFrame,
    *,
    config: Mapping[str, Any],
    random_state: int = 0,
    previous: Segmentation | None = None,
) -> Segmentation:
    """Behavioural clusters: the scheme ``"clusters"``.

    Parameters
    ----------
    snapshot : pandas.DataFrame
        The customer snapshot (:func:`segmentation.features.customer_snapshot`).
    config : mapping
        The kit's config; this scheme reads its ``clustering`` section.
    random_state : int, default 0
        Seed of the sample, the fits and the bootstrap; the same seed gives the same labels.
    previous : Segmentation, optional
        Last month's ``"clusters"`` result. Its centroids are matched to this month's so that
        the same behaviour keeps the same key. k is chosen afresh each month: when it grows,
        the extra clusters take new keys (never one used before); when it shrinks, the
        previous keys left unmatched are retired.

    Returns
    -------
    Segmentation
        Keys ``"potential"`` then the clusters (``"c1"``..), ordered by the mean of the first
        ``order_by`` column present, lowest first. ``details`` holds ``k``, ``k_table``
        (:func:`choose_k`), ``k_rule``, ``jaccard`` and ``stability`` per cluster,
        ``feature_profile`` (mean and median of each feature per cluster), ``centroids``,
        ``centroid_position``, the scaler, ``matching`` and what was left out.

    Raises
    ------
    SchemeUnavailable
        When fewer than ``min_customers`` customers have bought.
    SegmentationInputError
        When the config or the snapshot cannot be used (the message says which key or column).
    """
    settings = config["clustering"]
    checked = _Settings.from_config(settings)
    algorithm, unstable_below = checked.algorithm, checked.unstable_below

    features = cluster_features(
        snapshot,
        features=settings["features"],
        optional_features=settings.get("optional_features"),
    )
    n_buyers = len(features.values)
    if n_buyers < checked.min_customers:
        raise SchemeUnavailable(
            SCHEME,
            f"only {n_buyers} customers have bought; clustering needs at least "
            f"{checked.min_customers} (config clustering.min_customers)",
        )

    # Work in an order fixed by a seeded hash of the customer id: the sample is its head, and
    # every sum runs in the same order, so the snapshot's row order cannot change a label.
    hash_key = np.random.default_rng(random_state).bytes(8).hex()
    hashed = pd.util.hash_pandas_object(features.values.index, hash_key=hash_key).to_numpy()
    order = np.argsort(hashed, kind="stable")
    transformed = features.values.to_numpy()[order]
    scaler = StandardScaler().fit(transformed)
    standardized = scaler.transform(transformed)
    size = _effective_sample_size(algorithm, checked.sample_size, checked.options)

    table, fits, jaccards = _score_ks(
        standardized[:size],
        k_range=checked.k_range,
        algorithm=algorithm,
        rng=np.random.default_rng(random_state),
        n_bootstrap=checked.n_bootstrap,
        sample_size=size,
        min_jaccard=unstable_below,
        options=checked.options,
    )
    k = int(table.index[table["chosen"]][0])
    assigned = fits[k].assign(standardized)  # in the hashed order
    cluster = np.empty(n_buyers, dtype=np.int64)
    cluster[order] = assigned

    columns = list(features.transforms)
    centroids = pd.DataFrame(_centers(transformed, assigned), columns=columns)
    order_by = _order_by_column(snapshot, features, settings["order_by"])
    value = snapshot.loc[features.buyers, order_by].to_numpy(dtype=float)[order]
    value_mean = pd.Series(value).groupby(assigned).mean().reindex(range(k))
    by_value = np.lexsort((np.arange(k), value_mean.fillna(-np.inf).to_numpy()))

    keys, matching, key_counter = _cluster_keys(
        centroids, by_value, previous=previous, scale=pd.Series(scaler.scale_, index=columns)
    )
    ordered_keys = [keys[i] for i in by_value]
    centroids.index = pd.Index(keys, name="segment")
    centroids = centroids.loc[ordered_keys]

    medians = pd.Series(np.median(transformed, axis=0), index=columns)
    scales = pd.Series(scaler.scale_, index=columns)
    position = (centroids - medians) / scales
    names = name_clusters(position, naming=settings["naming"])
    potential = settings["potential"]
    segments = [
        Segment(
            POTENTIAL_KEY,
            potential["name_zh"],
            potential["name_en"],
            potential.get("action_zh", ""),
            potential.get("action_en", ""),
        ),
        *(
            Segment(key, *names.loc[key, ["name_zh", "name_en", "action_zh", "action_en"]])
            for key in ordered_keys
        ),
    ]
    labels = np.full(len(snapshot), POTENTIAL_KEY, dtype=object)
    labels[features.buyers] = np.asarray(keys, dtype=object)[cluster]

    buyer_keys = pd.Series(
        pd.Categorical(labels[features.buyers], categories=ordered_keys), index=features.raw.index
    )
    grouped = features.raw.groupby(buyer_keys, observed=False)
    stats = {"mean": grouped.mean(), "median": grouped.median()}
    feature_profile = pd.DataFrame(
        {f"{c}_{stat}": stats[stat][c] for c in columns for stat in ("mean", "median")}
    )
    feature_profile.index.name = "segment"
    jaccard = pd.Series(
        jaccards[k][by_value], index=pd.Index(ordered_keys, name="segment"), name="jaccard"
    )
    stability = pd.Series(
        np.select(
            [jaccard.isna(), jaccard >= checked.stable_above, jaccard >= unstable_below],
            ["not measured", "stable", "doubtful"],
            "unstable",
        ),
        index=jaccard.index,
        name="stability",
    )
    details = {
        "algorithm": algorithm,
        "k": k,
        "k_forced": checked.k_forced,
        "k_table": table,
        "k_rule": {lang: text.format(min_jaccard=unstable_below) for lang, text in K_RULE.items()},
        "k_stable": bool(np.mean(jaccards[k]) >= unstable_below),
        "features": features.transforms,
        "features_skipped": features.skipped,
        "order_by": order_by,
        "n_clustered": n_buyers,
        "n_potential": int(len(snapshot) - n_buyers),
        "sample_size": min(size, n_buyers),
        "n_bootstrap": checked.n_bootstrap,
        "jaccard": jaccard,
        "stability": stability,
        "feature_profile": feature_profile,
        "centroids": centroids,
        "centroid_position": position,
        "medians": medians,
        "scaler_mean": pd.Series(scaler.mean_, index=columns),
        "scaler_scale": scales,
        "matching": matching.loc[ordered_keys] if matching is not None else None,
        "key_counter": key_counter,
        "random_state": random_state,
    }
    return make_segmentation(
        scheme=SCHEME,
        title=TITLE,
        snapshot=snapshot,
        keys=labels,
        segments=segments,
        ordered=True,
        details=details,
    )


def _order_by_column(
    snapshot: pd.DataFrame, features: ClusterFeatures, candidates: Sequence[str]
) -> str:
    """The first ``order_by`` column the snapshot has, with a value for every buyer."""
    for column in candidates:
        if column in snapshot.columns and snapshot.loc[features.buyers, column].notna().all():
            return column
    raise SegmentationInputError(
        f"config clustering.order_by: none of {list(candidates)} is a snapshot column with a "
        f"value for every customer who bought; add monetary_total to the list."
    )


def _cluster_keys(
    centroids: pd.DataFrame,
    by_value: np.ndarray,
    *,
    previous: Segmentation | None,
    scale: pd.Series,
) -> tuple[list[str], pd.DataFrame | None, int]:
    """A key per fitted cluster: by value rank, or last month's key of the nearest centroid."""
    k = len(centroids)
    if previous is None:
        keys = [""] * k
        for rank, cluster in enumerate(by_value, start=1):
            keys[cluster] = f"c{rank}"
        return keys, None, k
    if previous.scheme != SCHEME or "centroids" not in previous.details:
        raise ValueError(
            f"previous must be a {SCHEME!r} result with centroids in its details, "
            f"got scheme {previous.scheme!r}"
        )
    before: pd.DataFrame = previous.details["centroids"]
    counter = int(
        previous.details.get("key_counter", max((_key_number(c) for c in before.index), default=0))
    )
    matched = match_clusters(centroids, before, scale=scale)
    keys = [""] * k
    previous_keys = matched["previous_key"].to_numpy(dtype=object)
    for cluster in by_value:  # unmatched clusters take new keys in value order
        previous_key = previous_keys[cluster]
        if previous_key is pd.NA:
            counter += 1
            keys[cluster] = f"c{counter}"
        else:
            keys[cluster] = str(previous_key)
    matched.index = pd.Index(keys, name="segment")
    return keys, matched, counter


CLUSTER_SCHEMES = {SCHEME: cluster_scheme}
