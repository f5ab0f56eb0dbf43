"""Clusters and segment profiles where the customers are (DuckDB, and Spark local[2]).

The clusters are fitted in Python on a seeded sample the engine draws, and every buyer is
assigned on the engine: the tests check the sample against a recomputation in pandas, the
engine's assignment against the fitted model (scikit-learn's own ``predict`` for k-means and
for a Gaussian mixture of every covariance type), and the demo's clusters customer by
customer. The profiles' sums are whole days, purchases and cents, equal to the pandas
snapshot's; their means equal :func:`segmentation.schemes.segment_profile`'s.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import ibis
import numpy as np
import pandas as pd
import pytest
from sklearn.cluster import KMeans
from sklearn.metrics import pairwise_distances_argmin
from sklearn.mixture import GaussianMixture

from segmentation.config import load_config, merge_config
from segmentation.engine import (
    RULE_SCHEME_NAMES,
    CentroidModel,
    buyer_sample,
    cluster_assignment_expr,
    customer_snapshot_expr,
    expand_precisions,
    load_tables,
    segment_on_engine,
    segment_profile_sums_expr,
)
from segmentation.features import customer_snapshot, customer_states
from segmentation.ingest import ingest
from segmentation.schemes.clusters import clusters_on_engine
from segmentation.schemes.registry import run_schemes

from canonical_frames import DEMO_AS_OF

CONFIG = load_config()


@pytest.fixture(scope="module")
def demo_ingested(demo_dir: Path) -> Any:
    return ingest(demo_dir, pii_key="engine-clusters")


@pytest.fixture(scope="module")
def demo_snapshot(demo_ingested: Any) -> pd.DataFrame:
    data = demo_ingested
    return customer_snapshot(data.orders, data.customers, data.interactions, as_of=DEMO_AS_OF)


def _engine_snapshot(backend: Any, data: Any, orders: pd.DataFrame | None = None) -> Any:
    tables = load_tables(
        backend,
        data.orders if orders is None else orders,
        data.customers,
        data.interactions,
        config=CONFIG,
    )
    return tables, customer_snapshot_expr(tables, as_of=DEMO_AS_OF).cache()


def _buyers(snapshot: pd.DataFrame) -> pd.DataFrame:
    return snapshot[~snapshot["is_potential"] & snapshot["recency_days"].notna()]


# One window over every buyer, and windows over groups of an id prefix (the demo's 4,074
# buyers in groups of at most 500: "C10".."C19", about 400 each).
@pytest.mark.parametrize("group_size", [10_000, 500])
def test_the_sample_is_seeded_positions_in_customer_id_order(
    backend: Any, demo_ingested: Any, demo_snapshot: pd.DataFrame, group_size: int
) -> None:
    _, snapshot = _engine_snapshot(backend, demo_ingested)
    columns = ["recency_days", "frequency", "monetary_total"]
    sample = buyer_sample(
        snapshot, columns=columns, size=500, money_scale=100, random_state=7,
        group_size=group_size,
    )  # fmt: skip
    buyers = _buyers(demo_snapshot).sort_index()  # ids are ASCII: Python's order is the engine's
    drawn = np.random.default_rng(7).choice(len(buyers), size=500, replace=False)
    expected = buyers.iloc[drawn]
    assert len(buyers) == 4_074 and len(sample) == 500
    assert not sample["is_potential"].any()
    assert (
        sample["frequency"].to_numpy().tobytes()
        == expected["frequency"].to_numpy(dtype=float).tobytes()
    )
    assert sample["recency_days"].tolist() == expected["recency_days"].tolist()
    # Cents on the engine: the same whole cents as the pandas snapshot's amounts.
    cents = np.round(expected["monetary_total"].to_numpy() * 100).astype(np.int64)
    assert (np.round(sample["monetary_total"].to_numpy() * 100).astype(np.int64) == cents).all()
    # Asking for more than there are gives every buyer, once.
    everyone = buyer_sample(snapshot, columns=columns, size=10_000, money_scale=100)
    assert len(everyone) == 4_074


def test_the_sample_does_not_depend_on_the_order_of_the_rows(demo_ingested: Any) -> None:
    from segmentation.engine import connect

    columns = ["recency_days", "frequency", "monetary_total"]
    samples = []
    for seed in (None, 3):
        orders = demo_ingested.orders
        if seed is not None:
            orders = orders.sample(frac=1.0, random_state=seed).reset_index(drop=True)
        _, snapshot = _engine_snapshot(connect("duckdb", config=CONFIG), demo_ingested, orders)
        samples.append(buyer_sample(snapshot, columns=columns, size=300, money_scale=100))
    pd.testing.assert_frame_equal(samples[0], samples[1])


def _blobs(n: int = 900) -> pd.DataFrame:
    rng = np.random.default_rng(11)
    centres = np.array([[0.0, 0.0, 0.0], [4.0, 1.0, -2.0], [-3.0, 3.0, 2.0]])
    points = np.concatenate([rng.normal(c, [1.0, 0.5, 1.5], size=(n // 3, 3)) for c in centres])
    return pd.DataFrame(
        {
            "customer_id": [f"b{i:04d}" for i in range(len(points))],
            "is_potential": False,
            "recency_days": points[:, 0],
            "frequency": points[:, 1],
            "monetary_total": points[:, 2],
        }
    )


def _engine_clusters(backend: Any, blobs: pd.DataFrame, model: CentroidModel) -> np.ndarray:
    assigned = cluster_assignment_expr(ibis.memtable(blobs), model, money_scale=1)
    out = backend.to_pandas(assigned.order_by("customer_id"))
    return out["cluster"].to_numpy()


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_a_gaussian_mixture_assigns_on_the_engine_as_scikit_learn_predicts(
    backend: Any, covariance_type: str
) -> None:
    blobs = _blobs()
    values = blobs[["recency_days", "frequency", "monetary_total"]].to_numpy()
    mean, scale = values.mean(axis=0), values.std(axis=0)
    z = (values - mean) / scale
    mixture = GaussianMixture(4, covariance_type=covariance_type, random_state=0).fit(z)
    model = CentroidModel(
        transforms=dict.fromkeys(["recency_days", "frequency", "monetary_total"], "none"),
        mean=mean,
        scale=scale,
        centers=mixture.means_,
        log_weights=np.log(mixture.weights_),
        precisions_cholesky=expand_precisions(mixture),
    )
    expected = mixture.predict(z)
    assert len(np.unique(expected)) >= 3
    assert (_engine_clusters(backend, blobs, model) == expected).all()


def test_k_means_assigns_on_the_engine_as_scikit_learn_predicts(backend: Any) -> None:
    blobs = _blobs()
    values = blobs[["recency_days", "frequency", "monetary_total"]].to_numpy()
    transforms = {"recency_days": "log1p", "frequency": "none", "monetary_total": "log1p"}
    # log1p clips negatives at 0 first, as the clustering features do.
    transformed = np.column_stack(
        [np.log1p(np.clip(values[:, 0], 0, None)), values[:, 1], np.log1p(values[:, 2].clip(0))]
    )
    mean, scale = transformed.mean(axis=0), transformed.std(axis=0)
    z = (transformed - mean) / scale
    kmeans = KMeans(5, n_init=2, random_state=0).fit(z)
    model = CentroidModel(
        transforms=transforms, mean=mean, scale=scale, centers=kmeans.cluster_centers_
    )
    assert (_engine_clusters(backend, blobs, model) == kmeans.predict(z)).all()


def _assigned_in_python(snapshot: pd.DataFrame, model: CentroidModel) -> np.ndarray:
    """Each buyer's cluster as ClusterFit.assign gives it (numpy's log1p, sklearn's argmin)."""
    buyers = _buyers(snapshot)
    columns = [
        np.log1p(np.clip(buyers[c].to_numpy(dtype=float), 0, None))
        if how == "log1p"
        else buyers[c].to_numpy(dtype=float)
        for c, how in model.transforms.items()
    ]
    z = (np.column_stack(columns) - model.mean) / model.scale
    return pairwise_distances_argmin(z, model.centers)


