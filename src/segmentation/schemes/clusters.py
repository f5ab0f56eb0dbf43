"""Behavioural clusters as a segmentation scheme: chosen, profiled, named and checked for stability.

The scheme ``"clusters"`` groups the customers who have bought by how they buy, with the
models of :mod:`segmentation.clustering`:

1. **Features** (:func:`~segmentation.clustering.cluster_features`): ``log1p`` of
   ``recency_days``, ``frequency`` and ``monetary_total`` (negatives clipped at 0 first: a
   customer whose refunds exceed their purchases has spent nothing), plus ``interactions_90d``
   and predicted ``clv`` when the snapshot has them, all standardised
   (:class:`sklearn.preprocessing.StandardScaler`). The feature set is the
   ``clustering.features`` / ``optional_features`` config.
2. **Potential customers** (never bought) have no behaviour: they are not clustered and get the
   segment ``"potential"``, the lowest, so everyone keeps exactly one label.
3. **Choice of k** (:func:`~segmentation.clustering.choose_k`): silhouette, Calinski-Harabasz
   and Davies-Bouldin on one fixed-seed sample, and Hennig's bootstrap stability
   (:func:`~segmentation.clustering.bootstrap_jaccard`) on the same sample;
   :func:`~segmentation.clustering.select_k` leaves out every k whose smallest cluster holds
   under ``clustering.min_cluster_share`` of the sample, then takes the best silhouette among
   the k whose mean cluster-wise Jaccard is at least ``clustering.unstable_below``.
4. **Fit and assignment** (:func:`~segmentation.clustering.fit_clusters`): the chosen model is
   fitted on the sample; everyone is assigned to the nearest centroid (GaussianMixture: the
   most likely component).
5. **Keys and order**: segments are ``"potential"`` then ``"c1"``.. ``"ck"``, ordered by the
   mean ``clv`` (or ``monetary_total``) of their members, lowest first. Given last month's
   result, clusters are matched to its centroids (Hungarian assignment) so that the same
   behaviour keeps the same key (:func:`~segmentation.clustering.match_clusters`).
6. **Names** (:func:`~segmentation.clustering.name_clusters`): bilingual, from where each
   centroid sits against the median buyer ("近期·高频·高额 / recent frequent high-spend").

Reproducibility: the sample is the customers with the smallest seeded hash of their id, and
every computation runs on the buyers sorted by that hash, so the same ``random_state`` gives
the same labels, whatever the row order of the snapshot.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from segmentation.clustering import (
    K_RULE,
    SCHEME,
    ClusterFeatures,
    FittedClusters,
    check_algorithm,
    check_k_range,
    cluster_features,
    fit_clusters,
    match_clusters,
    name_clusters,
    score_ks,
)
from segmentation.errors import SchemeUnavailable, SegmentationInputError
from segmentation.schemes.base import (
    POTENTIAL_KEY,
    Segment,
    Segmentation,
    fully_refunded_segment,
    make_segmentation,
)

if TYPE_CHECKING:
    from segmentation.engine import CentroidModel, EngineClusters

__all__ = [
    "CLUSTER_SCHEMES",
    "POTENTIAL_KEY",
    "cluster_scheme",
    "clusters_on_engine",
    "standardized_features",
]

TITLE = {"zh": "聚类分群", "en": "Behavioural clusters"}


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
    min_cluster_share: float
    min_customers: int
    options: dict[str, Any]

    @classmethod
    def from_config(cls, settings: Mapping[str, Any]) -> _Settings:
        algorithm = str(settings["algorithm"])
        check_algorithm(algorithm)
        k = settings.get("k")
        if k is not None and (not isinstance(k, int | np.integer) or k < 2):
            raise SegmentationInputError(
                f"config clustering.k: found {k!r}; give a whole number of clusters of at "
                f"least 2, or null to choose k over clustering.k_range."
            )
        k_range = check_k_range([int(k), int(k)] if k is not None else list(settings["k_range"]))
        numbers = {
            name: settings[name]
            for name in (
                "sample_size",
                "n_bootstrap",
                "min_customers",
                "n_init",
                "kmeans_max_iterations",
                "gmm_max_iterations",
            )
        }
        if not all(isinstance(v, int | np.integer) for v in numbers.values()) or not (
            numbers["sample_size"] >= 10
            and numbers["n_bootstrap"] >= 0
            and numbers["min_customers"] >= 3
            and numbers["n_init"] >= 1
            and numbers["kmeans_max_iterations"] >= 1
            and numbers["gmm_max_iterations"] >= 1
        ):
            raise SegmentationInputError(
                f"config clustering: found {numbers}; use whole numbers with sample_size "
                f">= 10, n_bootstrap >= 0 (20 or more for Hennig's thresholds), "
                f"min_customers >= 3, n_init >= 1 and kmeans_max_iterations and "
                f"gmm_max_iterations >= 1."
            )
        unstable_below = float(settings["unstable_below"])
        stable_above = float(settings["stable_above"])
        if not 0 < unstable_below <= stable_above <= 1:
            raise SegmentationInputError(
                f"config clustering: found unstable_below={unstable_below}, stable_above="
                f"{stable_above}; use 0 < unstable_below <= stable_above <= 1 (Hennig: 0.6, "
                f"0.75)."
            )
        min_cluster_share = float(settings["min_cluster_share"])
        if not 0 <= min_cluster_share < 1:
            raise SegmentationInputError(
                f"config clustering.min_cluster_share: found {min_cluster_share}; give the "
                f"share of buyers a k's smallest cluster needs, at least 0 and below 1 "
                f"(e.g. 0.05; 0 asks nothing of the size)."
            )
        return cls(
            algorithm=algorithm,
            k_range=k_range,
            k_forced=k is not None,
            sample_size=int(numbers["sample_size"]),
            n_bootstrap=int(numbers["n_bootstrap"]),
            unstable_below=unstable_below,
            stable_above=stable_above,
            min_cluster_share=min_cluster_share,
            min_customers=int(numbers["min_customers"]),
            options={
                "n_init": int(numbers["n_init"]),
                "gmm_covariance_type": str(settings["gmm_covariance_type"]),
                "ward_sample_size": int(settings["ward_sample_size"]),
                "kmeans_max_iterations": int(numbers["kmeans_max_iterations"]),
                "gmm_max_iterations": int(numbers["gmm_max_iterations"]),
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
        (:func:`~segmentation.clustering.choose_k`), ``k_rule``, ``jaccard`` and
        ``stability`` per cluster, ``feature_profile`` (mean and median of each feature per
        cluster), ``centroids``, ``centroid_position``, the scaler, ``matching`` and what was
        left out.

    Raises
    ------
    SchemeUnavailable
        When fewer than ``min_customers`` customers have bought.
    SegmentationInputError
        When the config or the snapshot cannot be used (the message says which key or column).
    """
    settings = config["clustering"]
    checked = _Settings.from_config(settings)
    features = _buyer_features(snapshot, settings, min_customers=checked.min_customers)
    fitted = fit_clusters(
        features.values,
        algorithm=checked.algorithm,
        k_range=checked.k_range,
        sample_size=checked.sample_size,
        n_bootstrap=checked.n_bootstrap,
        min_jaccard=checked.unstable_below,
        min_cluster_share=checked.min_cluster_share,
        options=checked.options,
        random_state=random_state,
    )
    keys = _keys_by_value(snapshot, features, fitted, settings["order_by"], previous=previous)
    columns = list(features.transforms)
    centroids = pd.DataFrame(fitted.centroids, columns=columns)
    centroids.index = pd.Index(keys.keys, name="segment")
    centroids = centroids.loc[keys.ordered]
    medians = pd.Series(np.median(fitted.transformed, axis=0), index=columns)
    scales = pd.Series(fitted.scaler.scale_, index=columns)
    position = (centroids - medians) / scales
    labels = np.full(len(snapshot), POTENTIAL_KEY, dtype=object)
    labels[features.buyers] = np.asarray(keys.keys, dtype=object)[fitted.labels]
    jaccard, stability = _stability(fitted.jaccard[keys.by_value], keys.ordered, checked)
    details = {
        "algorithm": checked.algorithm,
        "k": fitted.k,
        "k_forced": checked.k_forced,
        "k_table": fitted.table,
        "k_rule": {
            lang: text.format(
                min_jaccard=checked.unstable_below, min_share=checked.min_cluster_share
            )
            for lang, text in K_RULE.items()
        },
        "k_stable": bool(np.mean(fitted.jaccard) >= checked.unstable_below),
        "features": features.transforms,
        "features_skipped": features.skipped,
        "order_by": keys.order_by,
        "n_clustered": len(features.values),
        "n_potential": int(len(snapshot) - len(features.values)),
        "sample_size": min(fitted.sample_size, len(features.values)),
        "n_bootstrap": checked.n_bootstrap,
        "jaccard": jaccard,
        "stability": stability,
        "feature_profile": _feature_profile(features, labels, keys.ordered),
        "centroids": centroids,
        "centroid_position": position,
        "medians": medians,
        "scaler_mean": pd.Series(fitted.scaler.mean_, index=columns),
        "scaler_scale": scales,
        "matching": keys.matching.loc[keys.ordered] if keys.matching is not None else None,
        "key_counter": keys.counter,
        "random_state": random_state,
    }
    return make_segmentation(
        scheme=SCHEME,
        title=TITLE,
        snapshot=snapshot,
        keys=labels,
        segments=_segments(position, keys.ordered, settings, config),
        ordered=True,
        details=details,
    )


