"""Who to contact first: each segment's value at stake, action, channel and cadence.

**Value at stake** of a segment is its customers times the revenue one of them is expected to
bring in the next ``horizon_days`` days. The expectation is measured, not modelled: it is the
backtest's mean revenue, over the horizon after the calibration day, of the customers who were
in the same segment on that day (:func:`value_per_customer`). Segments are contacted in order
of value at stake, most first; ties go to the larger segment, then to the higher one
(:func:`order_by_value_at_stake`). Channels and cadences come from the config's ``contact``
section (``playbook.yaml``), actions from its ``playbook``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from segmentation.analysis import MonthAnalysis
from segmentation.features import FULLY_REFUNDED
from segmentation.report._numbers import NO_NUMBER, count, money, percent, signed_percent
from segmentation.schemes.base import POTENTIAL_KEY, Segmentation
from segmentation.schemes.rules import ATTRIBUTE_NAMES, attribute_cut

__all__ = [
    "attribute_highlights",
    "contact_plan",
    "order_by_value_at_stake",
    "playbook_table",
    "size_change",
    "value_per_customer",
    "value_rule",
]

_CLUSTERS = "clusters"


def value_per_customer(analysis: MonthAnalysis, scheme: str) -> pd.Series:
    """The revenue one customer of each segment is expected to bring in the next horizon.

    Measured by the backtest: the mean revenue, in the ``horizon_days`` after the calibration
    day, of the customers in the same segment on that day. Cluster keys are matched to last
    month's clusters this month but numbered afresh at calibration; both are listed in value
    order with the same k, so a cluster takes the mean of the calibration cluster of the same
    value rank.

    Parameters
    ----------
    analysis : MonthAnalysis
    scheme : str
        A scheme of this month.

    Returns
    -------
    pandas.Series
        Indexed by this month's segment keys, in the scheme's order; NaN for a segment with no
        customer at calibration, or every segment when the scheme did not run at calibration.
    """
    keys = list(analysis.current.segmentations[scheme].labels.cat.categories)
    calibration = analysis.calibration.segmentations.get(scheme)
    if calibration is None:
        return pd.Series(np.nan, index=pd.Index(keys, name="segment"), name="value_per_customer")
    outcomes = analysis.outcomes
    labels = calibration.labels
    if not labels.index.equals(outcomes.index):
        labels = labels.reindex(outcomes.index)
    codes = labels.cat.codes.to_numpy()
    known = codes >= 0
    revenue = outcomes["revenue"].to_numpy(dtype=float)
    n_keys = len(labels.cat.categories)
    totals = np.bincount(codes[known], weights=revenue[known], minlength=n_keys)
    sizes = np.bincount(codes[known], minlength=n_keys)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(sizes > 0, totals / np.maximum(sizes, 1), np.nan)
    calibration_keys = [str(key) for key in labels.cat.categories]
    by_rank = scheme == _CLUSTERS and len(calibration_keys) == len(keys)
    values = pd.Series(means, index=pd.Index(keys if by_rank else calibration_keys, name="segment"))
    return values.reindex(pd.Index(keys, name="segment")).rename("value_per_customer")


def order_by_value_at_stake(segments: pd.DataFrame) -> pd.DataFrame:
    """Segments in the order to contact them: most value at stake first.

    Parameters
    ----------
    segments : pandas.DataFrame
        One row per segment in the scheme's order (lowest value first), with ``size`` and
        ``value_per_customer`` (NaN where it could not be measured).

    Returns
    -------
    pandas.DataFrame
        ``segments`` with ``value_at_stake`` (``size × value_per_customer``) and ``priority``
        (1 = contact first), ordered by value at stake, descending; ties by size,
        descending, then the higher segment first; segments without a value at stake last.
    """
    out = segments.copy()
    out["value_at_stake"] = out["size"].to_numpy(dtype=float) * out["value_per_customer"].to_numpy(
        dtype=float
    )
    stake = out["value_at_stake"].to_numpy(dtype=float)
    known = np.isfinite(stake)
    # np.lexsort sorts by its last key first.
    order = np.lexsort(
        (
            -np.arange(len(out)),
            -out["size"].to_numpy(dtype=float),
            -np.where(known, stake, 0.0),
            ~known,
        )
    )
    out = out.iloc[order]
    out["priority"] = np.arange(1, len(out) + 1)
    return out


def contact_plan(
    analysis: MonthAnalysis, scheme: str, *, settings: Mapping[str, Any]
) -> pd.DataFrame:
    """Every segment of ``scheme`` this month, in the order to contact them.

    Parameters
    ----------
    analysis : MonthAnalysis
    scheme : str
        A scheme of this month.
    settings : mapping
        :func:`segmentation.config.load_config`: its ``contact`` section gives each segment's
        channel and cadence (clusters by the recency word of their name, ``clustering.naming``).

    Returns
    -------
    pandas.DataFrame
        Indexed by segment key, ordered by :func:`order_by_value_at_stake`: ``name_zh``,
        ``name_en``, ``size``, ``previous_size`` (last month; NaN for a segment new this
        month), ``value_per_customer``, ``value_at_stake``, ``priority``, and ``action_``,
        ``channel_`` and ``cadence_`` in ``zh`` and ``en``.

    Raises
    ------
    MissingSettingError
        When the config names no channel or cadence for one of the segments.
    """
    segmentation = analysis.current.segmentations[scheme]
    table = segmentation.profile[["name_zh", "name_en", "size", "action_zh", "action_en"]].copy()
    previous = analysis.previous.segmentations.get(scheme)
    table["previous_size"] = (
        previous.profile["size"].reindex(table.index).astype(float)
        if previous is not None
        else np.nan
    )
    table["value_per_customer"] = value_per_customer(analysis, scheme)
    contact = settings["contact"]
    for key in table.index:
        # Fully refunded customers are contacted alike in every scheme.
        entry = (
            contact["segments"]["customer_states"][FULLY_REFUNDED]
            if key == FULLY_REFUNDED
            else contact["segments"][scheme][_contact_key(segmentation, str(key), settings)]
        )
        channel, cadence = (
            contact["channels"][entry["channel"]],
            contact["cadences"][entry["cadence"]],
        )
        for lang in ("zh", "en"):
            table.loc[key, f"channel_{lang}"] = str(channel[lang])
            table.loc[key, f"cadence_{lang}"] = str(cadence[lang])
    return order_by_value_at_stake(table)


def _contact_key(segmentation: Segmentation, key: str, settings: Mapping[str, Any]) -> str:
    """The key of a segment's channel and cadence: the segment's own, or a cluster's recency
    level (``recency_low``, ``recency_mid``, ``recency_high``) as its name gives it."""
    if segmentation.scheme != _CLUSTERS or key == POTENTIAL_KEY:
        return key
    band = float(settings["clustering"]["naming"]["band"])
    position = float(segmentation.details["centroid_position"].loc[key, "recency_days"])
    level = "high" if position > band else "low" if position < -band else "mid"
    return f"recency_{level}"


def size_change(size: float, previous_size: float, *, lang: str) -> str:
    """A segment's change in customers since last month: ``+35 (+4.5%)``, or new."""
    if not np.isfinite(previous_size):
        return "本月新增" if lang == "zh" else "new this month"
    change = size - previous_size
    relative = change / previous_size if previous_size > 0 else float("nan")
    shown = f"{'+' if change > 0 else ''}{count(change)}"
    return shown if not np.isfinite(relative) else f"{shown} ({signed_percent(relative)})"


