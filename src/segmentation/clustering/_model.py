"""The clustering model end to end: rows in a seeded order, standardised, k chosen, assigned.

Reproducibility: the sample is the customers with the smallest seeded hash of their id, and
every computation runs on the rows sorted by that hash, so the same ``random_state`` gives the
same labels, whatever the order of the rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.preprocessing import StandardScaler

from segmentation.clustering._choice import score_ks
from segmentation.clustering._fitting import cluster_means, effective_sample_size

__all__ = ["FittedClusters", "fit_clusters"]


@dataclass(frozen=True)
class FittedClusters:
    """A clustering of every row, fitted on a sample of them, with the scores of each k.

    Attributes
    ----------
    table : pandas.DataFrame
        The scores of every k (:func:`choose_k`'s table), the chosen k marked.
    k : int
        The chosen number of clusters.
    labels : numpy.ndarray
        The cluster (0..k-1) of each row, in the rows' order.
    order : numpy.ndarray
        The rows' positions sorted by the seeded hash of their index: the order everything
        was computed in.
    transformed : numpy.ndarray
        The features as given, rows in ``order``.
    scaler : sklearn.preprocessing.StandardScaler
        The standardisation fitted on every row.
    centroids : numpy.ndarray of shape (k, d)
        Each cluster's mean of ``transformed``.
    jaccard : numpy.ndarray of shape (k,)
        Each cluster's mean bootstrap Jaccard (NaN without bootstrap).
    sample_size : int
        The sample size the scores were computed on (Ward's may be smaller than asked).
    """

    table: pd.DataFrame
    k: int
    labels: np.ndarray
    order: np.ndarray
    transformed: np.ndarray
    scaler: StandardScaler
    centroids: np.ndarray
    jaccard: np.ndarray
    sample_size: int

    def mean_by_cluster(self, values: np.ndarray) -> pd.Series:
        """The mean of a per-row value in each cluster (0..k-1), summed in the hashed order."""
        assigned = self.labels[self.order]
        return pd.Series(values[self.order]).groupby(assigned).mean().reindex(range(self.k))


def fit_clusters(
    values: pd.DataFrame,
    *,
    algorithm: str,
    k_range: tuple[int, int],
    sample_size: int,
    n_bootstrap: int,
    min_jaccard: float,
    min_cluster_share: float,
    options: Mapping[str, Any],
    random_state: int = 0,
) -> FittedClusters:
    """Standardise, choose k on a sample (:func:`choose_k`) and assign every row.

    Parameters
    ----------
    values : pandas.DataFrame
        Transformed features (:attr:`ClusterFeatures.values`), indexed by customer_id.
    algorithm : {"kmeans", "gmm", "ward"}
    k_range : (int, int)
        Smallest and largest k, inclusive.
    sample_size : int
        The sample is the first this many rows in the hashed order (Ward: at most
        ``options["ward_sample_size"]``).
    n_bootstrap : int
        Resamples for the stability of each k; 0 skips it.
    min_jaccard : float
        The stability a k needs to be eligible.
    min_cluster_share : float
        The share of the sample a k's smallest cluster needs to be eligible
        (:func:`select_k`).
    options : mapping
        ``n_init``, ``gmm_covariance_type``, ``ward_sample_size``, ``kmeans_max_iterations``,
        ``gmm_max_iterations``.
    random_state : int, default 0
        Seed of the hashed order, the fits and the bootstrap.

    Returns
    -------
    FittedClusters
    """
    # Work in an order fixed by a seeded hash of the customer id: the sample is its head, and
    # every sum runs in the same order, so the snapshot's row order cannot change a label.
    hash_key = np.random.default_rng(random_state).bytes(8).hex()
    hashed = pd.util.hash_pandas_object(values.index, hash_key=hash_key).to_numpy()
    order = np.argsort(hashed, kind="stable")
    transformed = values.to_numpy()[order]
    scaler = StandardScaler().fit(transformed)
    standardized = scaler.transform(transformed)
    size = effective_sample_size(algorithm, sample_size, options)

    table, fits, jaccards = score_ks(
        standardized[:size],
        k_range=k_range,
        algorithm=algorithm,
        rng=np.random.default_rng(random_state),
        n_bootstrap=n_bootstrap,
        sample_size=size,
        min_jaccard=min_jaccard,
        min_cluster_share=min_cluster_share,
        options=options,
    )
    k = int(table.index[table["chosen"]][0])
    assigned = fits[k].assign(standardized)  # in the hashed order
    labels = np.empty(len(values), dtype=np.int64)
    labels[order] = assigned
    return FittedClusters(
        table=table,
        k=k,
        labels=labels,
        order=order,
        transformed=transformed,
        scaler=scaler,
        centroids=cluster_means(transformed, assigned),
        jaccard=jaccards[k],
        sample_size=size,
    )
