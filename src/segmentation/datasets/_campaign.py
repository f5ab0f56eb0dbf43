"""The demo's campaign log: last month's two actions, each with a random control group, and a
true effect planted in the orders that differs by segment.

Five weeks before the end of the history the shop reaches two groups of customers, chosen as
it would from last month's lifecycle stages (computed here from the simulated purchases, the
way :func:`segmentation.schemes.lifecycle.lifecycle` does):

* sleeping customers (沉睡客户) by 企微私聊 with a wake-up coupon: each treated customer makes
  one extra purchase within ten days with probability :data:`WAKE_UP_EFFECT`;
* loyal customers (忠诚客户) by 社群 with member news: no effect at all.

A share (:data:`CONTROL_SHARE`) of each group is held out at random and not reached. The
extra purchases are ordinary orders (some are guests, some refunded), with their own order
ids; :class:`PlantedCampaign` lists them so tests can tell the true effect.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = [
    "CAMPAIGN_HEADERS",
    "CONTROL_SHARE",
    "WAKE_UP_EFFECT",
    "PlantedCampaign",
    "plant_campaign",
]

CAMPAIGN_HEADERS = {
    "customer_id": "客户ID",
    "campaign_id": "活动编号",
    "contacted_at": "触达时间",
    "channel": "渠道",
    "group": "分组",
}
# Probability that a reached sleeping customer buys once more because of the message.
WAKE_UP_EFFECT = 0.25
CONTROL_SHARE = 0.15
# Days before the end of the history the campaign is sent: both windows (14, 30 days) close.
_DAYS_BEFORE_END = 53
# The lifecycle rules' defaults (config lifecycle), so the demo targets what the kit finds.
_SLEEP = (3.0, 30.0, 180.0)
_CHURN = (6.0, 90.0, 365.0)
_NEW_DAYS = 30.0
_LOYAL_MIN_ORDERS = 4
_CAMPAIGNS = (
    ("2026-09-沉睡唤醒", "企微私聊", "sleeping"),
    ("2026-09-老客关怀", "社群", "loyal"),
)


@dataclass(frozen=True)
class PlantedCampaign:
    """The campaign log and the purchases it caused.

    Attributes
    ----------
    log : pandas.DataFrame
        Canonical column names (``customer_id``, ``campaign_id``, ``contacted_at`` as text,
        ``channel``, ``group`` as 实验组/对照组); empty for a history too short to hold it.
    extra_customer : numpy.ndarray
        Index of the customer of each extra purchase.
    extra_day : numpy.ndarray
        Day of each extra purchase (days since the start of the history).
    """

    log: pd.DataFrame
    extra_customer: np.ndarray
    extra_day: np.ndarray


def plant_campaign(
    rng: np.random.Generator,
    *,
    start: pd.Timestamp,
    span_days: float,
    purchase_customer: np.ndarray,
    purchase_day: np.ndarray,
    customer_ids: np.ndarray,
) -> PlantedCampaign:
    """Choose the two campaigns' customers, hold out controls, and draw the extra purchases.

    Parameters
    ----------
    rng : numpy.random.Generator
        The campaign's own generator, so the organic history does not depend on it.
    start : pandas.Timestamp
        First moment of the history.
    span_days : float
        Length of the history in days.
    purchase_customer, purchase_day : numpy.ndarray
        The organic purchases.
    customer_ids : numpy.ndarray
        Every customer's id.

    Returns
    -------
    PlantedCampaign
    """
    send_day = float(np.floor(span_days - _DAYS_BEFORE_END))
    if send_day < 120:
        empty = pd.DataFrame(columns=list(CAMPAIGN_HEADERS))
        return PlantedCampaign(empty, np.array([], np.int64), np.array([], float))
    stage = _stages(purchase_customer, purchase_day, plan_end=send_day, n=len(customer_ids))
    parts, extra_customer, extra_day = [], [], []
    for campaign_id, channel, target in _CAMPAIGNS:
        members = np.flatnonzero(stage == target)
        control = rng.uniform(0, 1, len(members)) < CONTROL_SHARE
        # Messages go out over the working day (09:00-18:00).
        sent = send_day + rng.uniform(9 / 24, 18 / 24, len(members))
        parts.append(
            pd.DataFrame(
                {
                    "customer_id": customer_ids[members],
                    "campaign_id": campaign_id,
                    "contacted_at": _stamps(start, sent),
                    "channel": channel,
                    "group": np.where(control, "对照组", "实验组"),
                    "_sent": sent,
                }
            )
        )
        if target == "sleeping":
            woken = ~control & (rng.uniform(0, 1, len(members)) < WAKE_UP_EFFECT)
            extra_customer.append(members[woken])
            extra_day.append(sent[woken] + rng.uniform(0.05, 10.0, int(woken.sum())))
    log = pd.concat(parts, ignore_index=True).sort_values(["_sent", "customer_id"], kind="stable")
    return PlantedCampaign(
        log=log.drop(columns="_sent").reset_index(drop=True),
        extra_customer=np.concatenate(extra_customer).astype(np.int64),
        extra_day=np.concatenate(extra_day),
    )


def _stamps(start: pd.Timestamp, days: np.ndarray) -> np.ndarray:
    stamps = start + pd.to_timedelta(np.round(days * 86400), "s")
    return np.asarray(stamps.strftime("%Y-%m-%d %H:%M:%S"), dtype=object)


def _stages(customer: np.ndarray, day: np.ndarray, *, plan_end: float, n: int) -> np.ndarray:
    """Each customer's lifecycle stage at ``plan_end`` (days), by the kit's default rules:
    ``sleeping``, ``loyal`` or ``other``."""
    before = day < plan_end
    who = customer[before]
    # Purchase days, as the kit counts them: several purchases on one day are one.
    calendar_day = np.floor(day[before])
    unique = pd.DataFrame({"c": who, "d": calendar_day}).drop_duplicates()
    c, d = unique["c"].to_numpy(), unique["d"].to_numpy()
    count = np.bincount(c, minlength=n)
    first = np.full(n, np.inf)
    last = np.full(n, -np.inf)
    np.minimum.at(first, c, d)
    np.maximum.at(last, c, d)
    bought = count > 0
    recency_days = np.where(bought, np.floor(plan_end) - 1 - last, np.nan)
    repeat = count > 1
    gap = np.where(repeat, (last - first) / np.maximum(count - 1, 1), np.nan)
    sleep_limit = _limit(gap, _SLEEP)
    churn_limit = _limit(gap, _CHURN)
    sleeping = bought & (recency_days > sleep_limit) & (recency_days <= churn_limit)
    tenure = np.floor(plan_end) - 1 - first
    loyal = (
        bought & (recency_days <= sleep_limit) & (tenure > _NEW_DAYS) & (count >= _LOYAL_MIN_ORDERS)
    )
    return np.where(sleeping, "sleeping", np.where(loyal, "loyal", "other"))


def _limit(gap: np.ndarray, rule: tuple[float, float, float]) -> np.ndarray:
    factor, low, high = rule
    return np.where(np.isfinite(gap), np.clip(factor * gap, low, high), high)
