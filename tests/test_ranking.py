"""The ranking rule and the sentence that states it: every claim checked against the table."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score

from segmentation.config import default_config, load_config
from segmentation.evaluate import lift_curve, scheme_scores
from segmentation.ranking import (
    RANKED_SCORES,
    bootstrap_scores,
    collapsed_reason,
    rank_schemes,
    ranking_rule,
    segment_scores,
    verdict,
)
from segmentation.schemes.base import Segmentation

RANKING = default_config()["ranking"]
TITLES = {
    "rfm_named": {"zh": "RFM 细分", "en": "RFM segments"},
    "value_tier": {"zh": "价值分层", "en": "Value tiers"},
    "needs": {"zh": "需求", "en": "Needs"},
    "member_grade": {"zh": "会员等级", "en": "Member grades"},
}


def test_segment_scores_by_hand() -> None:
    # two segments: A = {10, 0} (one buyer of two), B = {0, 0} (no buyer)
    codes = np.array([0, 0, 1, 1])
    revenue = np.array([10.0, 0.0, 0.0, 0.0])
    bought = np.array([1.0, 0.0, 0.0, 0.0])
    eta, top, auc = segment_scores(codes, revenue, bought)
    # total SS = 100 - 100/4 = 75; between = 10²/2 - 100/4 = 25 -> 1/3
    assert eta == pytest.approx(1 / 3)
    # best segment A holds half the customers and all revenue: at 20%, 0.2/0.5 of it
    assert top == pytest.approx(0.4)
    # the buyer (rate 0.5) beats the 1 non-buyer of B (rate 0) and ties with A's one: (2+.5)/3
    assert auc == pytest.approx(2.5 / 3)
    # a replicate that counts the buyer twice and drops a B customer
    eta_w, _, auc_w = segment_scores(codes, revenue, bought, np.array([2, 1, 1, 0]))
    # weighted: y = 10,10,0,0 ; SS = 200 - 400/4 = 100 ; between = 20²/3 - 100 = 33.33
    assert eta_w == pytest.approx((400 / 3 - 100) / 100)
    assert auc_w == pytest.approx((2 * 1 + 0.5 * 2 * 1) / (2 * 2))


@settings(max_examples=60, deadline=None)
@given(
    labels=st.lists(st.integers(0, 3), min_size=6, max_size=60),
    data=st.data(),
)
def test_segment_scores_equal_the_per_customer_definitions(
    labels: list[int], data: st.DataObject
) -> None:
    n = len(labels)
    revenue = np.asarray(
        data.draw(st.lists(st.sampled_from([0.0, 5.0, 20.0, 80.0]), min_size=n, max_size=n))
    )
    bought = (revenue > 0).astype(float)
    codes = np.unique(labels, return_inverse=True)[1].astype(np.int64)
    got = segment_scores(codes, revenue, bought)
    # eta²: per customer, centred on the mean; AUC: scikit-learn on each customer's segment
    # purchase rate; top 20%: the lift curve the report draws, read at 20% of customers.
    y, groups = pd.Series(revenue), pd.Series(codes)
    spread = float(((y - y.mean()) ** 2).sum())
    between = float(((y.groupby(groups).transform("mean") - y.mean()) ** 2).sum())
    rate = pd.Series(bought).groupby(groups).transform("mean")
    curve = lift_curve(groups.astype(str), y)
    expected = (
        between / spread if spread > 0 else np.nan,
        float(np.interp(0.2, curve["customer_share"], curve["revenue_share"]))
        if revenue.sum() > 0
        else np.nan,
        roc_auc_score(bought, rate) if 0 < bought.sum() < n else np.nan,
    )
    for name, value, reference in zip(RANKED_SCORES, got, expected, strict=True):
        assert value == pytest.approx(reference, nan_ok=True, abs=1e-12), name
    # Renaming the segments changes no bit: a tie between two alike labellings stays a tie.
    renamed = np.asarray(data.draw(st.permutations(range(int(codes.max()) + 1))))[codes]
    np.testing.assert_array_equal(segment_scores(renamed, revenue, bought), got)


def test_the_backtests_scores_are_segment_scores() -> None:
    index = pd.Index([f"c{i}" for i in range(6)], dtype="string", name="customer_id")
    labels = pd.Series(pd.Categorical(["a", "a", "b", "b", "c", "c"]), index=index)
    segmentation = Segmentation(
        scheme="t", title={"zh": "t", "en": "t"}, labels=labels, profile=pd.DataFrame()
    )
    revenue = np.array([30.0, 0.0, 10.0, 10.0, 0.0, 0.0])
    outcomes = pd.DataFrame({"revenue": revenue, "bought": revenue > 0}, index=index)
    scores = scheme_scores(segmentation, outcomes)
    expected = segment_scores(labels.cat.codes.to_numpy().astype(np.int64), revenue, revenue > 0)
    assert tuple(scores[name] for name in RANKED_SCORES) == expected
    # By hand: segment means 15, 10, 0 around 50/6; revenue SS = 1100 - 2500/6.
    assert scores["eta_squared"] == pytest.approx(
        (2 * 15**2 + 2 * 10**2 - 2500 / 6) / (1100 - 2500 / 6)
    )
    # The best segment (a, a third of customers) holds 30 of 50: at 20%, 0.6 * 30 / 50.
    assert scores["top20_revenue_share"] == pytest.approx(0.36)
    # Buyers: one in a (rate 1/2), two in b (rate 1); non-buyers: a's one, c's two.
    assert scores["auc_purchase"] == pytest.approx((1 * (0.5 + 2) + 2 * 3) / 9)


def _scores() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "eta_squared": [0.30, 0.10, 0.20, 0.90],
            "top20_revenue_share": [0.60, 0.40, 0.65, 0.95],
            "auc_purchase": [0.80, 0.60, 0.70, 0.99],
            "spearman_monotonicity": [np.nan, np.nan, 0.5, 1.0],
            "n_segments": [5, 3, 3, 4],
            "collapsed": ["", "", "", "its largest segment holds 99.2% of buyers"],
            "support": [0.97, 0.0, 0.03, 0.0],
        },
        index=["rfm_named", "needs", "value_tier", "member_grade"],
    )


def test_a_missing_score_neither_helps_nor_hurts_and_a_collapsed_scheme_is_not_ranked() -> None:
    ranked = rank_schemes(_scores())
    # mean ranks over the three scores only: rfm (1+2+1)/3, value_tier (2+1+2)/3, needs 3
    assert ranked.index.tolist() == ["rfm_named", "value_tier", "needs", "member_grade"]
    assert ranked["mean_rank"].iloc[:3].tolist() == pytest.approx([4 / 3, 5 / 3, 3.0])
    assert ranked["rank"].iloc[:3].tolist() == [1, 2, 3]
    assert np.isnan(ranked.loc["member_grade", "rank"])  # best scores, but collapsed


def _claims_hold(sentence: str, ranked: pd.DataFrame, best: str) -> None:
    """Every number in the sentence is the table's."""
    rankable = ranked.loc[ranked["rank"].notna()]
    row = rankable.loc[best]
    assert rankable["mean_rank"].idxmin() == best
    assert f"{row['mean_rank']:.1f}" in sentence
    assert f"{row['eta_squared']:.3f}" in sentence
    assert f"{row['top20_revenue_share']:.1%}" in sentence
    assert f"{row['auc_purchase']:.3f}" in sentence
    assert f"{row['support']:.0%}" in sentence
    ranks = rankable[list(RANKED_SCORES)].rank(ascending=False, method="min").loc[best]
    stated = [int(n) for n in re.findall(r"(?:第 |rank )(\d+)", sentence)]
    assert stated == [int(ranks[s]) for s in RANKED_SCORES]


