"""The engine boundary: the canonical tables as Ibis tables, and the per-order and
per-customer work as Ibis expressions that DuckDB runs in this process and Spark on a cluster.

This is the only package that imports ibis. Money is carried as integer minor units (cents),
so sums are exact in any order and every engine agrees to the bit; timestamps are naive
local times. :func:`customer_snapshot_expr` is the snapshot's core (the repeat-purchase
summary, value, refunds, tenure) and :func:`rfm_scores_expr` the RFM quintile scores, with
exact quintile edges that every SQL engine can compute; :func:`rule_labels_expr` every rule
scheme's segment keys from the same config values as the pandas schemes;
:func:`segment_on_engine` writes them back as a table or Parquet. :func:`clv_rows_expr` gives
the CLV fits their unique rows with weights, and :func:`join_row_predictions` brings the
predictions made for those rows back to every customer on the engine;
:func:`migration_counts_expr` counts how customers moved between two months' segments.
:func:`buyer_sample` and :func:`cluster_assignment_expr` fit the clusters on a seeded sample
in Python and assign every buyer on the engine; :func:`segment_profile_sums_expr` gives the
segment profiles as exact sums; :func:`future_outcomes_expr` and :func:`outcome_sums_expr`
the backtest's outcomes summed per segment.
"""

from __future__ import annotations

from segmentation.engine._clusters import (
    CentroidModel,
    EngineClusters,
    buyer_sample,
    cluster_assignment_expr,
    cluster_labels_expr,
    cluster_summary,
    expand_precisions,
)
from segmentation.engine._clv_rows import CLV_ROW_KEYS, clv_rows_expr, join_row_predictions
from segmentation.engine._connect import ENGINES, REPORT_ENGINES, check_engine, connect
from segmentation.engine._existing import tables_on_engine
from segmentation.engine._frames import snapshot_frames
from segmentation.engine._load import EngineTables, load_tables, to_cents
from segmentation.engine._migration import migration_counts_expr
from segmentation.engine._outcomes import (
    future_outcomes_expr,
    outcome_sums_expr,
    outcome_totals,
)
from segmentation.engine._profiles import (
    PROFILE_SUM_COLUMNS,
    profiles_from_sums,
    segment_profile_sums_expr,
)
from segmentation.engine._rfm import rfm_scores_expr
from segmentation.engine._schemes import RULE_SCHEME_NAMES, rule_labels_expr
from segmentation.engine._segment_table import (
    ClusterFitter,
    EngineLabels,
    EngineSegments,
    labels_on_engine,
    last_order_day,
    segment_on_engine,
    write_table,
)
from segmentation.engine._snapshot import ENGINE_SNAPSHOT_COLUMNS, customer_snapshot_expr

__all__ = [
    "CLV_ROW_KEYS",
    "ENGINES",
    "ENGINE_SNAPSHOT_COLUMNS",
    "PROFILE_SUM_COLUMNS",
    "REPORT_ENGINES",
    "RULE_SCHEME_NAMES",
    "CentroidModel",
    "ClusterFitter",
    "EngineClusters",
    "EngineLabels",
    "EngineSegments",
    "EngineTables",
    "buyer_sample",
    "check_engine",
    "cluster_assignment_expr",
    "cluster_labels_expr",
    "cluster_summary",
    "clv_rows_expr",
    "connect",
    "customer_snapshot_expr",
    "expand_precisions",
    "future_outcomes_expr",
    "join_row_predictions",
    "labels_on_engine",
    "last_order_day",
    "load_tables",
    "migration_counts_expr",
    "outcome_sums_expr",
    "outcome_totals",
    "profiles_from_sums",
    "rfm_scores_expr",
    "rule_labels_expr",
    "segment_on_engine",
    "segment_profile_sums_expr",
    "snapshot_frames",
    "tables_on_engine",
    "to_cents",
    "write_table",
]