def clusters_on_engine(
    snapshot: Any,
    *,
    money_scale: int,
    config: Mapping[str, Any],
    random_state: int = 0,
) -> EngineClusters:
    """Behavioural clusters of every customer on an engine, fitted on a seeded sample.

    The model is :func:`cluster_scheme`'s (features, standardisation, the choice of k,
    k-means, a Gaussian mixture or Ward, keys by value, names from centroids), with two
    differences that keep the customers on the engine:

    - the sample is drawn by :func:`segmentation.engine.buyer_sample` (positions in
      customer_id order, from a seeded generator), and the standardisation is fitted on it;
    - every buyer is then assigned on the engine
      (:func:`segmentation.engine.cluster_assignment_expr`); the clusters' order by value
      and their names come from aggregates there (mean ``order_by`` and feature centroids per
      cluster, the buyers' feature medians).

    The engine's snapshot has no CLV, so clusters are ordered by mean ``monetary_total``.
    There is no previous month here: keys follow value, ``c1`` the lowest.

    Parameters
    ----------
    snapshot : ibis.Table
        From :func:`segmentation.engine.customer_snapshot_expr`, cached.
    money_scale : int
        Minor units per currency unit (``EngineTables.money_scale``).
    config : mapping
        The kit's config; its ``clustering`` section.
    random_state : int, default 0
        Seed of the sample, the fits and the bootstrap.

    Returns
    -------
    segmentation.engine.EngineClusters

    Raises
    ------
    SchemeUnavailable
        When fewer than ``clustering.min_customers`` buyers are sampled, or too few distinct
        behaviours for the smallest k.
    SegmentationInputError
        When the config cannot be used.
    """
    from segmentation.engine import (  # imports ibis: only when asked for
        EngineClusters,
        buyer_sample,
        cluster_assignment_expr,
        cluster_labels_expr,
        cluster_summary,
    )

    settings = config["clustering"]
    checked = _Settings.from_config(settings)
    wanted = dict.fromkeys(
        [*settings["features"], *(settings.get("optional_features") or {}), *settings["order_by"]]
    )
    sample = buyer_sample(
        snapshot,
        columns=list(wanted),
        size=checked.sample_size,
        money_scale=money_scale,
        random_state=random_state,
    )
    features = _buyer_features(sample, settings, min_customers=checked.min_customers)
    model, table, jaccards = _fit_sample(features, checked, random_state=random_state)
    k = len(model.centers)
    order_by = _order_by_column(sample, features, settings["order_by"])
    assigned = cluster_assignment_expr(snapshot, model, money_scale=money_scale).cache()
    summary, medians = cluster_summary(
        snapshot, assigned, model, order_by=order_by, money_scale=money_scale
    )
    by_value = np.lexsort((np.arange(k), summary["order_value"].fillna(-np.inf).to_numpy()))
    keys, _, _ = _cluster_keys(
        summary[list(features.transforms)], by_value, previous=None, scale=pd.Series(model.scale)
    )
    ordered = [keys[i] for i in by_value]
    centroids = summary[list(features.transforms)].set_axis(pd.Index(keys, name="segment"))
    position = (centroids.loc[ordered] - medians) / pd.Series(model.scale, index=medians.index)
    segments = _segments(position, ordered, settings, config)
    jaccard, stability = _stability(jaccards[k][by_value], ordered, checked)
    return EngineClusters(
        labels=cluster_labels_expr(
            snapshot, assigned, dict(enumerate(keys)), potential=POTENTIAL_KEY
        ),
        k=k,
        model=model,
        keys=tuple(keys),
        sample_size=len(features.values),
        segments=pd.DataFrame(
            [[s.name_zh, s.name_en, s.action_zh, s.action_en] for s in segments],
            index=pd.Index([s.key for s in segments], name="segment"),
            columns=["name_zh", "name_en", "action_zh", "action_en"],
        ),
        details={
            "algorithm": checked.algorithm,
            "k_table": table,
            "features": features.transforms,
            "features_skipped": features.skipped,
            "order_by": order_by,
            "customers": summary["customers"].set_axis(keys).loc[ordered],
            "centroid_position": position,
            "jaccard": jaccard,
            "stability": stability,
            "random_state": random_state,
        },
    )