def test_the_demo_clusters_every_customer_as_the_model_fitted_on_the_sample(
    backend: Any, demo_ingested: Any, demo_snapshot: pd.DataFrame
) -> None:
    tables, snapshot = _engine_snapshot(backend, demo_ingested)
    fitted = clusters_on_engine(snapshot, money_scale=tables.money_scale, config=CONFIG)
    # 4,074 buyers, fewer than clustering.sample_size: the sample is all of them. The engine's
    # snapshot has no CLV, so the features are recency, frequency, spend and interactions.
    assert (fitted.k, fitted.sample_size) == (3, 4_074)
    assert list(fitted.model.transforms) == [
        "recency_days", "frequency", "monetary_total", "interactions_90d"
    ]  # fmt: skip
    assert fitted.details["features_skipped"] == {"clv": "not in the snapshot"}
    labels = fitted.labels.to_pandas().set_index("customer_id")["clusters"]
    labels.index = labels.index.astype(str)
    expected = customer_states(demo_snapshot).astype(object)
    buyers = _buyers(demo_snapshot)
    keys = np.asarray(fitted.keys, dtype=object)
    expected.loc[buyers.index] = keys[_assigned_in_python(demo_snapshot, fitted.model)]
    expected.index = expected.index.astype(str)
    assert labels.sort_index().tolist() == expected.sort_index().tolist()
    counts = labels.value_counts().to_dict()
    assert counts == {"c1": 1_964, "c3": 1_189, "c2": 921, "potential": 889, "fully_refunded": 37}
    # Keys follow value: c1's members spent least on average, c3's most.
    spend = demo_snapshot["monetary_total"].groupby(expected.set_axis(demo_snapshot.index)).mean()
    assert spend["c1"] < spend["c2"] < spend["c3"]
    assert fitted.details["customers"].to_dict() == {"c1": 1_964, "c2": 921, "c3": 1_189}
    names = fitted.segments["name_en"].to_dict()
    assert names["c3"] == "recent frequent high-spend" and names["potential"].startswith(
        "potential"
    )


