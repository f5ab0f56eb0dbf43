"""The engine stages: the snapshot, the RFM scores and every rule scheme's labels on the
pandas path and as Ibis expressions on DuckDB, side by side on the same canonical tables."""

from __future__ import annotations

import warnings
from typing import Any

import pandas as pd

__all__ = ["engine_stage_parts"]


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


def _duckdb_snapshot_rfm(
    orders: pd.DataFrame, customers: pd.DataFrame | None, as_of: pd.Timestamp, config: Any
) -> dict[str, Any]:
    from segmentation.engine import (
        connect,
        customer_snapshot_expr,
        load_tables,
        rfm_scores_expr,
        rule_labels_expr,
    )

    # Timed from the pandas tables on: money to cents and the copy into DuckDB count too.
    tables = load_tables(connect("duckdb", config=config), orders, customers, config=config)
    snapshot = customer_snapshot_expr(tables, as_of=as_of).cache()
    frame = snapshot.to_pyarrow()
    scores = rfm_scores_expr(snapshot, config=config).to_pyarrow()
    labels = rule_labels_expr(snapshot, money_scale=tables.money_scale, config=config)
    return {
        "customers": frame.num_rows,
        "scored": scores.num_rows - scores["RFM"].null_count,
        "schemes": labels.to_pyarrow().num_columns - 1,
    }


def engine_stage_parts() -> list[tuple[str, str, Any, Any]]:
    """``(name, title, load, run)`` of each engine stage, in run order (group ``engine``)."""
    return [
        (
            "snapshot_rfm",
            "features.customer_snapshot, schemes.rfm_scores and every rule scheme, the pandas path",
            _load_tables,
            _pandas_snapshot_rfm,
        ),
        (
            "snapshot_rfm_duckdb",
            "the same as Ibis expressions on DuckDB in this process (segmentation.engine: "
            "amounts to cents and the tables into DuckDB, the snapshot read back as Arrow, "
            "the RFM scores with exact quintile edges, every rule scheme's labels read back)",
            _load_tables,
            _duckdb_snapshot_rfm,
        ),
    ]
