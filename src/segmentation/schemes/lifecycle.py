"""Lifecycle stages 潜在/流失/沉睡/新/活跃/忠诚 from recency against each customer's own gap.

The first rule that applies wins; sleeping and churned limits scale the customer's own
expected gap between purchases, clipped to the configured days.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from segmentation.errors import SegmentationInputError
from segmentation.schemes._rule_helpers import POTENTIAL, rule_segmentation
from segmentation.schemes.base import Segmentation, config_section, select_keys

__all__ = ["lifecycle"]

# Segment keys in category order (lowest value first). Names and actions live in the config.
_LIFECYCLE_KEYS = (POTENTIAL, "churned", "sleeping", "new", "active", "loyal")


def lifecycle(
    snapshot: pd.DataFrame,
    *,
    config: Mapping[str, Any],
    random_state: int = 0,
    previous: Segmentation | None = None,
) -> Segmentation:
    """Lifecycle stages 潜在/流失/沉睡/新/活跃/忠诚, the first rule that applies winning.

    1. potential (潜在): known but never bought.
    2. churned (流失): days since the last purchase beyond the churn limit.
    3. sleeping (沉睡): days since the last purchase beyond the sleep limit.
    4. new (新): first purchase within ``new_days`` of the as-of date.
    5. loyal (忠诚): at least ``loyal_min_orders`` purchases.
    6. active (活跃): everyone else.

    A limit is the customer's own expected gap between purchases times a factor, clipped to
    ``[min_days, max_days]``; the expected gap is the mean gap between purchase days,
    ``recency / frequency`` in lifetimes' terms. One-time buyers have no gap of their own and
    use ``max_days``. Defaults: sleeping beyond 3 gaps within [30, 180] days, churned beyond
    6 gaps within [90, 365] days.

    Parameters
    ----------
    snapshot : pandas.DataFrame
        The customer snapshot: ``recency_days``, ``recency``, ``frequency``, ``T``, ``n_orders``.
    config : mapping
        Sections ``lifecycle`` and ``playbook``.
    random_state, previous
        Unused, for the common scheme interface: the rules are deterministic.

    Returns
    -------
    Segmentation
        Ordered potential < churned < sleeping < new < active < loyal. ``details`` holds the
        rules (``new_days``, ``loyal_min_orders``, the ``sleeping`` and ``churned`` limits'
        ``gap_factor``, ``min_days`` and ``max_days``) and the per-customer
        ``sleep_limit_days`` and ``churn_limit_days``.
    """
    section = config_section(config, "lifecycle")
    sleeping = _limit_rule(section, "sleeping")
    churned = _limit_rule(section, "churned")
    if any(churned[p] < sleeping[p] for p in sleeping):
        raise SegmentationInputError(
            "config lifecycle: each churned parameter must be at least the sleeping one, so "
            f"churned lies beyond sleeping; found sleeping {sleeping!r}, churned {churned!r}."
        )
    potential = snapshot["is_potential"].to_numpy(dtype=bool)
    recency_days = snapshot["recency_days"].to_numpy(dtype=float)
    frequency = snapshot["frequency"].to_numpy(dtype=float)
    gap = np.full(len(snapshot), np.nan)
    repeat = frequency > 0
    gap[repeat] = snapshot["recency"].to_numpy(dtype=float)[repeat] / frequency[repeat]
    sleep_limit = _limit(gap, sleeping)
    churn_limit = _limit(gap, churned)
    new_days = float(section["new_days"])
    loyal_min_orders = float(section["loyal_min_orders"])
    keys = select_keys(
        [
            potential,
            recency_days > churn_limit,
            recency_days > sleep_limit,
            snapshot["T"].to_numpy(dtype=float) <= new_days,
            snapshot["n_orders"].to_numpy(dtype=float) >= loyal_min_orders,
        ],
        [POTENTIAL, "churned", "sleeping", "new", "loyal"],
        default="active",
    )
    return rule_segmentation(
        "lifecycle",
        section=section,
        config=config,
        snapshot=snapshot,
        keys=keys,
        segment_keys=_LIFECYCLE_KEYS,
        details={
            "new_days": new_days,
            "loyal_min_orders": loyal_min_orders,
            "sleeping": sleeping,
            "churned": churned,
            "sleep_limit_days": pd.Series(sleep_limit, index=snapshot.index),
            "churn_limit_days": pd.Series(churn_limit, index=snapshot.index),
        },
    )


def _limit_rule(section: Mapping[str, Any], name: str) -> dict[str, float]:
    """``gap_factor``, ``min_days`` and ``max_days`` of a lifecycle limit, checked."""
    rule: Any = section.get(name)
    try:
        values = {p: float(rule[p]) for p in ("gap_factor", "min_days", "max_days")}
    except (KeyError, TypeError, ValueError):
        values = {}
    if not values or min(values.values()) < 0 or values["min_days"] > values["max_days"]:
        raise SegmentationInputError(
            f"config lifecycle.{name}: expected non-negative numbers gap_factor, min_days and "
            f"max_days with min_days <= max_days, found {rule!r}."
        )
    return values


def _limit(gap: np.ndarray, rule: Mapping[str, float]) -> np.ndarray:
    """gap_factor x the own gap, clipped to [min_days, max_days]; max_days without a gap."""
    scaled = np.clip(gap * rule["gap_factor"], rule["min_days"], rule["max_days"])
    return np.where(np.isnan(gap), rule["max_days"], scaled)
