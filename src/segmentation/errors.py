"""The one family of exceptions a user's input can cause.

Every message names the file, the column or row, what was found and what to do. The CLI
prints ``str(error)`` on one line and exits with status 2, with no traceback.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "AsOfOutsideDataError",
    "CLVFitError",
    "CLVInputError",
    "CLVUnavailableError",
    "DataUnavailableError",
    "EmptyInputError",
    "EngineUnavailableError",
    "InvalidOptionError",
    "MappingError",
    "MissingColumnError",
    "MissingSettingError",
    "NoUsableRowsError",
    "OutputFolderError",
    "ReportLockedError",
    "RunInterrupted",
    "SchemeUnavailable",
    "SegmentationInputError",
    "UnknownLayoutError",
    "UnreadableFileError",
]


class SegmentationInputError(ValueError):
    """Base class: the input (a file, a mapping, a parameter) cannot be used as given."""


class MissingColumnError(SegmentationInputError):
    """A required column is not in the file, under any known name."""


class EmptyInputError(SegmentationInputError):
    """A file is empty, holds only a header, or a folder holds no readable files."""


class UnreadableFileError(SegmentationInputError):
    """A file exists but cannot be parsed in any supported format or encoding."""


class NoUsableRowsError(SegmentationInputError):
    """Every row was quarantined or dropped, so nothing is left to analyse."""


class MappingError(SegmentationInputError):
    """A user's column mapping is malformed or names a column the file does not have."""


class UnknownLayoutError(SegmentationInputError):
    """A file's header matches no known layout: it is not recognisably orders, customers or
    interactions, so ingest cannot tell which table it belongs to."""


class EngineUnavailableError(SegmentationInputError):
    """An engine asked for (Spark) cannot be started here: its package or a Java runtime is
    missing. The message says what to install."""


class InvalidOptionError(SegmentationInputError):
    """An option given by the user (a date, a threshold) cannot be used as given."""


class AsOfOutsideDataError(InvalidOptionError):
    """An as-of day (or report month) outside the days the orders cover: before the first
    order every customer would look like a prospect, after the last one every customer would
    look lapsed."""


class OutputFolderError(SegmentationInputError):
    """An output folder cannot be written: no space left, read-only, no permission, or a file
    where a folder should be. The message names the folder and what to do; whatever was
    written before stays as the last complete run left it."""


class ReportLockedError(SegmentationInputError):
    """Another run is writing the same month's report: the second refuses rather than
    interleave with it. The message names the month and the other process."""


class RunInterrupted(BaseException):
    """A termination signal (SIGTERM, SIGHUP, SIGINT) stopped a command.

    A ``BaseException``, like ``KeyboardInterrupt``, so that no ``except Exception`` on the
    way (a model fit that reports a failure as "unavailable") swallows it: it unwinds to the
    command line, and every ``finally`` on the way (kernels shut down, partial folders
    removed) runs.

    Attributes
    ----------
    signum : int
        The signal's number.
    """

    def __init__(self, signum: int) -> None:
        import signal

        self.signum = signum
        self.name = signal.Signals(signum).name
        super().__init__(f"stopped by {self.name}")


class DataUnavailableError(SegmentationInputError):
    """The data cannot support a computation (e.g. no interaction log, too few repeat buyers).

    Raised by schemes and models that refuse to make numbers up; the report shows the
    message instead of the result.
    """


class CLVInputError(SegmentationInputError):
    """An option or a customer table given to the CLV functions cannot be used as given."""


class CLVUnavailableError(DataUnavailableError):
    """The data cannot support a CLV model (no repeat buyers, too few of them, no spend).

    The report shows the message instead of CLV; nothing is made up.
    """


class CLVFitError(DataUnavailableError):
    """A model did not converge with any penalizer, found no dropout (BG/NBD, MBG/NBD), or its
    predictions are not finite.

    A :class:`DataUnavailableError`: no setting the user can change makes these parameters
    estimable from this data, so the report shows the message and leaves CLV out, exactly as
    for too few repeat buyers.

    Attributes
    ----------
    model : str
        ``"bgnbd"``, ``"pareto"``, ``"mbgnbd"`` or ``"gamma_gamma"``.
    attempts : tuple of segmentation.clv.FitAttempt
        Every penalizer tried, in order, and why it failed.
    """

    def __init__(self, message: str, *, model: str, attempts: Sequence[object] = ()) -> None:
        super().__init__(message)
        self.model = model
        self.attempts = tuple(attempts)


class SchemeUnavailable(DataUnavailableError):
    """The data cannot support this scheme (no interaction log, no product data, ...).

    The report shows the message in place of the scheme and leaves it out of the comparison.
    """

    def __init__(self, scheme: str, reason: str) -> None:
        super().__init__(f"{scheme}: unavailable: {reason}")
        self.scheme = scheme
        self.reason = reason


class MissingSettingError(KeyError):
    """The code read a config key that the YAML defaults do not have.

    A bug in the kit, not a user's mistake: every default lives in the YAML files of
    ``segmentation/config/``, and a user's override only changes what they already hold.
    """

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path

    def __str__(self) -> str:
        return (
            f"config key {self.path!r} is read by the code but has no default in the YAML "
            "files of segmentation/config/; add it there."
        )