def test_the_sentence_states_the_tables_numbers() -> None:
    ranked = rank_schemes(_scores())
    said = verdict(ranked, TITLES, settings=RANKING)
    assert said.scheme == "rfm_named" and said.runner_up == "value_tier" and said.clear
    for lang in ("zh", "en"):
        _claims_hold(said.sentence[lang], ranked, "rfm_named")
    assert said.sentence["en"].startswith("Use RFM segments this month")
    assert "runner-up: Value tiers" in said.sentence["en"]
    unclear = ranked.assign(support=[0.6, 0.4, 0.0, 0.0])  # in ranked order
    said = verdict(unclear, TITLES, settings=RANKING)
    assert not said.clear
    assert "cannot be told apart from Value tiers (40%)" in said.sentence["en"]
    assert "与「价值分层」（40%）难以区分" in said.sentence["zh"]


def test_the_bootstrap_of_no_rankable_scheme_is_empty() -> None:
    # Every scheme collapsed (e.g. a calibration day with no future to score): no support.
    revenue, bought = np.zeros(5), np.zeros(5)
    intervals, support = bootstrap_scores(
        {}, revenue, bought, replicates=20, max_customers=100, random_state=0
    )
    assert intervals.empty and support.empty
    assert list(intervals.columns) == [f"{s}_{e}" for s in RANKED_SCORES for e in ("low", "high")]


