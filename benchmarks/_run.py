"""A whole run: generate the data at every size, time every stage on it, and gather what was
measured into a :class:`BenchRun` (its ratios, scaling exponents and targets included)."""

from __future__ import annotations

import contextlib
import math
import os
import platform
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks._measure import run_child, run_task
from benchmarks._ratios import scaling_exponents, speed_ratios
from benchmarks._stages import Stage, bench_stages, select_stages
from benchmarks._synthetic import AS_OF
from benchmarks._targets import check_targets
from segmentation.errors import InvalidOptionError

__all__ = ["DEFAULT_SIZES", "BenchRun", "machine_info", "parse_sizes", "run_bench"]

#: benchmarks/ sits at the project's root, beside notebooks/ (which the report stage runs).
PROJECT_ROOT = Path(__file__).resolve().parents[1]

DEFAULT_SIZES: tuple[int, ...] = (10_000, 100_000, 1_000_000)


@dataclass(frozen=True)
class BenchRun:
    """Everything one ``python -m benchmarks`` (``make bench``) measured.

    Attributes
    ----------
    sizes : tuple of int
        Customers per synthetic export, in the order run.
    seed : int
    full : bool
        Whether plain lifetimes' Pareto/NBD ran above :data:`UNCOMPRESSED_PARETO_LIMIT`.
    isolated : bool
        Each stage in its own process (peak memory is then the stage's own).
    machine : dict
        :func:`machine_info` at the start.
    data : pandas.DataFrame
        One row per size: what was generated and prepared.
    results : pandas.DataFrame
        One row per (stage, size): ``stage``, ``group``, ``baseline``, ``n_customers``,
        ``status`` (ok, unavailable, skipped, failed), ``seconds`` (the fastest run),
        ``cpu_seconds`` (that run's CPU time, all threads and finished children), ``runs``, ``peak_mb``
        (the stage's process; for the report, with its kernels), ``rss_before_mb``,
        ``note`` and ``info``.
    stages : list of Stage
        The stages selected, in run order.
    command : str
        The command line, for the results file.
    """

    sizes: tuple[int, ...]
    seed: int
    full: bool
    isolated: bool
    machine: dict[str, Any]
    data: pd.DataFrame
    results: pd.DataFrame
    stages: list[Stage]
    command: str = ""

    @property
    def ratios(self) -> pd.DataFrame:
        """:func:`speed_ratios` of the results."""
        return speed_ratios(self.results)

    @property
    def exponents(self) -> pd.Series:
        """:func:`scaling_exponents` of the results."""
        return scaling_exponents(self.results)

    @property
    def targets(self) -> pd.DataFrame:
        """:func:`check_targets` of the results."""
        return check_targets(self.results)


