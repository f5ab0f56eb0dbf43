"""Behavioural clustering models: features, k-means/GMM/Ward fits, the choice of k (silhouette,
bootstrap Jaccard stability) and names from centroids; the scheme is in ``schemes.clusters``.
"""

from __future__ import annotations

from segmentation.clustering._choice import (
    K_RULE,
    SCHEME,
    check_k_range,
    choose_k,
    score_ks,
    select_k,
)
from segmentation.clustering._features import ClusterFeatures, cluster_features
from segmentation.clustering._fitting import ALGORITHMS, check_algorithm
from segmentation.clustering._model import FittedClusters, fit_clusters
from segmentation.clustering._naming import match_clusters, name_clusters
from segmentation.clustering._stability import bootstrap_jaccard

__all__ = [
    "ALGORITHMS",
    "K_RULE",
    "SCHEME",
    "ClusterFeatures",
    "FittedClusters",
    "bootstrap_jaccard",
    "check_algorithm",
    "check_k_range",
    "choose_k",
    "cluster_features",
    "fit_clusters",
    "match_clusters",
    "name_clusters",
    "score_ks",
    "select_k",
]
