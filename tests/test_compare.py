"""Backtest scores, agreement and ranking (segmentation.evaluate) on small hand-computed cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segmentation.evaluate import (
    agreement_matrix,
    future_outcomes,
    lift_curve,
    scheme_scores,
    segment_shape,
    stability_ari,
)
from segmentation.schemes.base import Segment, make_segmentation


def _snapshot(n: int) -> pd.DataFrame:
    index = pd.Index([f"c{i:02d}" for i in range(n)], name="customer_id", dtype="string")
    return pd.DataFrame({"recency_days": 1.0, "frequency": 0, "monetary_total": 1.0}, index=index)


def _seg(keys: list[str], order: list[str], *, ordered: bool = True, name: str = "s"):
    snapshot = _snapshot(len(keys))
    segments = [Segment(k, f"{k}_zh", f"{k}_en") for k in order]
    return make_segmentation(
        scheme=name,
        title={"zh": name, "en": name},
        snapshot=snapshot,
        keys=np.array(keys, dtype=object),
        segments=segments,
        ordered=ordered,
    )


def _outcomes(revenue: list[float], bought: list[bool]) -> pd.DataFrame:
    index = _snapshot(len(revenue)).index
    return pd.DataFrame({"revenue": revenue, "bought": bought}, index=index)


def test_eta_squared_by_hand() -> None:
    # groups a={0,2} (mean 1), b={4,6} (mean 5); grand mean 3
    # total SS = 9+1+1+9 = 20; between SS = 2*(1-3)^2 + 2*(5-3)^2 = 16; eta² = 0.8
    seg = _seg(["a", "a", "b", "b"], ["a", "b"])
    scores = scheme_scores(seg, _outcomes([0, 2, 4, 6], [False, True, True, True]))
    assert scores["eta_squared"] == pytest.approx(0.8)


def test_top20_share_counts_the_straddling_segment_pro_rata() -> None:
    # A: 1 customer with 10; B: 4 customers with 2 each; C: 5 with 0. Total 18.
    # The top 20% (2 customers) are A's one customer and one of B's four: (10 + 2) / 18.
    keys = ["A"] + ["B"] * 4 + ["C"] * 5
    revenue = [10.0] + [2.0] * 4 + [0.0] * 5
    seg = _seg(keys, ["C", "B", "A"])
    scores = scheme_scores(seg, _outcomes(revenue, [r > 0 for r in revenue]))
    assert scores["top20_revenue_share"] == pytest.approx(12 / 18)
    curve = lift_curve(seg.labels, _outcomes(revenue, [True] * 10)["revenue"])
    assert curve["segment"].tolist() == ["", "A", "B", "C"]
    assert curve["customer_share"].tolist() == pytest.approx([0, 0.1, 0.5, 1.0])
    assert curve["revenue_share"].tolist() == pytest.approx([0, 10 / 18, 1.0, 1.0])
    # ordered C < B < A with means 0 < 2 < 10: perfectly monotone
    assert scores["spearman_monotonicity"] == pytest.approx(1.0)


def test_auc_of_segment_purchase_rate_by_hand() -> None:
    # rates: a = 1/2, b = 0. The buyer (score 0.5) beats the two b's (score 0) and ties the
    # other a (0.5): AUC = (1 + 1 + 0.5) / 3.
    seg = _seg(["a", "a", "b", "b"], ["b", "a"])
    scores = scheme_scores(seg, _outcomes([5, 0, 0, 0], [True, False, False, False]))
    assert scores["auc_purchase"] == pytest.approx(2.5 / 3)


def test_reversed_order_gives_negative_monotonicity_and_nominal_gives_none() -> None:
    keys = ["lo", "mid", "hi"] * 2
    revenue = [0, 1, 5, 0, 1, 5]
    bought = [r > 0 for r in revenue]
    assert scheme_scores(_seg(keys, ["hi", "mid", "lo"]), _outcomes(revenue, bought))[
        "spearman_monotonicity"
    ] == pytest.approx(-1.0)
    nominal = scheme_scores(
        _seg(keys, ["lo", "mid", "hi"], ordered=False), _outcomes(revenue, bought)
    )
    assert np.isnan(nominal["spearman_monotonicity"])


def test_shape() -> None:
    shape = segment_shape(pd.Series(["a", "a", "b", "b", "c", "c", "c", "c"]))
    assert shape["n_segments"] == 3
    assert shape["smallest_share"] == pytest.approx(0.25)
    # H = -(0.25 log2 0.25 * 2 + 0.5 log2 0.5) = 1.5 bits
    assert shape["entropy_bits"] == pytest.approx(1.5)


def test_stability_and_agreement_ignore_renaming() -> None:
    a = _seg(["x", "x", "y", "y", "z"], ["x", "y", "z"], name="a")
    b = _seg(["p", "p", "q", "q", "r"], ["r", "q", "p"], name="b")
    c = _seg(["x", "y", "x", "y", "z"], ["x", "y", "z"], name="c")
    assert stability_ari(a, b) == pytest.approx(1.0)
    matrix = agreement_matrix({"a": a, "b": b, "c": c})
    assert matrix.loc["a", "b"] == pytest.approx(1.0)
    assert matrix.loc["a", "c"] == matrix.loc["c", "a"] < 0.5
    assert np.diag(matrix).tolist() == [1.0, 1.0, 1.0]
    ami = agreement_matrix({"a": a, "b": b}, metric="ami")
    assert ami.loc["a", "b"] == pytest.approx(1.0)


def test_future_outcomes_window_is_the_horizon_after_calibration() -> None:
    orders = pd.DataFrame(
        {
            "customer_id": pd.array(["a", "a", "a", "b", "b", "c", None], dtype="string"),
            "order_id": pd.array(["1", "2", "3", "4", "4", "5", "6"], dtype="string"),
            "order_ts": pd.to_datetime(
                [
                    "2020-01-31 23:00",  # calibration day: not in the window
                    "2020-02-01 00:10",  # first day of the window
                    "2020-03-02 09:00",  # day 31 after 2020-01-31: outside a 30-day horizon
                    "2020-02-10 00:00",
                    "2020-02-12 00:00",  # b's order 4 is refunded in full: not a purchase
                    "2020-03-01 18:00",  # day 30: last day of the window
                    "2020-02-05 00:00",  # a guest: ignored
                ]
            ),
            "amount": [100.0, 30.0, 50.0, 40.0, -40.0, 7.0, 99.0],
        }
    )
    customers = pd.Index(["a", "b", "c", "d"], dtype="string", name="customer_id")
    out = future_outcomes(orders, customers, calibration_end="2020-01-31", horizon_days=30)
    assert out["revenue"].tolist() == [30.0, 0.0, 7.0, 0.0]
    assert out["bought"].tolist() == [True, False, True, False]


def test_a_row_without_an_order_id_is_an_order_of_its_own_as_the_snapshot_counts_it() -> None:
    # Found by the engine's parity property: the snapshot (and the engine) count such a row
    # as an order, and future_outcomes dropped it from its purchases.
    from segmentation.features import customer_snapshot
    from segmentation.features._purchases import order_purchases

    orders = pd.DataFrame(
        {
            "customer_id": pd.array(["a", "a", "b", "b", "b"], dtype="string"),
            "order_id": pd.array([None, None, "9", None, None], dtype="string"),
            "order_ts": pd.to_datetime(
                [
                    "2020-01-27 08:00",  # a: missing amount, neither sale nor refund
                    "2020-02-08 15:00",  # a: a sale in the window, with no order id
                    "2020-01-10 00:00",
                    "2020-02-03 00:00",  # b: a refund row alone is no purchase
                    "2020-02-03 00:00",  # b: two rows without ids are two orders
                ]
            ),
            "amount": [np.nan, 2.70, 5.0, -1.0, 1.0],
        }
    )
    customers = pd.Index(["a", "b"], dtype="string", name="customer_id")
    out = future_outcomes(orders, customers, calibration_end="2020-01-31", horizon_days=30)
    assert out["revenue"].tolist() == [2.70, 0.0]
    assert out["bought"].tolist() == [True, True]
    per_order = order_purchases(orders, as_of="2020-03-01")
    assert len(per_order) == 5
    assert per_order["is_purchase"].tolist() == [False, True, True, False, True]
    snapshot = customer_snapshot(orders, None, as_of="2020-03-01")
    assert snapshot["n_orders"].tolist() == [1, 2]


@settings(max_examples=50, deadline=None)
@given(
    keys=st.lists(st.sampled_from(["a", "b", "c"]), min_size=4, max_size=40),
    data=st.data(),
)
def test_scores_are_bounded_and_do_not_depend_on_row_order(keys: list[str], data) -> None:
    revenue = data.draw(
        st.lists(st.floats(0, 1000, allow_nan=False), min_size=len(keys), max_size=len(keys))
    )
    bought = [r > 0 for r in revenue]
    seg = _seg(keys, ["a", "b", "c"])
    outcomes = _outcomes(revenue, bought)
    scores = scheme_scores(seg, outcomes)
    for metric in ("eta_squared", "top20_revenue_share", "auc_purchase"):
        value = scores[metric]
        assert np.isnan(value) or -1e-12 <= value <= 1 + 1e-12
    permutation = np.random.default_rng(0).permutation(len(keys))
    shuffled = scheme_scores(seg, outcomes.iloc[permutation])
    for metric, value in scores.items():
        assert (np.isnan(value) and np.isnan(shuffled[metric])) or shuffled[
            metric
        ] == pytest.approx(value)


@settings(max_examples=60, deadline=None)
@given(
    keys=st.lists(st.sampled_from(["a", "b", "c", "d"]), min_size=2, max_size=60),
    data=st.data(),
)
def test_purchase_auc_from_weighted_segments_equals_one_row_per_customer(keys, data) -> None:
    from sklearn.metrics import roc_auc_score

    bought = data.draw(st.lists(st.booleans(), min_size=len(keys), max_size=len(keys)))
    seg = _seg(keys, ["a", "b", "c", "d"])
    outcomes = _outcomes([float(b) for b in bought], bought)
    auc = scheme_scores(seg, outcomes)["auc_purchase"]
    if len(set(bought)) < 2:
        assert np.isnan(auc)
        return
    # The per-customer definition: each customer scored by their segment's purchase rate.
    labels = pd.Series(keys)
    rate = labels.map(pd.Series(bought, dtype=float).groupby(labels).mean())
    assert auc == pytest.approx(roc_auc_score(np.array(bought, dtype=int), rate), abs=1e-12)


def test_stability_ari_counts_only_customers_in_both_months() -> None:
    # Last month: c00..c03; this month c00..c05. On the common four, y/x split matches
    # p/q exactly, so ARI is 1 whatever the two new customers got.
    last = _seg(["x", "x", "y", "y"], ["x", "y"], name="s")
    now = _seg(["p", "p", "q", "q", "q", "p"], ["p", "q"], name="s")
    assert stability_ari(last, now) == pytest.approx(1.0)
    # Swap one common customer: labels [x x y y] vs [p q q q] -> sklearn's ARI by hand:
    # contingency [[1,1],[0,2]]; sum C(nij,2)=1; a=[2,2] -> 2; b=[1,3] -> 3; n=4 -> C=6
    # expected = 2*3/6 = 1; max = (2+3)/2 = 2.5; ARI = (1-1)/(2.5-1) = 0.
    moved = _seg(["p", "q", "q", "q", "q", "p"], ["p", "q"], name="s")
    assert stability_ari(last, moved) == pytest.approx(0.0)
    # Positions given (as analyse_month passes them, one lookup for every scheme): the same.
    positions = (np.arange(4), np.arange(4))
    assert stability_ari(last, moved, positions=positions) == pytest.approx(0.0)
    assert stability_ari(last, now, positions=positions) == pytest.approx(1.0)


def test_ami_on_a_seeded_sample_when_there_are_more_customers() -> None:
    rng = np.random.default_rng(3)
    keys_a = rng.choice(["x", "y", "z"], size=60).tolist()
    keys_b = [k if rng.random() < 0.7 else "x" for k in keys_a]
    a = _seg(keys_a, ["x", "y", "z"], name="a")
    b = _seg(keys_b, ["x", "y", "z"], name="b")
    everyone = agreement_matrix({"a": a, "b": b}, metric="ami")
    assert everyone.attrs == {"n_customers": 60, "sampled": False}
    sample = agreement_matrix({"a": a, "b": b}, metric="ami", max_customers=40, random_state=1)
    again = agreement_matrix({"a": a, "b": b}, metric="ami", max_customers=40, random_state=1)
    assert sample.attrs == {"n_customers": 40, "sampled": True}
    assert sample.loc["a", "b"] == again.loc["a", "b"]  # seeded: the same sample each time
    # The sample's AMI is sklearn's AMI of exactly those 40 customers' labels.
    from sklearn.metrics import adjusted_mutual_info_score

    rows = np.sort(np.random.default_rng(1).choice(60, size=40, replace=False))
    expected = adjusted_mutual_info_score(
        a.labels.cat.codes.to_numpy()[rows], b.labels.cat.codes.to_numpy()[rows]
    )
    assert sample.loc["a", "b"] == pytest.approx(expected, abs=1e-12)
