"""The month's tables and analysis on disk: a report's ``data/`` folder, pickled once for every
notebook to read back, and the cache a notebook opened on its own reuses between runs."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pickle
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from segmentation import __version__
from segmentation.outputs import atomic_file
from segmentation.pickling import pickle_into

__all__ = [
    "ANALYSIS_FILE",
    "TABLES_FILE",
    "cache_folder",
    "dump_pickle",
    "file_digest",
    "is_prepared",
    "kit_digest",
    "link_into",
    "load_pickle",
    "read_prepared",
    "read_prepared_meta",
    "touch",
    "trim_cache",
    "write_prepared",
]

#: The month's :class:`~segmentation.analysis.MonthAnalysis`, in a report's ``data/``.
ANALYSIS_FILE = "analysis.pkl"
# The month's canonical tables, as ingest gave them, for the notebooks to read back. A pickle
# keeps the dictionary-encoded ids as they are: Parquet holds a million order ids as plain
# text and reading it back hashes them all again (7 s against 0.2 s at a million customers).
TABLES_FILE = "tables.pkl"
_META_FILE = "prepared.json"


def dump_pickle(value: Any, path: Path) -> None:
    """Pickle ``value`` to ``path``, written aside and renamed into place."""
    # The standard pickle at protocol 5: every object of the analysis is plain data (the CLV
    # fits keep no lambdas), and it is several times faster than dill at a million
    # customers. Written to a file of its own and renamed, so an interrupted run, or two
    # notebooks filling the same cache at once, never leave a half-written file behind.
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(path) as partial, partial.open("xb") as handle:
        pickle_into(handle, value)


def load_pickle(path: Path) -> Any:
    """What :func:`dump_pickle` wrote to ``path``."""
    with path.open("rb") as handle:
        return pickle.load(handle)


def write_prepared(
    folder: Path,
    tables: Mapping[str, pd.DataFrame | None] | None,
    meta: Mapping[str, Any],
) -> None:
    """Write the month's tables (pickled) and their description (JSON) into ``folder``.

    ``tables`` None keeps the tables file already there (a link, see :func:`link_into`). The
    description is written last, so a folder with one holds its tables whole
    (:func:`is_prepared`).
    """
    folder.mkdir(parents=True, exist_ok=True)
    if tables is not None:
        dump_pickle(dict(tables), folder / TABLES_FILE)
    text = json.dumps(meta, ensure_ascii=False, indent=2, default=str)
    with atomic_file(folder / _META_FILE) as partial:
        partial.write_text(text, encoding="utf-8")


def is_prepared(folder: Path) -> bool:
    """Whether ``folder`` holds what :func:`write_prepared` writes, whole."""
    return (folder / _META_FILE).is_file() and (folder / TABLES_FILE).is_file()


def read_prepared(folder: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The tables and the description :func:`write_prepared` wrote into ``folder``."""
    return load_pickle(folder / TABLES_FILE), read_prepared_meta(folder)


def read_prepared_meta(folder: Path) -> dict[str, Any]:
    """The description :func:`write_prepared` wrote into ``folder``, without the tables."""
    meta: dict[str, Any] = json.loads((folder / _META_FILE).read_text(encoding="utf-8"))
    return meta


def cache_folder(settings: Mapping[str, Any], root: Path) -> Path | None:
    """The folder of the notebooks' cache (config ``report.cache_dir``, relative to the
    project ``root``), or None when the config turns the cache off with ""."""
    value = str(settings["report"]["cache_dir"] or "")
    return (root / value) if value else None


def file_digest(paths: Iterable[Path], *extra: str | bytes) -> str:
    """SHA-256 of each file's resolved path and bytes, in order, then ``extra``: 16 hex digits.

    The bytes themselves, not sizes and times, so a copy or a touched file is the same input
    and one changed byte is another.
    """
    digest = hashlib.sha256()
    for path in paths:
        digest.update(f"{Path(path).resolve()}\0".encode())
        with Path(path).open("rb") as handle:
            digest.update(hashlib.file_digest(handle, "sha256").digest())
    for item in extra:
        digest.update(item if isinstance(item, bytes) else item.encode())
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def kit_digest() -> str:
    """SHA-256 of the kit's version, code and default config, so an edited scheme never reads
    a cache an older one wrote (about 6 ms for the 100 files)."""
    package = Path(__file__).resolve().parents[1]
    sources = sorted([*package.rglob("*.py"), *package.rglob("*.yaml")])
    return file_digest(sources, __version__)


def link_into(source: Path, target: Path) -> bool:
    """Hard-link ``source`` as ``target`` (replacing it); False where the file system cannot.

    A report's tables and analysis enter the cache this way at no cost in space or time; a
    later rewrite of either file replaces it, so the other name keeps the old content whole.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with atomic_file(target) as partial:
            os.link(source, partial)
    except OSError:
        return False  # atomic_file removed what it linked
    return True


def touch(path: Path) -> None:
    """Mark a cache entry as just used, so :func:`trim_cache` keeps it longest."""
    # A read-only cache still serves; it is only trimmed in another order.
    with contextlib.suppress(OSError):
        os.utime(path)


def trim_cache(folder: Path, pattern: str, *, keep: int) -> None:
    """Remove all but the ``keep`` most recently used entries matching ``pattern``."""
    entries = sorted(folder.glob(pattern), key=_last_used, reverse=True)
    for entry in entries[keep:]:
        if entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


def _last_used(entry: Path) -> float:
    # An entry another process removes meanwhile counts as the oldest.
    try:
        return entry.stat().st_mtime
    except OSError:
        return 0.0
