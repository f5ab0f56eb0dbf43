"""Value tiers (Pareto share of revenue), member grades, purchase-frequency and interaction tiers.

Each tier is a threshold on one measure per customer; potential customers are their own
lowest tier, except in the member grades (regular) and the interaction tiers (tiered too).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from segmentation.errors import SchemeUnavailable, SegmentationInputError
from segmentation.schemes._rule_helpers import POTENTIAL, numeric_column, rule_segmentation
from segmentation.schemes.base import Segmentation, config_section, select_keys

__all__ = ["frequency_tier", "interaction_tier", "member_grade", "value_tier"]

# Segment keys in category order (lowest value first). Names and actions live in the config.
_VALUE_TIER_KEYS = (POTENTIAL, "low", "mid", "high")
_MEMBER_GRADE_KEYS = ("regular", "silver", "gold", "diamond")
_FREQUENCY_TIER_KEYS = (POTENTIAL, "low", "mid", "high")
_INTERACTION_TIER_KEYS = ("low", "mid", "high")

_DAYS_PER_MONTH = 365.25 / 12
# Cumulative revenue shares are sums of floats: a share this close below a boundary has
# reached it.
_SHARE_TOLERANCE = 1e-9


def value_tier(
    snapshot: pd.DataFrame,
    *,
    config: Mapping[str, Any],
    random_state: int = 0,
    previous: Segmentation | None = None,
) -> Segmentation:
    """高/中/低价值 by cumulative share of revenue (Pareto), plus potential.

    Buyers are ranked by ``monetary_total``, highest first. A buyer is high value when the
    buyers ranked above them hold less than the first share of revenue (default 80%), so the
    buyer who crosses the line is still high; mid value when they hold less than the first
    two shares (95%); low otherwise. Buyers with equal spend share one rank, the best of the
    group, so ties are never split and more spend never means a lower tier. Revenue is the
    positive net spend; buyers whose refunds leave nothing are low. Customers who never
    bought are ``potential`` (潜在（未购买）), below low.

    Parameters
    ----------
    snapshot : pandas.DataFrame
        The customer snapshot: ``monetary_total`` ranks the buyers.
    config : mapping
        Sections ``value_tier`` (``cumulative_shares``: high, mid, low, summing to 1) and
        ``playbook``.
    random_state, previous
        Unused, for the common scheme interface: the rules are deterministic.

    Returns
    -------
    Segmentation
        ``details["min_spend"]`` holds the lowest spend in the high and mid tiers.
    """
    section = config_section(config, "value_tier")
    shares = [float(s) for s in section.get("cumulative_shares", ())]
    if len(shares) != 3 or min(shares) < 0 or abs(sum(shares) - 1.0) > 1e-6:
        raise SegmentationInputError(
            "config value_tier.cumulative_shares: expected three non-negative shares of "
            f"revenue (high, mid, low) summing to 1, found {shares}; e.g. [0.8, 0.15, 0.05]."
        )
    buyers = ~snapshot["is_potential"].to_numpy(dtype=bool)
    spend = np.where(buyers, snapshot["monetary_total"].to_numpy(dtype=float), 0.0)
    share_above = np.ones(len(snapshot))  # potential customers are chosen first
    share_above[buyers] = _revenue_share_above(spend[buyers])
    keys = select_keys(
        [
            ~buyers,
            share_above < shares[0] - _SHARE_TOLERANCE,
            share_above < shares[0] + shares[1] - _SHARE_TOLERANCE,
        ],
        [POTENTIAL, "high", "mid"],
        default="low",
    )
    codes = np.asarray(keys.codes)
    min_spend = {}
    for t in ("high", "mid"):
        chosen = codes == keys.categories.get_loc(t)
        min_spend[t] = float(spend[chosen].min()) if chosen.any() else float("nan")
    return rule_segmentation(
        "value_tier",
        section=section,
        config=config,
        snapshot=snapshot,
        keys=keys,
        segment_keys=_VALUE_TIER_KEYS,
        details={"cumulative_shares": shares, "min_spend": min_spend},
    )


def _revenue_share_above(spend: np.ndarray) -> np.ndarray:
    """For each buyer, the share of revenue held by buyers who spent strictly more."""
    revenue = np.clip(spend, 0.0, None)
    total = revenue.sum()
    if len(spend) == 0 or total <= 0:
        return np.ones(len(spend))
    # Group equal spends so a tie group shares the rank of its best member.
    values, group = np.unique(spend, return_inverse=True)
    group_revenue = np.bincount(group, weights=revenue, minlength=len(values))
    above = total - np.cumsum(group_revenue)  # revenue of the strictly higher groups
    return np.clip(above[group] / total, 0.0, 1.0)


def member_grade(
    snapshot: pd.DataFrame,
    *,
    config: Mapping[str, Any],
    random_state: int = 0,
    previous: Segmentation | None = None,
) -> Segmentation:
    """Member grades 普通/白银/黄金/钻石 by spend thresholds.

    A customer's grade is the highest whose minimum spend (config
    ``member_grade.thresholds``) their net spend reaches; below silver, and customers who
    never bought, are regular (普通会员), as a shop's membership starts everyone there.

    Parameters
    ----------
    snapshot : pandas.DataFrame
        The customer snapshot.
    config : mapping
        Sections ``member_grade`` (``spend_column``; ``thresholds`` with ``silver``,
        ``gold`` and ``diamond``, increasing) and ``playbook``.
    random_state, previous
        Unused, for the common scheme interface: the rules are deterministic.

    Returns
    -------
    Segmentation
    """
    section = config_section(config, "member_grade")
    thresholds = _increasing(
        section.get("thresholds"), "member_grade.thresholds", ("silver", "gold", "diamond")
    )
    spend = numeric_column(
        snapshot, section.get("spend_column", "monetary_total"), scheme="member_grade"
    )
    spend = np.where(snapshot["is_potential"].to_numpy(dtype=bool), 0.0, spend)
    keys = _threshold_tier(spend, thresholds, default="regular")
    return rule_segmentation(
        "member_grade",
        section=section,
        config=config,
        snapshot=snapshot,
        keys=keys,
        segment_keys=_MEMBER_GRADE_KEYS,
        details={"thresholds": thresholds},
    )


def frequency_tier(
    snapshot: pd.DataFrame,
    *,
    config: Mapping[str, Any],
    random_state: int = 0,
    previous: Segmentation | None = None,
) -> Segmentation:
    """Purchase-frequency tiers 高频/中频/低频, plus potential.

    With ``basis: n_orders`` (the default) a buyer's measure is their number of purchases up
    to the as-of date; with ``orders_per_month`` it is purchases per 30.44 days of tenure,
    tenure counted as at least ``min_tenure_days``. The measure reaching the ``high``
    threshold is high frequency, reaching ``mid`` mid, else low. Customers who never bought
    are ``potential``.

    Parameters
    ----------
    snapshot : pandas.DataFrame
        The customer snapshot: ``n_orders``, and ``tenure_days`` per month.
    config : mapping
        Sections ``frequency_tier`` and ``playbook``.
    random_state, previous
        Unused, for the common scheme interface: the rules are deterministic.

    Returns
    -------
    Segmentation
    """
    section = config_section(config, "frequency_tier")
    basis = section.get("basis", "n_orders")
    all_thresholds = section.get("thresholds") or {}
    if basis not in ("n_orders", "orders_per_month") or basis not in all_thresholds:
        raise SegmentationInputError(
            f"config frequency_tier.basis: expected 'n_orders' or 'orders_per_month' with "
            f"thresholds for it, found basis {basis!r} and thresholds for "
            f"{sorted(all_thresholds)}."
        )
    thresholds = _increasing(
        all_thresholds[basis], f"frequency_tier.thresholds.{basis}", ("mid", "high")
    )
    orders = snapshot["n_orders"].to_numpy(dtype=float)
    if basis == "n_orders":
        measure = orders
    else:
        tenure = np.fmax(
            snapshot["tenure_days"].to_numpy(dtype=float), float(section.get("min_tenure_days", 0))
        )
        measure = orders / np.maximum(tenure, 1.0) * _DAYS_PER_MONTH
    keys = _threshold_tier(
        measure, thresholds, default="low", potential=snapshot["is_potential"].to_numpy(dtype=bool)
    )
    return rule_segmentation(
        "frequency_tier",
        section=section,
        config=config,
        snapshot=snapshot,
        keys=keys,
        segment_keys=_FREQUENCY_TIER_KEYS,
        details={"basis": basis, "thresholds": thresholds},
    )


def interaction_tier(
    snapshot: pd.DataFrame,
    *,
    config: Mapping[str, Any],
    random_state: int = 0,
    previous: Segmentation | None = None,
) -> Segmentation:
    """Interaction tiers 高/中/低互动 from the interactions in the last 30 or 90 days.

    Every known customer is tiered, potential customers included (a contact who chats but
    has not bought is exactly who this scheme is for).

    Parameters
    ----------
    snapshot : pandas.DataFrame
        The customer snapshot, built with an interaction log.
    config : mapping
        Sections ``interaction_tier`` (``window_days`` 30 or 90; ``thresholds`` ``mid`` and
        ``high``, at least this many interactions) and ``playbook``.
    random_state, previous
        Unused, for the common scheme interface: the rules are deterministic.

    Returns
    -------
    Segmentation

    Raises
    ------
    SchemeUnavailable
        When the snapshot has no interaction counts (no interaction log was given).
    """
    section = config_section(config, "interaction_tier")
    window = int(section.get("window_days", 90))
    column = f"interactions_{window}d"
    if window not in (30, 90):
        raise SegmentationInputError(
            f"config interaction_tier.window_days: expected 30 or 90, found {window}."
        )
    if column not in snapshot.columns:
        raise SchemeUnavailable(
            "interaction_tier",
            f"no interaction log: the snapshot has no {column} column. Pass the interactions "
            "table (互动记录: customer id, time, kind) to customer_snapshot to use this scheme.",
        )
    thresholds = _increasing(
        section.get("thresholds"), "interaction_tier.thresholds", ("mid", "high")
    )
    count = snapshot[column].to_numpy(dtype=float)
    keys = _threshold_tier(count, thresholds, default="low")
    return rule_segmentation(
        "interaction_tier",
        section=section,
        config=config,
        snapshot=snapshot,
        keys=keys,
        segment_keys=_INTERACTION_TIER_KEYS,
        details={"window_days": window, "thresholds": thresholds},
    )


def _increasing(thresholds: Any, where: str, names: Sequence[str]) -> dict[str, float]:
    """The thresholds ``names`` as floats, checked not to decrease in that order."""
    try:
        values = {name: float(thresholds[name]) for name in names}
    except (KeyError, TypeError, ValueError) as error:
        raise SegmentationInputError(
            f"config {where}: expected numeric thresholds {list(names)}, found {thresholds!r}."
        ) from error
    ordered = [values[n] for n in names]
    if any(b < a for a, b in itertools.pairwise(ordered)):
        raise SegmentationInputError(
            f"config {where}: thresholds must not decrease ({', '.join(names)}), found {values}."
        )
    return values


def _threshold_tier(
    measure: np.ndarray,
    thresholds: Mapping[str, float],
    *,
    default: str,
    potential: np.ndarray | None = None,
) -> pd.Categorical:
    """The highest tier whose threshold ``measure`` reaches (``thresholds`` lowest first);
    ``potential`` customers, when given, are potential whatever their measure."""
    tiers = list(thresholds)[::-1]
    conditions = [measure >= thresholds[tier] for tier in tiers]
    if potential is not None:
        conditions, tiers = [potential, *conditions], [POTENTIAL, *tiers]
    return select_keys(conditions, tiers, default=default)
