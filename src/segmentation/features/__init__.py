"""Customer features as of a date: netted purchases, lifetimes' repeat-purchase counts, the
customer snapshot (one row per customer) that every scheme reads, the cohorts by
first-purchase month and the customer states
(buyer, potential, fully refunded) every count of buyers uses.
"""

from __future__ import annotations

from segmentation.features._attributes import (
    ATTRIBUTE_COLUMNS,
    INTERACTION_COLUMNS,
    PRODUCT_COLUMNS,
)
from segmentation.features._cohorts import CohortMatrix, cohort_matrix
from segmentation.features._kernels import as_text
from segmentation.features._netting import REFUND_TOLERANCE
from segmentation.features._purchases import (
    as_of_cutoff,
    as_of_day,
    matched_cancellations,
    order_purchases,
    purchase_days,
    repeat_purchase_summary,
)
from segmentation.features._snapshot import SNAPSHOT_COLUMNS, customer_snapshot
from segmentation.features._span import check_within_data, data_days
from segmentation.features._states import (
    BUYER,
    CUSTOMER_STATES,
    FULLY_REFUNDED,
    POTENTIAL,
    buyer_mask,
    customer_states,
    state_counts,
    state_name,
    states_line,
)

__all__ = [
    "ATTRIBUTE_COLUMNS",
    "BUYER",
    "CUSTOMER_STATES",
    "FULLY_REFUNDED",
    "INTERACTION_COLUMNS",
    "POTENTIAL",
    "PRODUCT_COLUMNS",
    "REFUND_TOLERANCE",
    "SNAPSHOT_COLUMNS",
    "CohortMatrix",
    "as_of_cutoff",
    "as_of_day",
    "as_text",
    "buyer_mask",
    "check_within_data",
    "cohort_matrix",
    "customer_snapshot",
    "customer_states",
    "data_days",
    "matched_cancellations",
    "order_purchases",
    "purchase_days",
    "repeat_purchase_summary",
    "state_counts",
    "state_name",
    "states_line",
]
