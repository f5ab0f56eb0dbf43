"""The former home of the scheme comparison, kept for callers of its old import path.

Scores, agreement, ranking and the recommendation live in :mod:`segmentation.evaluate`; the
month's analysis, computed once, in :mod:`segmentation.analysis`.
"""

from __future__ import annotations

from segmentation.analysis import MonthAnalysis, analyse_month

__all__ = ["MonthAnalysis", "analyse_month"]
