"""``build_report``: ingest once, analyse once, run the notebooks, write index.html and the
manifest."""

from __future__ import annotations

import contextlib
import ctypes
import gc
import sys
import time
from collections.abc import Mapping
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from segmentation.errors import SegmentationInputError
from segmentation.i18n import check_lang
from segmentation.paths import REPORTS_DIR, project_root
from segmentation.report._analysis import AnalysisKey, analyse_month_data, remember_analysis
from segmentation.report._analysis_file import dump_analysis
from segmentation.report._atomic import reserved_month, staged_report
from segmentation.report._data import (
    MonthData,
    ingest_month,
    inputs_digest,
    month_end,
    remember_month_data,
    resolve_input,
    write_month_data,
)
from segmentation.report._html import combine_notebooks, export_html, report_title
from segmentation.report._manifest import write_manifest
from segmentation.report._notebooks import replace_in_notebooks, report_notebooks, run_notebooks
from segmentation.report._parameters import RunParameters
from segmentation.report._prepared import ANALYSIS_FILE
from segmentation.report._progress import Progress, capture_warnings

if TYPE_CHECKING:
    from segmentation.analysis import MonthAnalysis
    from segmentation.export import CrmExport

__all__ = ["ReportResult", "build_report"]


@dataclass(frozen=True)
class ReportResult:
    """What :func:`build_report` wrote."""

    out_dir: Path
    index_html: Path
    month: str
    manifest: dict[str, Any]
    timings: dict[str, float] = field(default_factory=dict)

    def summary_line(self, *, seconds: float | None = None) -> str:
        """One line for the end of ``segmentation report``: what was built, and the wall time
        of the run (``seconds`` when the caller counted more, e.g. the command's imports)."""
        quality = self.manifest["quality"]
        total = self.timings.get("total", 0.0) if seconds is None else seconds
        return (
            f"report {self.month}: {quality['rows_kept']:,} rows kept of {quality['rows_in']:,}, "
            f"{quality['customers']:,} customers, {len(self.manifest['notebooks'])} sections "
            f"-> {self.index_html} (total {total:.1f} s)"
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
    ids: str | None = None,
    demo_customers: int = 5000,
    notebooks_dir: str | Path | None = None,
    progress: bool = False,
    notebook_workers: int = 2,
    engine: str | None = None,
) -> ReportResult:
    """Build ``reports/<YYYY-MM>/`` for one month: notebooks, index.html and manifest.json.

    Layout of ``reports/<YYYY-MM>/``::

        index.html          one self-contained file: code hidden, images embedded, a contents list
        notebooks/*.ipynb   the executed notebooks
        data/               the month's tables and analysis the notebooks read back
        segments.csv        every customer's segment and action in every scheme, for a CRM
        segments.xlsx       the same, ids as text cells (Excel keeps 00123 and 18-digit ids)
        wecom_tags.csv      one row per customer and scheme: id, tag group, tag
        segments_README.txt which ids the files carry (and how to map pseudonyms back)
        quarantine.csv      every quarantined row with its file, row number and reason
        manifest.json       parameters, inputs with sha256, the export's files and rows,
                            package versions, git commit, timings

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
    ids : {"original", "pseudonymous"}, optional
        Customer ids in the CRM export; the config's ``export.ids`` when omitted. Ids that
        look like personal data are pseudonymous whatever is asked.
    demo_customers : int, default 5000
        Size of the demo export.
    notebooks_dir : path, optional
        Where the report notebooks are; default: the project's notebooks/.
    progress : bool, default False
        Write one line per stage (ingest, analysis, each notebook, the HTML) with its
        seconds, and each Python warning as one ``warning: <message>`` line, to stderr.
    notebook_workers : int, default 2
        Notebooks run at the same time, each in its own process and kernel; 1 runs them
        one after another. Each kernel holds the parts of the month's analysis it shows (up
        to about 1.3 GB at a million customers), so more workers need more memory.
    engine : {"pandas", "duckdb", "spark"}, optional
        Where the snapshots are computed (same segments and scores); config ``engine.report_engine``.

    Returns
    -------
    ReportResult
    """
    started = time.perf_counter()  # the whole run's wall time is counted from here
    _check_options(lang=lang, notebook_workers=notebook_workers, month=month, ids=ids)
    settings = _run_settings(config, engine)  # refused before any work
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
    shown = Progress(sys.stderr if progress else None)
    timings: dict[str, float] = {}
    root = project_root()
    # Found before any work, so a missing notebook costs seconds, not a whole analysis.
    source_dir, available = report_notebooks(notebooks_dir, root)
    # Whatever warns outside ingest and the analysis (which keep theirs for the report) is
    # still one plain line, never a source path and a code line.
    whole = contextlib.ExitStack()  # the report: built aside, swapped in whole at the end
    with capture_warnings(default_section="compare", on_warning=shown.warning), whole:
        whole.enter_context(reserved_month(reports_dir, run.month))  # refused before any work
        data = _ingest(run, root=root, shown=shown, timings=timings, settings=settings)
        final_dir = Path(reports_dir) / data.month
        out_dir = whole.enter_context(staged_report(reports_dir, data.month))
        prepared = _write_tables(data, out_dir)
        analysis, analysis_began = _analyse(data, run=run, settings=settings, shown=shown)
        timings.update(analysis.timings)
        remember_month_data(data, prepared, settings=settings, root=root)
        # The tables are released before the analysis is saved and exported, the analysis
        # before the kernels start: peak memory is one process's, not two.
        month, as_of, source, quality = data.month, data.as_of, data.source, data.quality
        key = AnalysisKey(data.digest, month, run.horizon_days, run.random_state)
        del data
        _release_memory()
        crm, moves = _save_and_export(
            analysis, out_dir, run=run, settings=settings, root=root, shown=shown, ids=ids,
            cache_key=key, began=analysis_began, timings=timings,
        )  # fmt: skip
        del analysis
        _release_memory()
        executed = _run_report_notebooks(
            [source_dir / name for name in available],
            out_dir,
            parameters=run.notebook_parameters(prepared_dir=prepared, month=month),
            root=root,
            workers=notebook_workers,
            shown=shown,
            timings=timings,
            final_dir=final_dir,
        )
        _write_index_html(
            executed,
            out_dir,
            title=report_title(month, source, lang=lang),
            lang=lang,
            timings=timings,
            shown=shown,
        )
        # Wall time of the whole run: the notebooks run side by side, so their own seconds
        # overlap and their sum would overstate it.
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
            exports=_with_files(crm.manifest_entry(), moves),
        )
    out_dir, index_html = final_dir, final_dir / "index.html"  # now swapped into place
    return ReportResult(
        out_dir=out_dir, index_html=index_html, month=month, manifest=manifest, timings=timings
    )