def _fit_sample(
    features: ClusterFeatures, checked: _Settings, *, random_state: int
) -> tuple[CentroidModel, pd.DataFrame, dict[int, np.ndarray]]:
    """Standardise the sample, choose k on it and fit: the model an engine evaluates, the
    table of every k's scores and each k's per-cluster Jaccard."""
    from sklearn.preprocessing import StandardScaler

    from segmentation.engine import CentroidModel, expand_precisions

    values = features.values.to_numpy()
    scaler = StandardScaler().fit(values)
    table, fits, jaccards = score_ks(
        scaler.transform(values),
        k_range=checked.k_range,
        algorithm=checked.algorithm,
        rng=np.random.default_rng(random_state),
        n_bootstrap=checked.n_bootstrap,
        sample_size=checked.sample_size,
        min_jaccard=checked.unstable_below,
        min_cluster_share=checked.min_cluster_share,
        options=checked.options,
    )
    fit = fits[int(table.index[table["chosen"]][0])]
    model = CentroidModel(
        transforms=features.transforms,
        mean=scaler.mean_,
        scale=scaler.scale_,
        centers=np.asarray(fit.centers, dtype=float),
        log_weights=None if fit.mixture is None else np.log(fit.mixture.weights_),
        precisions_cholesky=None if fit.mixture is None else expand_precisions(fit.mixture),
    )
    return model, table, jaccards


