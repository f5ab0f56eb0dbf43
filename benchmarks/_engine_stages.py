"""The engine stages: the snapshot, the RFM scores and every rule scheme's labels on the
pandas path and as Ibis expressions on DuckDB and on Spark local[2], side by side on the same
canonical tables; the month's segment table made on DuckDB straight from the export's
Parquet files and written back as Parquet, the path that reaches 10M customers; and the
cluster path's clusters and backtest on DuckDB beside the pandas path's."""

from __future__ import annotations

import warnings
from typing import Any

import pandas as pd

from benchmarks._stages import Stage

__all__ = ["engine_stages"]


def _load_tables(workspace: Any) -> dict[str, Any]:
    return {
        "orders": workspace.orders(),
        "customers": workspace.customers(),
        "as_of": workspace.as_of,
        "config": workspace.config(),
    }


def _pandas_snapshot_rfm(
    orders: pd.DataFrame, customers: pd.DataFrame | None, as_of: pd.Timestamp, config: Any
) -> dict[str, Any]:
    from segmentation.errors import DataUnavailableError
    from segmentation.features import customer_snapshot
    from segmentation.schemes.rfm import rfm_scores
    from segmentation.schemes.rules import RULE_SCHEMES

    snapshot = customer_snapshot(orders, customers, as_of=as_of)
    labelled = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # ties among small exports
        scores = rfm_scores(snapshot, config=config)
        for scheme in RULE_SCHEMES.values():
            try:
                scheme(snapshot, config=config)
            except DataUnavailableError:
                continue  # no interaction log: unavailable on both paths
            labelled += 1
    return {
        "customers": len(snapshot),
        "scored": int(scores["RFM"].notna().sum()),
        "schemes": labelled,
    }


def _engine_snapshot_rfm(
    backend: Any,
    orders: pd.DataFrame,
    customers: pd.DataFrame | None,
    as_of: pd.Timestamp,
    config: Any,
) -> dict[str, Any]:
    from segmentation.engine import (
        customer_snapshot_expr,
        load_tables,
        rfm_scores_expr,
        rule_labels_expr,
    )

    # Timed from the pandas tables on: money to cents and the copy into the engine count too.
    tables = load_tables(backend, orders, customers, config=config)
    snapshot = customer_snapshot_expr(tables, as_of=as_of).cache()
    frame = snapshot.to_pyarrow()
    scores = rfm_scores_expr(snapshot, config=config).to_pyarrow()
    labels = rule_labels_expr(snapshot, money_scale=tables.money_scale, config=config)
    return {
        "customers": frame.num_rows,
        "scored": scores.num_rows - scores["RFM"].null_count,
        "schemes": labels.to_pyarrow().num_columns - 1,
    }


def _duckdb_snapshot_rfm(
    orders: pd.DataFrame, customers: pd.DataFrame | None, as_of: pd.Timestamp, config: Any
) -> dict[str, Any]:
    from segmentation.engine import connect

    return _engine_snapshot_rfm(connect("duckdb", config=config), orders, customers, as_of, config)


def _load_spark(workspace: Any) -> dict[str, Any]:
    """The tables, and a Spark local[2] session started before the clock (its JVM start,
    9-13 s here, is paid once per cluster session, not per month); ``None`` and the reason
    where Spark cannot start here (no Java)."""
    from segmentation.engine import connect
    from segmentation.errors import EngineUnavailableError

    tables = _load_tables(workspace)
    try:
        return {**tables, "backend": connect("spark", config=tables["config"]), "unavailable": ""}
    except EngineUnavailableError as error:
        return {**tables, "backend": None, "unavailable": str(error)}


def _spark_snapshot_rfm(
    backend: Any,
    orders: pd.DataFrame,
    customers: pd.DataFrame | None,
    as_of: pd.Timestamp,
    config: Any,
    unavailable: str,
) -> dict[str, Any]:
    if backend is None:
        return {"unavailable": unavailable}
    return _engine_snapshot_rfm(backend, orders, customers, as_of, config)


def _load_parquet(workspace: Any) -> dict[str, Any]:
    parquet = workspace.export_dir / "parquet"
    return {
        "orders": parquet / "orders.parquet",
        "customers": parquet / "customers.parquet",
        "out": workspace.scratch_dir / "segments.parquet",
        "as_of": workspace.as_of,
        "config": workspace.config(),
    }


def _segments_from_parquet(
    orders: Any, customers: Any, out: Any, as_of: pd.Timestamp, config: Any
) -> dict[str, Any]:
    from segmentation.engine import connect, segment_on_engine, tables_on_engine

    out.parent.mkdir(parents=True, exist_ok=True)
    tables = tables_on_engine(connect("duckdb", config=config), orders, customers, config=config)
    result = segment_on_engine(tables, to=out, as_of=as_of, config=config)
    return {
        "customers": result.customers,
        "schemes": len(result.schemes),
        "segments_mb": round(out.stat().st_size / 1e6, 1),
    }


