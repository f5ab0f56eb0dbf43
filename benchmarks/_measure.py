"""Measuring: a stage's fastest run and its peak memory, and each task of a run (generate,
prepare, one stage) in a fresh interpreter, ``python -m benchmarks._child SPEC.json``."""

from __future__ import annotations

import contextlib
import gc
import json
import os
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks._stages import Stage, Workspace, bench_stages, prepare_workspace
from benchmarks._synthetic import write_synthetic_export

__all__ = ["child_main", "json_default", "measure", "run_child", "run_task"]

_BENCH_PII_KEY = "segmentation-bench"  # the synthetic export has no PII; the report wants a key


def _maxrss_mb(who: int) -> float:
    peak = resource.getrusage(who).ru_maxrss
    # Kilobytes on Linux, bytes on macOS.
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def _cpu_seconds() -> float:
    """User and system CPU time of this process and of its children that have ended."""
    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _current_rss_mb() -> float:
    try:
        with open("/proc/self/statm", encoding="ascii") as handle:
            pages = int(handle.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / (1024 * 1024)
    except (OSError, ValueError, IndexError):
        return _maxrss_mb(resource.RUSAGE_SELF)


#: Seconds between two counts of the tree's shared pages (:func:`_resident_share`).
PSS_INTERVAL = 0.25


class _TreeMemory:
    """Peak resident memory of this process and all its descendants together, sampled.

    ``getrusage(RUSAGE_CHILDREN)`` cannot give it: it reports the largest child on its own,
    and a child forked from a large parent counts the parent's pages until it execs. The
    report's notebook kernels run while the report's process holds its data, so what the
    machine needs is their sum at the same moment. Sampled with psutil (installed with
    ipykernel); without it the result is NaN.

    Each process counts its proportional share of the pages it shares (PSS, Linux): the
    analysis' forked child shares the report process's tables, and adding both resident
    sizes would count those pages twice. Where PSS is not available, the resident size.
    """

    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        self.peak_mb = float("nan")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> _TreeMemory:
        try:
            import psutil
        except ImportError:
            return self
        me = psutil.Process()
        self.peak_mb = 0.0

        def sample() -> None:
            shared_counted_at = -float("inf")
            while not self._stop.is_set():
                processes = [me, *me.children(recursive=True)]
                resident = 0
                for process in processes:
                    with contextlib.suppress(psutil.Error):
                        resident += process.memory_info().rss
                # The shares cost 10 ms a process at 3 GB: counted only when the resident
                # sizes (never below them) could make a new peak, at most every PSS_INTERVAL.
                now = time.monotonic()
                if resident / 2**20 > self.peak_mb and now - shared_counted_at >= PSS_INTERVAL:
                    total = 0
                    for process in processes:
                        with contextlib.suppress(psutil.Error):
                            total += _resident_share(process)
                    shared_counted_at = now
                    self.peak_mb = max(self.peak_mb, total / 2**20)
                self._stop.wait(self.interval)

        self._thread = threading.Thread(target=sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


def _resident_share(process: Any) -> int:
    """Bytes resident for ``process`` (a psutil Process), shared pages split among their
    sharers (PSS) where the system says (Linux, 0.3 ms), else its resident size."""
    if sys.platform.startswith("linux"):
        return int(process.memory_full_info().pss)
    return int(process.memory_info().rss)


def measure(
    stage: Stage,
    workspace: Workspace,
    *,
    min_seconds: float = 1.0,
    max_runs: int = 5,
    collect: bool = True,
) -> dict[str, Any]:
    """Load a stage's inputs, then time its runs; memory as this process sees it.

    ``collect`` runs the garbage collector before measuring, so that the memory before the
    stage is what its inputs hold (a tenth of a second in a process that imported
    scikit-learn: worth it in a stage's own process only).
    """
    inputs = stage.load(workspace)
    if collect:
        gc.collect()
    rss_before = _current_rss_mb()
    times: list[float] = []
    cpu: list[float] = []
    info: dict[str, Any] | None = None
    tree = _TreeMemory() if stage.spawns_processes else contextlib.nullcontext()
    while True:
        cpu_started = _cpu_seconds()
        started = time.perf_counter()
        with tree:
            info = stage.run(**inputs)
        times.append(time.perf_counter() - started)
        cpu.append(_cpu_seconds() - cpu_started)
        if not stage.repeat or sum(times) >= min_seconds or len(times) >= max_runs:
            break
        # Fresh inputs for the next run: pandas caches hash tables on an index once it is
        # looked up, and a repeat must not be faster for what the first run left behind.
        del inputs
        workspace.forget()
        inputs = stage.load(workspace)
    own_peak = _maxrss_mb(resource.RUSAGE_SELF)
    tree_peak = tree.peak_mb if isinstance(tree, _TreeMemory) else own_peak
    fastest = int(np.argmin(times))
    return {
        "seconds": times[fastest],
        # CPU time of that run, every thread of this process and its finished children (the
        # notebook kernels): over the seconds, how many cores the stage kept busy.
        "cpu_seconds": cpu[fastest],
        "runs": len(times),
        "rss_before_mb": rss_before,
        "peak_rss_mb": own_peak,
        # Never below the process's own exact peak, which sampling can miss.
        "tree_peak_mb": max(own_peak, tree_peak) if np.isfinite(tree_peak) else tree_peak,
        "info": info or {},
    }


def child_main(argv: Sequence[str]) -> int:
    """Entry point of a task's subprocess: ``python -m benchmarks._child SPEC.json``."""
    from segmentation.config import load_config
    from segmentation.runtime import apply_runtime_settings

    spec = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    # Every stage runs under the process settings the kit's entry points apply (config
    # runtime), the baselines and peers too: one machine setting for all.
    apply_runtime_settings(load_config())
    out = run_task(spec["task"], spec)
    Path(spec["result"]).write_text(json.dumps(out, default=json_default), encoding="utf-8")
    return 0


def run_task(task: str, spec: Mapping[str, Any], *, collect: bool = True) -> dict[str, Any]:
    """Run one task in this process: ``generate``, ``prepare``, or the stage of that name.

    ``collect`` is passed to :func:`measure`.
    """
    workspace = Workspace(spec["workspace"])
    if task == "generate":
        return write_synthetic_export(
            workspace.export_dir,
            int(spec["n_customers"]),
            seed=workspace.seed,
            formats=spec.get("formats", ("csv", "parquet")),
        )
    if task == "prepare":
        return prepare_workspace(workspace)
    stage = {s.name: s for s in bench_stages()}[task]
    return measure(stage, workspace, min_seconds=workspace.min_seconds, collect=collect)


def json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, pd.Timestamp | Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def run_child(
    task: str,
    spec: Mapping[str, Any],
    *,
    folder: Path,
    timeout: float | None,
) -> dict[str, Any]:
    """Run one task in a fresh interpreter; raise RuntimeError with its last error line."""
    folder.mkdir(parents=True, exist_ok=True)
    spec_path = folder / f"{task}.spec.json"
    result_path = folder / f"{task}.result.json"
    result_path.unlink(missing_ok=True)
    spec_path.write_text(
        json.dumps({**spec, "task": task, "result": str(result_path)}, default=json_default),
        encoding="utf-8",
    )
    env = {
        **os.environ,
        "SEGMENTATION_PII_KEY": os.environ.get("SEGMENTATION_PII_KEY") or _BENCH_PII_KEY,
        "MPLBACKEND": "Agg",
    }
    log_path = folder / f"{task}.log"
    with log_path.open("w", encoding="utf-8") as log:
        try:
            done = subprocess.run(
                [sys.executable, "-m", "benchmarks._child", str(spec_path)],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=spec["workspace"]["project_root"],
                env=env,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as error:
            raise RuntimeError(f"timed out after {timeout:.0f} s") from error
    if done.returncode != 0 or not result_path.is_file():
        lines = [
            line
            for line in log_path.read_text(encoding="utf-8", errors="replace").splitlines()
            if line.strip()
        ]
        raise RuntimeError(lines[-1] if lines else f"exit status {done.returncode}")
    result: dict[str, Any] = json.loads(result_path.read_text(encoding="utf-8"))
    return result
