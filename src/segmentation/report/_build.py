"""``build_report``: ingest once, analyse once, run the notebooks, write index.html and the
manifest."""

from __future__ import annotations

import contextlib
import ctypes
import functools
import gc
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from segmentation.errors import SegmentationInputError
from segmentation.i18n import check_lang
from segmentation.paths import REPORTS_DIR, project_root
from segmentation.report._analysis import analyse_month_data
from segmentation.report._data import (
    MonthData,
    ingest_month,
    month_end,
    resolve_input,
    write_month_data,
)
from segmentation.report._html import combine_notebooks, export_html, report_title
from segmentation.report._manifest import write_manifest
from segmentation.report._notebooks import report_notebooks, run_notebooks
from segmentation.report._parameters import RunParameters
from segmentation.report._prepared import ANALYSIS_FILE, dump_pickle

__all__ = ["ReportResult", "build_report"]


@dataclass(frozen=True)
class ReportResult:
    """What :func:`build_report` wrote."""

    out_dir: Path
    index_html: Path
    month: str
    manifest: dict[str, Any]
    timings: dict[str, float] = field(default_factory=dict)

    def summary_line(self) -> str:
        """One line for the end of ``segmentation report``."""
        quality = self.manifest["quality"]
        total = self.timings.get("total", 0.0)
        return (
            f"report {self.month}: {quality['rows_kept']:,} rows kept of {quality['rows_in']:,}, "
            f"{quality['customers']:,} customers, {len(self.manifest['notebooks'])} sections "
            f"-> {self.index_html} ({total:.1f} s)"
        )


def build_report(
    *,
    input_path: str | Path | None = None,
    dataset: str = "demo",
    month: str | None = None,
    lang: str = "zh",
    mapping: str | Path | None = None,
    config: str | Path | None = None,
    reports_dir: str | Path = REPORTS_DIR,
    random_state: int = 0,
    horizon_days: int | None = None,
    demo_customers: int = 5000,
    notebooks_dir: str | Path | None = None,
    progress: bool = False,
    notebook_workers: int = 2,
) -> ReportResult:
    """Build ``reports/<YYYY-MM>/`` for one month: notebooks, index.html and manifest.json.

    Layout of ``reports/<YYYY-MM>/``::

        index.html          one self-contained file: code hidden, images embedded, a contents list
        notebooks/*.ipynb   the executed notebooks
        data/               the month's tables and analysis the notebooks read back
        segments.csv        every customer's segment in every scheme (pseudonymous ids)
        quarantine.csv      every quarantined row with its file, row number and reason
        manifest.json       parameters, inputs with sha256, package versions, git commit, timings

    Parameters
    ----------
    input_path : path, optional
        An export file or folder; None for a built-in ``dataset``.
    dataset : {"demo", "cdnow"}, default "demo"
    month : str, optional
        ``YYYY-MM``; None for the last complete month in the data.
    lang : {"zh", "en"}, default "zh"
        Language of labels and tables.
    mapping : path, optional
        YAML column mapping for ``input_path``.
    config : path, optional
        YAML overriding scheme thresholds, names and the playbook.
    reports_dir : path, default "reports"
    random_state : int, default 0
        Seed passed to every model.
    horizon_days : int, optional
        Held-out window of the backtest; the config's ``report.horizon_days`` (90) when
        omitted.
    demo_customers : int, default 5000
        Size of the demo export.
    notebooks_dir : path, optional
        Where the report notebooks are; default: the project's notebooks/.
    progress : bool, default False
        Show a progress bar per notebook.
    notebook_workers : int, default 2
        Notebooks run at the same time, each in its own process and kernel; 1 runs them
        one after another. Each kernel holds the month's analysis (about 1.5 GB at a million
        customers), so more workers need more memory.

    Returns
    -------
    ReportResult
    """
    from segmentation.config import load_config

    _check_options(lang=lang, notebook_workers=notebook_workers, month=month)
    settings = load_config(config)
    run = RunParameters.of(
        input_path=input_path,
        mapping=mapping,
        config=config,
        month=month,
        horizon_days=horizon_days,
        dataset=dataset,
        lang=lang,
        random_state=random_state,
        demo_customers=demo_customers,
    ).resolved(settings)
    timings: dict[str, float] = {}
    root = project_root()
    # Found before any work, so a missing notebook costs seconds, not a whole analysis.
    source_dir, available = report_notebooks(notebooks_dir, root)
    started = time.perf_counter()
    paths, source = resolve_input(input_path, dataset, root=root, demo_customers=demo_customers)
    data = ingest_month(paths, source=source, month=run.month, mapping=mapping)
    timings["ingest"] = time.perf_counter() - started
    for note in data.notes if progress else ():
        print(f"segmentation report: warning: {note}", file=sys.stderr, flush=True)

    out_dir = Path(reports_dir) / data.month
    prepared = _write_tables(data, out_dir)
    timings.update(
        _write_analysis_and_segments(data, out_dir, run=run, settings=settings, root=root)
    )
    # The notebooks read everything back from prepared/: release the tables and the analysis
    # (gigabytes at a million customers) before the kernels start, so peak memory is one
    # process's, not two.
    month, as_of, source, quality = data.month, data.as_of, data.source, data.quality
    del data
    _release_memory()

    executed = _run_report_notebooks(
        [source_dir / name for name in available],
        out_dir,
        parameters=run.notebook_parameters(prepared_dir=prepared, month=month),
        root=root,
        workers=notebook_workers,
        progress=progress,
        timings=timings,
    )
    index_html = _write_index_html(
        executed, out_dir, title=report_title(month, source, lang=lang), lang=lang, timings=timings
    )
    # Wall time: the notebooks run two at a time, so their own seconds overlap.
    timings["total"] = time.perf_counter() - started
    manifest = write_manifest(
        out_dir,
        month=month,
        as_of=as_of,
        source=source,
        parameters=run.manifest(month=month),
        quality=quality,
        executed=executed,
        root=root,
        timings=timings,
    )
    return ReportResult(
        out_dir=out_dir, index_html=index_html, month=month, manifest=manifest, timings=timings
    )