def _pandas_clusters_backtest(
    orders: pd.DataFrame, customers: pd.DataFrame | None, as_of: pd.Timestamp, config: Any
) -> dict[str, Any]:
    """The clusters of the month and the rule schemes' backtest on the pandas path."""
    from segmentation.engine import RULE_SCHEME_NAMES
    from segmentation.evaluate import future_outcomes, scheme_scores
    from segmentation.features import customer_snapshot
    from segmentation.schemes.clusters import cluster_scheme
    from segmentation.schemes.registry import run_schemes

    horizon = int(config["report"]["horizon_days"])
    calibration_end = as_of - pd.Timedelta(days=horizon)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # ties among small exports
        clusters = cluster_scheme(customer_snapshot(orders, customers, as_of=as_of), config=config)
        snapshot = customer_snapshot(orders, customers, as_of=calibration_end)
        run = run_schemes(
            snapshot, as_of=calibration_end, config=config, schemes=list(RULE_SCHEME_NAMES)
        )
    outcomes = future_outcomes(
        orders, snapshot.index, calibration_end=calibration_end, horizon_days=horizon
    )
    scores = {name: scheme_scores(s, outcomes) for name, s in run.segmentations.items()}
    return {"k": int(clusters.details["k"]), "schemes_scored": len(scores)}


def _duckdb_clusters_backtest(
    orders: Any, customers: Any, out: Any, as_of: pd.Timestamp, config: Any
) -> dict[str, Any]:
    """The cluster path's month on DuckDB from the export's Parquet: the segment table with
    the clusters, then the backtest's ranking."""
    from segmentation.engine import connect, segment_on_engine, tables_on_engine
    from segmentation.engine_backtest import backtest_on_engine
    from segmentation.schemes.clusters import clusters_on_engine

    out.parent.mkdir(parents=True, exist_ok=True)
    tables = tables_on_engine(connect("duckdb", config=config), orders, customers, config=config)
    result = segment_on_engine(
        tables, to=out, as_of=as_of, config=config, clusters=clusters_on_engine
    )
    backtest = backtest_on_engine(tables, as_of=as_of, config=config)
    return {
        "k": result.clusters.k if result.clusters is not None else 0,
        "schemes": len(result.schemes),
        "schemes_scored": len(backtest.scores),
        "first": str(backtest.scores.index[0]),
    }


def engine_stages() -> list[Stage]:
    """Each engine stage, in run order (group ``engine``)."""
    return [
        Stage(
            "snapshot_rfm",
            "engine",
            "features.customer_snapshot, schemes.rfm_scores and every rule scheme, the pandas path",
            _load_tables,
            _pandas_snapshot_rfm,
        ),
        Stage(
            "snapshot_rfm_duckdb",
            "engine",
            "the same as Ibis expressions on DuckDB in this process (segmentation.engine: "
            "amounts to cents and the tables into DuckDB, the snapshot read back as Arrow, "
            "the RFM scores with exact quintile edges, every rule scheme's labels read back)",
            _load_tables,
            _duckdb_snapshot_rfm,
        ),
        Stage(
            "snapshot_rfm_spark",
            "engine",
            "the same on Spark local[2] (the tables copied into Spark from pandas; the "
            "session started before the clock; the JVM's memory counted)",
            _load_spark,
            _spark_snapshot_rfm,
            spawns_processes=True,
        ),
        Stage(
            "segments_duckdb_parquet",
            "engine",
            "engine.segment_on_engine on DuckDB from the export's Parquet files: checks, "
            "snapshot, every rule scheme, the segment table written as Parquet, sizes read back",
            _load_parquet,
            _segments_from_parquet,
            needs_prepared=False,
        ),
        Stage(
            "clusters_backtest",
            "engine",
            "the month's clusters (schemes.clusters.cluster_scheme) and the rule schemes' "
            "backtest (calibration snapshot, schemes, future_outcomes, scheme_scores), the "
            "pandas path on the ingested tables",
            _load_tables,
            _pandas_clusters_backtest,
        ),
        Stage(
            "clusters_backtest_duckdb_parquet",
            "engine",
            "the cluster path on DuckDB from the export's Parquet: segment_on_engine with "
            "clusters_on_engine (a 10,000-buyer sample fitted in Python, every buyer assigned "
            "on the engine), then engine_backtest.backtest_on_engine's ranking",
            _load_parquet,
            _duckdb_clusters_backtest,
            needs_prepared=False,
        ),
    ]
