"""Association analysis: baskets, FP-growth rules from mlxtend, affinity (issue #20)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mlxtend.frequent_patterns import association_rules, fpgrowth

from segmentation.association import (
    _positions_among,
    association_analysis,
    basket_matrix,
    item_affinity,
    mine_rules,
    order_baskets,
    support_threshold,
)
from segmentation.config import load_config
from segmentation.schemes.base import Segmentation

from canonical_frames import DEMO_AS_OF, demo_frames


def _orders(lines: list[tuple[str, str | None, str, float]]) -> pd.DataFrame:
    """Canonical order lines (order id, customer id or None for a guest, product, amount),
    all on 2024-03-01, a refund one day later."""
    return pd.DataFrame(
        {
            "order_id": pd.Series([line[0] for line in lines], dtype="string"),
            "customer_id": pd.Series([line[1] for line in lines], dtype="string"),
            "product_id": pd.Series([line[2] for line in lines], dtype="string"),
            "amount": [line[3] for line in lines],
            "order_ts": [
                pd.Timestamp("2024-03-02" if line[3] < 0 else "2024-03-01") for line in lines
            ],
        }
    )


# Six baskets. O6 also bought B and had it refunded in full, so B is not in O6.
# A: O1 O2 O3 O5 (4); B: O1 O2 O4 O5 (4); C: O1 O3 O4 (3); D: O5 O6 (2); A+B: O1 O2 O5 (3).
SIX_BASKETS = [
    ("O1", "c1", "A", 10.0), ("O1", "c1", "B", 5.0), ("O1", "c1", "C", 3.0),
    ("O2", "c2", "A", 10.0), ("O2", "c2", "B", 5.0),
    ("O3", "c1", "A", 10.0), ("O3", "c1", "C", 3.0),
    ("O4", None, "B", 5.0), ("O4", None, "C", 3.0),
    ("O5", "c2", "A", 10.0), ("O5", "c2", "B", 5.0), ("O5", "c2", "D", 7.0),
    ("O6", "c3", "D", 7.0), ("O6", "c3", "B", 5.0), ("O6", "c3", "B", -5.0),
]  # fmt: skip


def test_six_baskets_by_hand_support_confidence_lift() -> None:
    baskets = order_baskets(
        _orders(SIX_BASKETS), level="product", as_of="2024-03-31", lookback_days=60
    )
    assert len(baskets) == 13  # 14 sale lines less O6's refunded B
    assert baskets["order_id"].nunique() == 6
    matrix = basket_matrix(baskets)
    assert matrix.shape == (6, 4)
    assert matrix.sum().to_dict() == {"A": 4, "B": 4, "C": 3, "D": 2}
    rules = mine_rules(matrix, min_support=0.3, max_len=2, min_confidence=0.5)
    by_pair = {(r["antecedents"], r["consequents"]): r for _, r in rules.iterrows()}
    a_b = by_pair[("A",), ("B",)]
    # A and B together in 3 of 6 baskets; A in 4, B in 4.
    assert a_b["baskets"] == 3
    assert a_b["support"] == pytest.approx(3 / 6)
    assert a_b["confidence"] == pytest.approx(3 / 4)
    assert a_b["lift"] == pytest.approx((3 / 4) / (4 / 6))  # 1.125
    assert a_b["leverage"] == pytest.approx(3 / 6 - (4 / 6) * (4 / 6))
    assert a_b["conviction"] == pytest.approx((1 - 4 / 6) / (1 - 3 / 4))
    # A and C: 2 of 6 baskets (support 1/3 >= 0.3), confidence 2/4, lift (2/4)/(3/6) = 1.
    a_c = by_pair[("A",), ("C",)]
    assert (a_c["support"], a_c["confidence"], a_c["lift"]) == pytest.approx((1 / 3, 0.5, 1.0))
    # B and D are together in O5 only (O6's B was refunded): no rule.
    assert (("B",), ("D",)) not in by_pair and (("D",), ("B",)) not in by_pair
    # The best lift first: A <-> B (1.125) before every rule of lift 1 or less.
    assert rules["lift"].is_monotonic_decreasing
    assert set(rules.loc[:1, "antecedents"]) == {("A",), ("B",)}


def test_guests_count_for_the_shop_and_not_for_a_segment() -> None:
    labels = pd.Series(
        pd.Categorical(["x", "x", "y"], categories=["x", "y"], ordered=True),
        index=pd.Index(["c1", "c2", "c3"], name="customer_id"),
    )
    segmentation = Segmentation("test", {"zh": "测试", "en": "Test"}, labels, pd.DataFrame())
    settings = {**load_config()["association"], "min_baskets": 2, "min_support": 0.3}
    result = association_analysis(
        _orders(SIX_BASKETS), segmentation, as_of="2024-03-31", level="product", settings=settings
    )
    assert result.n_baskets == 6 and result.sample_size is None
    assert result.shop.n_baskets == 6  # O4 is a guest's
    assert result.segments["x"].n_baskets == 4  # O1 O2 O3 O5
    assert result.segments["y"].n_baskets == 1  # O6: too few to mine
    assert np.isnan(result.segments["y"].min_support) and not len(result.segments["y"].rules)
    # Segment x: 4 baskets, so an itemset needs max(2/4, 0.3) = 50% of them.
    assert result.segments["x"].min_support == pytest.approx(0.5)
    # x buys A in 4 of its 4 baskets against 4 of the shop's 6: affinity 1 / (4/6) = 1.5.
    affinity = result.segments["x"].affinity
    assert affinity.loc["A", "baskets"] == 4
    assert affinity.loc["A", "affinity"] == pytest.approx(1.5)
    assert affinity.index[0] == "A"


def test_support_threshold_takes_the_larger_of_the_count_and_the_share() -> None:
    assert support_threshold(100, min_baskets=5, min_support=0.01) == pytest.approx(0.05)
    assert support_threshold(10_000, min_baskets=5, min_support=0.01) == pytest.approx(0.01)
    assert np.isnan(support_threshold(4, min_baskets=5, min_support=0.01))


def test_affinity_is_the_segment_share_over_the_shop_share() -> None:
    shop = pd.DataFrame(
        {"order_id": ["1", "2", "3", "4", "4"], "item": ["a", "a", "b", "b", "a"]}
    ).assign(customer_id="c")
    table = item_affinity(shop.loc[shop["order_id"].isin(["1", "2"])], shop, min_baskets=1)
    assert table.loc["a", "segment_share"] == 1.0
    assert table.loc["a", "shop_share"] == pytest.approx(3 / 4)
    assert table.loc["a", "affinity"] == pytest.approx(4 / 3)
    assert list(table.index) == ["a"]


def _demo_segmentation(orders: pd.DataFrame) -> Segmentation:
    """Customers in three tiers by their number of orders (enough for the test)."""
    per_customer = orders.dropna(subset=["customer_id"]).groupby("customer_id")["order_id"]
    counts = per_customer.nunique()
    tier = pd.cut(counts, [0, 1, 3, np.inf], labels=["one", "few", "many"])
    labels = pd.Series(pd.Categorical(tier, ordered=True), index=counts.index.astype("string"))
    return Segmentation("orders", {"zh": "订单数", "en": "Orders"}, labels, pd.DataFrame())


def _independent_segment_matrix(
    orders: pd.DataFrame, customers: pd.Index, *, as_of: str, days: int
) -> pd.DataFrame:
    """One segment's basket matrix with plain pandas: net amount per order and product in
    the window, positive lines only."""
    end = pd.Timestamp(as_of) + pd.Timedelta(days=1)
    window = orders.loc[
        (orders["order_ts"] >= end - pd.Timedelta(days=days)) & (orders["order_ts"] < end)
    ]
    net = window.groupby(["order_id", "product_id"], observed=True)["amount"].sum().reset_index()
    owner = window.dropna(subset=["customer_id"]).groupby("order_id")["customer_id"].first()
    net = net.loc[net["amount"] > 0.005]
    net = net.loc[net["order_id"].map(owner).isin(customers)]
    return pd.crosstab(net["order_id"], net["product_id"]).gt(0)


def test_mlxtend_on_one_segments_basket_matrix_gives_the_kits_rules() -> None:
    orders = demo_frames().orders
    segmentation = _demo_segmentation(orders)
    settings = {**load_config()["association"], "top_rules": 10_000}
    result = association_analysis(
        orders, segmentation, as_of=DEMO_AS_OF, level="product", settings=settings
    )
    segment = "few"
    kit = result.segments[segment]
    members = segmentation.labels.index[segmentation.labels == segment]
    matrix = _independent_segment_matrix(
        orders, members, as_of=DEMO_AS_OF, days=int(settings["lookback_days"])
    )
    assert kit.n_baskets == len(matrix)
    assert kit.min_support == pytest.approx(max(5 / len(matrix), 0.01))
    frequent = fpgrowth(matrix, min_support=kit.min_support, use_colnames=True, max_len=3)
    direct = association_rules(
        frequent, num_itemsets=len(matrix), metric="confidence", min_threshold=0.1
    )
    direct = direct.assign(
        antecedents=direct["antecedents"].map(lambda s: tuple(sorted(s))),
        consequents=direct["consequents"].map(lambda s: tuple(sorted(s))),
    ).set_index(["antecedents", "consequents"])
    ours = kit.rules.set_index(["antecedents", "consequents"])
    assert len(ours) > 0 and set(ours.index) == set(direct.index)
    direct = direct.loc[ours.index]
    for column in ("support", "confidence", "lift", "leverage", "conviction"):
        np.testing.assert_allclose(ours[column], direct[column], rtol=1e-12, err_msg=column)
    assert ours["lift"].is_monotonic_decreasing


@pytest.mark.shared
def test_online_retail_largest_segment_of_the_recommended_scheme_has_product_rules(
    online_retail_path: Path,
) -> None:
    from segmentation.analysis import analyse_month
    from segmentation.report import load_month_data
    from segmentation.report.mining_sections import largest_segment

    data = load_month_data(input_path=online_retail_path, month="2011-11")
    analysis = analyse_month(
        data.orders, data.customers, data.interactions, as_of=data.as_of, config=load_config()
    )
    scheme = analysis.verdict.scheme
    assert scheme is not None
    result = analysis.association[(scheme, "product")]
    segment = largest_segment(analysis, scheme)
    rules = result.segments[segment].rules
    top = rules.head(5)
    print(f"\n{scheme} / {segment}: {result.segments[segment].n_baskets} baskets")
    for row in top.itertuples():
        names = [" + ".join(result.item_names.get(i, i) for i in side) for side in row[1:3]]
        print(f"{names[0]} -> {names[1]}: {row.support:.4f} {row.confidence:.3f} {row.lift:.2f}")
    assert len(top) == 5
    assert (top["support"] >= result.segments[segment].min_support - 1e-12).all()
    assert (top["confidence"] >= 0.1).all() and top["lift"].is_monotonic_decreasing
    assert (top["lift"] > 1).all()


@settings(max_examples=60, deadline=None)
@given(
    known=st.lists(st.sampled_from([f"c{i}" for i in range(12)]), unique=True, max_size=12),
    rows=st.lists(st.one_of(st.none(), st.sampled_from([f"c{i}" for i in range(15)])), max_size=40),
    categorical=st.booleans(),
)
def test_a_basket_customer_is_found_as_a_text_lookup_finds_it(known, rows, categorical):
    """Positions by the categorical's codes (its categories looked up once, or none when
    they are the index itself) equal looking up every row's id as text."""
    index = pd.Index(sorted(known), dtype="string")
    customers = pd.Series(rows, dtype="string")
    expected = index.get_indexer(customers)
    expected[customers.isna().to_numpy()] = -1
    if categorical:
        customers = customers.astype("category")
    assert np.array_equal(_positions_among(index, customers), expected)
    same = pd.Series(pd.Categorical(rows, categories=index), dtype="category")
    expected_same = index.get_indexer(pd.Series(rows, dtype="string"))
    expected_same[pd.Series(rows).isna().to_numpy()] = -1
    assert np.array_equal(_positions_among(index, same), expected_same)