def value_rule(analysis: MonthAnalysis, *, lang: str) -> str:
    """How value at stake is measured and the order it sets, in one sentence of ``lang``."""
    start = f"{analysis.calibration_end:%Y-%m-%d}"
    days = analysis.horizon_days
    if lang == "zh":
        return (
            f"预期价值 = 人数 × 人均预期收入；人均预期收入为回测实测：{start} 属于同一分层的客户，"
            f"此后 {days} 天的人均收入。按预期价值从高到低排序（相同时人数多者、分层高者在前）。"
        )
    return (
        f"Value at stake = customers × expected revenue per customer, measured by the backtest: "
        f"the mean revenue that customers of the same segment on {start} brought in the "
        f"{days} days after. Segments are ordered by value at stake, highest first (ties: "
        "more customers, then the higher segment)."
    )


_PLAYBOOK_HEADERS = {
    "zh": [
        "优先级",
        "分层",
        "人数",
        "较上月",
        "人均预期收入",
        "预期价值",
        "推荐动作",
        "渠道",
        "频率",
    ],
    "en": [
        "priority",
        "segment",
        "customers",
        "vs last month",
        "expected revenue per customer",
        "value at stake",
        "action",
        "channel",
        "cadence",
    ],
}


_EFFECT_HEADER = {"zh": "上月实测效果", "en": "last month's measured effect"}


