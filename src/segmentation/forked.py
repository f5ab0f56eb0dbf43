"""A call computed on the other core: a forked child process runs it while this process goes
on, and its result comes back pickled through a file.

Most of the month's analysis is pandas on one core; a forked child starts with this
process's tables already in memory (shared, copied only where written), so the work it is
handed needs no input sent to it. Where processes cannot be forked safely (not Linux) or the
config turns it off, the same call runs here when its result is asked for: the result is the
same either way.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import pickle
import shutil
import sys
import tempfile
import traceback
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, Generic, TypeVar

from segmentation.pickling import pickle_into

__all__ = ["ForkedCall", "can_fork"]

T = TypeVar("T")

_RESULT_FILE = "result.pkl"


def can_fork() -> bool:
    """Whether a call can be handed to a forked child: Linux only (macOS' system libraries
    are not safe in a forked child, and Windows has no fork), and not from a daemonic
    process (which multiprocessing allows no child)."""
    return (
        sys.platform.startswith("linux")
        and "fork" in multiprocessing.get_all_start_methods()
        and not multiprocessing.current_process().daemon
    )


class ForkedCall(Generic[T]):
    """``function(*args, **kwargs)``, computed in a forked child process from now on.

    Parameters
    ----------
    function : callable
        Returns plain data (it is pickled back); whatever it warns is warned again here.
    *args, **kwargs
        Passed as they are: the child is a copy of this process, nothing is pickled.
    fork : bool, default True
        False (or no :func:`can_fork`) computes the call here, in :meth:`result`.

    Examples
    --------
    >>> call = ForkedCall(sum, [1, 2, 3])
    >>> call.result()
    6
    """

    def __init__(
        self, function: Callable[..., T], /, *args: Any, fork: bool = True, **kwargs: Any
    ) -> None:
        self._call = (function, args, kwargs)
        self._folder: Path | None = None
        self._process: Any = None
        if fork and can_fork():
            self._folder = Path(tempfile.mkdtemp(prefix="segmentation-forked-"))
            context = multiprocessing.get_context("fork")
            self._process = context.Process(
                target=_child, args=(self._folder / _RESULT_FILE, self._call), daemon=True
            )
            self._process.start()

    @property
    def forked(self) -> bool:
        """Whether a child process computes the call."""
        return self._process is not None

    def result(self) -> T:
        """The call's result (waiting for the child): its exception raised again here, and
        its warnings warned again here."""
        if self._process is None:
            function, args, kwargs = self._call
            return function(*args, **kwargs)
        assert self._folder is not None  # set with the process
        try:
            self._process.join()
            path = self._folder / _RESULT_FILE
            if not path.is_file():
                raise RuntimeError(
                    f"the child process computing {_name(self._call[0])} ended (exit code "
                    f"{self._process.exitcode}) before giving its result: it may have run out "
                    "of memory; set runtime.fork_analysis to false in the config to compute "
                    "it in this process."
                )
            with path.open("rb") as handle:
                outcome, value, caught = pickle.load(handle)
        finally:
            self.cancel()
        for message, category in caught:
            warnings.warn(message, category, stacklevel=2)
        if outcome == "error":
            raise value
        result: T = value
        return result

    def cancel(self) -> None:
        """Stop the child (if it is still running) and remove its file."""
        if self._process is not None and self._process.is_alive():
            self._process.terminate()
            self._process.join()
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None


def _child(path: Path, call: tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]) -> None:
    """In the child: compute ``call`` and pickle (outcome, value, warnings) to ``path``."""
    function, args, kwargs = call
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")  # the parent's filters decide when warned again
        try:
            outcome: tuple[str, Any] = ("ok", function(*args, **kwargs))
        except BaseException as error:  # handed to the parent, which raises it
            outcome = ("error", _picklable(error))
    warned = [(str(item.message), item.category) for item in caught]
    partial = path.with_suffix(".partial")
    with partial.open("wb") as handle:
        pickle_into(handle, (*outcome, warned))
    os.replace(partial, path)


def _picklable(error: BaseException) -> BaseException:
    """``error`` itself when it pickles, else a RuntimeError with its type, message and
    traceback."""
    with contextlib.suppress(Exception):
        pickle.loads(pickle.dumps(error))
        return error
    text = "".join(traceback.format_exception(error))
    return RuntimeError(f"in the child process: {type(error).__name__}: {error}\n{text}")


def _name(function: Callable[..., Any]) -> str:
    return getattr(function, "__qualname__", repr(function))
