"""One clustering per k of the same points: k-means, a Gaussian mixture or Ward's tree.

Every fit and assignment runs on one thread, so a result does not depend on the cores.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.cluster.hierarchy import fcluster, ward
from sklearn.cluster import KMeans
from sklearn.metrics import pairwise_distances_argmin
from sklearn.mixture import GaussianMixture
from threadpoolctl import threadpool_limits

from segmentation.errors import SegmentationInputError

__all__ = [
    "ALGORITHMS",
    "ClusterFit",
    "check_algorithm",
    "cluster_means",
    "effective_sample_size",
    "fit_for_ks",
]

ALGORITHMS = ("kmeans", "gmm", "ward")


@dataclass(frozen=True)
class ClusterFit:
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


def fit_for_ks(
    features: np.ndarray,
    ks: Sequence[int],
    *,
    algorithm: str,
    seed: int,
    options: Mapping[str, Any],
) -> dict[int, ClusterFit]:
    """Fit the algorithm for every k on the same points (Ward: one tree, cut at every k)."""
    fits: dict[int, ClusterFit] = {}
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
                fits[k] = ClusterFit(labels=labels, centers=cluster_means(features, labels))
            return fits
        for k in ks:
            if algorithm == "kmeans":
                n_init = int(options.get("n_init", 4))
                model = KMeans(
                    n_clusters=k,
                    n_init=n_init,
                    max_iter=int(options.get("kmeans_max_iterations", 300)),
                    random_state=seed,
                ).fit(features)
                labels = model.labels_.astype(np.int64)
                fits[k] = ClusterFit(labels=labels, centers=model.cluster_centers_)
            else:
                mixture = GaussianMixture(
                    n_components=k,
                    covariance_type=str(options.get("gmm_covariance_type", "full")),
                    max_iter=int(options.get("gmm_max_iterations", 100)),
                    random_state=seed,
                ).fit(features)
                labels = mixture.predict(features).astype(np.int64)
                fits[k] = ClusterFit(labels=labels, centers=mixture.means_, mixture=mixture)
    return fits


def cluster_means(features: np.ndarray, labels: np.ndarray) -> np.ndarray:
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


def effective_sample_size(algorithm: str, sample_size: int, options: Mapping[str, Any]) -> int:
    if algorithm == "ward":
        return min(sample_size, int(options.get("ward_sample_size", 4000)))
    return sample_size


def check_algorithm(algorithm: str) -> None:
    if algorithm not in ALGORITHMS:
        raise SegmentationInputError(
            f"config clustering.algorithm: unknown algorithm {algorithm!r}; use one of "
            f"{list(ALGORITHMS)}."
        )