def test_the_ranking_rule_states_the_config() -> None:
    rule = ranking_rule(RANKING)
    assert "holds over 95% of buyers" in rule["en"]
    assert "from 200 customer bootstrap replicates" in rule["en"]
    assert "ranks first in at least 90% of them" in rule["en"]
    assert "最大分层超过买家 95%" in rule["zh"] and "200 次" in rule["zh"]
    assert "达到 90% 才算明确胜出" in rule["zh"]
    changed = load_config(
        {
            "ranking": {
                "max_segment_share": 0.975,
                "bootstrap_replicates": 1000,
                "clear_winner_support": 0.8,
            }
        }
    )["ranking"]
    rule = ranking_rule(changed)
    assert "holds over 97.5% of buyers" in rule["en"]
    assert "from 1,000 customer bootstrap replicates" in rule["en"]
    assert "ranks first in at least 80% of them" in rule["en"]
    assert "最大分层超过买家 97.5%" in rule["zh"] and "1,000 次" in rule["zh"]
    assert "达到 80% 才算明确胜出" in rule["zh"]
    for lang in ("zh", "en"):
        assert "95%" not in rule[lang].replace("95% 区间", "").replace("95% interval", "")
        assert "90%" not in rule[lang]
    # The verdict carries the rule of the settings it was made with, as does a collapse.
    said = verdict(rank_schemes(_scores()), TITLES, settings=changed)
    assert said.rule == rule
    assert "(limit 97.5%)" in collapsed_reason(0.99, {}, max_share=0.975, lang="en")


def test_the_bootstrap_support_sums_to_one_and_is_seeded() -> None:
    rng = np.random.default_rng(3)
    revenue = rng.gamma(1.0, 50.0, 2_000) * (rng.uniform(size=2_000) < 0.4)
    good = (revenue > 0).astype(np.int64) * 2 + rng.integers(0, 2, 2_000)
    noise = rng.integers(0, 4, 2_000)
    labellings = {"good": good, "noise": noise}
    bought = (revenue > 0).astype(float)
    intervals, support = bootstrap_scores(
        labellings, revenue, bought, replicates=50, max_customers=1_000, random_state=0
    )
    again = bootstrap_scores(
        labellings, revenue, bought, replicates=50, max_customers=1_000, random_state=0
    )
    pd.testing.assert_frame_equal(intervals, again[0])
    assert support.sum() == pytest.approx(1.0)
    assert support["good"] == 1.0  # a labelling that knows who buys beats noise every time
    point = segment_scores(good, revenue, bought)
    assert (
        intervals.loc["good", "eta_squared_low"]
        < point[0]
        < intervals.loc["good", "eta_squared_high"]
    )


def test_each_bootstrap_replicate_scores_as_segment_scores_to_the_bit() -> None:
    # The bootstrap shares each replicate's weighted sums among the schemes; its intervals
    # must still be those of segment_scores on every replicate's draw, recomputed plainly
    # here (the same seeded sample, then one Poisson draw per replicate).
    rng = np.random.default_rng(11)
    n, sample, replicates = 3_000, 1_200, 40
    revenue = rng.gamma(1.0, 80.0, n) * (rng.uniform(size=n) < 0.35)
    bought = (revenue > 0).astype(np.int64)
    labellings = {
        "tiers": np.minimum((revenue // 40).astype(np.int64), 4),
        "noise": rng.integers(0, 6, n),
        "two": rng.integers(0, 2, n),
    }
    intervals, support = bootstrap_scores(
        labellings, revenue, bought, replicates=replicates, max_customers=sample, random_state=5
    )
    draw = np.random.default_rng(5)
    rows = np.sort(draw.choice(np.arange(n), size=sample, replace=False))
    expected = np.empty((replicates, len(labellings), 3))
    for r in range(replicates):
        weights = draw.poisson(1.0, sample)
        for s, codes in enumerate(labellings.values()):
            expected[r, s] = segment_scores(codes[rows], revenue[rows], bought[rows], weights)
    for j, score in enumerate(("eta_squared", "top20_revenue_share", "auc_purchase")):
        low = np.nanpercentile(expected[:, :, j], 2.5, axis=0)
        high = np.nanpercentile(expected[:, :, j], 97.5, axis=0)
        assert intervals[f"{score}_low"].to_numpy().tobytes() == low.tobytes()
        assert intervals[f"{score}_high"].to_numpy().tobytes() == high.tobytes()
    assert support.sum() == pytest.approx(1.0)
