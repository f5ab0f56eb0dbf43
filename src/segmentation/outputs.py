"""Writing outputs safely: a file is whole or absent, and a folder that cannot be written is
one clear line.

A file is written under a name of its own beside its target and renamed over it when whole
(``os.replace`` is atomic on one file system), so a reader sees the old file or the new one,
never a part. A run stopped midway leaves at most a hidden ``.<name>.<pid>-<token>.partial``
beside the target, which the next write of that file removes once its process is gone.

An ``OSError`` that says an output folder cannot be written (no space, a quota, a read-only
file system, no permission, a file where a folder should be) becomes an
:class:`~segmentation.errors.OutputFolderError` naming the folder and what to do; the command
line prints it on one line and exits with status 2.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

from segmentation.errors import OutputFolderError

__all__ = [
    "PARTIAL_SUFFIX",
    "atomic_file",
    "check_writable",
    "output_folder_error",
    "translated_output_errors",
]

#: The suffix of a file being written (see :func:`atomic_file`).
PARTIAL_SUFFIX = ".partial"

# Errors that mean "no room": they arise only when writing, whatever file they name.
_NO_SPACE = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
# Errors that mean "not writable here": an output's when they name a file in the folder.
_NOT_WRITABLE = {errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOTDIR, errno.EEXIST}


@contextlib.contextmanager
def atomic_file(path: str | Path) -> Iterator[Path]:
    """A temporary path beside ``path``; renamed onto ``path`` when the block ends normally.

    Parameters
    ----------
    path : str or Path
        The file to write. Its folder must exist.

    Yields
    ------
    Path
        Where to write: ``.<name>.<pid>-<token>.partial`` in the same folder. When the block
        raises (or is interrupted), the partial file is removed and ``path`` is untouched.

    Examples
    --------
    >>> with atomic_file(folder / "segments.csv") as partial:  # doctest: +SKIP
    ...     partial.write_text(text, encoding="utf-8")
    """
    target = Path(path)
    _remove_orphaned_partials(target)
    partial = target.with_name(f".{target.name}.{os.getpid()}-{uuid.uuid4().hex}{PARTIAL_SUFFIX}")
    try:
        yield partial
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def _remove_orphaned_partials(target: Path) -> None:
    """Remove partial files of ``target`` whose writing process no longer runs (a killed
    run's), leaving those of a writer still at work."""
    with contextlib.suppress(OSError):
        for leftover in target.parent.glob(f".{target.name}.*{PARTIAL_SUFFIX}"):
            writer = leftover.name.removeprefix(f".{target.name}.").split("-", 1)[0]
            if writer.isdigit() and not _process_runs(int(writer)):
                leftover.unlink(missing_ok=True)


def _process_runs(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except OSError:
        return True  # it exists, under another user
    return True


def check_writable(folder: str | Path) -> Path:
    """Create ``folder`` if needed and prove a file can be written in it (and removed).

    Run before any long work, so an unwritable ``--out`` fails in a second, not after the
    analysis. Tried by writing, not by permission bits: those do not stop root, and say
    nothing of a read-only or full file system.

    Returns
    -------
    Path
        ``folder``.

    Raises
    ------
    OutputFolderError
        Naming the folder, what was found and what to do.
    """
    folder = Path(folder)
    with translated_output_errors(folder):
        folder.mkdir(parents=True, exist_ok=True)
        handle, probe = _probe_file(folder)
        os.close(handle)
        os.unlink(probe)
    return folder


def _probe_file(folder: Path) -> tuple[int, str]:
    import tempfile

    return tempfile.mkstemp(dir=folder, prefix=".write-probe-")


@contextlib.contextmanager
def translated_output_errors(folder: str | Path) -> Iterator[None]:
    """Turn an ``OSError`` that says ``folder`` cannot be written into
    :class:`~segmentation.errors.OutputFolderError`; any other error passes unchanged."""
    try:
        yield
    except OSError as error:
        translated = output_folder_error(error, Path(folder))
        if translated is None:
            raise
        raise translated from error


def output_folder_error(error: OSError, folder: Path) -> OutputFolderError | None:
    """The :class:`~segmentation.errors.OutputFolderError` that ``error`` means for
    ``folder``, or None when it is not about writing there.

    Parameters
    ----------
    error : OSError
        What the operating system said.
    folder : Path
        The output folder being written.

    Returns
    -------
    OutputFolderError or None
    """
    code = error.errno
    named = Path(error.filename) if isinstance(error.filename, str | os.PathLike) else None
    if code in _NO_SPACE:
        what = "the disk is full" if code != errno.EDQUOT else "the disk quota is used up"
        if code == errno.EFBIG:
            what = "a file grew past the largest the file system allows"
        writing = f" while writing {named}" if named is not None else ""
        return OutputFolderError(
            f"{folder}: cannot write the output: {what}{writing} ({_free_space(folder)} free). "
            "Free some space there, or give another folder (--out) on a disk with room, and "
            "run again; the last complete output there is unchanged."
        )
    if code not in _NOT_WRITABLE or (named is not None and not _inside(named, folder)):
        return None
    where = named if named is not None else folder
    if code == errno.EROFS:
        advice = "the file system is read-only; give another folder (--out) you can write to"
    elif code in (errno.ENOTDIR, errno.EEXIST):
        advice = (
            f"{_file_in_the_way(where)} is a file where a folder is needed; move it away "
            "or give another folder (--out)"
        )
    else:
        advice = (
            f"no permission to write {where}; give another folder (--out) you can write "
            "to, or change the folder's permissions"
        )
    return OutputFolderError(
        f"{folder}: cannot write the output: {advice}; the last complete output there is unchanged."
    )


def _inside(path: Path, folder: Path) -> bool:
    """Whether ``path`` is ``folder``, in it, or one of the folders above it (an output
    folder's parents are created with it)."""
    try:
        path, folder = path.absolute(), folder.absolute()
    except OSError:
        return True
    return path == folder or folder in path.parents or path in folder.parents


def _file_in_the_way(path: Path) -> Path:
    """The nearest of ``path`` and its parents that exists and is not a folder."""
    for candidate in (path, *path.parents):
        if candidate.exists() and not candidate.is_dir():
            return candidate
    return path


def _free_space(folder: Path) -> str:
    """Free space on the disk holding ``folder`` (or its nearest existing parent), readable."""
    for candidate in (folder, *folder.absolute().parents):
        try:
            free = shutil.disk_usage(candidate).free
        except OSError:
            continue
        for unit, size in (("GB", 1 << 30), ("MB", 1 << 20)):
            if free >= size:
                return f"{free / size:,.1f} {unit}"
        return f"{free:,} bytes"
    return "unknown space"
