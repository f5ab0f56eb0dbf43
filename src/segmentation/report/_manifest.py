"""manifest.json: what a report was built from and with (parameters, inputs with their
sha256, package versions, git commit) and how long each stage took."""

from __future__ import annotations

import json
import platform
import subprocess
from collections.abc import Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from segmentation import __version__

__all__ = ["write_manifest"]

MANIFEST_PACKAGES = (
    "pandas",
    "numpy",
    "scipy",
    "scikit-learn",
    "lifetimes",
    "matplotlib",
    "seaborn",
    "pyarrow",
    "papermill",
    "nbconvert",
)
# The quality numbers the manifest repeats, when ingest reported them.
_QUALITY_KEYS = (
    "rows_in",
    "rows_kept",
    "rows_duplicate",
    "rows_quarantined",
    "guests",
    "customers",
    "date_min",
    "date_max",
)


def write_manifest(
    out_dir: Path,
    *,
    month: str,
    as_of: pd.Timestamp,
    source: str,
    parameters: Mapping[str, Any],
    quality: Mapping[str, Any],
    executed: Sequence[Path],
    root: Path,
    timings: Mapping[str, float],
    exports: Mapping[str, Any],
) -> dict[str, Any]:
    """Write ``out_dir/manifest.json`` and return what it holds.

    Parameters
    ----------
    out_dir : Path
        The report's folder; every file in it is listed under ``outputs``.
    month, as_of, source
        The report month, its last day and the label of its data.
    parameters : mapping
        The options the report was built with.
    quality : mapping
        Ingest's quality summary (its files are listed with their sha256).
    executed : sequence of Path
        The executed notebooks, in report order.
    root : Path
        The project folder: input paths inside it are written relative to it.
    timings : mapping of str to float
        Seconds per stage.
    exports : mapping
        The CRM export's files with their rows, the ids written and the scheme behind the
        recommended action (:meth:`segmentation.export.CrmExport.manifest_entry`).

    Returns
    -------
    dict
    """
    manifest = {
        "kit": {"name": "segmentation", "version": __version__},
        "month": month,
        "as_of": f"{as_of:%Y-%m-%d}",
        "source": source,
        "parameters": dict(parameters),
        "inputs": _input_files(quality, root),
        "quality": {key: quality[key] for key in _QUALITY_KEYS if key in quality},
        "notebooks": [f"notebooks/{p.name}" for p in executed],
        # Written before the manifest itself, so it and index.html are added by name.
        "outputs": sorted(
            {str(p.relative_to(out_dir)) for p in out_dir.rglob("*") if p.is_file()}
            | {"manifest.json", "index.html"}
        ),
        "exports": dict(exports),
        "packages": {name: _version(name) for name in MANIFEST_PACKAGES},
        "python": platform.python_version(),
        "git_commit": _git_commit(root),
        "timings_seconds": {k: round(v, 3) for k, v in timings.items()},
    }
    (out_dir / "manifest.json").write_text(
        json.dumps(manifest, ensure_ascii=False, indent=2, default=str) + "\n", encoding="utf-8"
    )
    return manifest


def _input_files(quality: Mapping[str, Any], root: Path) -> list[dict[str, Any]]:
    """The files ingest read, with their sha256, paths relative to the project when inside."""
    out = []
    for entry in quality.get("files", []):
        path = Path(entry["path"])
        try:
            shown = str(path.resolve().relative_to(root))
        except ValueError:
            shown = str(path)
        out.append(
            {
                "path": shown,
                "bytes": entry.get("bytes"),
                "sha256": entry["sha256"],
                "table": entry.get("table"),
            }
        )
    return out


def _git_commit(root: Path) -> str | None:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=False
        )
    except OSError:
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None
