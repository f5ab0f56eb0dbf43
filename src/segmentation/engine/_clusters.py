"""Behavioural clusters where the customers are: a seeded sample comes to Python, the model
fitted on it goes back as an expression that assigns every buyer on the engine.

The clustering model (:mod:`segmentation.clustering`) fits on a sample of at most
``clustering.sample_size`` buyers. On an engine only that sample leaves it:

1. :func:`buyer_sample` numbers the buyers in customer_id order and takes the positions a
   seeded generator draws, so the same seed gives the same customers on every engine and
   whatever the order of the rows;
2. the caller fits a :class:`CentroidModel` on the sample (standardisation, centroids or a
   Gaussian mixture: :func:`segmentation.schemes.clusters.clusters_on_engine`);
3. :func:`cluster_assignment_expr` gives each buyer the nearest centroid (a mixture: the most
   likely component) as one expression, and :func:`cluster_summary` the aggregates that order
   and name the clusters: sizes, each feature's mean per cluster and median overall;
4. :func:`cluster_labels_expr` turns clusters into the scheme's keys, with the potential and
   fully refunded customers as the rule schemes label them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import ibis
import numpy as np
import pandas as pd

from segmentation.engine._frames import MONEY_COLUMNS
from segmentation.engine._quantiles import exact_medians
from segmentation.engine._schemes import customer_state

__all__ = [
    "NUMBERED_GROUP_SIZE",
    "CentroidModel",
    "EngineClusters",
    "buyer_sample",
    "cluster_assignment_expr",
    "cluster_labels_expr",
    "cluster_summary",
    "expand_precisions",
]


#: Buyers numbered in one window at most (:func:`buyer_sample`); more are numbered in
#: groups of a common id prefix, so that no engine gathers them all in one place.
NUMBERED_GROUP_SIZE = 2_000_000
#: The prefix grows one character at a time until its groups are small enough, or this many
#: groups, or this many characters.
MAX_PREFIX_GROUPS = 100_000
MAX_PREFIX_LENGTH = 32


@dataclass(frozen=True)
class CentroidModel:
    """A clustering fitted in Python, in the form an engine can evaluate.

    Attributes
    ----------
    transforms : dict of str to str
        Snapshot column (money in currency units) to transform, ``"log1p"`` (negatives
        clipped at 0 first) or ``"none"``, in feature order.
    mean, scale : numpy.ndarray of shape (d,)
        The standardisation: a feature ``t`` is used as ``(t - mean) / scale``.
    centers : numpy.ndarray of shape (k, d)
        The clusters' centres in the standardised space.
    log_weights : numpy.ndarray of shape (k,), optional
        A Gaussian mixture's log mixing weights; None assigns to the nearest centre.
    precisions_cholesky : numpy.ndarray of shape (k, d, d), optional
        A Gaussian mixture's Cholesky factors of its precisions, one full matrix per
        component (scikit-learn's ``precisions_cholesky_`` of any covariance type, expanded).
    """

    transforms: dict[str, str]
    mean: np.ndarray
    scale: np.ndarray
    centers: np.ndarray
    log_weights: np.ndarray | None = None
    precisions_cholesky: np.ndarray | None = None


@dataclass(frozen=True)
class EngineClusters:
    """The clusters scheme computed on an engine.

    Attributes
    ----------
    labels : ibis.Table
        ``customer_id`` and ``clusters`` (the segment key) for every customer of the snapshot.
    k : int
        The number of clusters chosen.
    model : CentroidModel
        What assigned the buyers; cluster ``i`` has the key ``keys[i]``.
    keys : tuple of str
        Each cluster's segment key, in cluster order.
    sample_size : int
        The buyers the model was fitted on.
    segments : pandas.DataFrame
        Indexed by key (``potential``, ``fully_refunded``, then ``c1``.. lowest value first):
        ``name_zh``, ``name_en``, ``action_zh``, ``action_en``.
    details : dict
        What the report shows of a clustering: ``k_table``, ``features``,
        ``features_skipped``, ``centroid_position``, ``order_by``, ``random_state``.
    """

    labels: ibis.Table
    k: int
    model: CentroidModel
    keys: tuple[str, ...]
    sample_size: int
    segments: pd.DataFrame
    details: dict[str, Any]


def _buyers(snapshot: ibis.Table) -> ibis.Table:
    """The customers clustered: who bought and has a last purchase (as
    :func:`segmentation.clustering.cluster_features` selects them)."""
    return snapshot.filter(~snapshot.is_potential & snapshot.recency_days.notnull())


def _in_currency(table: ibis.Table, column: str, money_scale: int) -> ibis.Value:
    value = table[column].cast("float64")
    return value / money_scale if column in MONEY_COLUMNS else value


def buyer_sample(
    snapshot: ibis.Table,
    *,
    columns: Sequence[str],
    size: int,
    money_scale: int,
    random_state: int = 0,
    group_size: int = NUMBERED_GROUP_SIZE,
) -> pd.DataFrame:
    """A seeded sample of the buyers, with ``columns``, read into Python.

    Parameters
    ----------
    snapshot : ibis.Table
        From :func:`segmentation.engine.customer_snapshot_expr`; cache it first.
    columns : sequence of str
        Snapshot columns to read (those present; money in currency units).
    size : int
        At most this many buyers (all of them when there are fewer).
    money_scale : int
        Minor units per currency unit.
    random_state : int, default 0
        Seed of the positions drawn.
    group_size : int, default :data:`NUMBERED_GROUP_SIZE`
        More buyers than this are numbered in groups of a common id prefix, each group on
        its own, so that no engine gathers them all in one place; the positions are the
        same whatever the groups.

    Returns
    -------
    pandas.DataFrame
        One row per sampled buyer, in the order drawn (so that any head of it is itself a
        seeded sample), with ``is_potential`` (all False) and the columns; indexed 0..n-1:
        no customer id leaves the engine.
    """
    buyers = _buyers(snapshot)
    n = int(buyers.count().to_pyarrow().as_py())
    drawn = np.random.default_rng(random_state).choice(n, size=min(size, n), replace=False)
    numbered = _numbered(buyers, n, group_size=group_size)
    wanted = ibis.memtable(
        pd.DataFrame({"position": drawn.astype(np.int64), "drawn": np.arange(len(drawn))})
    )
    present = [c for c in columns if c in snapshot.columns]
    picked = numbered.join(wanted, "position")
    rows = (
        picked.select("drawn", **{c: _in_currency(picked, c, money_scale) for c in present})
        .order_by("drawn")
        .to_pandas()
    )
    sample = rows.drop(columns="drawn").reset_index(drop=True)
    sample.insert(0, "is_potential", False)
    return sample


def _numbered(buyers: ibis.Table, n: int, *, group_size: int) -> ibis.Table:
    """``buyers`` with ``position``, their rank in customer-id order from 0.

    One window over every buyer would gather them all in one place (Spark moves them to a
    single partition). Instead the ids are grouped by their first characters, as few as
    leave no group over ``group_size`` (or make too many groups); each group is numbered
    on its own, and the groups' counts, in id order, give each its offset. Cutting strings
    at a length keeps their order, so the positions are those of the single window.
    """
    if n <= group_size:
        return buyers.mutate(position=ibis.row_number().over(order_by=buyers.customer_id))
    length = 0
    while True:
        length += 1
        prefix = buyers.customer_id.substr(0, length)
        # Each length's counts are read once: the last ones give the groups' offsets.
        per_prefix = buyers.group_by(prefix=prefix).aggregate(customers=buyers.count()).to_pandas()
        largest = int(per_prefix["customers"].max())
        if (
            largest <= group_size
            or len(per_prefix) >= MAX_PREFIX_GROUPS
            or length >= MAX_PREFIX_LENGTH
        ):
            break
    # Python orders text by code point, as the engines order UTF-8 bytes.
    per_prefix = per_prefix.sort_values("prefix", kind="stable")
    per_prefix["offset"] = per_prefix["customers"].cumsum() - per_prefix["customers"]
    offsets = ibis.memtable(
        per_prefix[["prefix", "offset"]].astype({"prefix": object, "offset": "int64"})
    )
    keyed = buyers.mutate(prefix=prefix)
    local = keyed.mutate(
        local=ibis.row_number().over(group_by=keyed.prefix, order_by=keyed.customer_id)
    )
    joined = local.join(offsets, "prefix")
    return joined.mutate(position=joined.offset + joined.local).drop("prefix", "local", "offset")


def _transformed(table: ibis.Table, model: CentroidModel, money_scale: int) -> list[ibis.Value]:
    """The features of ``table``'s rows, transformed as the model's were (not standardised)."""
    values = []
    for column, how in model.transforms.items():
        value = _in_currency(table, column, money_scale)
        if how == "log1p":
            value = (ibis.greatest(value, 0.0) + 1.0).ln()
        values.append(value)
    return values


def _argmax(scores: Sequence[ibis.Value]) -> ibis.Value:
    """The index of the largest score, the first on a tie (numpy's argmax)."""
    best = ibis.greatest(*scores) if len(scores) > 1 else scores[0]
    return ibis.cases(*((s == best, i) for i, s in enumerate(scores)), else_=0)


def cluster_assignment_expr(
    snapshot: ibis.Table, model: CentroidModel, *, money_scale: int
) -> ibis.Table:
    """Each buyer's cluster, 0..k-1, as the fitted model assigns it.

    k-means and Ward assign the nearest centre (squared Euclidean distance in the
    standardised space); a Gaussian mixture the component with the largest weighted log
    density, scikit-learn's ``predict``.

    Returns
    -------
    ibis.Table
        ``customer_id``, the transformed (unstandardised) features and ``cluster`` (int64),
        one row per buyer.
    """
    buyers = _buyers(snapshot)
    transformed = _transformed(buyers, model, money_scale)
    z = [(t - float(model.mean[j])) / float(model.scale[j]) for j, t in enumerate(transformed)]
    scores = []
    for c, centre in enumerate(model.centers):
        if model.precisions_cholesky is None:
            distance = sum((z[j] - float(centre[j])) ** 2 for j in range(len(z)))
            scores.append(-distance)
            continue
        assert model.log_weights is not None
        chol = model.precisions_cholesky[c]
        shifted = [z[j] - float(centre[j]) for j in range(len(z))]
        squares = sum(
            sum(shifted[j] * float(chol[j, i]) for j in range(len(z))) ** 2 for i in range(len(z))
        )
        log_det = float(np.sum(np.log(np.diag(chol))))
        scores.append(float(model.log_weights[c]) + log_det - 0.5 * squares)
    return buyers.select(
        "customer_id",
        **{f"feature_{j}": value for j, value in enumerate(transformed)},
        cluster=_argmax(scores).cast("int64"),
    )


def cluster_summary(
    snapshot: ibis.Table,
    assigned: ibis.Table,
    model: CentroidModel,
    *,
    order_by: str,
    money_scale: int,
) -> tuple[pd.DataFrame, pd.Series]:
    """The aggregates that order and name the clusters.

    Returns
    -------
    tuple of (pandas.DataFrame, pandas.Series)
        Per cluster 0..k-1: ``customers``, ``order_value`` (the mean of ``order_by``) and
        each feature's mean (the centroid, transformed, not standardised), columns named
        as ``model.transforms``; and each transformed feature's median over every buyer.
    """
    columns = list(model.transforms)
    value = snapshot.select(
        "customer_id", order_value=_in_currency(snapshot, order_by, money_scale)
    )
    joined = assigned.join(value, "customer_id")
    per_cluster = (
        joined.group_by("cluster")
        .aggregate(
            customers=joined.count().cast("int64"),
            order_value=joined.order_value.mean(),
            **{column: joined[f"feature_{j}"].mean() for j, column in enumerate(columns)},
        )
        .order_by("cluster")
        .to_pandas()
        .set_index("cluster")
        .reindex(range(len(model.centers)))
    )
    medians = exact_medians(assigned, {c: assigned[f"feature_{j}"] for j, c in enumerate(columns)})
    return per_cluster, pd.Series(medians)[columns]


def cluster_labels_expr(
    snapshot: ibis.Table, assigned: ibis.Table, keys: Mapping[int, str], *, potential: str
) -> ibis.Table:
    """``customer_id`` and ``clusters``: each buyer's cluster key, and for everyone else the
    state the rule schemes give (``potential`` or ``fully_refunded``).

    Parameters
    ----------
    keys : mapping of int to str
        Cluster (0..k-1) to segment key.
    potential : str
        The key of a customer who did not buy and refunded nothing.
    """
    clusters = assigned.select(assigned_id="customer_id", cluster="cluster")
    joined = snapshot.left_join(clusters, snapshot.customer_id == clusters.assigned_id)
    key = ibis.cases(
        *((joined.cluster == c, k) for c, k in keys.items()), else_=ibis.null("string")
    )
    # A customer whose purchases were all refunded has no recency: not clustered, and
    # labelled by the customer states, as the pandas scheme labels them.
    state = customer_state(joined).fill_null(potential)
    return joined.select("customer_id", clusters=key.fill_null(state))


def expand_precisions(mixture: Any) -> np.ndarray:
    """scikit-learn's ``precisions_cholesky_`` of a fitted GaussianMixture as one (d, d)
    matrix per component, whatever its ``covariance_type``."""
    k, d = mixture.means_.shape
    factors = np.asarray(mixture.precisions_cholesky_, dtype=float)
    kind = mixture.covariance_type
    if kind == "full":
        return factors
    if kind == "tied":
        return np.broadcast_to(factors, (k, d, d)).copy()
    if kind == "diag":
        return np.stack([np.diag(row) for row in factors])
    return np.stack([np.eye(d) * f for f in factors])  # spherical
