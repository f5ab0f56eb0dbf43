"""The report notebooks: where they are, and papermill running them side by side."""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from segmentation.errors import SegmentationInputError
from segmentation.paths import source_checkout

if TYPE_CHECKING:
    from traitlets.config import Config

__all__ = [
    "NOTEBOOKS",
    "kernel_transport_config",
    "replace_in_notebooks",
    "report_notebooks",
    "run_notebooks",
    "stop_kernels",
]

# Executed in this order; each is a section of index.html (the first is the first screen).
NOTEBOOKS: tuple[str, ...] = (
    "00_summary.ipynb",
    "01_data_quality.ipynb",
    "02_rule_schemes.ipynb",
    "03_clustering.ipynb",
    "04_clv.ipynb",
    "05_compare.ipynb",
    "06_association_drivers.ipynb",
    "07_over_time.ipynb",
    "08_campaigns.ipynb",
)
KERNEL_NAME = "segmentation"
# Seconds a kernel has to end on SIGTERM before it is killed.
_KERNEL_STOP_SECONDS = 5.0


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
    on_start: Callable[[Path], None] | None = None,
    on_done: Callable[[Path, float], None] | None = None,
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
    on_start, on_done : callable, optional
        Called with each source as it starts, and with it and its seconds as it finishes
        (from the thread that ran it).

    Returns
    -------
    list of float
        Seconds per notebook, in the order of ``sources``.
    """
    kernel = _kernel_name()
    _STOPPING.clear()
    jobs: list[dict[str, Any]] = [
        {
            "source": source,
            "target": target,
            "parameters": parameters,
            "kernel": kernel,
            "cwd": str(cwd),
            "on_start": on_start,
            "on_done": on_done,
        }
        for source, target in zip(sources, targets, strict=True)
    ]
    workers = min(workers, len(jobs))
    try:
        with _working_folder_kept():
            if workers <= 1:
                return [_execute_notebook(**job) for job in jobs]
            return _run_side_by_side(jobs, workers=workers)
    except BaseException:
        # An error or a signal (RunInterrupted, KeyboardInterrupt): no kernel outlives it.
        stop_kernels()
        raise


@contextlib.contextmanager
def _working_folder_kept() -> Iterator[None]:
    """Within the block, papermill's notebooks side by side cannot move this process to
    another folder; after it, the working folder is the one before.

    papermill's local file handler is one for the process: each ``execute_notebook`` sets
    its folder to the working directory and puts the one before back at its end, and every
    read or write of a notebook changes the process's working directory to that folder and
    back. Two notebooks in threads interleave both: one's end puts back a folder an earlier
    report left there, the other's next write then moves the process into it, and two
    overlapping moves can leave the process there. A second report in the same process
    then took that folder as its project (its cache and demo data went under the first
    one's). The handler starts without a folder (every read and write stays where the
    process is) and gets back what it had; so does the working directory.
    """
    from papermill.iorw import papermill_io

    handler = papermill_io.get_handler("local")
    working_folder = os.getcwd()
    before = handler.cwd(None)
    try:
        yield
    finally:
        handler.cwd(before)
        with contextlib.suppress(OSError):  # a folder removed meanwhile: nowhere to go back
            os.chdir(working_folder)


def _run_side_by_side(jobs: list[dict[str, Any]], *, workers: int) -> list[float]:
    """Run the jobs ``workers`` at a time; on any error, stop the kernels before waiting for
    the threads (a thread waits on its kernel and cannot be interrupted)."""
    # Threads suffice: each notebook runs in its own kernel process, and the thread only
    # waits on it.
    pool = ThreadPoolExecutor(max_workers=workers)
    try:
        futures = [pool.submit(_execute_notebook, **job) for job in jobs]
        return [future.result() for future in futures]
    except BaseException:
        stop_kernels()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _execute_notebook(
    *,
    source: Path,
    target: Path,
    parameters: Mapping[str, Any],
    kernel: str,
    cwd: str,
    on_start: Callable[[Path], None] | None,
    on_done: Callable[[Path, float], None] | None,
) -> float:
    """Run one report notebook with papermill; its wall time in seconds."""
    import papermill

    if on_start is not None:
        on_start(source)
    began = time.perf_counter()
    papermill.execute_notebook(
        str(source.resolve()),
        str(target.resolve()),
        parameters=dict(parameters),
        kernel_name=kernel,
        # Progress is one line per notebook (on_done): tqdm bars of notebooks running side
        # by side interleave and leave escape codes in a log.
        progress_bar=False,
        # The kernel starts in ``cwd`` through nbclient's resources: papermill's own ``cwd``
        # changes this whole process's working directory, which notebooks run side by side
        # in threads would race on.
        resources={"metadata": {"path": cwd}},
        config=kernel_transport_config(kernel),
        # jupyter_client interrupts a kernel before it asks it to shut down, and ipykernel
        # may then log "KeyboardInterrupt caught in kernel" on the terminal. Errors in a cell
        # reach papermill as messages and a dead kernel is detected by nbclient, so the
        # kernel's own log adds nothing for the person running the report.
        extra_arguments=["--IPKernelApp.log_level=CRITICAL"],
        # Known to stop_kernels, so a stopped run leaves no kernel behind.
        kernel_manager_class=_tracked_kernel_manager(),
    )
    took = time.perf_counter() - began
    if on_done is not None:
        on_done(source, took)
    return took


def kernel_transport_config(kernel: str) -> Config:
    """The kernel manager's settings for a private channel to ``kernel``.

    jupyter_client talks to a kernel over local TCP in plain text unless told otherwise, and
    ipykernel then warns on stderr that it runs "over TCP without encryption". A kernel
    whose spec declares CurveZMQ support (ipykernel 7) gets keys from the manager
    (``transport_encryption``); any other gets Unix-domain sockets (IPC), private to this
    user, where the platform has them. The warning has nothing left to warn about.
    """
    import zmq
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
    from traitlets.config import Config

    try:
        metadata = KernelSpecManager().get_kernel_spec(kernel).metadata or {}
    except NoSuchKernel:
        metadata = {}
    declared = metadata.get("supported_encryption") or ()
    declared = [declared] if isinstance(declared, str) else list(declared)
    if zmq.has("curve") and "curve" in [str(item).lower() for item in declared]:
        return Config({"KernelManager": {"transport_encryption": "auto"}})
    if os.name == "posix":
        return Config({"KernelManager": {"transport": "ipc"}})
    return Config()


def _kernel_name() -> str:
    from jupyter_client.kernelspec import KernelSpecManager

    # make setup registers the venv's kernel; a plain pip install only has python3.
    return KERNEL_NAME if KERNEL_NAME in KernelSpecManager().find_kernel_specs() else "python3"


# The kernel managers of the notebooks running in this process (see stop_kernels).
_RUNNING: weakref.WeakSet[Any] = weakref.WeakSet()
_RUNNING_LOCK = threading.Lock()
# Set by stop_kernels: a notebook thread about to start its kernel must not start it.
_STOPPING = threading.Event()


@functools.cache
def _tracked_kernel_manager() -> type:
    """jupyter_client's kernel manager, remembering each kernel it starts for
    :func:`stop_kernels` (made on first use: jupyter_client is imported only to run
    notebooks)."""
    from jupyter_client.manager import AsyncKernelManager

    class TrackedKernelManager(AsyncKernelManager):
        """An ``AsyncKernelManager`` that :func:`stop_kernels` can find."""

        async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
            if _STOPPING.is_set():
                raise RuntimeError("the report was stopped before this notebook's kernel started")
            await super()._async_launch_kernel(kernel_cmd, **kw)
            with _RUNNING_LOCK:
                _RUNNING.add(self)
            if _STOPPING.is_set():  # stopped while it started: it ends with the others
                stop_kernels()

    return TrackedKernelManager


def stop_kernels() -> int:
    """End every notebook kernel this process started and that still runs; how many.

    Each kernel's process group gets SIGTERM, then SIGKILL if it has not ended within a few
    seconds. A notebook waiting on a stopped kernel then fails at once (nbclient sees it
    die), so the threads running notebooks end too. Safe from any thread, and more than once.
    """
    _STOPPING.set()
    with _RUNNING_LOCK:
        managers = list(_RUNNING)
        _RUNNING.clear()
    processes = [p for p in (_kernel_process(m) for m in managers) if p is not None]
    for process in processes:
        _signal_kernel(process, signal.SIGTERM)
    deadline = time.monotonic() + _KERNEL_STOP_SECONDS
    for process in processes:
        try:
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except Exception:  # subprocess.TimeoutExpired: it ignored SIGTERM
            _signal_kernel(process, getattr(signal, "SIGKILL", signal.SIGTERM))
    return len(processes)


def _kernel_process(manager: Any) -> Any:
    """The ``Popen`` of a manager's kernel while it runs, else None."""
    process = getattr(getattr(manager, "provisioner", None), "process", None)
    return process if process is not None and process.poll() is None else None


