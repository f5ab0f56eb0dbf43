"""The report's ``data/`` folder: the month's tables and analysis, pickled once for every
notebook to read back."""

from __future__ import annotations

import json
import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = [
    "ANALYSIS_FILE",
    "dump_pickle",
    "load_pickle",
    "read_prepared",
    "write_prepared",
]

#: The month's :class:`~segmentation.analysis.MonthAnalysis`, in a report's ``data/``.
ANALYSIS_FILE = "analysis.pkl"
# The month's canonical tables, as ingest gave them, for the notebooks to read back. A pickle
# keeps the dictionary-encoded ids as they are: Parquet holds a million order ids as plain
# text and reading it back hashes them all again (7 s against 0.2 s at a million customers).
_TABLES_FILE = "tables.pkl"
_META_FILE = "prepared.json"


def dump_pickle(value: Any, path: Path) -> None:
    """Pickle ``value`` to ``path``, written aside and renamed into place."""
    # The standard pickle at protocol 5: every object of the analysis is plain data (the CLV
    # fits keep no lambdas), and it is several times faster than dill at a million
    # customers. Written aside and renamed, so an interrupted run never leaves a
    # half-written cache behind.
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    with partial.open("wb") as handle:
        _SharedIndexPickler(handle, protocol=5).dump(value)
    partial.replace(path)


def load_pickle(path: Path) -> Any:
    """What :func:`dump_pickle` wrote to ``path``."""
    with path.open("rb") as handle:
        return pickle.load(handle)


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


def write_prepared(
    folder: Path, tables: Mapping[str, pd.DataFrame | None], meta: Mapping[str, Any]
) -> None:
    """Write the month's tables (pickled) and their description (JSON) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    dump_pickle(dict(tables), folder / _TABLES_FILE)
    (folder / _META_FILE).write_text(
        json.dumps(meta, ensure_ascii=False, indent=2, default=str), encoding="utf-8"
    )


def read_prepared(folder: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The tables and the description :func:`write_prepared` wrote into ``folder``."""
    meta = json.loads((folder / _META_FILE).read_text(encoding="utf-8"))
    return load_pickle(folder / _TABLES_FILE), meta
