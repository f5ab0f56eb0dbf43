"""Hennig's cluster-wise stability: how well each cluster survives a bootstrap resample.

A resample is clustered again; each cluster keeps its best Jaccard with a new one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from segmentation.clustering._fitting import (
    ClusterFit,
    check_algorithm,
    cluster_means,
    fit_for_ks,
)

__all__ = ["bootstrap_jaccard", "resampled_jaccards"]


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


def resampled_jaccards(
    features: np.ndarray,
    fits: Mapping[int, ClusterFit],
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
        refits = fit_for_ks(features[rows], ks, algorithm=algorithm, seed=seed, options=options)
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
    check_algorithm(algorithm)
    if n_bootstrap < 1:
        raise ValueError(f"n_bootstrap must be at least 1, got {n_bootstrap}")
    x = np.asarray(features, dtype=float)
    codes, uniques = pd.factorize(np.asarray(labels), sort=True)
    fit = ClusterFit(labels=codes.astype(np.int64), centers=cluster_means(x, codes))
    per_resample = resampled_jaccards(
        x,
        {len(uniques): fit},
        algorithm=algorithm,
        n_bootstrap=n_bootstrap,
        rng=np.random.default_rng(random_state),
        options=options or {},
    )
    return per_resample[len(uniques)].mean(axis=0)
