"""One report month's canonical tables: the input resolved, ingested once, or read back from
a report's ``data/`` folder."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from segmentation.datasets import DEMO_LABEL, cdnow_file, write_demo_export
from segmentation.errors import SegmentationInputError
from segmentation.paths import data_dir, project_root
from segmentation.report._prepared import read_prepared, write_prepared

__all__ = [
    "MonthData",
    "ingest_month",
    "last_complete_month",
    "load_month_data",
    "month_end",
    "resolve_input",
    "write_month_data",
]

DATASETS = ("demo", "cdnow")
_DEMO_CUSTOMERS = 5000


@dataclass(frozen=True)
class MonthData:
    """The canonical tables and the as-of date one report month is computed from.

    Attributes
    ----------
    orders, customers, interactions : pandas.DataFrame or None
        Canonical tables (see :mod:`segmentation.schema`); customers and interactions are
        None when the export has none.
    quarantine : pandas.DataFrame
        Every quarantined row, with file, row number, reason and original values.
    quality : dict
        Ingest's reconciliation and quality summary.
    month : str
        The report month, ``YYYY-MM``.
    as_of : pandas.Timestamp
        The last day of ``month``; features are computed as of the end of that day.
    source : str
        A label for the data shown in the report (the demo is labelled as generated).
    notes : tuple of str
        What the reader must know about the month (e.g. the data ends inside it, so the
        month is cut at its last day), in English and Chinese.
    """

    orders: pd.DataFrame
    customers: pd.DataFrame | None
    interactions: pd.DataFrame | None
    quarantine: pd.DataFrame
    quality: dict[str, Any]
    month: str
    as_of: pd.Timestamp
    source: str
    notes: tuple[str, ...] = ()


def month_end(month: str) -> pd.Timestamp:
    """The last day of ``month`` (``YYYY-MM``), at midnight.

    Raises
    ------
    SegmentationInputError
        When ``month`` is not of the form ``YYYY-MM``.
    """
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", month):
        raise SegmentationInputError(
            f"MONTH={month!r} is not a month; give it as YYYY-MM, e.g. MONTH=2011-11."
        )
    return pd.Period(month, freq="M").end_time.normalize()


def last_complete_month(orders: pd.DataFrame) -> str:
    """The latest month whose last day the data reaches.

    Online Retail ends on 2011-12-09, so its last complete month is 2011-11; CDNOW ends on
    1998-06-30, so it is 1998-06.
    """
    last = pd.Timestamp(orders["order_ts"].max())
    period = last.to_period("M")
    if last.normalize() < period.end_time.normalize():
        period -= 1
    return str(period)


def resolve_input(
    input_path: str | Path | None, dataset: str, *, root: Path, demo_customers: int
) -> tuple[list[Path], str]:
    """The paths to ingest and the label the report shows for them.

    The demo export is generated under the project's data/ on first use.

    Raises
    ------
    SegmentationInputError
        When ``input_path`` does not exist or ``dataset`` is not a built-in one.
    """
    if input_path:
        path = Path(input_path).expanduser()
        if not path.exists():
            raise SegmentationInputError(
                f"INPUT={path}: no such file or folder; give the path of an export file or "
                "of a folder of exports (relative to where you run the command)."
            )
        return [path], str(path)
    if dataset == "cdnow":
        return [cdnow_file()], "CDNOW master (Fader & Hardie), 23,570 customers"
    if dataset != "demo":
        raise SegmentationInputError(
            f"DATASET={dataset!r} is not a built-in dataset; use one of {list(DATASETS)}, "
            "or give INPUT=path for your own export."
        )
    demo_dir = data_dir(root) / (
        "demo" if demo_customers == _DEMO_CUSTOMERS else f"demo-{demo_customers}"
    )
    if not (demo_dir / "README.txt").is_file():
        write_demo_export(demo_dir, seed=0, n_customers=demo_customers)
    return [demo_dir], f"{DEMO_LABEL['zh']} / {DEMO_LABEL['en']}"


def load_month_data(
    *,
    input_path: str | Path | None = "",
    dataset: str = "demo",
    month: str = "",
    mapping: str | Path | None = None,
    prepared_dir: str | Path | None = "",
    demo_customers: int = _DEMO_CUSTOMERS,
) -> MonthData:
    """Ingest the input of one report month, or read back the tables a report ingested.

    Parameters
    ----------
    input_path : str or Path, optional
        An export file or folder; empty for a built-in ``dataset``.
    dataset : {"demo", "cdnow"}, default "demo"
        Used when ``input_path`` is empty; the demo export is generated under data/ on
        first use.
    month : str, optional
        ``YYYY-MM``; empty for the last complete month in the data.
    mapping : path, optional
        A YAML column mapping for ``input_path``.
    prepared_dir : str or Path, optional
        A folder written by :func:`~segmentation.report.build_report` (``data/`` of a
        report); when given, the tables are read from it instead of ingesting again, and the
        other inputs are ignored.
    demo_customers : int, default 5000
        Size of the demo export (smaller runs faster, e.g. in CI).

    Returns
    -------
    MonthData
    """
    if prepared_dir:
        return _read_month_data(Path(prepared_dir), month=month)
    paths, source = resolve_input(
        input_path, dataset, root=project_root(), demo_customers=demo_customers
    )
    return ingest_month(paths, source=source, month=month, mapping=mapping)


def ingest_month(
    paths: Sequence[Path], *, source: str, month: str, mapping: str | Path | None
) -> MonthData:
    """Ingest ``paths`` into the tables of ``month`` (empty: the last complete month).

    Raises
    ------
    SegmentationInputError
        When the data starts after ``month``.
    """
    from segmentation.ingest import ingest

    result = ingest(paths, mapping=mapping or None)  # a notebook passes "" for none
    month = month or last_complete_month(result.orders)
    as_of, notes = month_as_of(month, result.orders["order_ts"])
    return MonthData(
        orders=result.orders,
        customers=result.customers,
        interactions=result.interactions,
        quarantine=result.quarantine,
        quality=result.quality,
        month=month,
        as_of=as_of,
        source=source,
        notes=notes,
    )


def month_as_of(month: str, order_ts: pd.Series) -> tuple[pd.Timestamp, tuple[str, ...]]:
    """The as-of day of a report month, checked against the data's first and last day.

    A month the data has not reached is refused; a month the data ends inside is cut at the
    data's last day, with a note saying so.

    Parameters
    ----------
    month : str
        ``YYYY-MM``.
    order_ts : pandas.Series
        The orders' timestamps.

    Returns
    -------
    as_of : pandas.Timestamp
    notes : tuple of str

    Raises
    ------
    SegmentationInputError
        When the month ends before the data starts or starts after the data ends.
    """
    end = month_end(month)
    first, last = order_ts.min().normalize(), order_ts.max().normalize()
    if end < first:
        raise SegmentationInputError(
            f"MONTH={month}: the data starts on {first:%Y-%m-%d}, after that month; pick a "
            "month the data covers."
        )
    if end.replace(day=1) > last:
        raise SegmentationInputError(
            f"MONTH={month}: the data ends on {last:%Y-%m-%d}, before that month starts; "
            f"pick {last:%Y-%m} or earlier."
        )
    if last < end:
        return last, (
            f"The data ends on {last:%Y-%m-%d}, inside {month}: the month is cut at that day, "
            f"so recency and tenure are counted to {last:%Y-%m-%d}, not {end:%Y-%m-%d}. "
            f"数据截至 {last:%Y-%m-%d}，{month} 不完整：本月按该日截止计算。",
        )
    return end, ()


def write_month_data(data: MonthData, folder: Path) -> None:
    """Write ``data`` into a report's ``data/`` folder for :func:`load_month_data`."""
    tables = {
        "orders": data.orders,
        "customers": data.customers,
        "interactions": data.interactions,
        "quarantine": data.quarantine,
    }
    meta = {
        "month": data.month,
        "as_of": f"{data.as_of:%Y-%m-%d}",
        "source": data.source,
        "quality": data.quality,
        "notes": list(data.notes),
    }
    write_prepared(folder, tables, meta)


def _read_month_data(folder: Path, *, month: str) -> MonthData:
    tables, meta = read_prepared(folder)
    month = month or meta["month"]
    return MonthData(
        orders=tables["orders"],
        customers=tables["customers"],
        interactions=tables["interactions"],
        quarantine=tables["quarantine"],
        quality=meta["quality"],
        month=month,
        as_of=pd.Timestamp(meta["as_of"]) if month == meta["month"] else month_end(month),
        source=meta["source"],
        notes=tuple(meta["notes"]) if month == meta["month"] else (),
    )
