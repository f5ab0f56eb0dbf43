"""One report month's canonical tables: the input resolved, ingested once, or read back from
a report's ``data/`` folder or from the cache of a notebook opened on its own."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from segmentation.datasets import DEMO_LABEL, cdnow_file, write_demo_export
from segmentation.errors import SegmentationInputError
from segmentation.paths import data_dir, project_root
from segmentation.report._prepared import (
    TABLES_FILE,
    cache_folder,
    file_digest,
    is_prepared,
    kit_digest,
    link_into,
    read_prepared,
    touch,
    trim_cache,
    write_prepared,
)
from segmentation.report._progress import RunWarning, capture_warnings

__all__ = [
    "MonthData",
    "cached_month_data",
    "cut_month_note",
    "ingest_month",
    "inputs_digest",
    "last_complete_month",
    "load_month_data",
    "month_end",
    "read_month_data",
    "remember_month_data",
    "resolve_input",
    "source_label",
    "write_month_data",
]

DATASETS = ("demo", "cdnow")
_DEMO_CUSTOMERS = 5000
# How the report names a built-in dataset, in each language.
_DATASET_LABELS: dict[str, dict[str, str]] = {
    "demo": DEMO_LABEL,
    "cdnow": {
        "zh": "CDNOW 原始数据（Fader & Hardie），23,570 名客户",
        "en": "CDNOW master (Fader & Hardie), 23,570 customers",
    },
}


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
    warnings : tuple of (str, str)
        The Python warnings ingest raised, as (report section, message); the section is
        ``"data_quality"`` for ingest's own.
    digest : str
        The inputs' content hash the tables came from (:func:`inputs_digest`); "" when
        unknown.
    campaigns : pandas.DataFrame or None
        The campaign log (:data:`segmentation.schema.CAMPAIGNS`); None without one.
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
    warnings: tuple[RunWarning, ...] = ()
    digest: str = ""
    campaigns: pd.DataFrame | None = None


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
        return [cdnow_file()], _both(_DATASET_LABELS["cdnow"])
    if dataset != "demo":
        raise SegmentationInputError(
            f"DATASET={dataset!r} is not a built-in dataset; use one of {list(DATASETS)}, "
            "or give INPUT=path for your own export."
        )
    demo_dir = data_dir(root) / (
        "demo" if demo_customers == _DEMO_CUSTOMERS else f"demo-{demo_customers}"
    )
    # A demo written before it had a campaign log is written again.
    if not (demo_dir / "README.txt").is_file() or not (demo_dir / "campaigns.csv").is_file():
        write_demo_export(demo_dir, seed=0, n_customers=demo_customers)
    return [demo_dir], _both(_DATASET_LABELS["demo"])


def _both(label: dict[str, str]) -> str:
    return f"{label['zh']} / {label['en']}"


def source_label(source: str, lang: str) -> str:
    """What the report calls the data of :func:`resolve_input`'s ``source`` in ``lang``: a
    built-in dataset's name in that language, an export by its file or folder name (never
    the full path of the machine it ran on)."""
    for label in _DATASET_LABELS.values():
        if source == _both(label):
            return label[lang]
    return Path(source).name or source


def load_month_data(
    *,
    input_path: str | Path | None = "",
    dataset: str = "demo",
    month: str = "",
    mapping: str | Path | None = None,
    prepared_dir: str | Path | None = "",
    demo_customers: int = _DEMO_CUSTOMERS,
    config: str | Path | Mapping[str, Any] | None = None,
) -> MonthData:
    """Ingest the input of one report month, or read back the tables ingested before.

    The tables of the same inputs are ingested once: a notebook opened on its own keeps them
    in the cache (config ``report.cache_dir``, ``data/interim/``), keyed by the bytes of every
    input file and of the mapping, the PII key and the kit's code, and the next notebook
    reads them back (``segmentation report`` fills the cache too).

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
    config : path or mapping, optional
        A config override (see :func:`segmentation.config.load_config`); only its
        ``report.cache_dir`` and ``report.cache_keep`` matter here.

    Returns
    -------
    MonthData
    """
    from segmentation.config import load_config
    from segmentation.runtime import apply_runtime_settings

    if prepared_dir:
        return read_month_data(Path(prepared_dir), month=month)
    settings = load_config(config or None)
    apply_runtime_settings(settings)  # a notebook opened on its own: its first load
    root = project_root()
    paths, source = resolve_input(input_path, dataset, root=root, demo_customers=demo_customers)
    return cached_month_data(paths, source=source, month=month, mapping=mapping, settings=settings)


def cached_month_data(
    paths: Sequence[Path],
    *,
    source: str,
    month: str,
    mapping: str | Path | None,
    settings: Mapping[str, Any],
    digest: str = "",
) -> MonthData:
    """The tables of ``paths`` from the cache, or ingested and cached; cut at ``month``.

    ``digest`` is :func:`inputs_digest` of ``paths`` and ``mapping`` when already known.
    """
    time_zone = settings["ingest"]["shop_time_zone"]
    digest = digest or inputs_digest(paths, mapping=mapping, time_zone=time_zone)
    cache = cache_folder(settings, project_root())
    entry = cache / f"tables-{digest}" if cache is not None else None
    if entry is not None and is_prepared(entry):
        touch(entry)
        return read_month_data(entry, month=month, source=source)
    tables, meta = _ingest_tables(
        paths, source=source, mapping=mapping, digest=digest, time_zone=time_zone
    )
    if cache is not None:
        entry = cache / f"tables-{meta['digest']}"
        write_prepared(entry, tables, meta)
        trim_cache(cache, "tables-*", keep=int(settings["report"]["cache_keep"]))
    return _month_of(tables, meta, month=month)


def inputs_digest(paths: Sequence[Path], *, mapping: str | Path | None, time_zone: str) -> str:
    """The content hash of what ingest makes tables from: the bytes of every file it reads
    of ``paths`` (as :func:`segmentation.ingest.expand_inputs` finds them), of the
    ``mapping`` file, the PII key the pseudonyms are made with, the shop's time zone and the
    kit's code."""
    from segmentation.ingest import expand_inputs

    files, _ = expand_inputs(list(paths))
    extra = [kit_digest(), _pii_key_identity(), f"time_zone={time_zone}"]
    if mapping:
        files = [*files, Path(mapping)]
        extra.append("mapping")
    return file_digest(files, *extra)


