"""The package's public face (``import segmentation as seg``): read an export, look at its
customers on a day, segment them, compare the schemes, write the CRM files, build the report.

Each step is one call with keyword options and the config's defaults, over the kit's own
steps (ingest, features, schemes, analysis, export, report); its result shows itself in
Jupyter in the chosen language and converts to what analysts pass on. The top-level package
imports this only when one of its names is first used.
"""

from segmentation._api._comparison import Comparison, build_report, compare
from segmentation._api._export import ExportData, read_export, take_snapshot
from segmentation._api._segments import Segments, export_crm, segment

__all__ = [
    "Comparison",
    "ExportData",
    "Segments",
    "build_report",
    "compare",
    "export_crm",
    "read_export",
    "segment",
    "take_snapshot",
]