def _check_options(*, lang: str, notebook_workers: int, month: str | None) -> None:
    """Fail on a malformed option before any work."""
    check_lang(lang, where="LANG")
    if isinstance(notebook_workers, bool) or not isinstance(notebook_workers, int):
        raise SegmentationInputError(
            f"notebook_workers: found {notebook_workers!r}; give a whole number, 1 or more."
        )
    if notebook_workers < 1:
        raise SegmentationInputError(
            f"notebook_workers: found {notebook_workers}; give 1 (one notebook at a time) or more."
        )
    if month:
        month_end(month)  # a malformed MONTH fails now, not after ingesting


def _write_tables(data: MonthData, out_dir: Path) -> Path:
    """Write the month's tables into ``out_dir/data`` (returned) and quarantine.csv."""
    (out_dir / "notebooks").mkdir(parents=True, exist_ok=True)
    prepared = out_dir / "data"
    write_month_data(data, prepared)
    data.quarantine.to_csv(out_dir / "quarantine.csv", index=False, encoding="utf-8-sig")
    return prepared


def _write_analysis_and_segments(
    data: MonthData,
    out_dir: Path,
    *,
    run: RunParameters,
    settings: Mapping[str, Any],
    root: Path,
) -> dict[str, float]:
    """Analyse the month into ``out_dir/data`` and write segments.csv; seconds per stage."""
    from segmentation.export import write_segments_csv
    from segmentation.privacy import load_pii_key, pseudonymise_customer_ids

    analysis = analyse_month_data(
        data, config=settings, horizon_days=run.horizon_days, random_state=run.random_state
    )
    timings = dict(analysis.timings)
    dump_pickle(analysis, out_dir / "data" / ANALYSIS_FILE)
    began = time.perf_counter()
    write_segments_csv(
        list(analysis.current.segmentations.values()),
        out_dir,
        lang=run.lang,
        action_scheme=str(settings["export"]["action_scheme"]),
        # Customer ids leave the project only as keyed pseudonyms.
        id_transform=functools.partial(
            pseudonymise_customer_ids, key=load_pii_key(project_dir=root)
        ),
    )
    timings["segments_csv"] = time.perf_counter() - began
    return timings


def _run_report_notebooks(
    sources: list[Path],
    out_dir: Path,
    *,
    parameters: dict[str, Any],
    root: Path,
    workers: int,
    progress: bool,
    timings: dict[str, float],
) -> list[Path]:
    """Run the notebooks into ``out_dir/notebooks``; the executed ones, each timed."""
    began = time.perf_counter()
    executed = [out_dir / "notebooks" / source.name for source in sources]
    seconds = run_notebooks(
        sources, executed, parameters=parameters, cwd=root, workers=workers, progress=progress
    )
    for source, took in zip(sources, seconds, strict=True):
        timings[source.stem] = took
    timings["notebooks"] = time.perf_counter() - began
    return executed


def _write_index_html(
    executed: list[Path], out_dir: Path, *, title: str, lang: str, timings: dict[str, float]
) -> Path:
    """Join the executed notebooks into ``out_dir/index.html`` (returned), timed."""
    began = time.perf_counter()
    index_html = out_dir / "index.html"
    export_html(combine_notebooks(executed, title=title, lang=lang), index_html, title=title)
    timings["html"] = time.perf_counter() - began
    return index_html


def _release_memory() -> None:
    """Collect garbage and hand freed memory back to the operating system.

    Freed memory otherwise stays with the process (glibc's heap, pyarrow's pool) and is
    counted against the machine while the notebook kernels run beside it.
    """
    gc.collect()
    import pyarrow

    pyarrow.default_memory_pool().release_unused()
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6").malloc_trim(0)  # glibc only; elsewhere a no-op
