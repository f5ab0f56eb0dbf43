"""The month's analysis for the notebooks: read back from a report, or computed once and
cached under ``data/interim/``."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from segmentation import __version__
from segmentation.paths import interim_dir, project_root
from segmentation.report._data import MonthData, load_month_data
from segmentation.report._parameters import resolve_horizon_days
from segmentation.report._prepared import ANALYSIS_FILE, dump_pickle, load_pickle

if TYPE_CHECKING:
    # Imported when first analysing: ``segmentation report`` and the data-quality notebook
    # import this package and never need scipy or scikit-learn.
    from segmentation.analysis import MonthAnalysis

__all__ = ["analyse_month_data", "cached_analysis", "load_month_analysis"]


def analyse_month_data(
    data: MonthData, *, config: Mapping[str, Any], horizon_days: int, random_state: int
) -> MonthAnalysis:
    """:func:`segmentation.analysis.analyse_month` of one report month's tables."""
    from segmentation.analysis import analyse_month

    return analyse_month(
        data.orders,
        data.customers,
        data.interactions,
        as_of=data.as_of,
        config=config,
        horizon_days=horizon_days,
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

    A notebook opened on its own computes it on first use and caches it under
    ``data/interim/``, keyed by the tables' content, the parameters and the kit's own code,
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
    key = _analysis_key(data, horizon_days=horizon_days, random_state=random_state, config=settings)
    cache = interim_dir(project_root()) / f"analysis-{key}.pkl"
    if cache.is_file():
        analysis: MonthAnalysis = load_pickle(cache)
        return analysis
    analysis = analyse_month_data(
        data, config=settings, horizon_days=horizon_days, random_state=random_state
    )
    dump_pickle(analysis, cache)
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
    never read: at a million customers that saves seconds per notebook. Otherwise it is
    :func:`~segmentation.report.load_month_data` then :func:`cached_analysis`.

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
    if prepared_dir and (Path(prepared_dir) / ANALYSIS_FILE).is_file():
        analysis: MonthAnalysis = load_pickle(Path(prepared_dir) / ANALYSIS_FILE)
        return analysis
    data = load_month_data(
        input_path=input_path,
        dataset=dataset,
        month=month,
        mapping=mapping,
        prepared_dir=prepared_dir,
        demo_customers=demo_customers,
    )
    return cached_analysis(
        data, horizon_days=horizon_days, random_state=random_state, config=config
    )


def _analysis_key(data: MonthData, *, horizon_days: int, random_state: int, config: Any) -> str:
    digest = hashlib.sha256()
    digest.update(f"{__version__}|{data.month}|{horizon_days}|{random_state}|".encode())
    # The kit's own code is part of the key, so an edited scheme never reads a stale cache.
    package = Path(__file__).resolve().parents[1]
    for source in sorted([*package.rglob("*.py"), *package.rglob("*.yaml")]):
        digest.update(source.read_bytes())
    digest.update(json.dumps(config, sort_keys=True, default=str).encode())
    for table in (data.orders, data.customers, data.interactions):
        if table is not None:
            digest.update(pd.util.hash_pandas_object(table, index=False).to_numpy().tobytes())
    return digest.hexdigest()[:16]
