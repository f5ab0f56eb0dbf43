"""Read raw exports (CSV, text, XLSX, Parquet) into the canonical orders, customers and
interactions tables, with every row accounted for: kept, duplicate or quarantined."""

from __future__ import annotations

from segmentation.ingest._api import IngestResult, ingest, write_ingest
from segmentation.ingest._quarantine import QUARANTINE_COLUMNS
from segmentation.ingest._readers import expand_inputs
from segmentation.ingest._reasons import REASONS

__all__ = [
    "QUARANTINE_COLUMNS",
    "REASONS",
    "IngestResult",
    "expand_inputs",
    "ingest",
    "write_ingest",
]
