"""What a user would pick instead of the kit to get lifetimes' four columns from a raw export:
one DuckDB query, a polars lazy query, pandas read_csv and groupbys; and the floor under all of
them, pyarrow's typed read of the files. Each computes the kit's netting rules, and its result
is checked against the kit's own summary of the same export.

The rules, as :func:`segmentation.features.repeat_purchase_summary` applies them (the bench's
exports have no product ids, so no cancellation is matched across orders): guest rows and rows
after the as-of day are left out; an order's rows are netted; an order that holds a negative
row and nets to at most ``REFUND_TOLERANCE`` is no purchase; a purchase day is a customer's
day with a purchase; ``frequency`` counts repeat purchase days, ``recency`` and ``T`` are days
from the first purchase day to the last and to the as-of day, and ``monetary_value`` is the
mean net spend of the repeat purchase days (0 without one).

polars is optional: the kit does not depend on it. ``make bench`` installs it (pinned in
``requirements-bench.lock``) and the polars stages report ``unavailable`` without it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "SUMMARY_COLUMNS",
    "arrow_read_floor",
    "duckdb_summary",
    "pandas_read_csv_summary",
    "polars_summary",
    "summary_difference",
]

#: lifetimes' four columns, indexed by ``customer_id`` (sorted).
SUMMARY_COLUMNS = ["frequency", "recency", "T", "monetary_value"]

#: The order export's column types, as a typed reader is told them (no type sniffing).
_ORDER_TYPES = {
    "order_id": "VARCHAR",
    "customer_id": "VARCHAR",
    "order_ts": "TIMESTAMP",
    "category": "VARCHAR",
    "quantity": "BIGINT",
    "unit_price": "DOUBLE",
    "amount": "DOUBLE",
}
_CUSTOMER_TYPES = {
    "customer_id": "VARCHAR",
    "first_seen_ts": "TIMESTAMP",
    "city_tier": "VARCHAR",
    "source_channel": "VARCHAR",
}


def _refund_tolerance() -> float:
    from segmentation.features import REFUND_TOLERANCE

    return float(REFUND_TOLERANCE)


def _as_of_day(as_of: str | pd.Timestamp) -> dt.date:
    return pd.Timestamp(as_of).normalize().date()


def _cutoff(as_of: str | pd.Timestamp) -> dt.datetime:
    """The kit's own cutoff (rows strictly before it are as of the day), as a plain datetime."""
    from segmentation.features import as_of_cutoff

    cutoff: dt.datetime = as_of_cutoff(as_of).to_pydatetime()
    return cutoff


def duckdb_summary(
    orders_path: str | Path, *, as_of: str | pd.Timestamp, threads: int = 2
) -> pd.DataFrame:
    """lifetimes' four columns from an orders file (CSV or Parquet) in one DuckDB query.

    Parameters
    ----------
    orders_path : str or Path
        The export's orders file, ``.csv`` (read with the export's column types) or
        ``.parquet``.
    as_of : str or pandas.Timestamp
        The observation end, the whole day included.
    threads : int, default 2
        DuckDB's worker threads.

    Returns
    -------
    pandas.DataFrame
        :data:`SUMMARY_COLUMNS`, indexed by ``customer_id``, sorted.
    """
    import duckdb

    path = Path(orders_path)
    if path.suffix == ".parquet":
        source = "read_parquet($path)"
    else:
        types = ", ".join(f"'{k}': '{v}'" for k, v in _ORDER_TYPES.items())
        source = f"read_csv($path, header = true, columns = {{{types}}})"
    query = f"""
        WITH per_order AS (
            SELECT customer_id, min(order_ts) AS ts, sum(amount) AS amount,
                   bool_or(amount >= 0) AS sale, bool_or(amount < 0) AS refund
            FROM {source}
            WHERE customer_id IS NOT NULL AND order_ts < $cutoff
            GROUP BY customer_id, order_id
        ), per_day AS (
            SELECT customer_id, CAST(ts AS DATE) AS day, sum(amount) AS amount
            FROM per_order
            WHERE sale AND NOT (refund AND amount <= $tolerance)
            GROUP BY ALL
        )
        SELECT customer_id,
               count(*) - 1 AS frequency,
               CAST(date_diff('day', min(day), max(day)) AS DOUBLE) AS recency,
               CAST(date_diff('day', min(day), $as_of) AS DOUBLE) AS "T",
               CASE WHEN count(*) > 1
                    THEN (sum(amount) - arg_min(amount, day)) / (count(*) - 1)
                    ELSE 0.0 END AS monetary_value
        FROM per_day
        GROUP BY customer_id
        ORDER BY customer_id
    """
    as_of_day = _as_of_day(as_of)
    with duckdb.connect(config={"threads": threads}) as connection:
        frame = connection.execute(
            query,
            {
                "path": str(path),
                "cutoff": _cutoff(as_of),
                "tolerance": _refund_tolerance(),
                "as_of": as_of_day,
            },
        ).df()
    return frame.set_index("customer_id")


