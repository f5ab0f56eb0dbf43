"""A month's report folder replaced whole: built beside it, swapped in when complete, one run
per month at a time.

``reports/<YYYY-MM>/`` is always a real folder holding one whole report: the last complete
run's. A run builds the new one in a hidden folder beside it (the same file system, so a
rename moves it), and swaps it in only when index.html and manifest.json are written:

1. ``.<month>.building-<token>/``: the run writes here. Never a report: a run that fails or
   is stopped removes it, and one that was killed leaves it for the next run to remove.
2. ``.<month>.ready-<token>/``: renamed so when whole, just before the swap.
3. The swap. Where the system can exchange two folders in one step (Linux ``renameat2`` with
   ``RENAME_EXCHANGE``, macOS ``renamex_np`` with ``RENAME_SWAP``), ``<month>/`` changes from
   the old report to the new one at once: a reader never finds it missing. Elsewhere the old
   folder is renamed aside to ``.<month>.replaced-<token>/`` and the new one renamed in; a
   crash between those two renames leaves no ``<month>/``, and the next run (or the next
   reader of :func:`recover_month`) renames the whole new report in.
4. The old report, now under a hidden name, is renamed ``.<month>.removing-<token>/`` and
   deleted: a folder half deleted is never taken back for a report.

Every run of a month first takes the month's lock (``.<month>.lock``, ``flock``: the system
releases it when the process ends, however it ends). Under it, leftovers of killed runs are
recovered or removed; a second run of the same month refuses with the first's process id.
Hidden names (a leading dot) keep all of this out of a listing of months; none of them is
``YYYY-MM``.

Not covered: a power cut. Files are not flushed to the disk one by one (that would cost
seconds per report); a crashed machine's report may need a rerun.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import re
import shutil
import socket
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from segmentation.errors import ReportLockedError
from segmentation.interrupts import deferred_interruption
from segmentation.outputs import check_writable, translated_output_errors

__all__ = [
    "BUILDING",
    "READY",
    "REMOVING",
    "REPLACED",
    "lock_path",
    "month_lock",
    "recover_month",
    "reserved_month",
    "staged_report",
    "swap_into_place",
]

BUILDING = "building"  # a run writes here; never a report
READY = "ready"  # a whole report about to be swapped in
REPLACED = "replaced"  # the previous report, set aside where folders cannot be exchanged
REMOVING = "removing"  # an old report being deleted; never taken back
_STATES = (BUILDING, READY, REPLACED, REMOVING)
# .2026-10.building-<token>: the month, the state, the run's token.
_LEFTOVER = re.compile(r"^\.(\d{4}-\d{2})\.(" + "|".join(_STATES) + r")-[0-9a-z-]+$")


# The month locks this thread holds, with how many times: a thread that holds one may take it
# again (reserved_month, then staged_report); another thread or process is refused.
_HELD: dict[tuple[int, str, str], int] = {}


def lock_path(reports_dir: Path, month: str) -> Path:
    """The lock file of ``month``'s report: ``reports_dir/.<month>.lock``."""
    return reports_dir / f".{month}.lock"


@contextlib.contextmanager
def staged_report(reports_dir: str | Path, month: str) -> Iterator[Path]:
    """A fresh folder to build ``reports_dir/<month>/`` in, swapped into place when the block
    ends normally.

    The month is locked for the whole block; leftovers of earlier runs are recovered or
    removed first. If the block raises (or is interrupted), the folder is removed and
    ``reports_dir/<month>/`` stays as it was.

    Parameters
    ----------
    reports_dir : str or Path
        The reports folder, created if absent.
    month : str
        ``YYYY-MM``.

    Yields
    ------
    Path
        The folder to write the report in.

    Raises
    ------
    ReportLockedError
        When another process is building the same month.
    OutputFolderError
        When the reports folder cannot be written (no space, read-only, no permission).
    """
    reports = check_writable(reports_dir)
    with translated_output_errors(reports), month_lock(reports, month):
        recover_month(reports, month)
        _remove_unlocked_leftovers(reports, besides=month)
        token = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
        building = reports / f".{month}.{BUILDING}-{token}"
        building.mkdir()
        try:
            yield building
            with deferred_interruption():  # a signal now waits until the swap is done
                ready = building.rename(reports / f".{month}.{READY}-{token}")
                swap_into_place(ready, reports / month, token=token)
        except BaseException:
            _remove(building)
            # A swap cut short by an error: put a whole report back in place, drop the rest.
            recover_month(reports, month)
            raise


@contextlib.contextmanager
def reserved_month(reports_dir: str | Path, month: str | None) -> Iterator[None]:
    """Before any work: prove ``reports_dir`` writable and, when the month is already known,
    hold its lock, so a second run of a month refuses in a second, not after its ingest.

    Raises
    ------
    OutputFolderError, ReportLockedError
        As :func:`staged_report`.
    """
    reports = check_writable(reports_dir)
    if not month:
        yield
        return
    with translated_output_errors(reports), month_lock(reports, month):
        yield


