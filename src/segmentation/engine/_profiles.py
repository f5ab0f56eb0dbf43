"""Segment profiles on the engine: per scheme and segment, the customers and the exact sums
behind the means a profile shows.

:func:`segmentation.schemes.segment_profile` gives, per segment, the size, the share, the
mean recency, frequency and spend, and the share of revenue. On an engine the per-customer
rows stay where they are: one GROUP BY per scheme, stacked in one query, gives the counts
and whole-number sums (days, purchases, cents), so that every engine returns the same
integers and each mean is one IEEE division of two of them.
"""

from __future__ import annotations

from collections.abc import Sequence

import ibis
import numpy as np
import pandas as pd

__all__ = ["PROFILE_SUM_COLUMNS", "profiles_from_sums", "segment_profile_sums_expr"]

#: The measures summed per segment: a profile's mean is each one's sum over its count.
PROFILE_SUM_COLUMNS: tuple[str, ...] = ("recency_days", "frequency", "monetary_total")


def segment_profile_sums_expr(
    snapshot: ibis.Table, labels: ibis.Table, schemes: Sequence[str]
) -> ibis.Table:
    """Per scheme and segment: customers, and the sum and count of each profile measure.

    Parameters
    ----------
    snapshot : ibis.Table
        From :func:`segmentation.engine.customer_snapshot_expr` (money in minor units).
    labels : ibis.Table
        ``customer_id`` and one column of segment keys per scheme, e.g.
        :func:`segmentation.engine.rule_labels_expr` of the same snapshot.
    schemes : sequence of str
        The scheme columns of ``labels`` to profile.

    Returns
    -------
    ibis.Table
        ``scheme``, ``segment``, ``customers``, then ``<measure>_sum`` and ``<measure>_count``
        for each of :data:`PROFILE_SUM_COLUMNS` (int64; a customer without the measure, who
        never bought, is not counted), ``revenue_sum`` (net spend in minor units, nothing
        counted as 0) and ``positive_revenue_sum`` (spend clipped at 0: the profile's
        revenue share divides by the whole snapshot's sum of it).
    """
    measures = snapshot.select(
        "customer_id",
        # Whole days, purchases and minor units: integer sums are exact in any order.
        **{name: snapshot[name].round().cast("int64") for name in PROFILE_SUM_COLUMNS},
    )
    joined = labels.join(measures, "customer_id")
    revenue = joined.monetary_total.fill_null(0)
    per_scheme = []
    for scheme in schemes:
        grouped = joined.group_by(segment=joined[scheme].cast("string")).aggregate(
            customers=joined.count().cast("int64"),
            **{
                f"{name}_{stat}": (
                    joined[name].sum().fill_null(0) if stat == "sum" else joined[name].count()
                ).cast("int64")
                for name in PROFILE_SUM_COLUMNS
                for stat in ("sum", "count")
            },
            revenue_sum=revenue.sum().cast("int64"),
            positive_revenue_sum=ibis.greatest(revenue, 0).sum().cast("int64"),
        )
        per_scheme.append(grouped.mutate(scheme=ibis.literal(scheme)))
    stacked = ibis.union(*per_scheme)
    return stacked.select(
        "scheme", "segment", *(c for c in stacked.columns if c not in {"scheme", "segment"})
    )


def profiles_from_sums(sums: pd.DataFrame, *, money_scale: int) -> pd.DataFrame:
    """The profile columns :func:`segmentation.schemes.segment_profile` shows, from the sums.

    Parameters
    ----------
    sums : pandas.DataFrame
        :func:`segment_profile_sums_expr`'s rows.
    money_scale : int
        Minor units per currency unit: spend comes back in currency.

    Returns
    -------
    pandas.DataFrame
        ``scheme``, ``segment``, ``customers``, ``share`` (of the customers the scheme
        labels), ``recency_days_mean``, ``frequency_mean``, ``monetary_total_mean``
        (currency) and ``revenue_share`` (the segment's net spend over every customer's
        spend clipped at 0; NaN when nobody spent), sorted by scheme then segment.
    """
    table = sums.sort_values(["scheme", "segment"], kind="stable").reset_index(drop=True)
    by_scheme = table.groupby("scheme", sort=False)
    customers = table["customers"].to_numpy(dtype=np.int64)
    everyone = by_scheme["customers"].transform("sum").to_numpy(dtype=np.int64)
    spent = by_scheme["positive_revenue_sum"].transform("sum").to_numpy(dtype=np.int64)
    out = table[["scheme", "segment", "customers"]].copy()
    out["share"] = customers / np.maximum(everyone, 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        for name in PROFILE_SUM_COLUMNS:
            count = table[f"{name}_count"].to_numpy(dtype=np.int64)
            total = table[f"{name}_sum"].to_numpy(dtype=np.int64)
            mean = np.where(count > 0, total / np.maximum(count, 1), np.nan)
            out[f"{name}_mean"] = mean / money_scale if name == "monetary_total" else mean
        revenue = table["revenue_sum"].to_numpy(dtype=np.int64)
        out["revenue_share"] = np.where(spent > 0, revenue / np.maximum(spent, 1), np.nan)
    return out
