"""The month's segment table made where the orders are, and written back there.

Where a shop's orders sit on a cluster or in a warehouse, only what a person reads needs to
leave it: the segment table (one row per customer, one column per rule scheme) is computed
and written on the engine, as a table or a Parquet dataset, and Python receives the segment
sizes.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import ibis
import pandas as pd

from segmentation.config import load_config
from segmentation.engine._clusters import EngineClusters
from segmentation.engine._load import EngineTables
from segmentation.engine._profiles import profiles_from_sums, segment_profile_sums_expr
from segmentation.engine._schemes import rule_labels_expr
from segmentation.engine._snapshot import customer_snapshot_expr
from segmentation.errors import InvalidOptionError, SchemeUnavailable, SegmentationInputError
from segmentation.features import as_of_day

__all__ = [
    "ClusterFitter",
    "EngineLabels",
    "EngineSegments",
    "labels_on_engine",
    "last_order_day",
    "segment_on_engine",
    "write_table",
]


class ClusterFitter(Protocol):
    """Fits the clusters on the engine's snapshot with the run's config:
    :func:`segmentation.schemes.clusters.clusters_on_engine`. The engine sits below the
    schemes, so the caller hands it in."""

    def __call__(
        self, snapshot: ibis.Table, *, money_scale: int, config: Mapping[str, Any]
    ) -> EngineClusters: ...


@dataclass(frozen=True)
class EngineSegments:
    """What :func:`segment_on_engine` wrote, and the segment profiles it read back.

    Attributes
    ----------
    target : str
        The table name or Parquet path written.
    as_of : pandas.Timestamp
        The day the customers were segmented as of.
    customers : int
        Rows written: the customers known on that day.
    schemes : tuple of str
        The scheme columns written, in order.
    profiles : pandas.DataFrame
        :func:`profiles_from_sums` of the table written: per scheme and segment the
        customers, their share, mean recency, frequency and spend, and revenue share.
    seconds : float
        Wall time, the write included.
    clusters : EngineClusters, optional
        The clusters' model and names, when they were fitted.
    unavailable : dict of str to str
        Schemes not written, with the reason.
    """

    target: str
    as_of: pd.Timestamp
    customers: int
    schemes: tuple[str, ...]
    profiles: pd.DataFrame
    seconds: float
    clusters: EngineClusters | None = None
    unavailable: dict[str, str] = field(default_factory=dict)

    @property
    def sizes(self) -> pd.DataFrame:
        """``scheme``, ``segment`` (the key) and ``customers``, sorted by scheme then segment."""
        return self.profiles[["scheme", "segment", "customers"]]

    def summary_line(self) -> str:
        """One line for the command line: what was written where, with no customer id."""
        return (
            f"{self.customers:,} customers as of {self.as_of:%Y-%m-%d}, "
            f"{len(self.schemes)} schemes ({', '.join(self.schemes)}) -> {self.target} "
            f"in {self.seconds:.1f} s"
        )


def segment_on_engine(
    tables: EngineTables,
    *,
    to: str | Path,
    as_of: str | pd.Timestamp | None = None,
    config: Mapping[str, Any] | None = None,
    clusters: ClusterFitter | None = None,
) -> EngineSegments:
    """Segment every customer with every rule scheme (and the clusters, when asked) on
    ``tables``' engine and write the table there.

    Parameters
    ----------
    tables : EngineTables
        From :func:`segmentation.engine.tables_on_engine` (data already on the engine) or
        :func:`segmentation.engine.load_tables`.
    to : str or Path
        A path ending in ``.parquet`` (DuckDB writes one file, Spark a folder of parts), or
        a table name, ``db.segments`` or ``segments`` (replaced if it exists).
    as_of : str or pandas.Timestamp, optional
        The day to segment as of (the whole day counts); the last order day when omitted.
    config : mapping, optional
        The merged config; the built-in one when omitted.
    clusters : ClusterFitter, optional
        Fits the clusters with this function's config, e.g.
        :func:`segmentation.schemes.clusters.clusters_on_engine`; their keys are written as
        the column ``clusters``. When too few customers have bought, the column is left out
        and the reason is in ``unavailable``.

    Returns
    -------
    EngineSegments

    Raises
    ------
    SegmentationInputError
        When there are no orders, or the Parquet path's folder does not exist.
    InvalidOptionError
        When ``as_of`` is not a date.
    """
    started = time.perf_counter()
    config = config if config is not None else load_config()
    day = as_of_day(as_of) if as_of is not None else last_order_day(tables)
    labelled = labels_on_engine(tables, as_of=day, config=config, clusters=clusters)
    target = write_table(labelled.labels, to, backend=tables.backend)
    written = _written(tables.backend, target)
    schemes = tuple(c for c in written.columns if c != "customer_id")
    sums = segment_profile_sums_expr(labelled.snapshot, written, schemes).to_pandas()
    profiles = profiles_from_sums(sums, money_scale=tables.money_scale)
    return EngineSegments(
        target=str(target),
        as_of=day,
        customers=int(written.count().to_pyarrow().as_py()),
        schemes=schemes,
        profiles=profiles,
        seconds=time.perf_counter() - started,
        clusters=labelled.clusters,
        unavailable=labelled.unavailable,
    )


@dataclass(frozen=True)
class EngineLabels:
    """The customers of a day and their segment keys, on the engine.

    Attributes
    ----------
    snapshot : ibis.Table
        The snapshot as of the day, cached.
    labels : ibis.Table
        ``customer_id`` and one column of keys per rule scheme the snapshot supports, then
        ``clusters`` when they were fitted.
    clusters : EngineClusters, optional
        The clusters' model and names.
    unavailable : dict of str to str
        Schemes left out, with the reason.
    """

    snapshot: ibis.Table
    labels: ibis.Table
    clusters: EngineClusters | None
    unavailable: dict[str, str]


def labels_on_engine(
    tables: EngineTables,
    *,
    as_of: pd.Timestamp,
    config: Mapping[str, Any],
    clusters: ClusterFitter | None = None,
) -> EngineLabels:
    """The snapshot as of ``as_of`` and every rule scheme's keys (and the clusters', when
    ``clusters`` fits them; too few buyers leave them out with the reason), on the engine.
    """
    snapshot = customer_snapshot_expr(tables, as_of=as_of).cache()
    labels = rule_labels_expr(snapshot, money_scale=tables.money_scale, config=config)
    fitted, unavailable = None, {}
    if clusters is not None:
        try:
            fitted = clusters(snapshot, money_scale=tables.money_scale, config=config)
        except SchemeUnavailable as error:
            unavailable[error.scheme] = error.reason
        else:
            labels = labels.join(fitted.labels, "customer_id")
    return EngineLabels(snapshot, labels, fitted, unavailable)


def last_order_day(tables: EngineTables) -> pd.Timestamp:
    """The day of the last order row on the engine.

    Raises
    ------
    SegmentationInputError
        When the orders table is empty.
    """
    last = tables.orders.order_ts.max().to_pyarrow().as_py()
    if last is None:
        raise SegmentationInputError(
            "orders: the table has no rows; point --orders at the shop's order table."
        )
    return pd.Timestamp(last).normalize()


def write_table(table: ibis.Table, to: str | Path, *, backend: Any) -> str | Path:
    """Write ``table`` on ``backend``: to Parquet when ``to`` ends in ``.parquet``, else as
    the table ``to`` (``db.name`` or ``name``), replacing it.

    Returns
    -------
    str or Path
        The Parquet path, or the table name as given.

    Raises
    ------
    SegmentationInputError
        When the Parquet path's folder does not exist.
    InvalidOptionError
        When ``to`` is empty.
    """
    if str(to).endswith(".parquet"):
        path = Path(to)
        if not path.parent.is_dir():
            raise SegmentationInputError(
                f"{path}: the folder {path.parent} does not exist; create it or write elsewhere."
            )
        backend.to_parquet(table, path)
        return path
    database, _, name = str(to).rpartition(".")
    if not name:
        raise InvalidOptionError(
            f"--to: expected a table name or a .parquet path, found {str(to)!r}."
        )
    backend.create_table(name, table, database=database or None, overwrite=True)
    return str(to)


def _written(backend: Any, target: str | Path) -> ibis.Table:
    """The table just written, read from where it lies."""
    if isinstance(target, Path):
        files = str(target / "*.parquet") if target.is_dir() else str(target)
        return backend.read_parquet(files)
    database, _, name = target.rpartition(".")
    return backend.table(name, database=database or None)