def playbook_table(
    plan: pd.DataFrame, *, lang: str, effects: pd.Series | None = None
) -> pd.DataFrame:
    """:func:`contact_plan` for display in ``lang``: one text cell per number, as people read it.

    ``effects`` (segment key to text, :func:`segmentation.report.campaign_sections.
    measured_effects`) adds last month's measured effect beside each action, so the next
    round of actions is chosen with it.
    """
    rows = [
        [
            str(row["priority"]),
            row[f"name_{lang}"],
            count(row["size"]),
            size_change(row["size"], row["previous_size"], lang=lang),
            money(row["value_per_customer"]),
            money(row["value_at_stake"]),
            row[f"action_{lang}"] or NO_NUMBER,
            row[f"channel_{lang}"],
            row[f"cadence_{lang}"],
        ]
        for _, row in plan.iterrows()
    ]
    table = pd.DataFrame(rows, columns=_PLAYBOOK_HEADERS[lang])
    if effects is not None:
        shown = effects.reindex(plan.index.astype(str)).fillna(NO_NUMBER)
        table.insert(7, _EFFECT_HEADER[lang], shown.to_numpy())
    return table


_CUT_HEADERS = {
    "zh": ["取值", "分层", "人数", "该取值内占比", "全体占比", "差异（百分点）"],
    "en": [
        "value",
        "segment",
        "customers",
        "share within value",
        "share overall",
        "difference (pp)",
    ],
}


def attribute_highlights(
    analysis: MonthAnalysis, scheme: str, *, settings: Mapping[str, Any], lang: str
) -> dict[str, pd.DataFrame]:
    """Per customer attribute, the cells whose segment share differs most from the base.

    For each attribute the snapshot has (region, city tier, source channel, industry, tags),
    each cell (attribute value × segment of ``scheme``) has a share: its customers over the
    value's customers. The base is the segment's share over every customer of the cut. Shown:
    the ``contact.attribute_cuts.top`` cells with the largest ``|share − base|``, among
    values held by at least ``contact.attribute_cuts.min_customers`` customers.

    Returns
    -------
    dict of str to pandas.DataFrame
        Attribute display name in ``lang`` to its cells, largest difference first: value,
        segment, customers, the two shares (as %) and the difference in percentage points.
        An attribute without a value held by enough customers is left out.
    """
    cuts = settings["contact"]["attribute_cuts"]
    top, min_customers = int(cuts["top"]), int(cuts["min_customers"])
    segmentation = analysis.current.segmentations[scheme]
    shown: dict[str, pd.DataFrame] = {}
    for attribute, names in ATTRIBUTE_NAMES.items():
        column = analysis.snapshot.get(attribute)
        if column is None or not column.notna().any():
            continue
        cut = attribute_cut(segmentation, analysis.snapshot, by=attribute, lang=lang)
        cells = _cells(cut.counts.iloc[:, :-1], min_customers=min_customers).head(top)
        if len(cells):
            shown[names[lang]] = pd.DataFrame(
                {
                    header: values
                    for header, values in zip(
                        _CUT_HEADERS[lang],
                        (
                            cells["value"].astype(str),
                            cells["segment"].astype(str),
                            cells["customers"].map(count),
                            cells["share"].map(percent),
                            cells["base"].map(percent),
                            cells["difference"].map(lambda d: f"{100 * d:+.1f}"),
                        ),
                        strict=True,
                    )
                }
            )
    return shown


def _cells(counts: pd.DataFrame, *, min_customers: int) -> pd.DataFrame:
    """Every (value, segment) cell of values with ``min_customers``, largest |difference|
    from the segment's overall share first (ties: more customers first, then table order)."""
    totals = counts.sum(axis=1)
    grand = float(totals.sum())
    base = counts.sum(axis=0) / grand if grand > 0 else counts.sum(axis=0) * np.nan
    kept = counts.loc[totals >= min_customers]
    shares = kept.div(totals.loc[kept.index], axis=0)
    cells = pd.DataFrame(
        {
            "value": np.repeat(kept.index.to_numpy(), kept.shape[1]),
            "segment": np.tile(kept.columns.to_numpy(), kept.shape[0]),
            "customers": kept.to_numpy().ravel(),
            "share": shares.to_numpy().ravel(),
            "base": np.tile(base.to_numpy(), kept.shape[0]),
        }
    )
    cells["difference"] = cells["share"] - cells["base"]
    order = np.lexsort(
        (
            np.arange(len(cells)),
            -cells["customers"].to_numpy(),
            -cells["difference"].abs().to_numpy(),
        )
    )
    return cells.iloc[order].reset_index(drop=True)
