"""Uplift statistics: Newcombe's interval by hand, contact windows on a small case, the
uplift table's numbers, and the intervals' error rate when there is no effect."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from segmentation.campaigns import (
    contact_outcomes,
    mean_difference_interval,
    rate_difference_interval,
    uplift_table,
    verdict,
)
from segmentation.config import load_config

Z95 = 1.959963984540054


def wilson(buyers: int, n: int) -> tuple[float, float]:
    """Wilson's score interval, written out (Newcombe 1998, method 3)."""
    p = buyers / n
    centre = (p + Z95**2 / (2 * n)) / (1 + Z95**2 / n)
    half = Z95 * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n**2)) / (1 + Z95**2 / n)
    return centre - half, centre + half


def test_newcombe_interval_matches_the_hand_computation() -> None:
    # 15 of 50 treated bought, 5 of 50 control: uplift 20 points.
    l1, u1 = wilson(15, 50)
    l2, u2 = wilson(5, 50)
    d = 0.3 - 0.1
    expected = (
        d - math.sqrt((0.3 - l1) ** 2 + (u2 - 0.1) ** 2),
        d + math.sqrt((u1 - 0.3) ** 2 + (0.1 - l2) ** 2),
    )
    low, high = rate_difference_interval(15, 50, 5, 50)
    assert low == pytest.approx(expected[0], abs=1e-9)
    assert high == pytest.approx(expected[1], abs=1e-9)
    assert (round(low, 4), round(high, 4)) == (0.0426, 0.3487)


def test_no_control_gives_no_interval() -> None:
    assert all(math.isnan(v) for v in rate_difference_interval(3, 10, 0, 0))
    assert all(math.isnan(v) for v in mean_difference_interval(np.ones(3), np.array([])))


def test_bootstrap_is_seeded_and_brackets_the_difference() -> None:
    treated = np.array([0.0, 0.0, 100.0, 50.0, 0.0, 30.0])
    control = np.array([0.0, 10.0, 0.0, 0.0])
    first = mean_difference_interval(treated, control, draws=500, random_state=7)
    assert first == mean_difference_interval(treated, control, draws=500, random_state=7)
    assert first[0] < treated.mean() - control.mean() < first[1]


def test_verdicts() -> None:
    assert verdict(0.01, 30, min_control=30) == "keep"
    assert verdict(-0.01, 30, min_control=30) == "change"
    assert verdict(0.20, 29, min_control=30) == "too_small"


def small_case() -> tuple[pd.DataFrame, pd.DataFrame]:
    t = pd.Timestamp
    orders = pd.DataFrame(
        {
            "customer_id": ["A", "A", "B", "B", "C", "D", "E"],
            "order_id": ["o1", "o1", "o2", "o3", "o4", "o5", "o6"],
            "order_ts": [
                t("2024-03-05"),  # A buys 3 days after contact ...
                t("2024-03-08"),  # ... and returns 20 of it 6 days after
                t("2024-03-20"),  # B buys 18 days after: in 30 days, not in 14
                t("2024-02-01"),  # B's earlier order: before the contact, not counted
                t("2024-03-03"),  # C (control) buys the day after contact
                t("2024-04-30"),  # D buys long after both windows
                t("2024-03-02 08:00"),  # E buys two hours before contact: not counted
            ],
            "amount": [100.0, -20.0, 50.0, 70.0, 40.0, 10.0, 30.0],
        }
    )
    log = pd.DataFrame(
        {
            "customer_id": ["A", "B", "E", "C", "D"],
            "campaign_id": ["wake"] * 5,
            "contacted_at": [t("2024-03-02 10:00")] * 5,
            "channel": ["wecom_private"] * 5,
            "group": ["treated", "treated", "treated", "control", "control"],
        }
    )
    return orders, log


def test_contact_windows_by_hand() -> None:
    orders, log = small_case()
    out = contact_outcomes(log, orders, windows_days=[14, 30], as_of="2024-04-10")
    assert out["customer_id"].tolist() == ["A", "B", "E", "C", "D"]
    assert out["bought_14"].tolist() == [1.0, 0.0, 0.0, 1.0, 0.0]
    assert out["bought_30"].tolist() == [1.0, 1.0, 0.0, 1.0, 0.0]
    assert out["revenue_30"].tolist() == [80.0, 50.0, 0.0, 40.0, 0.0]
    assert out["refunds_30"].tolist() == [20.0, 0.0, 0.0, 0.0, 0.0]
    assert out["closed_30"].all()
    # As of 2024-03-20 the 14-day window (to 03-16) has closed, the 30-day one has not.
    early = contact_outcomes(log, orders, windows_days=[14, 30], as_of="2024-03-20")
    assert early["closed_14"].all() and not early["closed_30"].any()
    assert early["revenue_30"].isna().all()


def test_uplift_table_by_hand() -> None:
    orders, log = small_case()
    out = contact_outcomes(log, orders, windows_days=[14, 30], as_of="2024-04-10")
    out["segment"] = "sleeping"
    config = load_config({"campaigns": {"min_control": 2, "bootstrap_draws": 200}})
    table = uplift_table(out, config=config, random_state=0)
    assert table["window_days"].tolist() == [14, 30]
    row = table.set_index("window_days").loc[30]
    assert (row["n_treated"], row["n_control"]) == (3, 2)
    assert (row["buyers_treated"], row["buyers_control"]) == (2, 1)
    assert row["uplift"] == pytest.approx(2 / 3 - 1 / 2)
    assert (row["uplift_low"], row["uplift_high"]) == pytest.approx(
        rate_difference_interval(2, 3, 1, 2)
    )
    assert row["revenue_treated"] == pytest.approx(130 / 3)
    assert row["revenue_control"] == pytest.approx(20.0)
    assert row["refunds_treated"] == pytest.approx(20 / 3)
    assert row["incremental_revenue"] == pytest.approx((130 / 3 - 20.0) * 3)
    assert row["incremental_buyers"] == pytest.approx((2 / 3 - 1 / 2) * 3)
    # Interval spans zero with an adequate control group (2 here): change it.
    assert row["verdict"] == "change"
    assert table["verdict"].nunique() == 1


def test_with_no_effect_the_rate_interval_excludes_zero_about_5_percent() -> None:
    rng = np.random.default_rng(20261205)
    replications, misses = 400, 0
    for _ in range(replications):
        # Treated and control from one process: 12% buy, whatever the group.
        treated = int(rng.binomial(500, 0.12))
        control = int(rng.binomial(60, 0.12))
        low, high = rate_difference_interval(treated, 500, control, 60)
        misses += not (low <= 0.0 <= high)
    assert 0.02 * replications <= misses <= 0.09 * replications


def test_with_no_effect_the_revenue_interval_excludes_zero_about_5_percent() -> None:
    rng = np.random.default_rng(7)
    replications, misses = 200, 0
    for seed in range(replications):
        # Revenue mostly zero, skewed when not: 30% buy, spend ~ Gamma(2, 100).
        def draw(n: int) -> np.ndarray:
            return (rng.uniform(size=n) < 0.3) * rng.gamma(2.0, 100.0, size=n)

        low, high = mean_difference_interval(draw(400), draw(200), draws=400, random_state=seed)
        misses += not (low <= 0.0 <= high)
    assert 0.02 * replications <= misses <= 0.09 * replications
