"""The segment each customer of a campaign was in when the campaign was planned: the scheme's
labels as of the day before the campaign's first contact."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from segmentation.config import config_section
from segmentation.features import as_text, customer_snapshot
from segmentation.schemes.registry import run_schemes

__all__ = ["CampaignSegments", "campaign_segments"]


@dataclass(frozen=True)
class CampaignSegments:
    """Each campaign's customers' segments before it.

    Attributes
    ----------
    labels : dict of str to pandas.Series
        Campaign id to segment keys, indexed by customer id (text), ordered categorical.
    names : pandas.DataFrame
        Segment key to ``name_zh`` and ``name_en``, in the scheme's order.
    planned_on : dict of str to pandas.Timestamp
        Campaign id to the day its segments are taken as of.
    scheme : str
    """

    labels: dict[str, pd.Series]
    names: pd.DataFrame
    planned_on: dict[str, pd.Timestamp]
    scheme: str


def campaign_segments(
    log: pd.DataFrame,
    orders: pd.DataFrame,
    customers: pd.DataFrame | None = None,
    interactions: pd.DataFrame | None = None,
    *,
    config: Mapping[str, Any],
    random_state: int = 0,
) -> CampaignSegments:
    """Segments of the scheme ``campaigns.scheme`` as of the day before each campaign.

    Campaigns that start on the same day share one snapshot. The day before the first
    contact is the last day a plan could have been drawn on without seeing the campaign.

    Parameters
    ----------
    log : pandas.DataFrame
        The campaign log.
    orders, customers, interactions : pandas.DataFrame
        Canonical tables, for the snapshot.
    config : mapping
    random_state : int, default 0

    Returns
    -------
    CampaignSegments
    """
    scheme = str(config_section(config, "campaigns")["scheme"])
    first = (
        log.assign(campaign_id=as_text(log["campaign_id"]))
        .groupby("campaign_id")["contacted_at"]
        .min()
    )
    planned_on = {str(c): (ts.normalize() - pd.Timedelta(days=1)) for c, ts in first.items()}
    by_day: dict[pd.Timestamp, pd.Series] = {}
    names = pd.DataFrame(columns=["name_zh", "name_en"])
    for day in sorted(set(planned_on.values())):
        snapshot = customer_snapshot(orders, customers, interactions, as_of=day)
        run = run_schemes(
            snapshot, as_of=day, config=config, random_state=random_state, schemes={scheme}
        )
        segmentation = run.segmentations[scheme]
        labels = segmentation.labels
        by_day[day] = labels.set_axis(pd.Index(as_text(labels.index.to_series()).to_numpy()))
        names = segmentation.profile[["name_zh", "name_en"]]
    return CampaignSegments(
        labels={c: by_day[day] for c, day in planned_on.items()},
        names=names,
        planned_on=planned_on,
        scheme=scheme,
    )