@contextlib.contextmanager
def month_lock(
    reports_dir: Path, month: str, *, wait: bool = False, again: bool = True
) -> Iterator[None]:
    """Hold ``month``'s lock for the block; refuse at once if another process holds it.

    The lock file keeps the holder's process id, host and start time, for the message of a
    run that is refused. It stays in the folder between runs: removing a lock file that
    another process has open would let a third run lock a new file beside it.

    A thread that holds the lock may take it again (``again``); any other thread or process
    waits (``wait``) or is refused.

    Raises
    ------
    ReportLockedError
        When another process holds the lock (and ``wait`` is False).
    """
    path = lock_path(reports_dir, month)
    held = (threading.get_ident(), str(path.absolute()), month)
    if again and held in _HELD:  # this thread holds it already
        _HELD[held] += 1
        try:
            yield
        finally:
            _HELD[held] -= 1
        return
    handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if not _try_lock(handle, wait=wait):
            raise ReportLockedError(
                f"{reports_dir / month}: another report run for {month} is writing it "
                f"({_holder(path)}); wait for it to finish (or stop it), then run again. "
                "Its lock is released the moment it ends."
            )
        os.ftruncate(handle, 0)
        started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
        os.write(handle, f"pid {os.getpid()} on {socket.gethostname()} since {started}\n".encode())
        _HELD[held] = 1
        try:
            yield
        finally:
            del _HELD[held]
            os.ftruncate(handle, 0)  # the next holder is not named after this one
    finally:
        os.close(handle)  # releases the lock


def _try_lock(handle: int, *, wait: bool) -> bool:
    """Lock the open file ``handle``; False when another process holds it."""
    if sys.platform == "win32":
        import msvcrt

        try:
            msvcrt.locking(handle, msvcrt.LK_LOCK if wait else msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
    except BlockingIOError:
        return False
    return True


def _holder(path: Path) -> str:
    """Who holds the lock at ``path``, as its holder wrote it."""
    try:
        written = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        written = ""
    return written or "another process, just starting"


def recover_month(reports_dir: Path, month: str) -> Path | None:
    """Finish or undo what a killed run of ``month`` left; the report folder, if any.

    Call with the month's lock held. When ``<month>/`` is missing and a whole report waits
    under a hidden name (a crash between the two renames of a swap), it is renamed in: the
    new report first, else the previous one. Every other leftover of the month is removed.
    """
    final = reports_dir / month
    leftovers = _leftovers(reports_dir, month)
    if not os.path.lexists(final):
        for state in (READY, REPLACED):
            whole = [p for p, s in leftovers if s == state]
            if whole:
                chosen = max(whole, key=_modified)
                chosen.rename(final)
                leftovers = [(p, s) for p, s in leftovers if p != chosen]
                break
    for path, _ in leftovers:
        _remove(path)
    return final if final.is_dir() else None


def swap_into_place(ready: Path, final: Path, *, token: str) -> None:
    """Put the whole report ``ready`` at ``final``, replacing the one there, and delete the
    old one.

    Exchanged in one step where the system can; else the old one is renamed aside first
    (see the module's notes for a crash between the two renames).
    """
    if not os.path.lexists(final):
        ready.rename(final)
    elif _exchange(ready, final):
        _remove(ready)  # ``ready`` now names the old report
    else:
        aside = ready.with_name(f".{final.name}.{REPLACED}-{token}")
        final.rename(aside)
        ready.rename(final)
        _remove(aside)
    _sync_folder(final.parent)


def _exchange(first: Path, second: Path) -> bool:
    """Swap two paths in one step; False where the system or file system cannot."""
    if sys.platform.startswith("linux"):
        function, flags = "renameat2", 2  # RENAME_EXCHANGE
    elif sys.platform == "darwin":
        function, flags = "renamex_np", 2  # RENAME_SWAP
    else:
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    call = getattr(libc, function, None)
    if call is None:  # glibc before 2.28
        return False
    paths = os.fsencode(first), os.fsencode(second)
    if function == "renameat2":
        at_cwd = -100  # AT_FDCWD: the paths are read as given
        done = call(at_cwd, paths[0], at_cwd, paths[1], ctypes.c_uint(flags))
    else:
        done = call(paths[0], paths[1], ctypes.c_uint(flags))
    if done == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False  # the kernel or the file system cannot exchange
    raise OSError(code, os.strerror(code), str(first), None, str(second))


def _leftovers(reports_dir: Path, month: str | None = None) -> list[tuple[Path, str]]:
    """Hidden folders of killed runs in ``reports_dir`` (of ``month``, or of every month),
    with their state."""
    found = []
    for path in reports_dir.glob(".*-*"):
        match = _LEFTOVER.match(path.name)
        if match and (month is None or match.group(1) == month) and path.is_dir():
            found.append((path, match.group(2)))
    return found


def _remove_unlocked_leftovers(reports_dir: Path, *, besides: str) -> None:
    """Recover the leftovers of other months whose lock is free (their runs were killed),
    so a month that is never built again does not keep gigabytes of a half-built report."""
    months = {_LEFTOVER.match(p.name).group(1) for p, _ in _leftovers(reports_dir)}  # type: ignore[union-attr]
    for month in sorted(months - {besides}):
        with (
            contextlib.suppress(ReportLockedError, OSError),
            month_lock(reports_dir, month, again=False),
        ):
            recover_month(reports_dir, month)


def _remove(path: Path) -> None:
    """Delete a hidden folder, renamed first so that a deletion cut short is never mistaken
    for a whole report."""
    if not os.path.lexists(path):
        return
    if path.is_symlink() or not path.is_dir():
        path.unlink(missing_ok=True)
        return
    match = _LEFTOVER.match(path.name)
    if match is None or match.group(2) != REMOVING:
        month = match.group(1) if match else path.name.lstrip(".")
        doomed = path.with_name(f".{month}.{REMOVING}-{uuid.uuid4().hex[:12]}")
        try:
            path.rename(doomed)
        except OSError:
            doomed = path
        path = doomed
    shutil.rmtree(path, ignore_errors=True)


def _modified(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _sync_folder(folder: Path) -> None:
    """Flush ``folder``'s entries (the renames) to the disk, where the system allows."""
    with contextlib.suppress(OSError, AttributeError):
        handle = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(handle)
        finally:
            os.close(handle)