def machine_info() -> dict[str, Any]:
    """Cores, memory, CPU, load average and versions of the machine the bench runs on.

    Returns
    -------
    dict
    """
    from importlib import metadata

    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory_gb = float("nan")
    with contextlib.suppress(ValueError, OSError, AttributeError):
        memory_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
    try:
        load = [round(v, 2) for v in os.getloadavg()]
    except OSError:
        load = []
    versions: dict[str, str | None] = {}
    for package in ("pandas", "numpy", "pyarrow", "scipy", "scikit-learn", "lifetimes"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(memory_gb, 1),
        "load_average": load,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "packages": versions,
        "started_utc": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def _git_commit(root: Path) -> str | None:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError:
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None


def _skip_reason(stage: Stage, n_customers: int, *, full: bool) -> str:
    if stage.full_only_above is not None and n_customers > stage.full_only_above and not full:
        return (
            f"plain lifetimes takes minutes above {stage.full_only_above:,} customers; "
            "run with --full"
        )
    return ""


def run_bench(
    sizes: Sequence[int] = DEFAULT_SIZES,
    *,
    stages: Sequence[str] | None = None,
    seed: int = 0,
    full: bool = False,
    isolated: bool = True,
    workdir: str | Path | None = None,
    timeout: float | None = 3600.0,
    min_seconds: float = 1.0,
    progress: Callable[[str], None] | None = None,
    command: str = "",
) -> BenchRun:
    """Generate the data at every size and time the stages on it.

    Parameters
    ----------
    sizes : sequence of int, default (10000, 100000, 1000000)
        Customers per synthetic export; run in increasing order.
    stages : sequence of str, optional
        Stage names or groups (``ingest``, ``peers``, ``snapshot``, ``schemes``, ``clv``,
        ``compare``, ``report``, ``engine``); all when omitted.
    seed : int, default 0
        Seed of the data and of every model.
    full : bool, default False
        Also run plain lifetimes' Pareto/NBD above 100,000 customers (minutes).
    isolated : bool, default True
        Run data generation, preparation and each stage in a fresh subprocess, so that peak
        memory is the stage's own. ``False`` runs everything in this process (quicker to
        start; peak memory is then not per stage and is left out).
    workdir : str or Path, optional
        Where the exports and scratch files go; a temporary folder, removed at the end,
        when omitted.
    timeout : float, optional, default 3600
        Seconds after which a stage's subprocess is stopped and the stage marked failed.
    min_seconds : float, default 1.0
        A stage is run again, up to five times, until its runs add up to this; the fastest
        run counts.
    progress : callable, optional
        Called with one line per finished stage (e.g. ``print``).
    command : str, optional
        The command line, recorded in the results.

    Returns
    -------
    BenchRun
    """
    sizes = tuple(sorted({int(s) for s in sizes}))
    if not sizes or min(sizes) < 10:
        raise InvalidOptionError(f"--customers: give sizes of at least 10, got {list(sizes)}.")
    selected = select_stages(bench_stages(), stages)
    say = progress or (lambda line: None)
    machine = machine_info()
    machine["git_commit"] = _git_commit(PROJECT_ROOT)
    owned = workdir is None
    base = Path(tempfile.mkdtemp(prefix="segmentation-bench-")) if owned else Path(str(workdir))
    rows: list[dict[str, Any]] = []
    data_rows: list[dict[str, Any]] = []
    prepare = any(stage.needs_prepared for stage in selected)
    try:
        for n in sizes:
            folder = base / f"n{n}"
            spec = _size_spec(folder, n, root=PROJECT_ROOT, seed=seed, min_seconds=min_seconds)
            data_rows.append(
                _generate_and_prepare(spec, folder, isolated, timeout, say, prepare=prepare)
            )
            for stage in selected:
                rows.append(_run_stage(stage, spec, n, folder, isolated, timeout, full))
                say(_progress_line(rows[-1]))
            if owned:
                shutil.rmtree(folder, ignore_errors=True)
    finally:
        if owned:
            shutil.rmtree(base, ignore_errors=True)
    return BenchRun(
        sizes=sizes,
        seed=seed,
        full=full,
        isolated=isolated,
        machine=machine,
        data=pd.DataFrame(data_rows),
        results=pd.DataFrame(rows, columns=_RESULT_COLUMNS),
        stages=selected,
        command=command,
    )


def _size_spec(
    folder: Path, n_customers: int, *, root: Path, seed: int, min_seconds: float
) -> dict[str, Any]:
    """What every task at one size is told: where its files go, the seed, the dates."""
    return {
        "workspace": {
            "export_dir": str(folder / "export"),
            "prepared_dir": str(folder / "prepared"),
            "scratch_dir": str(folder / "scratch"),
            "project_root": str(root),
            "seed": seed,
            "min_seconds": min_seconds,
            "as_of": f"{AS_OF:%Y-%m-%d}",
            "calibration_end": "",
        },
        "n_customers": n_customers,
    }


def _generate_and_prepare(
    spec: dict[str, Any],
    folder: Path,
    isolated: bool,
    timeout: float | None,
    say: Callable[[str], None],
    *,
    prepare: bool = True,
) -> dict[str, Any]:
    """Write the synthetic export and, when a stage reads them, the prepared tables (and the
    CSV files); the size's row of the data table."""
    if not prepare:
        spec["formats"] = ["parquet"]
    generated = _task("generate", spec, folder / "logs", isolated, timeout)
    prepared = (
        _task("prepare", spec, folder / "logs", isolated, timeout)
        if prepare
        else {"calibration_end": "—", "buyers": generated["n_buyers"]}
    )
    spec["workspace"]["calibration_end"] = prepared["calibration_end"]
    say(
        f"n={spec['n_customers']:,}: {generated['n_rows']:,} order rows "
        f"({generated['orders_per_customer']:.2f} orders per customer), "
        f"generated in {generated['seconds']:.1f} s"
    )
    return {
        **{k: v for k, v in generated.items() if k != "seconds"},
        "generate_seconds": generated["seconds"],
        "buyers_as_of": prepared["buyers"],
        "as_of": spec["workspace"]["as_of"],
        "calibration_end": prepared["calibration_end"],
    }


_RESULT_COLUMNS = [
    "stage",
    "group",
    "baseline",
    "n_customers",
    "status",
    "seconds",
    "cpu_seconds",
    "runs",
    "peak_mb",
    "rss_before_mb",
    "note",
    "info",
]


def _task(
    task: str, spec: dict[str, Any], logs: Path, isolated: bool, timeout: float | None
) -> dict[str, Any]:
    if isolated:
        return run_child(task, spec, folder=logs, timeout=timeout)
    # In one process the garbage is not worth collecting before each stage.
    return run_task(task, spec, collect=False)


def _run_stage(
    stage: Stage,
    spec: dict[str, Any],
    n: int,
    folder: Path,
    isolated: bool,
    timeout: float | None,
    full: bool,
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "stage": stage.name,
        "group": stage.group,
        "baseline": stage.baseline,
        "n_customers": n,
        "status": "ok",
        "seconds": np.nan,
        "cpu_seconds": np.nan,
        "runs": 0,
        "peak_mb": np.nan,
        "rss_before_mb": np.nan,
        "note": "",
        "info": {},
    }
    reason = _skip_reason(stage, n, full=full)
    if reason:
        return {**row, "status": "skipped", "note": reason}
    try:
        measured = _task(stage.name, spec, folder / "logs", isolated, timeout)
    except Exception as error:  # a failed stage is reported, the others still run
        return {**row, "status": "failed", "note": f"{type(error).__name__}: {error}"[:300]}
    info = measured["info"]
    note = str(info.get("unavailable", ""))[:200]
    peak = measured["tree_peak_mb"] if isolated else np.nan
    return {
        **row,
        "status": "unavailable" if note else "ok",
        "seconds": measured["seconds"],
        "cpu_seconds": measured["cpu_seconds"],
        "runs": measured["runs"],
        "peak_mb": peak,
        "rss_before_mb": measured["rss_before_mb"] if isolated else np.nan,
        "note": note,
        "info": info,
    }


def _progress_line(row: Mapping[str, Any]) -> str:
    head = f"  {row['stage']:<32} n={row['n_customers']:>9,}"
    if row["status"] != "ok":
        return f"{head}  {row['status']}: {row['note']}"
    memory = f"{row['peak_mb']:>8,.0f} MB" if np.isfinite(row["peak_mb"]) else ""
    return f"{head}  {row['seconds']:>9.3f} s {memory}"


def parse_sizes(text: str) -> list[int]:
    """``"10000,100000,1e6"`` -> ``[10000, 100000, 1000000]``.

    Raises
    ------
    InvalidOptionError
        When an entry is not a whole number of at least 10.
    """
    sizes = []
    for part in (p.strip().replace("_", "") for p in text.split(",")):
        try:
            value = float(part)
        except ValueError:
            value = float("nan")
        if not math.isfinite(value) or value != int(value) or value < 10:
            raise InvalidOptionError(
                f"--customers: {part!r} is not a whole number of customers of at least 10; "
                "give sizes such as 10000,100000,1000000."
            )
        sizes.append(int(value))
    return sizes
