"""The canonical tables on an engine: ids as text, timestamps as naive microseconds and money
as integer minor units (cents), so that a sum is exact in any order on every engine."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any, NamedTuple

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa
from ibis.backends import BaseBackend

from segmentation.config import config_section, load_config
from segmentation.errors import SegmentationInputError
from segmentation.features import as_text

__all__ = ["EngineTables", "load_tables", "to_cents"]

# Table names on the engine: one number per load, so loads in one session never collide.
_LOADS = itertools.count()


class EngineTables(NamedTuple):
    """The canonical tables as Ibis tables on one engine.

    ``orders`` has ``customer_id`` and ``order_id`` (text, missing for guests and for rows
    without an order id), ``row`` (the row's position in the canonical orders: a row without
    an order id is an order of its own), ``order_ts`` (naive timestamp) and ``amount_cents``
    (int64, missing where the amount is); ``customers`` has ``customer_id`` and
    ``first_seen_ts``, or is None without a customers table. ``orders`` also has
    ``unit_price`` (float64, currency units: only its ratio to a median is used) and
    ``category`` (text) when the canonical orders have both. ``interactions`` has
    ``customer_id`` and ``ts``, or is None without an interaction log.
    """

    backend: BaseBackend
    orders: ibis.Table
    customers: ibis.Table | None
    money_scale: int  # minor units per currency unit
    interactions: ibis.Table | None = None


def to_cents(amount: pd.Series, *, money_scale: int) -> pd.Series:
    """Amounts in currency units as whole minor units (int64, missing where missing).

    Parameters
    ----------
    amount : pandas.Series
        Amounts in currency units (``orders.amount``).
    money_scale : int
        Minor units per currency unit (config ``engine.money_scale``, 100).

    Returns
    -------
    pandas.Series
        ``Int64``, same index and name.

    Raises
    ------
    SegmentationInputError
        When an amount is not a whole number of minor units (a float's rounding aside),
        naming the first such row and how many there are.
    """
    values = amount.to_numpy(dtype=float, na_value=np.nan)
    scaled = values * money_scale
    whole = np.round(scaled)
    # A float holds 29.33 as 29.329999...: allow a few units in the last place, no more.
    slack = np.maximum(1e-6, 64 * np.spacing(np.abs(scaled)))
    off = np.flatnonzero(~np.isnan(values) & (np.abs(scaled - whole) > slack))
    if len(off):
        first = int(off[0])
        raise SegmentationInputError(
            f"orders, column amount, row {first + 1}: {float(values[first])!r} is not a whole number "
            f"of 1/{money_scale} currency units ({len(off):,} rows are not). The engines carry "
            f"money as whole minor units; set engine.money_scale in your config (for example "
            f"{money_scale * 10}) to the units your amounts are counted in."
        )
    cents = pd.array(whole, dtype="Int64")
    return pd.Series(cents, index=amount.index, name=amount.name)


def load_tables(
    backend: BaseBackend,
    orders: pd.DataFrame,
    customers: pd.DataFrame | None = None,
    interactions: pd.DataFrame | None = None,
    *,
    config: Mapping[str, Any] | None = None,
) -> EngineTables:
    """Put the canonical orders, customers and interactions on ``backend`` (temporary tables).

    Parameters
    ----------
    backend : ibis.backends.BaseBackend
        From :func:`segmentation.engine.connect`.
    orders : pandas.DataFrame
        Canonical orders (``IngestResult.orders``): ``customer_id``, ``order_id``,
        ``order_ts`` and ``amount`` are read, and ``unit_price`` and ``category`` when both
        are there; ids and categories may be categoricals.
    customers : pandas.DataFrame, optional
        Canonical customers (``IngestResult.customers``): ``customer_id`` and, when present,
        ``first_seen_ts``.
    interactions : pandas.DataFrame, optional
        Canonical interactions: ``customer_id`` and ``ts`` are read.
    config : mapping, optional
        The merged config; ``engine.money_scale`` is read. The built-in one when omitted.

    Returns
    -------
    EngineTables

    Raises
    ------
    SegmentationInputError
        When an amount is not a whole number of minor units, or a timestamp has a part
        finer than a microsecond (Spark keeps microseconds).
    """
    settings = config_section(config if config is not None else load_config(), "engine")
    money_scale = int(settings["money_scale"])
    load = next(_LOADS)
    order_columns = {
        "customer_id": _text(orders["customer_id"]),
        "order_id": _text(orders["order_id"]),
        "row": pa.array(np.arange(len(orders), dtype=np.int64)),
        "order_ts": _microseconds(orders["order_ts"], where="orders, column order_ts"),
        "amount_cents": pa.array(to_cents(orders["amount"], money_scale=money_scale)),
    }
    if {"unit_price", "category"} <= set(orders.columns):
        order_columns["unit_price"] = pa.array(
            orders["unit_price"].to_numpy(dtype=float, na_value=np.nan), from_pandas=True
        )
        order_columns["category"] = _text(orders["category"])
    orders_table = _create(backend, f"segmentation_orders_{load}", pa.table(order_columns))
    customers_table = None
    if customers is not None:
        first_seen = (
            customers["first_seen_ts"]
            if "first_seen_ts" in customers.columns
            else pd.Series(pd.NaT, index=customers.index, dtype="datetime64[us]")
        )
        customer_rows = pa.table(
            {
                "customer_id": _text(customers["customer_id"]),
                "first_seen_ts": _microseconds(first_seen, where="customers, column first_seen_ts"),
            }
        )
        customers_table = _create(backend, f"segmentation_customers_{load}", customer_rows)
    interactions_table = None
    if interactions is not None:
        interaction_rows = pa.table(
            {
                "customer_id": _text(interactions["customer_id"]),
                "ts": _microseconds(interactions["ts"], where="interactions, column ts"),
            }
        )
        interactions_table = _create(backend, f"segmentation_interactions_{load}", interaction_rows)
    return EngineTables(backend, orders_table, customers_table, money_scale, interactions_table)


def _create(backend: BaseBackend, name: str, rows: pa.Table) -> ibis.Table:
    """A temporary table of ``rows`` on ``backend`` (a temporary view on Spark)."""
    if backend.name == "pyspark":
        # Ibis makes no temporary tables on Spark; a temporary view lives as long as the
        # session, as a temporary table would.
        return backend.create_view(name, ibis.memtable(rows), overwrite=True)
    return backend.create_table(name, rows, temp=True)


def _text(values: pd.Series) -> pa.Array:
    """Ids as one arrow string array, missing where missing."""
    text = pa.array(as_text(values), type=pa.string(), from_pandas=True)
    # Arrow-backed text comes back chunked; Spark's Arrow transfer takes plain arrays only,
    # and with a chunked one falls back to converting row by row, with a warning.
    return text.combine_chunks() if isinstance(text, pa.ChunkedArray) else text


def _microseconds(values: pd.Series, *, where: str) -> pa.Array:
    """Naive timestamps as arrow microseconds; a finer part is an error naming ``where``."""
    stamps = pd.to_datetime(values)
    if getattr(stamps.dtype, "tz", None) is not None:
        raise SegmentationInputError(
            f"{where}: timestamps carry a time zone ({stamps.dtype}); the engines take naive "
            "local times, so convert them to the shop's local time and drop the zone."
        )
    ticks = stamps.to_numpy(dtype="datetime64[ns]")
    present = ~np.isnat(ticks)
    finer = np.flatnonzero(present & (ticks.view(np.int64) % 1000 != 0))
    if len(finer):
        raise SegmentationInputError(
            f"{where}, row {int(finer[0]) + 1}: {ticks[finer[0]]} has a part finer than a "
            "microsecond, which Spark cannot keep; round the timestamps to microseconds."
        )
    return pa.array(ticks.astype("datetime64[us]"), mask=~present, type=pa.timestamp("us"))
