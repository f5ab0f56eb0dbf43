"""The monthly report: papermill runs the notebooks, nbconvert joins them into one HTML file.

``build_report`` ingests the input once and writes the canonical tables into the report's
folder; every notebook then reads them from there (``prepared_dir``), so a report at a million
customers ingests once, not once per notebook. Opened on their own in JupyterLab, the same
notebooks ingest the input themselves (:func:`load_month`), the demo export by default.

Layout of ``reports/<YYYY-MM>/``::

    index.html          one self-contained file: code hidden, images embedded, a contents list
    notebooks/*.ipynb   the executed notebooks
    data/               the canonical tables the notebooks read (parquet) and quality.json
    quarantine.csv      every quarantined row with its file, row number and reason
    manifest.json       parameters, inputs with sha256, package versions, git commit, timings
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import hashlib
import json
import pickle
import platform
import re
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from segmentation import __version__
from segmentation.datasets import DEMO_LABEL, cdnow_file, write_demo_export
from segmentation.errors import SegmentationInputError

__all__ = [
    "NOTEBOOKS",
    "MonthData",
    "ReportResult",
    "build_report",
    "combine_notebooks",
    "last_complete_month",
    "load_analysis",
    "load_month",
    "month_analysis",
    "month_end",
    "project_root",
]

# Executed in this order; each is a section of index.html.
NOTEBOOKS: tuple[str, ...] = (
    "01_data_quality.ipynb",
    "02_rule_schemes.ipynb",
    "03_clustering.ipynb",
    "04_clv.ipynb",
    "05_compare.ipynb",
)

DATASETS = ("demo", "cdnow")
MANIFEST_PACKAGES = (
    "pandas",
    "numpy",
    "scipy",
    "scikit-learn",
    "lifetimes",
    "matplotlib",
    "seaborn",
    "pyarrow",
    "papermill",
    "nbconvert",
)
KERNEL_NAME = "segmentation"


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
    """

    orders: pd.DataFrame
    customers: pd.DataFrame | None
    interactions: pd.DataFrame | None
    quarantine: pd.DataFrame
    quality: dict[str, Any]
    month: str
    as_of: pd.Timestamp
    source: str


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
        total = sum(self.timings.values())
        return (
            f"report {self.month}: {quality['rows_kept']:,} rows kept of {quality['rows_in']:,}, "
            f"{quality['customers']:,} customers, {len(self.manifest['notebooks'])} sections "
            f"-> {self.index_html} ({total:.1f} s)"
        )