def _buyer_features(
    snapshot: pd.DataFrame, settings: Mapping[str, Any], *, min_customers: int
) -> ClusterFeatures:
    """The clustering features of the customers who have bought, if there are enough."""
    features = cluster_features(
        snapshot,
        features=settings["features"],
        optional_features=settings.get("optional_features"),
    )
    n_buyers = len(features.values)
    if n_buyers < min_customers:
        raise SchemeUnavailable(
            SCHEME,
            f"only {n_buyers} customers have bought; clustering needs at least "
            f"{min_customers} (config clustering.min_customers)",
        )
    return features


@dataclass(frozen=True)
class _Keys:
    """The segment key of each fitted cluster and the clusters' order by value."""

    order_by: str  # the column whose mean orders the clusters
    by_value: np.ndarray  # the clusters (0..k-1), lowest value first
    keys: list[str]  # per cluster, in cluster order
    ordered: list[str]  # the keys, lowest value first
    matching: pd.DataFrame | None  # against last month's centroids, by key
    counter: int  # the highest key number ever used


def _keys_by_value(
    snapshot: pd.DataFrame,
    features: ClusterFeatures,
    fitted: FittedClusters,
    candidates: Sequence[str],
    *,
    previous: Segmentation | None,
) -> _Keys:
    """Order the clusters by the mean of the ``order_by`` column and give each its key."""
    columns = list(features.transforms)
    order_by = _order_by_column(snapshot, features, candidates)
    value_mean = fitted.mean_by_cluster(
        snapshot.loc[features.buyers, order_by].to_numpy(dtype=float)
    )
    k = fitted.k
    by_value = np.lexsort((np.arange(k), value_mean.fillna(-np.inf).to_numpy()))
    keys, matching, key_counter = _cluster_keys(
        pd.DataFrame(fitted.centroids, columns=columns),
        by_value,
        previous=previous,
        scale=pd.Series(fitted.scaler.scale_, index=columns),
    )
    ordered = [keys[i] for i in by_value]
    return _Keys(order_by, by_value, keys, ordered, matching, key_counter)