def test_too_few_buyers_leave_the_clusters_out_with_the_reason(
    demo_ingested: Any, tmp_path: Path
) -> None:
    from segmentation.engine import connect

    config = merge_config(CONFIG, {"clustering": {"min_customers": 5_000}})
    tables = load_tables(
        connect("duckdb", config=config), demo_ingested.orders, demo_ingested.customers,
        demo_ingested.interactions, config=config,
    )  # fmt: skip
    result = segment_on_engine(
        tables,
        to=tmp_path / "s.parquet",
        config=config,
        clusters=clusters_on_engine,
    )
    assert result.schemes == RULE_SCHEME_NAMES and result.clusters is None
    assert result.unavailable == {
        "clusters": "only 4074 customers have bought; clustering needs at least 5000 "
        "(config clustering.min_customers)"
    }


def test_profiles_on_the_engine_equal_the_pandas_segment_profiles(
    backend: Any, demo_ingested: Any, demo_snapshot: pd.DataFrame, tmp_path: Path
) -> None:
    data = demo_ingested
    tables = load_tables(backend, data.orders, data.customers, data.interactions, config=CONFIG)
    result = segment_on_engine(tables, to=tmp_path / "segments.parquet", config=CONFIG)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # RFM ties warn
        run = run_schemes(
            demo_snapshot, as_of=DEMO_AS_OF, config=CONFIG, schemes=list(RULE_SCHEME_NAMES)
        )
    compared = 0
    for scheme, segmentation in run.segmentations.items():
        on_engine = result.profiles[result.profiles["scheme"] == scheme].set_index("segment")
        profile = segmentation.profile[segmentation.profile["size"] > 0]
        assert sorted(on_engine.index) == sorted(profile.index), scheme
        on_engine = on_engine.loc[profile.index]
        assert on_engine["customers"].tolist() == profile["size"].tolist(), scheme
        for column in ("share", "recency_days_mean", "monetary_total_mean", "revenue_share"):
            np.testing.assert_allclose(
                on_engine[column], profile[column], rtol=1e-12, err_msg=f"{scheme}.{column}"
            )
        # pandas leaves a potential customer's frequency out of the mean; the snapshot's 0.
        buyers = ~profile.index.isin(["potential", "fully_refunded"])
        np.testing.assert_allclose(
            on_engine.loc[buyers, "frequency_mean"], profile.loc[buyers, "frequency_mean"],
            rtol=1e-12,
        )  # fmt: skip
        compared += len(profile)
    assert compared == len(result.profiles) == 51


def test_profile_sums_are_the_snapshots_whole_cents_and_days(
    backend: Any, demo_ingested: Any, demo_snapshot: pd.DataFrame
) -> None:
    _, snapshot = _engine_snapshot(backend, demo_ingested)
    lifecycle = run_schemes(
        demo_snapshot, as_of=DEMO_AS_OF, config=CONFIG, schemes=["lifecycle"]
    ).segmentations["lifecycle"]
    labels = lifecycle.labels.astype(str).rename("lifecycle").rename_axis("customer_id")
    on_engine = ibis.memtable(labels.reset_index().astype({"customer_id": "string"}))
    sums = backend.to_pandas(segment_profile_sums_expr(snapshot, on_engine, ["lifecycle"]))
    sums = sums.set_index("segment").sort_index()
    frame = demo_snapshot.assign(
        cents=np.round(demo_snapshot["monetary_total"] * 100).astype("Int64"), key=labels
    )
    grouped = frame.groupby("key")
    assert sums["monetary_total_sum"].tolist() == grouped["cents"].sum().astype(int).tolist()
    assert sums["recency_days_sum"].tolist() == (grouped["recency_days"].sum().astype(int).tolist())
    assert sums["recency_days_count"].tolist() == grouped["recency_days"].count().tolist()
    assert sums["customers"].tolist() == grouped.size().tolist()
    assert int(sums["positive_revenue_sum"].sum()) == int(frame["cents"].clip(lower=0).sum())
