"""Needs 基本/高端/个性化 from price level and category breadth.

A proxy from what customers buy (unit price against the category median, number of
categories), available when the orders carry unit price and category.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from segmentation.errors import SchemeUnavailable
from segmentation.schemes._rule_helpers import rule_segmentation
from segmentation.schemes.base import Segmentation, config_section, select_keys

__all__ = ["needs"]

# Segment keys in category order (lowest value first). Names and actions live in the config.
_NEEDS_KEYS = ("no_products", "basic", "premium", "personalised")


def needs(
    snapshot: pd.DataFrame,
    *,
    config: Mapping[str, Any],
    random_state: int = 0,
    previous: Segmentation | None = None,
) -> Segmentation:
    """Needs 基本/高端/个性化 from price level and category breadth.

    A proxy from what people buy, not what they say: premium (高端需求) when the mean unit
    price of their lines is at least ``premium_min_price_ratio`` times the category median;
    otherwise personalised (个性化需求) when they bought in at least
    ``personalised_min_categories`` categories; otherwise basic (基本需求). Customers
    without a priced, categorised sale line (potential customers among them) are
    ``no_products``. Unordered.

    Parameters
    ----------
    snapshot : pandas.DataFrame
        The customer snapshot, built from orders with ``unit_price`` and ``category``.
    config : mapping
        Sections ``needs`` and ``playbook``.
    random_state, previous
        Unused, for the common scheme interface: the rules are deterministic.

    Returns
    -------
    Segmentation
        ``details`` holds the two thresholds.

    Raises
    ------
    SchemeUnavailable
        When the snapshot has no product features (the orders have no unit price or
        category).
    """
    section = config_section(config, "needs")
    missing = [c for c in ("avg_unit_price_ratio", "category_breadth") if c not in snapshot]
    if missing:
        raise SchemeUnavailable(
            "needs",
            f"no product data: the snapshot has no {' or '.join(missing)}. Map the orders' "
            "unit price (单价) and category (品类) columns to use this scheme.",
        )
    premium_ratio = float(section["premium_min_price_ratio"])
    personalised_categories = float(section["personalised_min_categories"])
    ratio = snapshot["avg_unit_price_ratio"].to_numpy(dtype=float)
    breadth = snapshot["category_breadth"].to_numpy(dtype=float)
    no_products = np.isnan(ratio) | snapshot["is_potential"].to_numpy(dtype=bool)
    keys = select_keys(
        [
            no_products,
            ratio >= premium_ratio,
            breadth >= personalised_categories,
        ],
        ["no_products", "premium", "personalised"],
        default="basic",
    )
    return rule_segmentation(
        "needs",
        section=section,
        config=config,
        snapshot=snapshot,
        keys=keys,
        segment_keys=_NEEDS_KEYS,
        ordered=False,
        details={
            "premium_min_price_ratio": premium_ratio,
            "personalised_min_categories": personalised_categories,
        },
    )
