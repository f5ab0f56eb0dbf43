"""Customer features as of a date: netted purchases, lifetimes' repeat-purchase counts and
the customer snapshot (one row per customer) that every scheme reads.
"""

from __future__ import annotations

from segmentation.features._attributes import (
    ATTRIBUTE_COLUMNS,
    INTERACTION_COLUMNS,
    PRODUCT_COLUMNS,
)
from segmentation.features._kernels import as_text
from segmentation.features._netting import REFUND_TOLERANCE
from segmentation.features._purchases import (
    as_of_cutoff,
    order_purchases,
    purchase_days,
    repeat_purchase_summary,
)
from segmentation.features._snapshot import SNAPSHOT_COLUMNS, customer_snapshot

__all__ = [
    "ATTRIBUTE_COLUMNS",
    "INTERACTION_COLUMNS",
    "PRODUCT_COLUMNS",
    "REFUND_TOLERANCE",
    "SNAPSHOT_COLUMNS",
    "as_of_cutoff",
    "as_text",
    "customer_snapshot",
    "order_purchases",
    "purchase_days",
    "repeat_purchase_summary",
]