def _signal_kernel(process: Any, signum: int) -> None:
    """Send ``signum`` to the kernel's process group (the kernel and whatever it started)."""
    try:
        if hasattr(os, "killpg"):
            os.killpg(process.pid, signum)  # jupyter_client starts each kernel in its own group
        else:
            process.send_signal(signum)
    except (ProcessLookupError, PermissionError):
        pass


def replace_in_notebooks(paths: Sequence[Path], old: str, new: str) -> None:
    """Replace ``old`` with ``new`` in every string of the notebooks at ``paths``.

    A report's notebooks run in a folder that is renamed when the report is whole: the
    folder's path papermill wrote into them (the ``prepared_dir`` parameter, its metadata)
    becomes the report's own, so an executed notebook run again reads the report's data.
    """
    import nbformat

    def replaced(value: Any) -> Any:
        if isinstance(value, str):
            return value.replace(old, new)
        if isinstance(value, list):
            return [replaced(item) for item in value]
        if isinstance(value, dict):
            return {key: replaced(item) for key, item in value.items()}
        return value

    for path in paths:
        notebook = nbformat.read(path, as_version=nbformat.NO_CONVERT)
        renamed = nbformat.from_dict(replaced(notebook))
        if renamed != notebook:
            nbformat.write(renamed, path)
