"""Segmentation schemes: one interface (:class:`Segmentation`), one registry.

``registry()`` imports the scheme modules when first called, never at import time, and
returns every scheme by name, in report order.
"""

from __future__ import annotations

from segmentation.schemes.base import (
    PROFILE_COLUMNS,
    Scheme,
    SchemeUnavailable,
    Segment,
    Segmentation,
    make_segmentation,
    segment_profile,
)

__all__ = [
    "PROFILE_COLUMNS",
    "Scheme",
    "SchemeUnavailable",
    "Segment",
    "Segmentation",
    "make_segmentation",
    "segment_profile",
]
