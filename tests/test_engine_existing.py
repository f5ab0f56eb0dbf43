"""Tables already on the engine (a Parquet dataset, a table in a DuckDB file) give the same
snapshot and labels as the kit's own ingest put on the engine; a missing canonical column is
a clear error naming it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from segmentation.config import load_config
from segmentation.engine import (
    connect,
    customer_snapshot_expr,
    load_tables,
    rule_labels_expr,
    segment_on_engine,
    tables_on_engine,
)
from segmentation.errors import MissingColumnError, SegmentationInputError
from segmentation.ingest import ingest

from canonical_frames import DEMO_AS_OF

CONFIG = load_config()


@pytest.fixture(scope="module")
def demo_parquet(demo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The demo's canonical tables, and the same written as Parquet files."""
    data = ingest(demo_dir, pii_key="engine-existing")
    out = tmp_path_factory.mktemp("parquet")
    orders = data.orders[
        ["customer_id", "order_id", "order_ts", "amount", "unit_price", "category"]
    ]
    orders.astype({"customer_id": "string", "order_id": "string", "category": "string"}).to_parquet(
        out / "orders.parquet"
    )
    data.customers[["customer_id", "first_seen_ts"]].astype({"customer_id": "string"}).to_parquet(
        out / "customers.parquet"
    )
    data.interactions[["customer_id", "ts"]].astype({"customer_id": "string"}).to_parquet(
        out / "interactions.parquet"
    )
    return data, out


def _frame(expr: Any) -> pd.DataFrame:
    return expr.to_pyarrow().to_pandas().set_index("customer_id").sort_index()


def test_a_parquet_dataset_gives_the_same_snapshot_and_labels(demo_parquet: Any) -> None:
    data, out = demo_parquet
    backend = connect("duckdb", config=CONFIG)
    given = tables_on_engine(
        backend,
        out / "orders.parquet",
        out / "customers.parquet",
        out / "interactions.parquet",
        config=CONFIG,
    )
    loaded = load_tables(backend, data.orders, data.customers, data.interactions, config=CONFIG)
    frames = []
    for tables in (given, loaded):
        snapshot = customer_snapshot_expr(tables, as_of=DEMO_AS_OF).cache()
        labels = rule_labels_expr(snapshot, money_scale=tables.money_scale, config=CONFIG)
        frames.append((_frame(snapshot), _frame(labels)))
    (snapshot_a, labels_a), (snapshot_b, labels_b) = frames
    assert len(snapshot_a) == 5_000 and len(labels_a.columns) == 8
    # The mean price ratio is a float sum in the engine's order: equal to rounding only.
    ratio = "avg_unit_price_ratio"
    pd.testing.assert_frame_equal(
        snapshot_a.drop(columns=ratio), snapshot_b.drop(columns=ratio), check_exact=True
    )
    pd.testing.assert_series_equal(snapshot_a[ratio], snapshot_b[ratio], rtol=1e-13)
    pd.testing.assert_frame_equal(labels_a, labels_b, check_exact=True)


def test_a_table_in_a_duckdb_file_is_read_by_name(demo_parquet: Any, tmp_path: Path) -> None:
    _, out = demo_parquet
    backend = connect(
        "duckdb",
        config={"engine": {**CONFIG["engine"], "duckdb_database": str(tmp_path / "shop.duckdb")}},
    )
    backend.create_table("orders", backend.read_parquet(str(out / "orders.parquet")))
    tables = tables_on_engine(backend, "orders", config=CONFIG)
    counted = tables.orders.aggregate(n=tables.orders.count(), rows=tables.orders.row.nunique())
    row = counted.to_pyarrow().to_pylist()[0]
    assert row["n"] == row["rows"] == backend.table("orders").count().to_pyarrow().as_py()


def test_a_missing_canonical_column_is_named(tmp_path: Path) -> None:
    path = tmp_path / "orders.parquet"
    pd.DataFrame(
        {"customer_id": ["a"], "order_ts": pd.to_datetime(["2024-01-01"]), "amount": [1.0]}
    ).to_parquet(path)
    with pytest.raises(
        MissingColumnError,
        match=r"orders: no column 'order_id' \(found customer_id, order_ts, amount\)",
    ):
        tables_on_engine(connect("duckdb", config=CONFIG), path, config=CONFIG)


def test_amounts_in_fractions_of_a_cent_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "orders.parquet"
    pd.DataFrame(
        {
            "customer_id": ["a", "b"],
            "order_id": ["1", "2"],
            "order_ts": pd.to_datetime(["2024-01-01", "2024-01-02"]),
            "amount": [29.33, 0.125],
        }
    ).to_parquet(path)
    with pytest.raises(
        SegmentationInputError, match=r"1 amounts are not whole .* \(e\.g\. 0\.125\)"
    ):
        tables_on_engine(connect("duckdb", config=CONFIG), path, config=CONFIG)


def test_the_readme_cluster_example_runs_on_duckdb(demo_parquet: Any) -> None:
    """README "On Databricks or EMR", with DuckDB for the cluster's Spark."""
    _, out = demo_parquet
    backend = connect("duckdb", config=CONFIG)
    backend.raw_sql("CREATE SCHEMA shop")
    for name in ("orders", "customers"):
        backend.create_table(
            name, backend.read_parquet(str(out / f"{name}.parquet")), database="shop"
        )
    # The README's lines, backend in place of connect("spark", session=spark):
    tables = tables_on_engine(backend, "shop.orders", "shop.customers")
    result = segment_on_engine(tables, to="shop.segments", as_of="2026-10-31")
    assert result.summary_line().startswith("5,000 customers as of 2026-10-31, 7 schemes")
    written = backend.table("segments", database="shop").to_pyarrow()
    # The sizes are the written table's, scheme by scheme.
    assert result.sizes.groupby("scheme")["customers"].sum().eq(5_000).all()
    lifecycle = result.sizes[result.sizes["scheme"] == "lifecycle"]
    assert dict(zip(lifecycle["segment"], lifecycle["customers"], strict=True)) == (
        written.to_pandas()["lifecycle"].value_counts().to_dict()
    )
    # No interaction log: every rule scheme but the interaction tiers, for 5,000 customers.
    assert written.num_rows == 5_000
    assert written.column_names == [
        "customer_id", "rfm_named", "rfm_8class", "value_tier", "member_grade",
        "frequency_tier", "lifecycle", "needs",
    ]  # fmt: skip