def project_root(start: Path | None = None) -> Path:
    """The nearest folder at or above ``start`` (default: the working directory) holding a
    ``pyproject.toml``; the working directory when there is none."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "pyproject.toml").is_file() and (folder / "notebooks").is_dir():
            return folder
    return here


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


def _resolve_input(
    input_path: str | Path | None, dataset: str, *, root: Path, demo_customers: int
) -> tuple[list[Path], str]:
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
    demo_dir = root / "data" / ("demo" if demo_customers == 5000 else f"demo-{demo_customers}")
    if not (demo_dir / "README.txt").is_file():
        write_demo_export(demo_dir, seed=0, n_customers=demo_customers)
    return [demo_dir], f"{DEMO_LABEL['zh']} / {DEMO_LABEL['en']}"


def load_month(
    *,
    input_path: str | Path | None = "",
    dataset: str = "demo",
    month: str = "",
    mapping: str | Path | None = None,
    prepared_dir: str | Path | None = "",
    demo_customers: int = 5000,
) -> MonthData:
    """Load the canonical tables for one report month.

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
        A folder written by :func:`build_report` (``data/`` of a report); when given, the
        tables are read from it instead of ingesting again, and the other inputs are ignored.
    demo_customers : int, default 5000
        Size of the demo export (smaller runs faster, e.g. in CI).

    Returns
    -------
    MonthData
    """
    if prepared_dir:
        return _read_prepared(Path(prepared_dir), month=month)
    paths, source = _resolve_input(
        input_path, dataset, root=project_root(), demo_customers=demo_customers
    )
    return _ingest_month(paths, source=source, month=month, mapping=mapping)


def _ingest_month(
    paths: Sequence[Path], *, source: str, month: str, mapping: str | Path | None
) -> MonthData:
    from segmentation.ingest import ingest

    result = ingest(paths, mapping=mapping)
    month = month or last_complete_month(result.orders)
    as_of = month_end(month)
    if as_of < result.orders["order_ts"].min().normalize():
        raise SegmentationInputError(
            f"MONTH={month}: the data starts on {result.orders['order_ts'].min():%Y-%m-%d}, "
            "after that month; pick a month the data covers."
        )
    return MonthData(
        orders=result.orders,
        customers=result.customers,
        interactions=result.interactions,
        quarantine=result.quarantine,
        quality=result.quality,
        month=month,
        as_of=as_of,
        source=source,
    )


def _analysis_key(data: MonthData, *, horizon_days: int, random_state: int, config: Any) -> str:
    digest = hashlib.sha256()
    digest.update(f"{__version__}|{data.month}|{horizon_days}|{random_state}|".encode())
    # The kit's own code is part of the key, so an edited scheme never reads a stale cache.
    package = Path(__file__).parent
    for source in sorted([*package.rglob("*.py"), *package.rglob("*.yaml")]):
        digest.update(source.read_bytes())
    digest.update(json.dumps(config, sort_keys=True, default=str).encode())
    for table in (data.orders, data.customers, data.interactions):
        if table is not None:
            digest.update(pd.util.hash_pandas_object(table, index=False).to_numpy().tobytes())
    return digest.hexdigest()[:16]


def load_analysis(
    data: MonthData,
    *,
    horizon_days: int = 90,
    random_state: int = 0,
    config: str | Path | Mapping[str, Any] | None = None,
    prepared_dir: str | Path | None = "",
) -> Any:
    """The month's analysis (every scheme, the backtest, the comparison), computed once.

    ``segmentation report`` computes it before running the notebooks and leaves it in
    ``prepared_dir``. A notebook opened on its own computes it on first use and caches it
    under ``data/interim/``, keyed by the tables' content and the parameters, so the other
    notebooks (and nbval) reuse it.

    Parameters
    ----------
    data : MonthData
        :func:`load_month`.
    horizon_days : int, default 90
    random_state : int, default 0
    config : path or mapping, optional
        A config override (see :func:`segmentation.config.load_config`).
    prepared_dir : str or Path, optional
        A report's ``data/`` folder holding ``analysis.pkl``.

    Returns
    -------
    segmentation.compare.MonthAnalysis
    """
    from segmentation.config import load_config

    if prepared_dir and (Path(prepared_dir) / "analysis.pkl").is_file():
        return _load_pickle(Path(prepared_dir) / "analysis.pkl")
    settings = load_config(config)
    key = _analysis_key(data, horizon_days=horizon_days, random_state=random_state, config=settings)
    cache = project_root() / "data" / "interim" / f"analysis-{key}.pkl"
    if cache.is_file():
        return _load_pickle(cache)
    analysis = _analyse(data, config=settings, horizon_days=horizon_days, random_state=random_state)
    _dump_pickle(analysis, cache)
    return analysis


def month_analysis(
    *,
    input_path: str | Path | None = "",
    dataset: str = "demo",
    month: str = "",
    prepared_dir: str | Path | None = "",
    demo_customers: int = 5000,
    horizon_days: int = 90,
    random_state: int = 0,
    mapping: str | Path | None = None,
    config: str | Path | Mapping[str, Any] | None = None,
) -> Any:
    """The month's analysis, for a notebook that needs the analysis and not the tables.

    In a report (``prepared_dir`` holds ``analysis.pkl``) the analysis is read back and the
    orders are never read: at a million customers that saves seconds per notebook. Otherwise
    it is :func:`load_month` then :func:`load_analysis`, with their caching.

    Parameters
    ----------
    input_path, dataset, month, prepared_dir, demo_customers, mapping
        As in :func:`load_month`.
    horizon_days, random_state, config
        As in :func:`load_analysis`.

    Returns
    -------
    segmentation.compare.MonthAnalysis
    """
    if prepared_dir and (Path(prepared_dir) / "analysis.pkl").is_file():
        return _load_pickle(Path(prepared_dir) / "analysis.pkl")
    data = load_month(
        input_path=input_path,
        dataset=dataset,
        month=month,
        mapping=mapping,
        prepared_dir=prepared_dir,
        demo_customers=demo_customers,
    )
    return load_analysis(
        data,
        horizon_days=horizon_days,
        random_state=random_state,
        config=config,
        prepared_dir=prepared_dir,
    )


def _analyse(
    data: MonthData, *, config: Mapping[str, Any], horizon_days: int, random_state: int
) -> Any:
    from segmentation.compare import analyse_month

    return analyse_month(
        data.orders,
        data.customers,
        data.interactions,
        as_of=data.as_of,
        config=config,
        horizon_days=horizon_days,
        random_state=random_state,
    )


def _execute_notebook(
    *,
    source: str,
    target: str,
    parameters: Mapping[str, Any],
    kernel: str,
    cwd: str,
    progress: bool,
) -> float:
    """Run one report notebook with papermill; its wall time in seconds."""
    import papermill

    began = time.perf_counter()
    papermill.execute_notebook(
        source,
        target,
        parameters=dict(parameters),
        kernel_name=kernel,
        progress_bar={"desc": Path(source).name} if progress else False,
        # The kernel starts in ``cwd`` through nbclient's resources: papermill's own ``cwd``
        # changes this whole process's working directory, which notebooks run side by side
        # in threads would race on.
        resources={"metadata": {"path": cwd}},
    )
    return time.perf_counter() - began


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


def _dump_pickle(value: Any, path: Path) -> None:
    # The standard pickle at protocol 5: every object of the analysis is plain data (the CLV
    # fits keep no lambdas), and it is several times faster than dill at a million
    # customers. Written aside and renamed, so an interrupted run never leaves a
    # half-written cache behind.
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    with partial.open("wb") as handle:
        _SharedIndexPickler(handle, protocol=5).dump(value)
    partial.replace(path)


class _SharedIndexPickler(pickle.Pickler):
    """A pickler that writes a Series as its values and its index object.

    pandas pickles a Series' index twice, the second time as a fresh slice that no memo can
    share: a million customer ids cost 15 MB per Series, and the analysis holds dozens of
    Series on the same ids. Written as (values, index, name), each index is written once and
    every Series on it refers back to it, so reading it back shares one index object too.
    """

    def reducer_override(self, obj: Any) -> Any:
        if type(obj) is pd.Series:
            return _series, (obj.array, obj.index, obj.name)
        return NotImplemented


def _series(values: Any, index: pd.Index, name: Any) -> pd.Series:
    """Rebuild a Series written by :class:`_SharedIndexPickler`."""
    return pd.Series(values, index=index, name=name, copy=False)


def _load_pickle(path: Path) -> Any:
    with path.open("rb") as handle:
        return pickle.load(handle)


# The month's canonical tables, as ingest gave them, for the notebooks to read back. A pickle
# keeps the dictionary-encoded ids as they are: Parquet holds a million order ids as plain
# text and reading it back hashes them all again (7 s against 0.2 s at a million customers).
_TABLES_FILE = "tables.pkl"


def _write_prepared(data: MonthData, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    tables = {
        "orders": data.orders,
        "customers": data.customers,
        "interactions": data.interactions,
        "quarantine": data.quarantine,
    }
    _dump_pickle(tables, folder / _TABLES_FILE)
    meta = {"month": data.month, "source": data.source, "quality": data.quality}
    (folder / "prepared.json").write_text(
        json.dumps(meta, ensure_ascii=False, indent=2, default=str), encoding="utf-8"
    )


def _read_prepared(folder: Path, *, month: str) -> MonthData:
    meta = json.loads((folder / "prepared.json").read_text(encoding="utf-8"))
    month = month or meta["month"]
    tables = _load_pickle(folder / _TABLES_FILE)
    return MonthData(
        orders=tables["orders"],
        customers=tables["customers"],
        interactions=tables["interactions"],
        quarantine=tables["quarantine"],
        quality=meta["quality"],
        month=month,
        as_of=month_end(month),
        source=meta["source"],
    )


def _input_files(quality: Mapping[str, Any], root: Path) -> list[dict[str, Any]]:
    """The files ingest read, with their sha256, paths relative to the project when inside."""
    out = []
    for entry in quality.get("files", []):
        path = Path(entry["path"])
        try:
            shown = str(path.resolve().relative_to(root))
        except ValueError:
            shown = str(path)
        out.append(
            {
                "path": shown,
                "bytes": entry.get("bytes"),
                "sha256": entry["sha256"],
                "table": entry.get("table"),
            }
        )
    return out


def _git_commit(root: Path) -> str | None:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=False
        )
    except OSError:
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None


def _kernel_name() -> str:
    from jupyter_client.kernelspec import KernelSpecManager

    # make setup registers the venv's kernel; a plain pip install only has python3.
    return KERNEL_NAME if KERNEL_NAME in KernelSpecManager().find_kernel_specs() else "python3"


def _report_notebooks(notebooks_dir: str | Path | None, root: Path) -> tuple[Path, list[str]]:
    """The folder of report notebooks and the ones it has, in report order.

    Looked for in ``notebooks_dir``, else the project's notebooks/, else the notebooks/ of
    the source tree this package is installed from (``pip install -e .``), so the command
    works from any working directory.
    """
    candidates = (
        [Path(notebooks_dir)]
        if notebooks_dir
        else [root / "notebooks", Path(__file__).resolve().parents[2] / "notebooks"]
    )
    for folder in candidates:
        available = [name for name in NOTEBOOKS if (folder / name).is_file()]
        if available:
            return folder, available
    raise SegmentationInputError(
        f"{candidates[0]}: no report notebooks ({', '.join(NOTEBOOKS)}) found; run from the "
        "project folder, or pass notebooks_dir."
    )


def combine_notebooks(paths: Sequence[Path], *, title: str, lang: str = "zh") -> Any:
    """Join executed notebooks into one, with a title and a table of contents first.

    Parameters
    ----------
    paths : sequence of Path
        Executed notebooks, in report order.
    title : str
        The report's title (a level-1 heading).
    lang : {"zh", "en"}

    Returns
    -------
    nbformat.NotebookNode
        Cells of every notebook in order, minus papermill's injected-parameters cells and
        the parameters cells (they are plumbing, not findings).
    """
    import nbformat

    combined = nbformat.v4.new_notebook()
    headings: list[tuple[int, str]] = []
    cells = []
    for section, path in enumerate(paths, start=1):
        notebook = nbformat.read(path, as_version=4)
        # Kernel and language info come from the executed notebooks (all run on one kernel).
        combined.metadata = notebook.metadata
        for position, cell in enumerate(notebook.cells):
            tags = cell.get("metadata", {}).get("tags", [])
            if "parameters" in tags or "injected-parameters" in tags:
                continue
            # Each notebook numbers its own cells: ids unique across sections, and the same in
            # every run (nbconvert would otherwise replace repeats with random ones).
            cell["id"] = f"s{section}-{position}"
            if cell.cell_type == "markdown":
                for line in cell.source.splitlines():
                    found = re.match(r"^(#{1,3})\s+(.+?)\s*$", line)
                    if found:
                        headings.append((len(found.group(1)), found.group(2)))
            cells.append(cell)
    contents_title = "目录" if lang == "zh" else "Contents"
    toc = [f"# {title}", "", f"**{contents_title}**", ""]
    for level, text in headings:
        if level == 1:
            continue
        indent = "  " * (level - 2)
        # nbconvert gives each heading the id of its text with spaces replaced by hyphens.
        toc.append(f"{indent}- [{text}](#{text.replace(' ', '-')})")
    contents = nbformat.v4.new_markdown_cell("\n".join(toc))
    contents["id"] = "contents"
    combined.cells = [contents, *cells]
    return combined


def _export_html(notebook: Any, path: Path, *, title: str) -> None:
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(
        template_name="lab",
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        embed_images=True,
    )
    notebook.metadata["title"] = title
    body, _ = exporter.from_notebook_node(notebook)
    path.write_text(body, encoding="utf-8")


def build_report(
    *,
    input_path: str | Path | None = None,
    dataset: str = "demo",
    month: str | None = None,
    lang: str = "zh",
    mapping: str | Path | None = None,
    config: str | Path | None = None,
    reports_dir: str | Path = "reports",
    random_state: int = 0,
    horizon_days: int = 90,
    demo_customers: int = 5000,
    notebooks_dir: str | Path | None = None,
    progress: bool = False,
    notebook_workers: int = 2,
) -> ReportResult:
    """Build ``reports/<YYYY-MM>/`` for one month: notebooks, index.html and manifest.json.

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
    horizon_days : int, default 90
        Held-out window of the backtest.
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
    if lang not in ("zh", "en"):
        raise SegmentationInputError(f"LANG={lang!r} is not supported; use LANG=zh or LANG=en.")
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
    timings: dict[str, float] = {}
    root = project_root()
    # Found before any work, so a missing notebook costs seconds, not a whole analysis.
    source_dir, available = _report_notebooks(notebooks_dir, root)
    started = time.perf_counter()
    paths, source = _resolve_input(input_path, dataset, root=root, demo_customers=demo_customers)
    data = _ingest_month(paths, source=source, month=month or "", mapping=mapping)
    timings["ingest"] = time.perf_counter() - started

    out_dir = Path(reports_dir) / data.month
    (out_dir / "notebooks").mkdir(parents=True, exist_ok=True)
    prepared = out_dir / "data"
    _write_prepared(data, prepared)
    data.quarantine.to_csv(out_dir / "quarantine.csv", index=False, encoding="utf-8-sig")

    import functools

    from segmentation.config import load_config
    from segmentation.export import write_segments_csv
    from segmentation.privacy import load_pii_key, pseudonymise_customer_ids

    settings = load_config(config)
    analysis = _analyse(data, config=settings, horizon_days=horizon_days, random_state=random_state)
    timings.update(analysis.timings)
    _dump_pickle(analysis, prepared / "analysis.pkl")
    began = time.perf_counter()
    write_segments_csv(
        list(analysis.current.segmentations.values()),
        out_dir,
        lang=lang,
        action_scheme=str(settings["export"]["action_scheme"]),
        # Customer ids leave the project only as keyed pseudonyms.
        id_transform=functools.partial(
            pseudonymise_customer_ids, key=load_pii_key(project_dir=root)
        ),
    )
    timings["segments_csv"] = time.perf_counter() - began
    # The notebooks read everything back from prepared/: release the tables and the analysis
    # (gigabytes at a million customers) before the kernels start, so peak memory is one
    # process's, not two.
    month, as_of, source, quality = data.month, data.as_of, data.source, data.quality
    del analysis, data
    _release_memory()

    parameters = {
        "prepared_dir": str(prepared.resolve()),
        "month": month,
        "lang": lang,
        "random_state": random_state,
        "horizon_days": horizon_days,
    }
    began = time.perf_counter()
    executed = [out_dir / "notebooks" / name for name in available]
    kernel = _kernel_name()
    jobs: list[dict[str, Any]] = [
        {
            "source": str((source_dir / name).resolve()),
            "target": str(target.resolve()),
            "parameters": parameters,
            "kernel": kernel,
            "cwd": str(root),
            "progress": progress,
        }
        for name, target in zip(available, executed, strict=True)
    ]
    workers = min(notebook_workers, len(jobs))
    if workers <= 1:
        seconds = [_execute_notebook(**job) for job in jobs]
    else:
        # Threads suffice: each notebook runs in its own kernel process, and the thread only
        # waits on it.
        with ThreadPoolExecutor(max_workers=workers) as pool:
            futures = [pool.submit(_execute_notebook, **job) for job in jobs]
            seconds = [future.result() for future in futures]
    for name, took in zip(available, seconds, strict=True):
        timings[name.removesuffix(".ipynb")] = took
    timings["notebooks"] = time.perf_counter() - began

    began = time.perf_counter()
    title = (
        f"客户分层月报 {month} · {source}"
        if lang == "zh"
        else f"Customer segmentation report {month} · {source}"
    )
    index_html = out_dir / "index.html"
    _export_html(combine_notebooks(executed, title=title, lang=lang), index_html, title=title)
    timings["html"] = time.perf_counter() - began

    manifest = {
        "kit": {"name": "segmentation", "version": __version__},
        "month": month,
        "as_of": f"{as_of:%Y-%m-%d}",
        "source": source,
        "parameters": {
            "input": str(input_path) if input_path else None,
            "dataset": None if input_path else dataset,
            "month": month,
            "lang": lang,
            "mapping": str(mapping) if mapping else None,
            "config": str(config) if config else None,
            "random_state": random_state,
            "horizon_days": horizon_days,
            "demo_customers": demo_customers if not input_path and dataset == "demo" else None,
        },
        "inputs": _input_files(quality, root),
        "quality": {
            key: quality[key]
            for key in (
                "rows_in",
                "rows_kept",
                "rows_duplicate",
                "rows_quarantined",
                "guests",
                "customers",
                "date_min",
                "date_max",
            )
            if key in quality
        },
        "notebooks": [f"notebooks/{p.name}" for p in executed],
        # Written before the manifest itself, so it and index.html are added by name.
        "outputs": sorted(
            {str(p.relative_to(out_dir)) for p in out_dir.rglob("*") if p.is_file()}
            | {"manifest.json", "index.html"}
        ),
        "packages": {name: _version(name) for name in MANIFEST_PACKAGES},
        "python": platform.python_version(),
        "git_commit": _git_commit(root),
        "timings_seconds": {k: round(v, 3) for k, v in timings.items()},
    }
    (out_dir / "manifest.json").write_text(
        json.dumps(manifest, ensure_ascii=False, indent=2, default=str) + "\n", encoding="utf-8"
    )
    return ReportResult(
        out_dir=out_dir, index_html=index_html, month=month, manifest=manifest, timings=timings
    )


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None
