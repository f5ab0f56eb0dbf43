"""Every number traceable: each scheme keeps the thresholds it used, and its section states
them in the report's language (hand-computed ten-customer case of test_schemes_rules)."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from test_schemes_rules import TEN, _snapshot

from segmentation.config import load_config
from segmentation.formatting import money
from segmentation.report._rules import scheme_rules
from segmentation.schemes.rules import (
    lifecycle,
    member_grade,
    needs,
    rfm_8class,
    rfm_named,
    value_tier,
)

CONFIG = load_config()


@pytest.fixture
def ten() -> pd.DataFrame:
    return _snapshot(TEN)


def test_rfm_named_keeps_its_quintile_edges_in_the_measures_units(ten: pd.DataFrame) -> None:
    details = rfm_named(ten, config=CONFIG).details
    # As in test_rfm_scores_by_hand: R edges on minus the days -260, -120, -28, -14.
    assert details["quintile_edges"]["R"] == pytest.approx([260, 120, 28, 14])
    assert details["quintile_edges"]["F"] == pytest.approx([1, 1.8, 3, 4.8])
    assert details["quintile_edges"]["M"] == pytest.approx([120, 350, 720, 1980])
    assert details["possible_scores"] == {"R": [1, 2, 3, 4, 5], "F": [1, 2, 3, 4, 5],
                                          "M": [1, 2, 3, 4, 5]}  # fmt: skip
    assert "note_zh" not in details
    zh = scheme_rules(rfm_named(ten, config=CONFIG), "zh")
    assert "R 距上次购买天数 260 / 120 / 28 / 14 天" in zh
    assert "F 购买次数 1 / 1.80 / 3 / 4.80" in zh
    assert "M 累计消费 120 / 350 / 720 / 1,980" in zh
    assert "M total spend 120 / 350 / 720 / 1,980" in scheme_rules(
        rfm_named(ten, config=CONFIG), "en"
    )


def test_rfm_ties_reach_the_report_as_a_note() -> None:
    rows = [
        (f"t{k}", orders, orders - 1, 0.0, 10.0, float(k), 10.0 * (k + 1), 10.0, 0, 1.0, 1)
        for k, orders in enumerate([1, 1, 1, 1, 1, 1, 1, 2, 3, 4])
    ]
    with pytest.warns(UserWarning, match="F has too many tied values"):
        details = rfm_named(_snapshot(rows), config=CONFIG).details
    assert details["possible_scores"]["F"] == [1, 4, 5]
    assert "F 的并列值太多" in details["note_zh"] and "只会出现 1、4、5 分" in details["note_zh"]
    assert "only scores 1, 4, 5 occur" in details["note_en"]


def test_lifecycle_states_every_limit_from_the_config(ten: pd.DataFrame) -> None:
    config = load_config({"lifecycle": {"new_days": 45, "loyal_min_orders": 5}})
    segmentation = lifecycle(ten, config=config)
    assert segmentation.details["new_days"] == 45 and segmentation.details["loyal_min_orders"] == 5
    zh = scheme_rules(segmentation, "zh")
    assert "2. 全额退款：买过，但每笔购买都已全额退款（净消费不为正）" in zh
    assert "5. 新客户：首次购买在 45 天内" in zh
    assert "6. 忠诚客户：购买 ≥ 5 次" in zh
    assert "沉睡 ×3，[30, 180] 天；流失 ×6，[90, 365] 天" in zh
    assert not re.search(r"\bN 天|\bk 次", zh)  # the placeholders of the old text
    en = scheme_rules(segmentation, "en")
    assert "New: first purchase within 45 days" in en and "Loyal: at least 5 purchases" in en
    assert "2. Fully refunded: bought, but every purchase was refunded in full" in en


def test_value_tier_and_member_grade_state_their_cut_offs(ten: pd.DataFrame) -> None:
    tiers = value_tier(ten, config=CONFIG)
    floor = tiers.details["min_spend"]
    zh = scheme_rules(tiers, "zh")
    assert f"贡献前 80% 收入的为高价值（本月门槛：累计消费 ≥ {money(floor['high'])}）" in zh
    assert f"其后 15% 为中价值（≥ {money(floor['mid'])}）" in zh
    grades = scheme_rules(member_grade(ten, config=CONFIG), "zh")
    assert "累计净消费 ≥ 10,000 为钻石会员，≥ 3,000 为黄金会员，≥ 1,000 为白银会员" in grades


def test_rfm_8class_and_needs_state_their_centres_and_thresholds(ten: pd.DataFrame) -> None:
    classes = rfm_8class(ten, config=CONFIG)
    # Mean over the 8 buyers: days (30+10+10+300+100+20+200+500)/8 = 146.25.
    assert classes.details["centers"]["R"] == pytest.approx(146.25)
    assert "R 距上次购买 146.2 天" in scheme_rules(classes, "zh")
    product_needs = needs(ten, config=CONFIG)
    assert product_needs.details == {
        "premium_min_price_ratio": 1.5,
        "personalised_min_categories": 3.0,
    }
    assert "平均单价 ≥ 品类中位数的 1.5 倍为高端需求；否则购买过 ≥ 3 个品类为个性化需求" in (
        scheme_rules(product_needs, "zh")
    )
