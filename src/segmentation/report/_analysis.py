"""The month's analysis for the notebooks: read back from a report, or computed once and
cached (config ``report.cache_dir``, ``data/interim/``) for the next notebook on the same
inputs."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import pandas as pd

from segmentation.paths import project_root
from segmentation.report._analysis_file import dump_analysis, load_analysis
from segmentation.report._data import (
    MonthData,
    cached_month_data,
    inputs_digest,
    read_month_data,
    resolve_input,
)
from segmentation.report._parameters import resolve_horizon_days
from segmentation.report._prepared import (
    ANALYSIS_FILE,
    cache_folder,
    is_prepared,
    kit_digest,
    link_into,
    read_prepared_meta,
    touch,
    trim_cache,
)
from segmentation.report._progress import capture_warnings

if TYPE_CHECKING:
    # Imported when first analysing: ``segmentation report`` and the data-quality notebook
    # import this package and never need scipy or scikit-learn.
    from segmentation.analysis import MonthAnalysis
    from segmentation.campaigns import CampaignResults

__all__ = [
    "AnalysisKey",
    "analyse_month_data",
    "cached_analysis",
    "load_month_analysis",
    "remember_analysis",
]


def analyse_month_data(
    data: MonthData,
    *,
    config: Mapping[str, Any],
    horizon_days: int,
    random_state: int,
    on_warning: Callable[[str], None] | None = None,
    engine: str = "pandas",
) -> MonthAnalysis:
    """:func:`segmentation.analysis.analyse_month` of one report month's tables (the
    snapshots computed on ``engine``).

    Python warnings raised while analysing are kept in the analysis' ``warnings``, as
    (report section, message), and passed to ``on_warning`` as they come, instead of
    printed with a source path.
    """
    from segmentation.analysis import analyse_month

    with capture_warnings(default_section="compare", on_warning=on_warning) as caught:
        analysis = analyse_month(
            data.orders,
            data.customers,
            data.interactions,
            as_of=data.as_of,
            config=config,
            horizon_days=horizon_days,
            random_state=random_state,
            engine=engine,
        )
        campaigns = _measured_campaigns(data, config=config, random_state=random_state)
    return dataclasses.replace(analysis, warnings=tuple(caught), campaigns=campaigns)


def _measured_campaigns(
    data: MonthData, *, config: Mapping[str, Any], random_state: int
) -> CampaignResults | None:
    """The month's campaign log measured against its control groups; None without one."""
    from segmentation.campaigns import measure_campaigns

    log = data.campaigns
    if log is None or log.empty:
        return None
    return measure_campaigns(
        log,
        data.orders,
        data.customers,
        data.interactions,
        as_of=data.as_of,
        config=config,
        random_state=random_state,
    )


def cached_analysis(
    data: MonthData,
    *,
    horizon_days: int | None = None,
    random_state: int = 0,
    config: str | Path | Mapping[str, Any] | None = None,
) -> MonthAnalysis:
    """The month's analysis (every scheme, the backtest, the comparison), computed once.

    A notebook opened on its own computes it on first use and caches it (config
    ``report.cache_dir``), keyed by the inputs' content (the tables' own when ``data`` does
    not say which inputs it came from), the month, the parameters and the kit's own code,
    so the other notebooks (and nbval) reuse it.

    Parameters
    ----------
    data : MonthData
        :func:`~segmentation.report.load_month_data`.
    horizon_days : int, optional
        The backtest's held-out window; None or 0 for the config's ``report.horizon_days``.
    random_state : int, default 0
    config : path or mapping, optional
        A config override (see :func:`segmentation.config.load_config`).

    Returns
    -------
    MonthAnalysis
    """
    from segmentation.config import load_config

    settings = load_config(config or None)  # a notebook passes "" for none
    horizon_days = resolve_horizon_days(horizon_days, settings)
    cache = cache_folder(settings, project_root())
    identity = data.digest or _tables_digest(data)
    key = _analysis_key(identity, data.month, horizon_days, random_state, settings)
    entry = cache / f"analysis-{key}.pkl" if cache is not None else None
    if entry is not None and entry.is_file():
        touch(entry)
        return load_analysis(entry)
    analysis = analyse_month_data(
        data, config=settings, horizon_days=horizon_days, random_state=random_state
    )
    if entry is not None and cache is not None:
        dump_analysis(analysis, entry)
        trim_cache(cache, "analysis-*.pkl", keep=int(settings["report"]["cache_keep"]))
    return analysis


