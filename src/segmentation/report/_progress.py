"""What ``segmentation report`` says while it runs: one plain line per stage with its seconds,
and every Python warning as one ``warning: <message>`` line, kept for the report too."""

from __future__ import annotations

import sys
import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any, TextIO

__all__ = ["Progress", "RunWarning", "capture_warnings", "section_of"]

#: A warning raised during a run: the report section it belongs to, and its message.
RunWarning = tuple[str, str]

# The report section a warning belongs to, by the kit module that raised it (first match
# wins; see section_of). Sections are the report notebooks' names without their number.
_SECTIONS: tuple[tuple[str, str], ...] = (
    ("segmentation.ingest", "data_quality"),
    ("segmentation.quality", "data_quality"),
    ("segmentation.datasets", "data_quality"),
    ("segmentation.privacy", "data_quality"),
    ("segmentation.clustering", "clustering"),
    ("segmentation.schemes.clusters", "clustering"),
    ("segmentation.clv", "clv"),
    ("segmentation.schemes.clv_tiers", "clv"),
    ("segmentation.schemes", "rule_schemes"),
    ("segmentation.features", "rule_schemes"),
    ("segmentation.association", "association_drivers"),
    ("segmentation.drivers", "association_drivers"),
)


def section_of(module: str, *, default: str) -> str:
    """The report section of a warning raised in the kit's ``module``; ``default`` for any
    other module (the comparison, or a library called from outside the kit's modules)."""
    for prefix, section in _SECTIONS:
        if module == prefix or module.startswith(f"{prefix}."):
            return section
    return default


def _raising_module(frame: FrameType | None) -> str:
    """The innermost kit module (report aside) on the stack of a warning being shown.

    A warning a library raises (scikit-learn, lifetimes, numpy) belongs where the kit called
    that library, which its own file name does not tell.
    """
    while frame is not None:
        module = str(frame.f_globals.get("__name__", ""))
        if module.startswith("segmentation.") and not module.startswith("segmentation.report"):
            return module
        frame = frame.f_back
    return ""


def one_line(message: object) -> str:
    """``message`` as one line: whitespace, line breaks included, collapsed."""
    return " ".join(str(message).split())


@contextmanager
def capture_warnings(
    *, default_section: str, on_warning: Callable[[str], None] | None = None
) -> Iterator[list[RunWarning]]:
    """Collect the warnings shown in the block as (section, message), each message once.

    Nothing is written to stderr: no source path, no code line. The filters are left as they
    are (what Python or the caller ignores stays ignored); ``on_warning`` gets each new
    message as it is raised, e.g. to print it.

    Yields
    ------
    list of (str, str)
        Filled as the block runs.
    """
    caught: list[RunWarning] = []
    seen: set[str] = set()

    def keep(message: Any, category: Any, *_: Any, **__: Any) -> None:
        text = one_line(message)
        if text in seen:
            return
        seen.add(text)
        caught.append(
            (section_of(_raising_module(sys._getframe(1)), default=default_section), text)
        )
        if on_warning is not None:
            on_warning(text)

    with warnings.catch_warnings():
        warnings.showwarning = keep
        yield caught


class Progress:
    """Plain progress lines on ``stream``: one per finished stage, one per warning.

    On a terminal the stages running are named on a last line that the next line
    overwrites; in a log (not a terminal) only whole lines are written, with no carriage
    return or escape code. ``stream`` None says nothing at all. Stages may finish from
    several threads (the notebooks run side by side).
    """

    def __init__(self, stream: TextIO | None) -> None:
        self._stream = stream
        self._live = bool(stream is not None and stream.isatty())
        self._lock = threading.Lock()
        self._running: list[str] = []
        self._status = 0  # width of the status line now on a terminal

    def start(self, stage: str) -> None:
        """``stage`` begins (named on the status line of a terminal)."""
        with self._lock:
            self._running.append(stage)
            self._emit(None)

    def done(self, stage: str, seconds: float, detail: str = "") -> None:
        """``stage`` took ``seconds``: one line with what it gave."""
        with self._lock:
            if stage in self._running:
                self._running.remove(stage)
            self._emit(f"{stage:<18} {seconds:7.1f} s" + (f"  {detail}" if detail else ""))

    def warning(self, message: str) -> None:
        """One line: ``warning: <message>``."""
        with self._lock:
            self._emit(f"warning: {one_line(message)}")

    def _emit(self, line: str | None) -> None:
        """Write ``line`` (if any); on a terminal, over the status line, then a new one."""
        if self._stream is None:
            return
        if not self._live:
            if line is not None:
                self._stream.write(line + "\n")
                self._stream.flush()
            return
        status = f"running: {', '.join(self._running)} …" if self._running else ""
        text = "\r" + " " * self._status + "\r"  # clear the old status line
        if line is not None:
            text += line + "\n"
        self._stream.write(text + status)
        self._stream.flush()
        self._status = len(status)
