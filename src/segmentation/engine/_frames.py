"""The report's snapshots computed on an engine and read back as the pandas snapshot's frames,
so that everything after the snapshot (schemes, CLV, comparison, notebooks) runs unchanged."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from segmentation.config import config_section
from segmentation.engine._connect import connect
from segmentation.engine._load import load_tables
from segmentation.engine._snapshot import customer_snapshot_expr
from segmentation.features import as_of_cutoff
from segmentation.features._attributes import ATTRIBUTE_COLUMNS, customer_attributes

__all__ = ["MONEY_COLUMNS", "snapshot_frames"]

#: The snapshot's money columns: minor units on the engine, currency units in the frame.
MONEY_COLUMNS: tuple[str, ...] = ("monetary_value", "monetary_total", "monetary_avg")


def snapshot_frames(
    orders: pd.DataFrame,
    customers: pd.DataFrame | None,
    interactions: pd.DataFrame | None,
    *,
    as_of_days: Iterable[pd.Timestamp],
    engine: str,
    config: Mapping[str, Any],
    session: Any = None,
) -> dict[pd.Timestamp, pd.DataFrame]:
    """The customer snapshot as of each day, computed on ``engine``, as pandas frames shaped
    like :func:`segmentation.features.customer_snapshot`'s.

    The tables are put on the engine once; each snapshot is one expression read back as
    Arrow. Money comes back as minor units divided by ``engine.money_scale``, so it can
    differ from the pandas path's float sums in the last bit; every count, day, flag and
    label input is equal (tests/test_engine.py). The customers table's profile columns
    (region, city, tags, first seen) are joined from ``customers`` as the pandas snapshot
    reads them.

    Parameters
    ----------
    orders, customers, interactions : pandas.DataFrame or None
        The canonical tables from ingest.
    as_of_days : iterable of pandas.Timestamp
        The as-of days.
    engine : {"duckdb", "spark"}
        Where the snapshot runs (:func:`segmentation.engine.connect`).
    config : mapping
        The merged config; section ``engine``.
    session : pyspark.sql.SparkSession, optional
        An existing Spark session (``engine="spark"``).

    Returns
    -------
    dict of pandas.Timestamp to pandas.DataFrame
        Indexed by ``customer_id`` (sorted), columns as the pandas snapshot's.

    Raises
    ------
    EngineUnavailableError
        When Spark is asked for but cannot be started here.
    """
    backend = connect(engine, session=session, config=config)
    tables = load_tables(backend, orders, customers, interactions, config=config)
    scale = float(config_section(config, "engine")["money_scale"])
    ts_dtype = orders["order_ts"].dtype
    frames = {}
    for day in as_of_days:
        arrow = customer_snapshot_expr(tables, as_of=day).to_pyarrow()
        frame = _as_snapshot_frame(arrow, scale=scale, ts_dtype=ts_dtype)
        frames[day] = _with_profile(frame, customers, orders, as_of=day)
    return frames


def _as_snapshot_frame(arrow: pa.Table, *, scale: float, ts_dtype: Any) -> pd.DataFrame:
    """The engine's snapshot as the pandas snapshot's frame: sorted ids as the index,
    money in currency units, the pandas dtypes."""
    arrow = arrow.sort_by("customer_id")
    ids = arrow.column("customer_id").combine_chunks().cast(pa.large_string())
    index = pd.Index(pd.arrays.ArrowStringArray(ids), name="customer_id")
    columns: dict[str, Any] = {}
    for name in arrow.column_names[1:]:
        values = arrow.column(name).to_numpy(zero_copy_only=False)
        if name in ("first_purchase", "last_purchase"):
            values = pd.to_datetime(values).astype(ts_dtype).to_numpy()
        elif name in MONEY_COLUMNS:
            values = values.astype(np.float64) / scale
        elif name == "is_potential":
            values = values.astype(bool)
        elif pa.types.is_integer(arrow.schema.field(name).type):
            values = values.astype(np.int64)
        else:
            values = values.astype(np.float64)  # nulls read back as NaN
        columns[name] = values
    return pd.DataFrame(columns, index=index, copy=False)


def _with_profile(
    frame: pd.DataFrame,
    customers: pd.DataFrame | None,
    orders: pd.DataFrame,
    *,
    as_of: pd.Timestamp,
) -> pd.DataFrame:
    """``frame`` with the customers table's profile columns, as the pandas snapshot has them
    (missing for customers the table does not list; no first seen after ``as_of``)."""
    listed = customer_attributes(
        customers, as_of_cutoff(as_of), order_customers=orders["customer_id"]
    )
    profile = listed.frame.reindex(frame.index)
    for column in ATTRIBUTE_COLUMNS:
        frame[column] = profile[column].array
    return frame
