"""Where things live: the project's root folder, found upwards from the working directory,
and the data/ and reports/ folders the kit reads and writes.

The root is the nearest folder at or above the start that passes a test: the report wants the
kit's own checkout (a ``pyproject.toml`` beside ``notebooks/``), the PII key any project marker
(see :func:`segmentation.privacy.find_project_dir`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

__all__ = [
    "DATA_DIR",
    "REPORTS_DIR",
    "data_dir",
    "find_root",
    "interim_dir",
    "is_kit_checkout",
    "project_root",
    "source_checkout",
]

#: Inputs the kit generates (the demo export) and its caches, under the project root.
DATA_DIR = "data"
#: Where ``segmentation report`` writes ``<YYYY-MM>/`` by default, under the working directory.
REPORTS_DIR = Path("reports")


def find_root(start: str | Path | None = None, *, is_root: Callable[[Path], bool]) -> Path:
    """The nearest folder at or above ``start`` for which ``is_root`` holds.

    Parameters
    ----------
    start : str or Path, optional
        Where to begin; the current working directory when omitted.
    is_root : callable
        Tells whether a folder is the root looked for.

    Returns
    -------
    Path
        That folder, resolved; ``start`` itself (resolved) when no folder passes.
    """
    here = Path(start) if start is not None else Path.cwd()
    here = here.resolve()
    for folder in (here, *here.parents):
        if is_root(folder):
            return folder
    return here


def is_kit_checkout(folder: Path) -> bool:
    """Whether ``folder`` holds a ``pyproject.toml`` and the report's ``notebooks/``."""
    return (folder / "pyproject.toml").is_file() and (folder / "notebooks").is_dir()


def project_root(start: str | Path | None = None) -> Path:
    """The nearest folder at or above ``start`` (default: the working directory) holding a
    ``pyproject.toml`` and ``notebooks/``; the working directory when there is none."""
    return find_root(start, is_root=is_kit_checkout)


def source_checkout() -> Path:
    """The folder this package's source tree sits in (``src/segmentation`` two levels down):
    the checkout itself under ``pip install -e .``."""
    return Path(__file__).resolve().parents[2]


def data_dir(root: Path) -> Path:
    """The project's ``data/`` folder."""
    return root / DATA_DIR


def interim_dir(root: Path) -> Path:
    """Caches a notebook opened on its own keeps between runs (``data/interim/``)."""
    return data_dir(root) / "interim"
