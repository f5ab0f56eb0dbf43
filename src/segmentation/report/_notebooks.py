"""The report notebooks: where they are, and papermill running them side by side."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from segmentation.errors import SegmentationInputError
from segmentation.paths import source_checkout

__all__ = ["NOTEBOOKS", "report_notebooks", "run_notebooks"]

# Executed in this order; each is a section of index.html.
NOTEBOOKS: tuple[str, ...] = (
    "01_data_quality.ipynb",
    "02_rule_schemes.ipynb",
    "03_clustering.ipynb",
    "04_clv.ipynb",
    "05_compare.ipynb",
)
KERNEL_NAME = "segmentation"


def report_notebooks(notebooks_dir: str | Path | None, root: Path) -> tuple[Path, list[str]]:
    """The folder of report notebooks and the ones it has, in report order.

    Looked for in ``notebooks_dir``, else the project's notebooks/, else the notebooks/ of
    the source tree this package is installed from (``pip install -e .``), so the command
    works from any working directory.

    Raises
    ------
    SegmentationInputError
        When none of those folders holds a report notebook.
    """
    candidates = (
        [Path(notebooks_dir)]
        if notebooks_dir
        else [root / "notebooks", source_checkout() / "notebooks"]
    )
    for folder in candidates:
        available = [name for name in NOTEBOOKS if (folder / name).is_file()]
        if available:
            return folder, available
    raise SegmentationInputError(
        f"{candidates[0]}: no report notebooks ({', '.join(NOTEBOOKS)}) found; run from the "
        "project folder, or pass notebooks_dir."
    )


def run_notebooks(
    sources: Sequence[Path],
    targets: Sequence[Path],
    *,
    parameters: Mapping[str, Any],
    cwd: Path,
    workers: int,
    progress: bool,
) -> list[float]:
    """Run each source notebook into its target, ``workers`` at a time; their wall times.

    Parameters
    ----------
    sources, targets : sequence of Path
        The notebooks to run and where to write each executed one.
    parameters : mapping
        Injected into every notebook's ``parameters`` cell.
    cwd : Path
        The kernels' working directory.
    workers : int
        Notebooks run at the same time, each in its own kernel process.
    progress : bool
        Show a progress bar per notebook.

    Returns
    -------
    list of float
        Seconds per notebook, in the order of ``sources``.
    """
    kernel = _kernel_name()
    jobs: list[dict[str, Any]] = [
        {
            "source": str(source.resolve()),
            "target": str(target.resolve()),
            "parameters": parameters,
            "kernel": kernel,
            "cwd": str(cwd),
            "progress": progress,
        }
        for source, target in zip(sources, targets, strict=True)
    ]
    workers = min(workers, len(jobs))
    if workers <= 1:
        return [_execute_notebook(**job) for job in jobs]
    # Threads suffice: each notebook runs in its own kernel process, and the thread only
    # waits on it.
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(_execute_notebook, **job) for job in jobs]
        return [future.result() for future in futures]


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


def _kernel_name() -> str:
    from jupyter_client.kernelspec import KernelSpecManager

    # make setup registers the venv's kernel; a plain pip install only has python3.
    return KERNEL_NAME if KERNEL_NAME in KernelSpecManager().find_kernel_specs() else "python3"