def _with_files(entry: dict[str, Any], files: Mapping[str, Any]) -> dict[str, Any]:
    """The CRM export's manifest entry with more files beside segments.csv."""
    return {**entry, "files": {**entry["files"], **files}}


def _check_options(*, lang: str, notebook_workers: int, month: str | None, ids: str | None) -> None:
    """Fail on a malformed option before any work."""
    from segmentation.export import ID_CHOICES

    check_lang(lang, where="LANG")
    if ids is not None and ids not in ID_CHOICES:
        raise SegmentationInputError(f"ids: found {ids!r}; give one of {list(ID_CHOICES)}.")
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


def _run_settings(config: str | Path | None, engine: str | None) -> dict[str, Any]:
    """The run's settings, its engine checked (:func:`_with_engine`), and the config's process
    settings applied to this process and the notebook kernels it starts."""
    from segmentation.config import load_config
    from segmentation.runtime import apply_runtime_settings

    settings = _with_engine(load_config(config), engine)
    apply_runtime_settings(settings)
    return settings


def _with_engine(settings: dict[str, Any], engine: str | None) -> dict[str, Any]:
    """The settings with ``engine`` as ``engine.report_engine`` (the config's when None),
    checked: an unknown engine, or Spark without pyspark or Java, fails before any work."""
    from segmentation.config import Settings, merge_config

    chosen = engine or str(settings["engine"]["report_engine"])
    if chosen != "pandas":
        from segmentation.engine import check_engine  # imports ibis: only when asked for

        check_engine(chosen)
    if engine is None:
        return settings
    return Settings(merge_config(settings, {"engine": {"report_engine": chosen}}))


