"""The canonical tables from data already on the engine: a table (``shop.orders`` on a Spark
cluster, a table in a DuckDB file) or a Parquet dataset, checked for the canonical columns and
brought to the engine's form (ids as text, money as whole minor units) without leaving it."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.datatypes as dt
from ibis.backends import BaseBackend
from ibis.common.exceptions import TableNotFound

from segmentation.config import config_section, load_config
from segmentation.engine._load import EngineTables
from segmentation.errors import MissingColumnError, SegmentationInputError

__all__ = ["tables_on_engine"]

# The canonical columns each table must have (segmentation.schema), and the optional ones
# the engine reads when present.
_ORDERS = ("customer_id", "order_id", "order_ts", "amount")
_ORDERS_OPTIONAL = ("unit_price", "category")
_CUSTOMERS = ("customer_id",)
_INTERACTIONS = ("customer_id", "ts")
# Naive timestamps in microseconds, as load_tables puts them on the engine (and Spark keeps).
_MICROSECONDS = dt.Timestamp(scale=6)
# An amount further than this from a whole number of minor units is not one (float residue
# such as 29.329999... is).
_CENT_SLACK = 1e-6


def tables_on_engine(
    backend: BaseBackend,
    orders: str | Path | ibis.Table,
    customers: str | Path | ibis.Table | None = None,
    interactions: str | Path | ibis.Table | None = None,
    *,
    config: Mapping[str, Any] | None = None,
) -> EngineTables:
    """The canonical tables from tables or Parquet datasets already on ``backend``.

    Parameters
    ----------
    backend : ibis.backends.BaseBackend
        From :func:`segmentation.engine.connect` (a cluster's Spark session, or DuckDB on a
        database file).
    orders : str, path or ibis.Table
        A table name (``"shop.orders"``), a path ending in ``.parquet`` (a file or a
        folder of files), or an Ibis table. Columns ``customer_id``, ``order_id``,
        ``order_ts`` (a naive local timestamp) and ``amount`` (currency units; refunds
        negative); ``unit_price`` and ``category`` are read when both are there.
    customers, interactions : str, path or ibis.Table, optional
        The same for the customers (``customer_id``, optional ``first_seen_ts``) and the
        interaction log (``customer_id``, ``ts``).
    config : mapping, optional
        The merged config; ``engine.money_scale`` is read. The built-in one when omitted.

    Returns
    -------
    EngineTables
        Expressions over the given tables: nothing is copied.

    Raises
    ------
    MissingColumnError
        When a table lacks a canonical column (the message names the table and the column).
    SegmentationInputError
        When ``order_ts`` carries a time zone or is not a timestamp, or amounts are not whole
        minor units (one query counts them).
    """
    money_scale = int(config_section(config or load_config(), "engine")["money_scale"])
    order_table = _checked(_table(backend, orders), "orders", _ORDERS)
    _check_timestamp(order_table, "orders", "order_ts")
    scaled = order_table.amount.cast("float64") * money_scale
    _check_whole_cents(order_table, scaled, money_scale)
    columns: dict[str, Any] = {
        "customer_id": order_table.customer_id.cast("string"),
        "order_id": order_table.order_id.cast("string"),
        # Any unique number serves: it only tells apart rows without an order id.
        "row": ibis.row_number().over(order_by=order_table.order_ts).cast("int64"),
        "order_ts": order_table.order_ts.cast(_MICROSECONDS),
        "amount_cents": scaled.round().cast("int64"),
    }
    if set(_ORDERS_OPTIONAL) <= set(order_table.columns):
        columns["unit_price"] = order_table.unit_price.cast("float64")
        columns["category"] = order_table.category.cast("string")
    customer_table = None
    if customers is not None:
        listed = _checked(_table(backend, customers), "customers", _CUSTOMERS)
        first_seen = (
            listed.first_seen_ts if "first_seen_ts" in listed.columns else ibis.null("timestamp")
        )
        customer_table = listed.select(
            customer_id=listed.customer_id.cast("string"), first_seen_ts=first_seen
        )
    interaction_table = None
    if interactions is not None:
        log = _checked(_table(backend, interactions), "interactions", _INTERACTIONS)
        _check_timestamp(log, "interactions", "ts")
        interaction_table = log.select(
            customer_id=log.customer_id.cast("string"), ts=log.ts.cast(_MICROSECONDS)
        )
    return EngineTables(
        backend, order_table.select(**columns), customer_table, money_scale, interaction_table
    )


def _table(backend: BaseBackend, source: str | Path | ibis.Table) -> ibis.Table:
    """An Ibis table from a table, a table name or a Parquet path."""
    if isinstance(source, ibis.Table):
        return source
    if isinstance(source, Path) or str(source).endswith(".parquet"):
        path = Path(source)
        if not path.exists():
            raise SegmentationInputError(
                f"{path}: no such Parquet file or folder; give an existing path or a table name."
            )
        files = str(path / "*.parquet") if path.is_dir() else str(path)
        return backend.read_parquet(files)
    # "shop.orders": the table orders in the database (schema) shop.
    database, _, name = str(source).rpartition(".")
    try:
        return backend.table(name, database=database or None)
    except TableNotFound as error:
        raise SegmentationInputError(
            f"{source}: no such table on the engine; give an existing table's name "
            "(database.table) or a path ending in .parquet."
        ) from error


def _checked(table: ibis.Table, name: str, required: tuple[str, ...]) -> ibis.Table:
    """``table`` when it has every ``required`` column, else an error naming the first
    missing one and the columns found."""
    for column in required:
        if column not in table.columns:
            raise MissingColumnError(
                f"{name}: no column {column!r} (found {', '.join(table.columns)}); the "
                f"{name} table needs {', '.join(required)}. Rename the column, or select it "
                f"under that name, before passing the table."
            )
    return table


def _check_timestamp(table: ibis.Table, name: str, column: str) -> None:
    """A naive timestamp column, or an error saying what was found and what to do."""
    dtype = table[column].type()
    if not dtype.is_timestamp():
        raise SegmentationInputError(
            f"{name}, column {column}: found {dtype}; give a timestamp (cast it first)."
        )
    if getattr(dtype, "timezone", None) is not None:
        raise SegmentationInputError(
            f"{name}, column {column}: timestamps carry a time zone ({dtype}); the engines "
            "take naive local times: convert to the shop's local time and drop the zone."
        )


def _check_whole_cents(table: ibis.Table, scaled: ibis.Value, money_scale: int) -> None:
    """Every amount a whole number of minor units (one query), else an error with an example."""
    off = (scaled - scaled.round()).abs() > _CENT_SLACK
    found = (
        table.aggregate(
            n=table.count(where=off), example=table.amount.cast("float64").min(where=off)
        )
        .to_pyarrow()
        .to_pylist()[0]
    )
    if found["n"]:
        raise SegmentationInputError(
            f"orders, column amount: {found['n']:,} amounts are not whole numbers of "
            f"1/{money_scale} currency units (e.g. {found['example']!r}); set "
            f"engine.money_scale in your config to the units your amounts are counted in."
        )
