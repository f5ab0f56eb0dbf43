"""Last month's campaigns measured in one call: each contact's segment before the campaign,
its outcomes after it, and treated against control per campaign, segment and window."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from segmentation.campaigns._outcomes import contact_outcomes
from segmentation.campaigns._segments import CampaignSegments, campaign_segments
from segmentation.campaigns._uplift import uplift_table
from segmentation.config import config_section
from segmentation.features import as_of_cutoff

__all__ = ["CampaignResults", "measure_campaigns"]


@dataclass(frozen=True)
class CampaignResults:
    """Campaign results as of a report's as-of day.

    Attributes
    ----------
    table : pandas.DataFrame
        :func:`uplift_table`: one row per campaign, segment and window.
    outcomes : pandas.DataFrame
        :func:`contact_outcomes` with each contact's ``segment``.
    segments : CampaignSegments
        The segments each campaign was measured in, with their names.
    contacts_after_as_of : int
        Log rows dated after the as-of day (left for a later month's report).
    """

    table: pd.DataFrame
    outcomes: pd.DataFrame
    segments: CampaignSegments
    contacts_after_as_of: int


def measure_campaigns(
    log: pd.DataFrame,
    orders: pd.DataFrame,
    customers: pd.DataFrame | None = None,
    interactions: pd.DataFrame | None = None,
    *,
    as_of: str | pd.Timestamp,
    config: Mapping[str, Any],
    random_state: int = 0,
) -> CampaignResults:
    """Measure every campaign of the log against its control group, per segment.

    Parameters
    ----------
    log : pandas.DataFrame
        The campaign log (:data:`segmentation.schema.CAMPAIGNS`).
    orders, customers, interactions : pandas.DataFrame
        Canonical tables.
    as_of : str or pandas.Timestamp
        The report's as-of day: contacts after it, and windows not closed by it, are not
        measured.
    config : mapping
        Sections ``campaigns`` and the scheme's.
    random_state : int, default 0

    Returns
    -------
    CampaignResults
    """
    settings = config_section(config, "campaigns")
    cutoff = as_of_cutoff(as_of)
    in_time = log.loc[log["contacted_at"] < cutoff]
    segments = campaign_segments(
        in_time, orders, customers, interactions, config=config, random_state=random_state
    )
    outcomes = contact_outcomes(
        in_time,
        orders,
        windows_days=[int(d) for d in settings["windows_days"]],
        as_of=as_of,
    )
    segment = pd.Series(pd.NA, index=outcomes.index, dtype="object")
    for campaign_id, labels in segments.labels.items():
        mine = (outcomes["campaign_id"] == campaign_id).to_numpy()
        segment[mine] = labels.reindex(outcomes.loc[mine, "customer_id"]).astype(str).to_numpy()
    order = [str(k) for k in segments.names.index]
    outcomes["segment"] = pd.Categorical(segment.where(segment != "nan"), categories=order)
    return CampaignResults(
        table=uplift_table(outcomes, config=config, random_state=random_state),
        outcomes=outcomes,
        segments=segments,
        contacts_after_as_of=int(len(log) - len(in_time)),
    )