def _segments(
    position: pd.DataFrame,
    ordered_keys: list[str],
    settings: Mapping[str, Any],
    config: Mapping[str, Any],
) -> list[Segment]:
    """``"potential"``, the fully refunded, then every cluster, named from where its centroid
    sits."""
    names = name_clusters(position, naming=settings["naming"])
    potential = settings["potential"]
    return [
        Segment(
            POTENTIAL_KEY,
            potential["name_zh"],
            potential["name_en"],
            potential.get("action_zh", ""),
            potential.get("action_en", ""),
        ),
        fully_refunded_segment(config),
        *(
            Segment(key, *names.loc[key, ["name_zh", "name_en", "action_zh", "action_en"]])
            for key in ordered_keys
        ),
    ]


def _feature_profile(
    features: ClusterFeatures, labels: np.ndarray, ordered_keys: list[str]
) -> pd.DataFrame:
    """Mean and median of each feature (as the snapshot has it) per cluster."""
    buyer_keys = pd.Series(
        pd.Categorical(labels[features.buyers], categories=ordered_keys), index=features.raw.index
    )
    grouped = features.raw.groupby(buyer_keys, observed=False)
    stats = {"mean": grouped.mean(), "median": grouped.median()}
    feature_profile = pd.DataFrame(
        {f"{c}_{stat}": stats[stat][c] for c in features.transforms for stat in ("mean", "median")}
    )
    feature_profile.index.name = "segment"
    return feature_profile


def _stability(
    jaccard_by_value: np.ndarray, ordered_keys: list[str], checked: _Settings
) -> tuple[pd.Series, pd.Series]:
    """Each cluster's mean Jaccard and its verdict: stable, doubtful, unstable."""
    jaccard = pd.Series(
        jaccard_by_value, index=pd.Index(ordered_keys, name="segment"), name="jaccard"
    )
    stability = pd.Series(
        np.select(
            [jaccard.isna(), jaccard >= checked.stable_above, jaccard >= checked.unstable_below],
            ["not measured", "stable", "doubtful"],
            "unstable",
        ),
        index=jaccard.index,
        name="stability",
    )
    return jaccard, stability


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


def _key_number(key: str) -> int:
    match = re.fullmatch(r"c(\d+)", key)
    return int(match.group(1)) if match else 0


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


CLUSTER_SCHEMES = {SCHEME: cluster_scheme}
