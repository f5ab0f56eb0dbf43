"""The month's analysis on disk in parts, each read back the first time it is used.

At a million customers the pickled :class:`~segmentation.analysis.MonthAnalysis` is about
1.1 GB, nearly all of it the three scheme runs, the backtest's outcomes and the segment
history; a notebook that shows the cohort table needs none of them. The file holds each
large field as a pickle of its own, then everything small with a table of where each part
begins, so a notebook reads only the parts it touches.

Layout: the magic line, each part's pickle, the head (the small fields and the table of
parts), and the head's offset as 8 little-endian bytes at the very end.
"""

from __future__ import annotations

import dataclasses
import functools
import pickle
import threading
import weakref
from collections.abc import Mapping
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from segmentation.errors import SegmentationInputError
from segmentation.outputs import atomic_file
from segmentation.pickling import pickle_into

if TYPE_CHECKING:
    from segmentation.analysis import MonthAnalysis

__all__ = ["ANALYSIS_PARTS", "dump_analysis", "load_analysis"]

_MAGIC = b"segmentation analysis in parts 1\n"
_OFFSET_BYTES = 8

#: The analysis' large fields, grouped into the parts read back on first use. ``snapshot`` is
#: ``current.snapshot`` itself, so the two share a part and are written once.
ANALYSIS_PARTS: Mapping[str, tuple[str, ...]] = {
    "current": ("snapshot", "current"),
    "previous": ("previous", "previous_positions"),
    "calibration": ("calibration",),
    "outcomes": ("outcomes",),
    "history": ("history",),
    "clv_backtest": ("clv_backtest",),
}


def dump_analysis(analysis: MonthAnalysis, path: Path) -> None:
    """Write ``analysis`` to ``path`` in parts (:data:`ANALYSIS_PARTS`), written aside and
    renamed into place, so a reader never sees half a file."""
    values = {item.name: getattr(analysis, item.name) for item in dataclasses.fields(analysis)}
    in_parts = {name for fields in ANALYSIS_PARTS.values() for name in fields}
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(path) as partial, partial.open("xb") as handle:
        handle.write(_MAGIC)
        offsets = {}
        for part, fields in ANALYSIS_PARTS.items():
            offsets[part] = handle.tell()
            pickle_into(handle, {name: values[name] for name in fields})
        head_offset = handle.tell()
        small = {name: value for name, value in values.items() if name not in in_parts}
        pickle_into(handle, {"fields": small, "parts": offsets, "names": dict(ANALYSIS_PARTS)})
        handle.write(head_offset.to_bytes(_OFFSET_BYTES, "little"))


def load_analysis(path: Path) -> MonthAnalysis:
    """The analysis :func:`dump_analysis` wrote to ``path``, its parts read on first use.

    The file stays open until every part is read (or the analysis is let go), so a cache
    entry renamed over it meanwhile never mixes two analyses.

    Raises
    ------
    SegmentationInputError
        When ``path`` is not such a file (e.g. a report an older kit wrote).
    """
    # Not a with-block: the file stays open for the parts read later (closed by the reader).
    handle = Path(path).open("rb")  # noqa: SIM115
    if handle.read(len(_MAGIC)) != _MAGIC:
        handle.close()
        raise SegmentationInputError(
            f"{path}: not an analysis this version of the kit wrote (a report an older "
            "version built?); build the report again with `segmentation report`, or open "
            "the notebook without prepared_dir to analyse its inputs afresh."
        )
    try:
        handle.seek(-_OFFSET_BYTES, 2)
        handle.seek(int.from_bytes(handle.read(_OFFSET_BYTES), "little"))
        head = pickle.load(handle)
    except BaseException:
        handle.close()
        raise
    analysis: MonthAnalysis = object.__new__(_partly_read_class())
    analysis.__dict__.update(head["fields"])
    reader = _PartsReader(handle, head["parts"], head["names"])
    analysis.__dict__[_READER] = reader
    weakref.finalize(analysis, reader.close)
    return analysis


_READER = "_parts_reader"


class _PartsReader:
    """The open file of a :func:`load_analysis` analysis and which parts are still unread."""

    def __init__(
        self, handle: IO[bytes], offsets: Mapping[str, int], names: Mapping[str, tuple[str, ...]]
    ) -> None:
        self._handle: IO[bytes] | None = handle
        self._offsets = dict(offsets)
        self._part_of = {name: part for part, fields in names.items() for name in fields}
        self._lock = threading.Lock()

    def read_part_of(self, name: str) -> dict[str, Any]:
        """The fields of the part holding ``name``, read from the file (once)."""
        with self._lock:
            part = self._part_of[name]
            offset = self._offsets.pop(part)
            assert self._handle is not None, "every part was read, so none can be missing"
            self._handle.seek(offset)
            fields: dict[str, Any] = pickle.load(self._handle)
            if not self._offsets:
                self.close()
            return fields

    def close(self) -> None:
        """Close the file (again: no-op)."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None


class _PartField:
    """A field of the analysis :func:`load_analysis` returns: read with its part when first
    asked for."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __get__(self, analysis: Any, owner: type | None = None) -> Any:
        if analysis is None:
            return self
        state = analysis.__dict__
        if self._name not in state:
            state.update(state[_READER].read_part_of(self._name))
        return state[self._name]

    def __set__(self, analysis: Any, value: Any) -> None:
        # Reached only from ``__init__`` (``dataclasses.replace``): the dataclass is frozen.
        analysis.__dict__[self._name] = value


@functools.cache
def _partly_read_class() -> type:
    """A :class:`~segmentation.analysis.MonthAnalysis` whose large fields are read from the
    file when first used (made on first use: the report package imports no analysis code)."""
    from segmentation.analysis import MonthAnalysis

    descriptors = {name: _PartField(name) for fields in ANALYSIS_PARTS.values() for name in fields}

    def __reduce__(self: Any) -> tuple[Any, tuple[Any, ...]]:
        # Pickled whole, as the plain dataclass: every part read first.
        values = {item.name: getattr(self, item.name) for item in dataclasses.fields(self)}
        return _whole_analysis, (values,)

    return type(
        "PartlyReadAnalysis",
        (MonthAnalysis,),
        {**descriptors, "__reduce__": __reduce__, "__module__": __name__},
    )


def _whole_analysis(values: dict[str, Any]) -> MonthAnalysis:
    from segmentation.analysis import MonthAnalysis

    return MonthAnalysis(**values)
