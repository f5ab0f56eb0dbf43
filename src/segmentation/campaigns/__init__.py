"""Did last month's actions work? Campaign results per segment against a control group
(实施与反馈), and the hold-out helper that draws next month's control group.

- ``_outcomes``: what each contact did in the windows after it.
- ``_intervals``: Newcombe's interval for a difference of rates, a seeded bootstrap for means.
- ``_uplift``: treated against control per campaign, segment and window, with a verdict.
- ``_segments``: each campaign's customers' segments before it.
- ``_measure``: all of the above for a report month, in one call.
- ``_holdout``: a seeded, stratified control group per segment, and the two lists.
- ``_plan``: from an export to the two lists (``segmentation holdout``).
"""

from segmentation.campaigns._holdout import (
    HOLDOUT_FILES,
    HOLDOUT_HEADERS,
    HoldoutDraw,
    draw_holdout,
    write_holdout,
)
from segmentation.campaigns._intervals import mean_difference_interval, rate_difference_interval
from segmentation.campaigns._measure import CampaignResults, measure_campaigns
from segmentation.campaigns._outcomes import contact_outcomes
from segmentation.campaigns._plan import HoldoutPlan, plan_holdout
from segmentation.campaigns._segments import CampaignSegments, campaign_segments
from segmentation.campaigns._uplift import UPLIFT_COLUMNS, VERDICTS, uplift_table, verdict

__all__ = [
    "HOLDOUT_FILES",
    "HOLDOUT_HEADERS",
    "UPLIFT_COLUMNS",
    "VERDICTS",
    "CampaignResults",
    "CampaignSegments",
    "HoldoutDraw",
    "HoldoutPlan",
    "campaign_segments",
    "contact_outcomes",
    "draw_holdout",
    "mean_difference_interval",
    "measure_campaigns",
    "plan_holdout",
    "rate_difference_interval",
    "uplift_table",
    "verdict",
    "write_holdout",
]
