"""Bilingual names for clusters from where their centroids sit, and month-to-month matching.

A centroid above or below the median buyer on a dimension gives a word ("高价值", "high-value");
last month's clusters are matched to this month's by their centroids (Hungarian assignment).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import cdist

__all__ = ["match_clusters", "name_clusters"]


def name_clusters(position: pd.DataFrame, *, naming: Mapping[str, Any]) -> pd.DataFrame:
    """Bilingual names and actions from where each cluster's centroid sits.

    Parameters
    ----------
    position : pandas.DataFrame
        One row per cluster (in category order), one column per feature: the centroid minus
        the median buyer, in standard deviations of the transformed feature.
    naming : mapping
        The ``clustering.naming`` config: ``band`` (a position above ``+band`` is "high",
        below ``-band`` "low", else "mid"), ``base_dimensions`` and ``dimensions`` (a list of
        ``{column, high, mid, low}``, each level ``{zh, en, action_zh?, action_en?}``). Only
        dimensions whose column is in ``position`` are used.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``position``: ``name_zh``, ``name_en``, ``action_zh``, ``action_en``.
        The first ``base_dimensions`` words always name a cluster ("近期·高频·高额",
        "recent frequent high-spend"); the next dimensions are added, in order, only to clusters that
        share a name and differ on that dimension ("…·高频", "…, frequent"); clusters that
        still share a name are numbered in row order ("近期·高频·高额 1", "… 2"), the order
        of the segments' keys (lowest value first in a scheme), so every name is unique and
        1 is the lower-value twin.
    """
    band = float(naming["band"])
    dimensions = [d for d in naming["dimensions"] if d["column"] in position.columns]
    n_base = int(naming.get("base_dimensions", 2))

    def level(value: float) -> str:
        return "high" if value > band else "low" if value < -band else "mid"

    levels = {d["column"]: [level(v) for v in position[d["column"]].to_numpy()] for d in dimensions}
    rows = range(len(position))
    base = [[d[levels[d["column"]][i]] for d in dimensions[:n_base]] for i in rows]
    names_zh = ["".join(w["zh"] for w in words) for words in base]
    names_en = [" ".join(w["en"] for w in words) for words in base]
    for dimension in dimensions[n_base:]:
        column = dimension["column"]
        for members in _same_name_groups(names_en):
            if len({levels[column][i] for i in members}) > 1:
                for i in members:
                    names_zh[i] += "·" + dimension[levels[column][i]]["zh"]
                    names_en[i] += ", " + dimension[levels[column][i]]["en"]
    for members in _same_name_groups(names_en):
        for number, i in enumerate(members, start=1):
            names_zh[i] += f" {number}"
            names_en[i] += f" {number}"
    return pd.DataFrame(
        {
            "name_zh": names_zh,
            "name_en": names_en,
            "action_zh": [
                "；".join(w["action_zh"] for w in ws if w.get("action_zh")) for ws in base
            ],
            "action_en": [
                "; ".join(w["action_en"] for w in ws if w.get("action_en")) for ws in base
            ],
        },
        index=position.index,
    )


def _same_name_groups(names: Sequence[str]) -> list[list[int]]:
    """Positions of the names shared by more than one cluster, each group in row order."""
    groups: dict[str, list[int]] = {}
    for i, name in enumerate(names):
        groups.setdefault(name, []).append(i)
    return [members for members in groups.values() if len(members) > 1]


def match_clusters(
    centroids: pd.DataFrame, previous: pd.DataFrame, *, scale: pd.Series
) -> pd.DataFrame:
    """Match this month's clusters to last month's by their centroids (Hungarian assignment).

    Parameters
    ----------
    centroids : pandas.DataFrame
        This month's centroids in the transformed feature space, one row per cluster.
    previous : pandas.DataFrame
        Last month's centroids, indexed by key, in the same space; only the columns both
        share are compared.
    scale : pandas.Series
        This month's standard deviation per feature: distances are measured in it.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``centroids``: ``previous_key`` (missing when unmatched: more clusters
        than last month) and ``distance`` (Euclidean, standardised).

    References
    ----------
    Kuhn, H. W. (1955). The Hungarian method for the assignment problem. Naval Research
    Logistics Quarterly 2, 83-97.
    """
    common = [c for c in centroids.columns if c in previous.columns]
    out = pd.DataFrame(
        {
            "previous_key": pd.Series(pd.NA, index=centroids.index, dtype="string"),
            "distance": np.nan,
        },
        index=centroids.index,
    )
    if not common or previous.empty:
        return out
    current = centroids[common].to_numpy() / scale[common].to_numpy()
    before = previous[common].to_numpy() / scale[common].to_numpy()
    cost = cdist(current, before)
    rows, cols = linear_sum_assignment(cost)
    out.iloc[rows, 0] = previous.index.to_numpy()[cols]
    out.iloc[rows, 1] = cost[rows, cols]
    return out