def polars_summary(orders_path: str | Path, *, as_of: str | pd.Timestamp) -> pd.DataFrame:
    """lifetimes' four columns from an orders file (CSV or Parquet) as one polars lazy query.

    Parameters and result as :func:`duckdb_summary` (polars uses every core it is given).

    Raises
    ------
    ModuleNotFoundError
        polars is not installed (it is a bench extra, not a dependency of the kit).
    """
    import polars as pl

    path = Path(orders_path)
    if path.suffix == ".parquet":
        rows = pl.scan_parquet(path)
    else:
        schema: dict[str, Any] = {
            "order_id": pl.String,
            "customer_id": pl.String,
            "order_ts": pl.Datetime("us"),
            "category": pl.String,
            "quantity": pl.Int64,
            "unit_price": pl.Float64,
            "amount": pl.Float64,
        }
        rows = pl.scan_csv(path, schema=schema)
    as_of_day = _as_of_day(as_of)
    cutoff = _cutoff(as_of)
    per_day = (
        rows.filter(pl.col("customer_id").is_not_null() & (pl.col("order_ts") < cutoff))
        .group_by("customer_id", "order_id")
        .agg(
            ts=pl.col("order_ts").min(),
            amount=pl.col("amount").sum(),
            sale=(pl.col("amount") >= 0).any(),
            refund=(pl.col("amount") < 0).any(),
        )
        .filter(pl.col("sale") & ~(pl.col("refund") & (pl.col("amount") <= _refund_tolerance())))
        .group_by("customer_id", pl.col("ts").dt.date().alias("day"))
        .agg(pl.col("amount").sum())
    )
    days = pl.len() - 1
    summary = (
        per_day.group_by("customer_id")
        .agg(
            frequency=days.cast(pl.Int64),
            recency=(pl.col("day").max() - pl.col("day").min()).dt.total_days().cast(pl.Float64),
            T=(pl.lit(as_of_day) - pl.col("day").min()).dt.total_days().cast(pl.Float64),
            monetary_value=pl.when(days > 0)
            .then((pl.col("amount").sum() - pl.col("amount").sort_by("day").first()) / days)
            .otherwise(0.0),
        )
        .sort("customer_id")
        .collect()
    )
    return summary.to_pandas().set_index("customer_id")


def pandas_read_csv_summary(orders_path: str | Path, *, as_of: str | pd.Timestamp) -> pd.DataFrame:
    """lifetimes' four columns the plain pandas way: ``read_csv`` with the dates parsed, then
    :func:`benchmarks.pandas_groupby_summary`'s groupbys.

    Parameters and result as :func:`duckdb_summary` (CSV only).
    """
    from benchmarks._baselines import pandas_groupby_summary

    orders = pd.read_csv(
        orders_path,
        dtype={"order_id": "string", "customer_id": "string", "category": "string"},
        parse_dates=["order_ts"],
    )
    return pandas_groupby_summary(orders, as_of=as_of)[SUMMARY_COLUMNS]


def arrow_read_floor(paths: Sequence[str | Path], *, threads: int = 2) -> int:
    """Read the export's files with pyarrow, typed, on ``threads`` threads: the floor under any
    ingest (no validation, nothing computed).

    Parameters
    ----------
    paths : sequence of str or Path
        The orders and customers files, all ``.csv`` or all ``.parquet``.
    threads : int, default 2

    Returns
    -------
    int
        Rows read.
    """
    import pyarrow as pa
    import pyarrow.csv as pa_csv
    import pyarrow.parquet as pq

    arrow_types = {
        "VARCHAR": pa.string(),
        "TIMESTAMP": pa.timestamp("s"),
        "BIGINT": pa.int64(),
        "DOUBLE": pa.float64(),
    }
    previous = pa.cpu_count()
    pa.set_cpu_count(threads)
    try:
        rows = 0
        for path in map(Path, paths):
            if path.suffix == ".parquet":
                rows += pq.read_table(path).num_rows
                continue
            types = _ORDER_TYPES if path.stem == "orders" else _CUSTOMER_TYPES
            options = pa_csv.ConvertOptions(
                column_types={k: arrow_types[v] for k, v in types.items()}
            )
            rows += pa_csv.read_csv(path, convert_options=options).num_rows
        return rows
    finally:
        pa.set_cpu_count(previous)


def summary_difference(mine: pd.DataFrame, theirs: pd.DataFrame) -> dict[str, Any]:
    """How far a peer's four columns are from the kit's: the same customers, and the largest
    absolute difference of any value.

    Parameters
    ----------
    mine : pandas.DataFrame
        The kit's :func:`segmentation.features.repeat_purchase_summary`.
    theirs : pandas.DataFrame
        A peer's result, indexed by ``customer_id``.

    Returns
    -------
    dict
        ``customers`` (the peer's), ``same_customers`` (bool) and ``max_abs_difference``
        (NaN when the customers differ).
    """
    same = len(mine) == len(theirs) and bool(
        (mine.index.astype(str) == theirs.index.astype(str)).all()
    )
    difference = float("nan")
    if same:
        difference = max(
            float(
                np.max(
                    np.abs(mine[c].to_numpy(dtype=float) - theirs[c].to_numpy(dtype=float)),
                    initial=0.0,
                )
            )
            for c in SUMMARY_COLUMNS
        )
    return {
        "customers": len(theirs),
        "same_customers": same,
        "max_abs_difference": difference,
    }
