"""Customer segmentation research kit: from an order export to segments, in a few calls.

>>> import segmentation as seg
>>> export = seg.read_export("data/demo")     # doctest: +SKIP
>>> segments = seg.segment(export)            # doctest: +SKIP
>>> segments.export_crm("crm/")               # doctest: +SKIP

The public face, in the order of the data's flow:

- :func:`read_export`: an export file or folder into the canonical tables (:class:`ExportData`)
- :func:`take_snapshot`: one row per customer as of a day
- :func:`segment`: every scheme's labels on that day (:class:`Segments`)
- :func:`compare`: the schemes scored on held-out months and ranked (:class:`Comparison`)
- :func:`export_crm`: segments.csv, segments.xlsx and wecom_tags.csv for a CRM
- :func:`build_report`: the month's HTML report

Data flows one way, one subpackage per step (``from segmentation.ingest import ingest``)::

    datasets / ingest -> features -> schemes (rules, clustering, clv) -> compare -> report

Importing the package does nothing but define these names: each is imported on first use.
"""

from __future__ import annotations

import importlib

# typing.TYPE_CHECKING without importing typing, which would double the import's time.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from segmentation._api import (
        Comparison,
        ExportData,
        Segments,
        build_report,
        compare,
        export_crm,
        read_export,
        segment,
        take_snapshot,
    )

__all__ = [
    "Comparison",
    "ExportData",
    "Segments",
    "__version__",
    "build_report",
    "compare",
    "export_crm",
    "read_export",
    "segment",
    "take_snapshot",
]

__version__ = "0.1.0"

# Imported on first use: the steps behind them pull in pandas, scikit-learn and lifetimes,
# and `segmentation --version` or a subpackage's import should not wait for that.
_LAZY = frozenset(__all__) - {"__version__"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module("segmentation._api"), name)
        globals()[name] = value  # found once; later lookups never reach __getattr__
        return value
    raise AttributeError(f"module 'segmentation' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