def load_month_analysis(
    *,
    input_path: str | Path | None = "",
    dataset: str = "demo",
    month: str = "",
    prepared_dir: str | Path | None = "",
    demo_customers: int = 5000,
    horizon_days: int | None = None,
    random_state: int = 0,
    mapping: str | Path | None = None,
    config: str | Path | Mapping[str, Any] | None = None,
) -> MonthAnalysis:
    """The month's analysis, for a notebook that needs the analysis and not the tables.

    In a report (``prepared_dir`` holds ``analysis.pkl``, which ``segmentation report``
    computes before running the notebooks) the analysis is read back and the orders are
    never read: at a million customers that saves seconds per notebook. A notebook opened
    on its own hashes its inputs and reads the analysis of the same inputs and parameters
    from the cache, again without reading a table; only the first computes it
    (:func:`~segmentation.report.load_month_data` then :func:`cached_analysis`).

    Parameters
    ----------
    input_path, dataset, month, prepared_dir, demo_customers, mapping
        As in :func:`~segmentation.report.load_month_data`.
    horizon_days, random_state, config
        As in :func:`cached_analysis`.

    Returns
    -------
    MonthAnalysis
    """
    from segmentation.config import load_config
    from segmentation.runtime import apply_runtime_settings

    if prepared_dir and (Path(prepared_dir) / ANALYSIS_FILE).is_file():
        return load_analysis(Path(prepared_dir) / ANALYSIS_FILE)
    settings = load_config(config or None)
    apply_runtime_settings(settings)  # a notebook opened on its own: its first load
    if prepared_dir:
        data = read_month_data(Path(prepared_dir), month=month)
    else:
        paths, source = resolve_input(
            input_path, dataset, root=project_root(), demo_customers=demo_customers
        )
        digest = inputs_digest(
            paths, mapping=mapping, time_zone=settings["ingest"]["shop_time_zone"]
        )
        hit = _cached_analysis_of(
            digest, month, settings=settings, horizon_days=horizon_days, seed=random_state
        )
        if hit is not None:
            return hit
        data = cached_month_data(
            paths, source=source, month=month, mapping=mapping, settings=settings, digest=digest
        )
    return cached_analysis(
        data, horizon_days=horizon_days, random_state=random_state, config=settings
    )


def _cached_analysis_of(
    digest: str,
    month: str,
    *,
    settings: Mapping[str, Any],
    horizon_days: int | None,
    seed: int,
) -> MonthAnalysis | None:
    """The cached analysis of the inputs ``digest`` for ``month``, without reading a table;
    None when there is none (or the default month is not known without the tables)."""
    cache = cache_folder(settings, project_root())
    if cache is None:
        return None
    tables = cache / f"tables-{digest}"
    if not month and is_prepared(tables):
        month = str(read_prepared_meta(tables)["month"])
    if not month:
        return None
    horizon = resolve_horizon_days(horizon_days, settings)
    entry = cache / f"analysis-{_analysis_key(digest, month, horizon, seed, settings)}.pkl"
    if not entry.is_file():
        return None
    touch(entry)
    return load_analysis(entry)


class AnalysisKey(NamedTuple):
    """What a cached analysis is looked up by, besides the config and the kit's code: the
    inputs' digest (empty when unknown: then nothing is cached), the month, the backtest's
    horizon and the seed."""

    digest: str
    month: str
    horizon_days: int
    random_state: int


def remember_analysis(
    key: AnalysisKey, written: Path, *, settings: Mapping[str, Any], root: Path
) -> None:
    """Enter the analysis a report wrote to ``written`` in the notebooks' cache, hard-linked
    (no copy); where the file system cannot link, the cache is left as it was."""
    cache = cache_folder(settings, root)
    if cache is None or not key.digest:
        return
    entry = _analysis_key(key.digest, key.month, key.horizon_days, key.random_state, settings)
    if link_into(written, cache / f"analysis-{entry}.pkl"):
        trim_cache(cache, "analysis-*.pkl", keep=int(settings["report"]["cache_keep"]))


def _analysis_key(
    identity: str, month: str, horizon_days: int, random_state: int, settings: Mapping[str, Any]
) -> str:
    digest = hashlib.sha256()
    # The kit's own code is part of the key, so an edited scheme never reads a stale cache.
    digest.update(f"{kit_digest()}|{identity}|{month}|{horizon_days}|{random_state}|".encode())
    digest.update(json.dumps(settings, sort_keys=True, default=str).encode())
    return digest.hexdigest()[:16]


def _tables_digest(data: MonthData) -> str:
    """The tables' own content hash, for data whose inputs are not known."""
    digest = hashlib.sha256()
    for table in (data.orders, data.customers, data.interactions):
        if table is not None:
            digest.update(pd.util.hash_pandas_object(table, index=False).to_numpy().tobytes())
    return digest.hexdigest()[:16]
