"""The monthly report: build_report (ingest, analyse, run the notebooks, index.html, manifest),
the loaders of a notebook opened on its own, and what the notebooks show (``sections``)."""

from segmentation.report._analysis import cached_analysis, load_month_analysis
from segmentation.report._build import ReportResult, build_report
from segmentation.report._data import MonthData, last_complete_month, load_month_data, month_end
from segmentation.report._html import combine_notebooks
from segmentation.report._notebooks import NOTEBOOKS
from segmentation.report._parameters import RunParameters

__all__ = [
    "NOTEBOOKS",
    "MonthData",
    "ReportResult",
    "RunParameters",
    "build_report",
    "cached_analysis",
    "combine_notebooks",
    "last_complete_month",
    "load_month_analysis",
    "load_month_data",
    "month_end",
]