def _ingest(
    run: RunParameters,
    *,
    root: Path,
    shown: Progress,
    timings: dict[str, float],
    settings: Mapping[str, Any],
) -> MonthData:
    """The month's tables, ingested (timed, shown), with what the reader must know shown as
    warnings."""
    time_zone = settings["ingest"]["shop_time_zone"]
    shown.start("ingest")
    began = time.perf_counter()
    paths, source = resolve_input(
        run.input_path, run.dataset, root=root, demo_customers=run.demo_customers
    )
    data = ingest_month(
        paths,
        source=source,
        month=run.month,
        mapping=run.mapping,
        time_zone=time_zone,
        digest=inputs_digest(paths, mapping=run.mapping, time_zone=time_zone),
        on_warning=shown.warning,
    )
    timings["ingest"] = time.perf_counter() - began
    quality = data.quality
    shown.done(
        "ingest",
        timings["ingest"],
        f"{quality['rows_kept']:,} rows kept of {quality['rows_in']:,}, "
        f"{quality['customers']:,} customers; month {data.month} (as of {data.as_of:%Y-%m-%d})",
    )
    for note in data.notes:
        shown.warning(note)
    return data


def _write_tables(data: MonthData, out_dir: Path) -> Path:
    """Write the month's tables into ``out_dir/data`` (returned) and quarantine.csv."""
    (out_dir / "notebooks").mkdir(parents=True, exist_ok=True)
    prepared = out_dir / "data"
    write_month_data(data, prepared)
    data.quarantine.to_csv(out_dir / "quarantine.csv", index=False, encoding="utf-8-sig")
    return prepared


def _analyse(
    data: MonthData, *, run: RunParameters, settings: Mapping[str, Any], shown: Progress
) -> tuple[MonthAnalysis, float]:
    """The month's analysis, and when it began (the ``analysis`` stage ends once it is
    saved: :func:`_save_and_export`)."""
    shown.start("analysis")
    began = time.perf_counter()
    analysis = analyse_month_data(
        data,
        config=settings,
        horizon_days=run.horizon_days,
        random_state=run.random_state,
        on_warning=shown.warning,
        engine=str(settings["engine"]["report_engine"]),
    )
    return analysis, began


def _save_and_export(
    analysis: MonthAnalysis,
    out_dir: Path,
    *,
    run: RunParameters,
    settings: Mapping[str, Any],
    root: Path,
    shown: Progress,
    ids: str | None,
    cache_key: AnalysisKey,
    began: float,
    timings: dict[str, float],
) -> tuple[CrmExport, dict[str, Any]]:
    """Save the analysis into ``out_dir/data`` (and the notebooks' cache) while the CRM
    export and the grade moves are written on a thread of their own; the export and the
    moves' manifest entry. Times ``analysis`` (from ``began``) and ``crm_export``.

    Saving is mostly pickling and the export mostly pyarrow and file writes, so each keeps
    a core busy: at a million customers the two take about 10 s together where they took
    14 s one after the other.
    """
    with futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="export") as pool:
        exporting = pool.submit(
            _write_exports, analysis, out_dir, run=run, settings=settings, root=root,
            shown=shown, ids=ids,
        )  # fmt: skip
        written = out_dir / "data" / ANALYSIS_FILE
        dump_analysis(analysis, written)  # a failure waits for the export (leaving the with)
        timings["analysis"] = time.perf_counter() - began
        shown.done("analysis", timings["analysis"], _analysis_detail(analysis))
        remember_analysis(cache_key, written, settings=settings, root=root)
        crm, moves, timings["crm_export"] = exporting.result()
    return crm, moves