def _pii_key_identity() -> str:
    """Which PII key ingest would use, as a hash (never the key), without creating one."""
    from segmentation.privacy import PII_KEY_ENV, PII_KEY_FILE, find_project_dir

    key = os.environ.get(PII_KEY_ENV, "").strip()
    if not key:
        path = find_project_dir() / PII_KEY_FILE
        key = path.read_text(encoding="utf-8").strip() if path.is_file() else ""
    return file_digest((), "pii-key", key)


def ingest_month(
    paths: Sequence[Path],
    *,
    source: str,
    month: str,
    mapping: str | Path | None,
    time_zone: str,
    digest: str = "",
    on_warning: Callable[[str], None] | None = None,
) -> MonthData:
    """Ingest ``paths`` into the tables of ``month`` (empty: the last complete month).

    Python warnings raised while ingesting are kept in :attr:`MonthData.warnings` (and passed
    to ``on_warning`` as they come) instead of printed.

    Raises
    ------
    SegmentationInputError
        When the data starts after ``month``.
    """
    tables, meta = _ingest_tables(
        paths,
        source=source,
        mapping=mapping,
        digest=digest,
        time_zone=time_zone,
        on_warning=on_warning,
    )
    return _month_of(tables, meta, month=month)


def _ingest_tables(
    paths: Sequence[Path],
    *,
    source: str,
    mapping: str | Path | None,
    digest: str,
    time_zone: str,
    on_warning: Callable[[str], None] | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The tables of ``paths`` and their description, as the data/ folders keep them."""
    from segmentation.ingest import ingest

    key_before = _pii_key_identity()
    with capture_warnings(default_section="data_quality", on_warning=on_warning) as caught:
        # A notebook passes "" for no mapping.
        result = ingest(paths, mapping=mapping or None, time_zone=time_zone)
    if _pii_key_identity() != key_before:
        # This ingest made the project's PII key (its first export with personal data): the
        # tables are named by the key they were pseudonymised with, the one every later run
        # finds, so the next load of the same inputs reads the cache.
        digest = inputs_digest(paths, mapping=mapping, time_zone=time_zone)
    tables = {
        "orders": result.orders,
        "customers": result.customers,
        "interactions": result.interactions,
        "quarantine": result.quarantine,
        "campaigns": result.campaigns,
    }
    meta = {
        "month": last_complete_month(result.orders),
        "source": source,
        "quality": result.quality,
        "warnings": caught,
        "digest": digest,
    }
    return tables, meta


def _month_of(
    tables: Mapping[str, Any], meta: Mapping[str, Any], *, month: str, source: str = ""
) -> MonthData:
    """One month of the tables (empty ``month``: the one ``meta`` names)."""
    month = month or str(meta["month"])
    as_of, notes = month_as_of(month, tables["orders"]["order_ts"])
    return MonthData(
        orders=tables["orders"],
        customers=tables["customers"],
        interactions=tables["interactions"],
        quarantine=tables["quarantine"],
        quality=meta["quality"],
        month=month,
        as_of=as_of,
        source=source or str(meta["source"]),
        notes=notes,
        warnings=tuple((str(section), str(text)) for section, text in meta["warnings"]),
        digest=str(meta["digest"]),
        # Tables cached before campaign logs were read have none.
        campaigns=tables.get("campaigns"),
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
    from segmentation.features import check_within_data

    end = month_end(month)
    _, last = check_within_data(
        order_ts, start=end.replace(day=1), end=end, option=f"MONTH={month}", period="month"
    )
    if last < end:
        return last, (
            f"{cut_month_note(month, last, lang='en')} {cut_month_note(month, last, lang='zh')}",
        )
    return end, ()


def cut_month_note(month: str, as_of: pd.Timestamp, *, lang: str) -> str:
    """The note of a month the data ends inside, cut at ``as_of``, in ``lang``; "" when the
    month is whole."""
    end = month_end(month)
    if as_of >= end:
        return ""
    if lang == "zh":
        return (
            f"数据截至 {as_of:%Y-%m-%d}，{month} 不完整：本月按该日截止计算，"
            f"距上次购买天数和客户时长都算到 {as_of:%Y-%m-%d}，而不是 {end:%Y-%m-%d}。"
        )
    return (
        f"The data ends on {as_of:%Y-%m-%d}, inside {month}: the month is cut at that day, "
        f"so recency and tenure are counted to {as_of:%Y-%m-%d}, not {end:%Y-%m-%d}."
    )


def write_month_data(data: MonthData, folder: Path) -> None:
    """Write ``data`` into a report's ``data/`` folder for :func:`load_month_data`."""
    write_prepared(folder, _tables(data), _meta(data, month=data.month))


def remember_month_data(
    data: MonthData, prepared: Path, *, settings: Mapping[str, Any], root: Path
) -> None:
    """Enter the tables a report wrote into ``prepared`` in the notebooks' cache.

    The tables file is hard-linked, so this costs neither time nor space; where the file
    system cannot link, the cache is left as it was.
    """
    cache = cache_folder(settings, root)
    if cache is None or not data.digest:
        return
    entry = cache / f"tables-{data.digest}"
    if link_into(prepared / TABLES_FILE, entry / TABLES_FILE):
        # The cache's month is the data's default one, whatever month the report is for.
        write_prepared(entry, None, _meta(data, month=last_complete_month(data.orders)))
        trim_cache(cache, "tables-*", keep=int(settings["report"]["cache_keep"]))


def _tables(data: MonthData) -> dict[str, pd.DataFrame | None]:
    return {
        "orders": data.orders,
        "customers": data.customers,
        "interactions": data.interactions,
        "quarantine": data.quarantine,
        "campaigns": data.campaigns,
    }


def _meta(data: MonthData, *, month: str) -> dict[str, Any]:
    return {
        "month": month,
        "source": data.source,
        "quality": data.quality,
        "warnings": [list(item) for item in data.warnings],
        "digest": data.digest,
    }


def read_month_data(folder: Path, *, month: str, source: str = "") -> MonthData:
    """The month's tables from a folder :func:`write_month_data` wrote (a report's data/ or
    a cache entry); ``month`` empty for the one it was written for."""
    tables, meta = read_prepared(folder)
    return _month_of(tables, meta, month=month, source=source)
