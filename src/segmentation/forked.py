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
import pickle
import shutil
import signal
import sys
import tempfile
import traceback
import types
import warnings
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any, Generic, TypeVar

from segmentation.outputs import atomic_file
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
        Returns plain data (it is pickled back); whatever it warns is warned again here,
        from the kit module that warned.
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
        for message, category, module in caught:
            _warn_from(module, message, category)
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
    _die_with_the_parent()
    function, args, kwargs = call
    warned: list[tuple[str, type[Warning], str]] = []

    def keep(message: Any, category: type[Warning], *_: Any, **__: Any) -> None:
        warned.append((str(message), category, _kit_module(sys._getframe(1))))

    # The filters are the parent's as they were at the fork: the same warnings pass them.
    with warnings.catch_warnings():
        warnings.showwarning = keep
        try:
            outcome: tuple[str, Any] = ("ok", function(*args, **kwargs))
        except BaseException as error:  # handed to the parent, which raises it
            outcome = ("error", _picklable(error))
    with atomic_file(path) as partial, partial.open("xb") as handle:
        pickle_into(handle, (*outcome, warned))


def _die_with_the_parent() -> None:
    """The child ends at once when the parent stops it or is killed.

    The fork inherits the parent's handlers, which turn SIGTERM, SIGHUP and SIGINT into an
    exception (:mod:`segmentation.interrupts`): in the child that exception could land
    inside a thread pool's wait, and ``cancel``'s terminate then waited on it for good (a
    report stopped at a random moment hung past 300 s in the tests). A parent killed with
    SIGKILL has no chance to stop its children: Linux's parent-death signal does it.
    """
    for name in ("SIGTERM", "SIGHUP", "SIGINT"):
        with contextlib.suppress(AttributeError, ValueError, OSError):
            signal.signal(getattr(signal, name), signal.SIG_DFL)
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, int(signal.SIGKILL))


def _kit_module(frame: FrameType | None) -> str:
    """The innermost kit module (this one aside) on the stack of a warning being shown."""
    while frame is not None:
        module = str(frame.f_globals.get("__name__", ""))
        if module.startswith("segmentation.") and module != __name__:
            return module
        frame = frame.f_back
    return ""


def _warn_from(module: str, message: str, category: type[Warning]) -> None:
    """Warn ``message`` again from a frame of ``module``, the kit module that warned in the
    child: whoever sorts warnings by the module that raised them (the report's sections)
    sees the same module as when the call runs here."""
    namespace = sys.modules.get(module)
    if namespace is None:
        warnings.warn(message, category, stacklevel=3)
        return
    warn = types.FunctionType(_warn_here.__code__, vars(namespace), "_warn_from")
    warn(message, category)


def _warn_here(message: str, category: type[Warning]) -> None:
    # Run with another module's globals by _warn_from: only builtins may be named here.
    __import__("warnings").warn(message, category, stacklevel=1)


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