def _write_exports(
    analysis: MonthAnalysis,
    out_dir: Path,
    *,
    run: RunParameters,
    settings: Mapping[str, Any],
    root: Path,
    shown: Progress,
    ids: str | None,
) -> tuple[CrmExport, dict[str, Any], float]:
    """The CRM export and the grade moves written into ``out_dir``; the export, the moves'
    manifest entry and the seconds they took."""
    from segmentation.export import write_crm_export

    shown.start("export")
    began = time.perf_counter()
    crm = write_crm_export(
        list(analysis.current.segmentations.values()),
        out_dir,
        config=settings,
        lang=run.lang,
        recommended=analysis.verdict.scheme,
        recommendation=analysis.recommendation[run.lang],
        ids=ids,
        project_dir=root,
        as_of=analysis.as_of,
    )
    moves = _write_grade_moves(
        analysis, out_dir, crm=crm, settings=settings, lang=run.lang, root=root
    )
    seconds = time.perf_counter() - began
    shown.done("export", seconds)
    return crm, moves, seconds


def _write_grade_moves(
    analysis: MonthAnalysis,
    out_dir: Path,
    *,
    crm: CrmExport,
    settings: Mapping[str, Any],
    lang: str,
    root: Path,
) -> dict[str, Any]:
    """grade_moves.csv and grade_history.csv beside segments.csv, with segments.csv's ids;
    their manifest entries (none without a segment history)."""
    from segmentation.export import (
        GRADE_HISTORY_FILE,
        GRADE_MOVES_FILE,
        write_grade_history,
        write_grade_moves,
    )

    history = analysis.history
    if history is None:
        return {}
    written = {}
    for name, write, columns in (
        (GRADE_MOVES_FILE, write_grade_moves, 6),
        (GRADE_HISTORY_FILE, write_grade_history, 2 + len(history.month_ends)),
    ):
        _, rows, _ = write(
            history, out_dir, config=settings, lang=lang, ids=crm.ids, project_dir=root
        )
        written[name] = {"rows": rows, "columns": columns}
    return written


def _analysis_detail(analysis: MonthAnalysis) -> str:
    """What the analysis line says: the schemes compared and the one recommended."""
    compared = len(analysis.scores)
    chosen = analysis.verdict.scheme
    return (
        f"{compared} schemes compared; recommended: {chosen}"
        if chosen
        else f"{compared} schemes compared; none could be ranked"
    )


def _run_report_notebooks(
    sources: list[Path],
    out_dir: Path,
    *,
    parameters: dict[str, Any],
    root: Path,
    workers: int,
    shown: Progress,
    timings: dict[str, float],
    final_dir: Path,
) -> list[Path]:
    """Run the notebooks into ``out_dir/notebooks``; the executed ones, each timed, with
    ``final_dir`` (where ``out_dir`` will be renamed) in place of ``out_dir`` in them."""
    began = time.perf_counter()
    executed = [out_dir / "notebooks" / source.name for source in sources]
    seconds = run_notebooks(
        sources,
        executed,
        parameters=parameters,
        cwd=root,
        workers=workers,
        on_start=lambda source: shown.start(source.stem),
        on_done=lambda source, took: shown.done(source.stem, took),
    )
    for source, took in zip(sources, seconds, strict=True):
        timings[source.stem] = took
    replace_in_notebooks(executed, str(out_dir.resolve()), str(final_dir.resolve()))
    timings["notebooks"] = time.perf_counter() - began
    return executed


def _write_index_html(
    executed: list[Path],
    out_dir: Path,
    *,
    title: str,
    lang: str,
    timings: dict[str, float],
    shown: Progress,
) -> Path:
    """Join the executed notebooks into ``out_dir/index.html`` (returned), timed."""
    shown.start("index.html")
    began = time.perf_counter()
    index_html = out_dir / "index.html"
    export_html(
        combine_notebooks(executed, title=title, lang=lang), index_html, title=title, lang=lang
    )
    timings["html"] = time.perf_counter() - began
    shown.done("index.html", timings["html"])
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
