"""The rule-based schemes private-domain (私域) teams run by hand, computed from one snapshot.

Every scheme here is a function ``scheme(snapshot, *, config, random_state=0, previous=None)``
from the customer snapshot (:func:`segmentation.features.customer_snapshot`) to a
:class:`~segmentation.schemes.base.Segmentation`. Thresholds, titles and segment names come
from the ``rules.yaml`` sections of the config, actions from ``playbook.yaml``
(:func:`segmentation.config.load_config`). The rules are deterministic: ``random_state`` is
accepted for the common interface and unused, and so is ``previous`` (rule labels need no
alignment with an earlier run).

Each scheme gives every customer exactly one label, potential customers who never bought
included: they get their own lowest segment ("potential", 潜在) in the purchase-based
schemes, the lowest grade (普通会员) in the member grades, and are tiered by their
interactions like everyone else in the interaction tiers. Labels depend only on a customer's
own values and on order-free statistics of the whole snapshot (quantiles, means, spend
ranks with ties kept together), so they never depend on the snapshot's row order.

:data:`RULE_SCHEMES` lists the schemes in report order; :func:`attribute_cut` crosses any
scheme with a customer attribute (region, city tier, channel, industry, tags).
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from segmentation.errors import DataUnavailableError, SchemeUnavailable, SegmentationInputError
from segmentation.schemes.base import (
    Scheme,
    Segmentation,
    config_section,
    config_segments,
    make_segmentation,
)

__all__ = [
    "ATTRIBUTE_NAMES",
    "RULE_SCHEMES",
    "AttributeCut",
    "attribute_cut",
    "frequency_tier",
    "interaction_tier",
    "lifecycle",
    "member_grade",
    "needs",
    "rfm_8class",
    "rfm_named",
    "rfm_scores",
    "value_tier",
]

POTENTIAL = "potential"

# Segment keys in category order (lowest value first). Names and actions live in the config.
_RFM_NAMED_KEYS = (
    POTENTIAL,
    "lost",
    "hibernating",
    "about_to_sleep",
    "at_risk",
    "cant_lose",
    "need_attention",
    "promising",
    "new",
    "potential_loyalist",
    "loyal",
    "champions",
)
_RFM_8CLASS_KEYS = (
    POTENTIAL,
    "general_retain",
    "general_keep",
    "general_develop",
    "general_value",
    "important_retain",
    "important_keep",
    "important_develop",
    "important_value",
)
_VALUE_TIER_KEYS = (POTENTIAL, "low", "mid", "high")
_MEMBER_GRADE_KEYS = ("regular", "silver", "gold", "diamond")
_FREQUENCY_TIER_KEYS = (POTENTIAL, "low", "mid", "high")
_INTERACTION_TIER_KEYS = ("low", "mid", "high")
_LIFECYCLE_KEYS = (POTENTIAL, "churned", "sleeping", "new", "active", "loyal")
_NEEDS_KEYS = ("no_products", "basic", "premium", "personalised")

_QUINTILES = (0.2, 0.4, 0.6, 0.8)
_DAYS_PER_MONTH = 365.25 / 12
# Cumulative revenue shares are sums of floats: a share this close below a boundary has
# reached it.
_SHARE_TOLERANCE = 1e-9


# --- RFM ------------------------------------------------------------------------------------


def rfm_scores(snapshot: pd.DataFrame, *, config: Mapping[str, Any]) -> pd.DataFrame:
    """Quintile scores 1-5 for recency, frequency and monetary value, and the RFM code.

    Scores are computed over the customers who bought. The four quintile edges of each
    measure are ``numpy.quantile`` at 20/40/60/80%, and a customer's score is one plus the
    number of edges strictly below their value (recency is negated first, so the most recent
    customers score 5). Equal values always get equal scores, whatever the row order. When
    ties make edges coincide (many one-time buyers), some scores cannot occur; the others
    keep their meaning ("score s is above s-1 of the quintile edges") and a warning names
    the scores that occur.

    Parameters
    ----------
    snapshot : pandas.DataFrame
        The customer snapshot.
    config : mapping
        The merged config; uses section ``rfm`` (``recency_column``, ``frequency_column``,
        ``monetary_column``).

    Returns
    -------
    pandas.DataFrame
        Indexed like ``snapshot``: ``R``, ``F``, ``M`` and ``FM`` (``(F + M) / 2`` rounded
        half up) as nullable integers, and ``RFM``, the three scores as text (``"545"``).
        All are missing for potential customers.

    Warns
    -----
    UserWarning
        When a measure's ties leave fewer than five possible scores.
    """
    section = config_section(config, "rfm")
    buyers = ~snapshot["is_potential"].to_numpy(dtype=bool)
    measures = {
        "R": -_column(snapshot, section["recency_column"], scheme="rfm"),
        "F": _column(snapshot, section["frequency_column"], scheme="rfm"),
        "M": _column(snapshot, section["monetary_column"], scheme="rfm"),
    }
    scores = pd.DataFrame(index=snapshot.index)
    for letter, values in measures.items():
        score = np.zeros(len(snapshot), dtype=np.int64)
        score[buyers] = _quintile_scores(values[buyers], label=letter)
        scores[letter] = pd.Series(score, index=snapshot.index, dtype="Int64").mask(~buyers)
    scores["FM"] = (scores["F"] + scores["M"] + 1) // 2
    text = {letter: scores[letter].astype("string") for letter in "RFM"}
    scores["RFM"] = text["R"] + text["F"] + text["M"]
    return scores


def _quintile_scores(values: np.ndarray, *, label: str) -> np.ndarray:
    """1 + the number of quintile edges strictly below each value; warns when ties bite."""
    if len(values) == 0:
        return np.zeros(0, dtype=np.int64)
    edges = np.quantile(values, _QUINTILES)
    scores = 1 + np.searchsorted(edges, values, side="left")
    # Just above each distinct edge the score jumps to 1 + the edges at or below it.
    possible = sorted({1, *(int(k) + 1 for k in np.searchsorted(edges, edges, side="right"))})
    if len(possible) < 5:
        warnings.warn(
            f"rfm: {label} has too many tied values among {len(values):,} buyers to make five "
            f"quintiles (edges {np.round(edges, 2).tolist()}); only scores {possible} can "
            f"occur. Ties are kept together, so each score still means 'above that many "
            f"quintile edges'.",
            UserWarning,
            stacklevel=3,
        )
    return scores.astype(np.int64)


def rfm_named(
    snapshot: pd.DataFrame,
    *,
    config: Mapping[str, Any],
    random_state: int = 0,
    previous: Segmentation | None = None,
) -> Segmentation:
    """The 11 named RFM segments (Champions ... Lost) from R and FM scores, plus potential.

    The segment of a buyer is a cell of a 5 x 5 grid indexed by R score and FM score
    (config ``rfm_named.grid``), the common RFM segment map as data rather than code.
    Customers who never bought are ``potential`` (潜在（未购买）). The segments are not
    ordered by value (Can't lose and New are not comparable), so ``ordered`` is False.

    Parameters
    ----------
    snapshot : pandas.DataFrame
        The customer snapshot.
    config : mapping
        Sections ``rfm``, ``rfm_named`` and ``playbook``.
    random_state : int, default 0
        Unused; the rules are deterministic.
    previous : Segmentation, optional
        Unused; rule labels need no alignment.

    Returns
    -------
    Segmentation
    """
    section = config_section(config, "rfm_named")
    scores = rfm_scores(snapshot, config=config)
    grid = _rfm_grid(section.get("grid"))
    buyers = ~snapshot["is_potential"].to_numpy(dtype=bool)
    r = scores["R"].fillna(0).to_numpy(dtype=np.int64)
    fm = scores["FM"].fillna(0).to_numpy(dtype=np.int64)
    keys = np.where(buyers, grid[r, fm], POTENTIAL)
    return make_segmentation(
        scheme="rfm_named",
        title=_title(section, "rfm_named"),
        snapshot=snapshot,
        keys=keys,
        segments=config_segments(config, "rfm_named", _RFM_NAMED_KEYS),
        ordered=False,
        details={"scores": scores},
    )


def _rfm_grid(grid: Any) -> np.ndarray:
    """The config grid as a 6 x 6 lookup array indexed by [R, FM] (row and column 0 unused)."""
    lookup = np.full((6, 6), POTENTIAL, dtype=object)
    if not isinstance(grid, Mapping) or sorted(int(r) for r in grid) != [1, 2, 3, 4, 5]:
        raise SegmentationInputError(
            "config rfm_named.grid: expected rows for R scores 1 to 5, each a list of five "
            f"segment keys (FM 1..5), found {grid!r}; fix the override or remove it."
        )
    for r, row in grid.items():
        if not isinstance(row, Sequence) or len(row) != 5:
            raise SegmentationInputError(
                f"config rfm_named.grid[{r}]: expected five segment keys (FM 1..5), found {row!r}."
            )
        unknown = sorted(set(row) - set(_RFM_NAMED_KEYS[1:]))
        if unknown:
            raise SegmentationInputError(
                f"config rfm_named.grid[{r}]: unknown segments {unknown}; use one of "
                f"{list(_RFM_NAMED_KEYS[1:])}."
            )
        lookup[int(r), 1:] = list(row)
    return lookup


def rfm_8class(
    snapshot: pd.DataFrame,
    *,
    config: Mapping[str, Any],
    random_state: int = 0,
    previous: Segmentation | None = None,
) -> Segmentation:
    """The Chinese eight-class RFM scheme (重要价值客户 ... 一般挽留客户), plus potential.

    Each buyer's recency, frequency and monetary value (the ``rfm`` columns) is compared
    with the buyers' mean or median (config ``rfm_8class.center``): R is high (H) when the
    days since the last purchase are fewer than the centre, F and M when strictly more. The
    three letters pick the class from ``rfm_8class.classes`` (``HHH`` is 重要价值客户,
    ``LLH`` 重要挽留客户). Customers who never bought are ``potential``. Unordered.

    Parameters
    ----------
    snapshot : pandas.DataFrame
        The customer snapshot.
    config : mapping
        Sections ``rfm``, ``rfm_8class`` and ``playbook``.
    random_state : int, default 0
        Unused; the rules are deterministic.
    previous : Segmentation, optional
        Unused.

    Returns
    -------
    Segmentation
        ``details["centers"]`` holds the centre of each measure.
    """
    section = config_section(config, "rfm_8class")
    measures = config_section(config, "rfm")
    center = section.get("center", "mean")
    if center not in ("mean", "median"):
        raise SegmentationInputError(
            f"config rfm_8class.center: expected 'mean' or 'median', found {center!r}."
        )
    classes = dict(section.get("classes") or {})
    codes = [r + f + m for r in "LH" for f in "LH" for m in "LH"]  # index = 4R + 2F + M
    if set(classes) != set(codes) or not set(classes.values()) <= set(_RFM_8CLASS_KEYS[1:]):
        raise SegmentationInputError(
            "config rfm_8class.classes: expected the eight codes HHH..LLL, each mapped to one "
            f"of {list(_RFM_8CLASS_KEYS[1:])}; found {classes!r}."
        )
    buyers = ~snapshot["is_potential"].to_numpy(dtype=bool)
    values = {
        "R": _column(snapshot, measures["recency_column"], scheme="rfm_8class"),
        "F": _column(snapshot, measures["frequency_column"], scheme="rfm_8class"),
        "M": _column(snapshot, measures["monetary_column"], scheme="rfm_8class"),
    }
    reduce = np.mean if center == "mean" else np.median
    centers = {
        k: float(reduce(v[buyers])) if buyers.any() else float("nan") for k, v in values.items()
    }
    code_index = (
        4 * (values["R"] < centers["R"])
        + 2 * (values["F"] > centers["F"])
        + (values["M"] > centers["M"])
    )
    lookup = np.array([classes[code] for code in codes], dtype=object)
    keys = np.where(buyers, lookup[code_index], POTENTIAL)
    return make_segmentation(
        scheme="rfm_8class",
        title=_title(section, "rfm_8class"),
        snapshot=snapshot,
        keys=keys,
        segments=config_segments(config, "rfm_8class", _RFM_8CLASS_KEYS),
        ordered=False,
        details={"center": center, "centers": centers},
    )


# --- value tiers and member grades ----------------------------------------------------------


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
        The customer snapshot.
    config : mapping
        Sections ``value_tier`` (``cumulative_shares``: high, mid, low, summing to 1) and
        ``playbook``.
    random_state : int, default 0
        Unused; the rules are deterministic.
    previous : Segmentation, optional
        Unused.

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
    share_above = _revenue_share_above(spend[buyers])
    tier = np.select(
        [
            share_above < shares[0] - _SHARE_TOLERANCE,
            share_above < shares[0] + shares[1] - _SHARE_TOLERANCE,
        ],
        ["high", "mid"],
        default="low",
    )
    keys = np.full(len(snapshot), POTENTIAL, dtype=object)
    keys[buyers] = tier
    min_spend = {
        t: float(spend[keys == t].min()) if (keys == t).any() else float("nan")
        for t in ("high", "mid")
    }
    return make_segmentation(
        scheme="value_tier",
        title=_title(section, "value_tier"),
        snapshot=snapshot,
        keys=keys,
        segments=config_segments(config, "value_tier", _VALUE_TIER_KEYS),
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
    random_state : int, default 0
        Unused; the rules are deterministic.
    previous : Segmentation, optional
        Unused.

    Returns
    -------
    Segmentation
    """
    section = config_section(config, "member_grade")
    thresholds = _increasing(
        section.get("thresholds"), "member_grade.thresholds", ("silver", "gold", "diamond")
    )
    spend = _column(snapshot, section.get("spend_column", "monetary_total"), scheme="member_grade")
    spend = np.where(snapshot["is_potential"].to_numpy(dtype=bool), 0.0, spend)
    keys = np.select(
        [
            spend >= thresholds["diamond"],
            spend >= thresholds["gold"],
            spend >= thresholds["silver"],
        ],
        ["diamond", "gold", "silver"],
        default="regular",
    )
    return make_segmentation(
        scheme="member_grade",
        title=_title(section, "member_grade"),
        snapshot=snapshot,
        keys=keys,
        segments=config_segments(config, "member_grade", _MEMBER_GRADE_KEYS),
        details={"thresholds": thresholds},
    )


# --- behaviour: purchase frequency and interaction ------------------------------------------


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
        The customer snapshot.
    config : mapping
        Sections ``frequency_tier`` and ``playbook``.
    random_state : int, default 0
        Unused; the rules are deterministic.
    previous : Segmentation, optional
        Unused.

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
    tier = np.select(
        [measure >= thresholds["high"], measure >= thresholds["mid"]], ["high", "mid"], "low"
    )
    keys = np.where(snapshot["is_potential"].to_numpy(dtype=bool), POTENTIAL, tier)
    return make_segmentation(
        scheme="frequency_tier",
        title=_title(section, "frequency_tier"),
        snapshot=snapshot,
        keys=keys,
        segments=config_segments(config, "frequency_tier", _FREQUENCY_TIER_KEYS),
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
    random_state : int, default 0
        Unused; the rules are deterministic.
    previous : Segmentation, optional
        Unused.

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
    keys = np.select(
        [count >= thresholds["high"], count >= thresholds["mid"]], ["high", "mid"], "low"
    )
    return make_segmentation(
        scheme="interaction_tier",
        title=_title(section, "interaction_tier"),
        snapshot=snapshot,
        keys=keys,
        segments=config_segments(config, "interaction_tier", _INTERACTION_TIER_KEYS),
        details={"window_days": window, "thresholds": thresholds},
    )


# --- lifecycle ------------------------------------------------------------------------------


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
        The customer snapshot.
    config : mapping
        Sections ``lifecycle`` and ``playbook``.
    random_state : int, default 0
        Unused; the rules are deterministic.
    previous : Segmentation, optional
        Unused.

    Returns
    -------
    Segmentation
        Ordered potential < churned < sleeping < new < active < loyal. ``details`` holds the
        per-customer ``sleep_limit_days`` and ``churn_limit_days``.
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
    keys = np.select(
        [
            potential,
            recency_days > churn_limit,
            recency_days > sleep_limit,
            snapshot["T"].to_numpy(dtype=float) <= float(section.get("new_days", 30)),
            snapshot["n_orders"].to_numpy(dtype=float) >= float(section.get("loyal_min_orders", 4)),
        ],
        [POTENTIAL, "churned", "sleeping", "new", "loyal"],
        default="active",
    )
    return make_segmentation(
        scheme="lifecycle",
        title=_title(section, "lifecycle"),
        snapshot=snapshot,
        keys=keys,
        segments=config_segments(config, "lifecycle", _LIFECYCLE_KEYS),
        details={
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


# --- needs ----------------------------------------------------------------------------------


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
    random_state : int, default 0
        Unused; the rules are deterministic.
    previous : Segmentation, optional
        Unused.

    Returns
    -------
    Segmentation

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
    ratio = snapshot["avg_unit_price_ratio"].to_numpy(dtype=float)
    breadth = snapshot["category_breadth"].to_numpy(dtype=float)
    no_products = np.isnan(ratio) | snapshot["is_potential"].to_numpy(dtype=bool)
    keys = np.select(
        [
            no_products,
            ratio >= float(section["premium_min_price_ratio"]),
            breadth >= float(section["personalised_min_categories"]),
        ],
        ["no_products", "premium", "personalised"],
        default="basic",
    )
    return make_segmentation(
        scheme="needs",
        title=_title(section, "needs"),
        snapshot=snapshot,
        keys=keys,
        segments=config_segments(config, "needs", _NEEDS_KEYS),
        ordered=False,
    )


#: Every rule-based scheme by registry name, in report order.
RULE_SCHEMES: dict[str, Scheme] = {
    "rfm_named": rfm_named,
    "rfm_8class": rfm_8class,
    "value_tier": value_tier,
    "member_grade": member_grade,
    "frequency_tier": frequency_tier,
    "interaction_tier": interaction_tier,
    "lifecycle": lifecycle,
    "needs": needs,
}


# --- attribute cuts -------------------------------------------------------------------------

#: Customer attributes a scheme can be cut by, with their display names.
ATTRIBUTE_NAMES: dict[str, dict[str, str]] = {
    "city_tier": {"zh": "城市等级", "en": "City tier"},
    "source_channel": {"zh": "来源渠道", "en": "Source channel"},
    "region": {"zh": "地区", "en": "Region"},
    "industry": {"zh": "行业", "en": "Industry"},
    "tags": {"zh": "标签", "en": "Tags"},
}
_ATTRIBUTE_ALIASES = {"channel": "source_channel", "tag": "tags", "tier": "city_tier"}
_MISSING_VALUE = {"zh": "（未填写）", "en": "(missing)"}
_TOTAL = {"zh": "合计", "en": "Total"}


@dataclass(frozen=True)
class AttributeCut:
    """A scheme crossed with a customer attribute.

    Attributes
    ----------
    scheme : str
        The scheme's registry name.
    by : str
        The snapshot column cut by (``region``, ``city_tier``, ``source_channel``, ...).
    counts : pandas.DataFrame
        One row per attribute value (most customers first, missing last), one column per
        segment in category order (display names), and a total column. With ``tags`` a
        customer counts once under each of their tags.
    row_shares : pandas.DataFrame
        ``counts`` divided by each row's total: the segment mix of each attribute value.
    """

    scheme: str
    by: str
    counts: pd.DataFrame
    row_shares: pd.DataFrame


def attribute_cut(
    segmentation: Segmentation,
    snapshot: pd.DataFrame,
    *,
    by: str,
    lang: str = "zh",
) -> AttributeCut:
    """Cross a scheme with a customer attribute: counts and row shares.

    Parameters
    ----------
    segmentation : Segmentation
        Any scheme's result on ``snapshot``.
    snapshot : pandas.DataFrame
        The snapshot the segmentation was computed from.
    by : str
        A snapshot column: ``region``, ``city``, ``city_tier``, ``source_channel`` (alias
        ``channel``), ``industry`` or ``tags`` (multi-valued, ``;``-joined: each tag is a
        row), or any other text column.
    lang : {"zh", "en"}, default "zh"
        Language of the segment names, the missing-value row and the total column.

    Returns
    -------
    AttributeCut

    Raises
    ------
    DataUnavailableError
        When the snapshot has no such column or it has no values (no customers table).
    """
    column = _ATTRIBUTE_ALIASES.get(by, by)
    if column not in snapshot.columns or snapshot[column].notna().sum() == 0:
        raise DataUnavailableError(
            f"attribute_cut: the snapshot has no {column} values; load a customers table "
            f"with a {column} column (or cut by one of "
            f"{[c for c in snapshot.columns if snapshot[c].dtype == 'string']})."
        )
    labels = segmentation.named_labels(lang).reindex(snapshot.index)
    values = snapshot[column].astype("string").str.strip()
    if column == "tags":
        values = values.str.split(";").explode().str.strip()
    values = values.mask(values.isna() | (values == ""), _MISSING_VALUE[lang])
    table = pd.crosstab(values, labels.reindex(values.index), dropna=False)
    table = table.reindex(columns=labels.cat.categories, fill_value=0)
    table.columns = pd.Index(list(table.columns), name=segmentation.display_title(lang))
    table.index.name = column
    total = table.sum(axis=1)
    is_missing = table.index == _MISSING_VALUE[lang]
    order = pd.DataFrame({"missing": is_missing, "total": -total.to_numpy(), "value": table.index})
    table = table.iloc[order.sort_values(["missing", "total", "value"], kind="stable").index]
    counts = table.assign(**{_TOTAL[lang]: table.sum(axis=1)}).astype(np.int64)
    shares = counts.div(counts[_TOTAL[lang]].where(counts[_TOTAL[lang]] > 0), axis=0)
    return AttributeCut(scheme=segmentation.scheme, by=column, counts=counts, row_shares=shares)


# --- config helpers -------------------------------------------------------------------------


def _title(section: Mapping[str, Any], scheme: str) -> dict[str, str]:
    title = section.get("title") or {}
    return {"zh": str(title.get("zh") or scheme), "en": str(title.get("en") or scheme)}


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


def _column(snapshot: pd.DataFrame, column: str, *, scheme: str) -> np.ndarray:
    if column not in snapshot.columns:
        raise SegmentationInputError(
            f"{scheme}: the snapshot has no column {column!r}; use a snapshot column such as "
            "n_orders, frequency, monetary_total or monetary_avg in the config."
        )
    return snapshot[column].to_numpy(dtype=float, na_value=np.nan)
