"""Termination signals as an exception, so a stopped command cleans up after itself.

By default SIGTERM (``kill``, a scheduler's timeout) and SIGHUP (a closed terminal) end
Python at once: no ``finally`` runs, so notebook kernels are orphaned and a half-built folder
stays. Inside :func:`signals_raise`, they (and Ctrl-C's SIGINT) raise
:class:`~segmentation.errors.RunInterrupted` instead, which unwinds like
``KeyboardInterrupt``. A few steps must not be cut in two (swapping a finished report into
place); inside :func:`deferred_interruption` a signal waits for the step's end.

Only the command line installs the handlers: a library never changes a process's signals.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import threading
from collections.abc import Iterator
from types import FrameType

from segmentation.errors import RunInterrupted

__all__ = [
    "HANDLED_SIGNALS",
    "deferred_interruption",
    "interrupting_signal",
    "quiet_abandoned_event_loops",
    "signals_raise",
]

#: The signals :func:`signals_raise` turns into :class:`~segmentation.errors.RunInterrupted`.
HANDLED_SIGNALS: tuple[str, ...] = ("SIGTERM", "SIGHUP", "SIGINT")


class _State:
    """What the handler needs: how deep in deferred steps the main thread is, and the
    signal that arrived meanwhile; and the signal that was raised, if one was."""

    depth = 0
    pending: int | None = None
    raised: int | None = None


@contextlib.contextmanager
def signals_raise() -> Iterator[None]:
    """Within the block, SIGTERM, SIGHUP and SIGINT raise
    :class:`~segmentation.errors.RunInterrupted` in the main thread.

    The first signal raises; the handlers before the block are back from then on, so a
    second signal ends the process as it would have (a cleanup that hangs can still be
    stopped). Outside the main thread (where Python cannot set handlers) nothing changes.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    numbers = [getattr(signal, name) for name in HANDLED_SIGNALS if hasattr(signal, name)]
    previous = {number: signal.getsignal(number) for number in numbers}

    def restore() -> None:
        for number, handler in previous.items():
            signal.signal(number, handler)

    def handle(signum: int, _frame: FrameType | None) -> None:
        if _State.depth:
            _State.pending = _State.pending or signum
            return
        restore()
        _State.raised = signum
        raise RunInterrupted(signum)

    for number in numbers:
        signal.signal(number, handle)
    _State.raised = None
    try:
        yield
    finally:
        restore()
        _State.pending = None


@contextlib.contextmanager
def deferred_interruption() -> Iterator[None]:
    """A step a signal must not cut in two: one arriving meanwhile is raised at its end.

    Only signals that :func:`signals_raise` handles wait; without it, the process's own
    handlers act as ever.
    """
    _State.depth += 1
    try:
        yield
    finally:
        _State.depth -= 1
    if not _State.depth and _State.pending is not None:
        signum, _State.pending = _State.pending, None
        signal.raise_signal(signum)  # through the handler: raises RunInterrupted


def interrupting_signal(error: BaseException) -> int | None:
    """The signal that stopped the run behind ``error``, or None if none did.

    A library may catch the :class:`~segmentation.errors.RunInterrupted` a signal raised
    inside it and raise its own error instead: numpy turns any exception met while it reads
    a buffer's format into ``ValueError: ... is not a valid PEP 3118 buffer format string``
    (a report stopped inside scikit-learn's gradient boosting failed so in CI). Such an
    error is the stop, not a fault: found in the error's chain of causes and contexts, or,
    where the library dropped the chain, known from the signal the handler of
    :func:`signals_raise` raised last.

    Parameters
    ----------
    error : BaseException
        What reached the command line.

    Returns
    -------
    int or None
        The signal's number (SIGINT for ``KeyboardInterrupt``).
    """
    seen: set[int] = set()
    link: BaseException | None = error
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        if isinstance(link, RunInterrupted):
            return link.signum
        if isinstance(link, KeyboardInterrupt):
            return int(signal.SIGINT)
        link = link.__cause__ or link.__context__
    return _State.raised


def quiet_abandoned_event_loops() -> None:
    """After a stop, do not print the finaliser errors of event loops left behind.

    A stopped report abandons its notebook threads, each with the event loop its kernel
    client ran; when Python exits, the garbage collector may close a loop's self-pipe before
    the loop, whose ``__del__`` then prints "Exception ignored ... Invalid file descriptor:
    -1" and a traceback below the one-line stop message. Nothing is lost by then (the
    outputs are whole and the kernels stopped), so exactly those are silenced; every other
    unraisable error still reaches the hook that was installed before.
    """
    previous = sys.unraisablehook

    def hook(unraisable: sys.UnraisableHookArgs) -> None:
        if isinstance(unraisable.object, asyncio.AbstractEventLoop) or (
            getattr(unraisable.object, "__qualname__", "").startswith("BaseEventLoop.")
        ):
            return
        previous(unraisable)

    sys.unraisablehook = hook
