"""Customer states (buyer, potential, fully refunded) and cancellations under their own order
id: hand-made cases, the demo's counts wherever they are shown, and Online Retail."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from segmentation.config import load_config
from segmentation.features import (
    customer_snapshot,
    customer_states,
    matched_cancellations,
    purchase_days,
    repeat_purchase_summary,
    state_counts,
    states_line,
)
from segmentation.quality import data_overview
from segmentation.schemes.registry import run_schemes
from segmentation.schemes.rules import lifecycle, value_tier

from canonical_frames import DEMO_AS_OF, demo_frames

CONFIG = load_config()
AS_OF = "2024-03-31"

# (customer, order, day of January 2024, product, quantity, amount)
_ROWS = [
    # a: the whole purchase refunded on another day, the refund under the order's own id.
    ("a", "o1", 1, "P1", 2, 100.0),
    ("a", "o1", 15, "P1", -2, -100.0),
    # b: one line of two cancelled under its own invoice (product and quantity match).
    ("b", "o2", 1, "P1", 2, 100.0),
    ("b", "o2", 1, "P2", 1, 30.0),
    ("b", "C2", 10, "P1", -2, -100.0),
    # c: the only purchase cancelled under its own invoice.
    ("c", "o3", 1, "P1", 1, 50.0),
    ("c", "C3", 5, "P1", -1, -50.0),
    # d: a partial refund keeps the buyer.
    ("d", "o4", 1, "P1", 2, 100.0),
    ("d", "o4", 3, "P1", -1, -40.0),
    # e: a cancellation only (of a purchase from before the data).
    ("e", "C5", 2, "P1", -1, -20.0),
    # f: another quantity: no match, the purchase stays.
    ("f", "o6", 1, "P1", 3, 60.0),
    ("f", "C6", 2, "P1", -2, -40.0),
    # g: the cancellation comes before the sale: no match.
    ("g", "C7", 1, "P1", -1, -10.0),
    ("g", "o7", 2, "P1", 1, 10.0),
    # h: two equal lines, two cancellations: each cancels one line.
    ("h", "o8", 1, "P1", 1, 10.0),
    ("h", "o9", 5, "P1", 1, 10.0),
    ("h", "C8", 6, "P1", -1, -10.0),
    ("h", "C9", 7, "P1", -1, -10.0),
    # i: two equal lines, one cancellation: the later line is the one cancelled.
    ("i", "o10", 1, "P1", 1, 10.0),
    ("i", "o11", 5, "P1", 1, 10.0),
    ("i", "C10", 6, "P1", -1, -10.0),
    # k: cancelled after the as-of day: still a buyer as of it.
    ("k", "o12", 1, "P1", 1, 10.0),
    ("k", "C12", 100, "P1", -1, -10.0),
]


def _orders(rows: list[tuple]) -> pd.DataFrame:
    start = pd.Timestamp("2023-12-31")
    return pd.DataFrame(
        {
            "customer_id": pd.Series([r[0] for r in rows], dtype="string"),
            "order_id": pd.Series([r[1] for r in rows], dtype="string"),
            "order_ts": [start + pd.Timedelta(days=r[2], hours=12) for r in rows],
            "amount": [float(r[5]) for r in rows],
            "quantity": [float(r[4]) for r in rows],
            "product_id": pd.Series([r[3] for r in rows], dtype="string"),
        }
    )


def _customers(ids: list[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": pd.Series(ids, dtype="string"),
            "first_seen_ts": pd.Series([pd.NaT] * len(ids), dtype="datetime64[ns]"),
        }
    )


@pytest.fixture(scope="module")
def hand_snapshot() -> pd.DataFrame:
    # p is a contact who never ordered.
    ids = sorted({r[0] for r in _ROWS} | {"p"})
    return customer_snapshot(_orders(_ROWS), _customers(ids), as_of=AS_OF)


def test_hand_made_states(hand_snapshot: pd.DataFrame) -> None:
    states = customer_states(hand_snapshot)
    assert states[states == "fully_refunded"].index.tolist() == ["a", "c", "e", "h"]
    assert states[states == "potential"].index.tolist() == ["p"]
    assert states[states == "buyer"].index.tolist() == ["b", "d", "f", "g", "i", "k"]
    assert state_counts(hand_snapshot) == {"buyer": 6, "potential": 1, "fully_refunded": 4}
    snapshot = hand_snapshot
    assert snapshot.loc[["a", "c", "e", "h"], "n_orders"].tolist() == [0, 0, 0, 0]
    # b keeps its order, netted to the line not cancelled; d keeps 60 of 100.
    assert snapshot.loc["b", "n_orders"] == 1 and snapshot.loc["b", "monetary_total"] == 30.0
    assert snapshot.loc["d", "n_orders"] == 1 and snapshot.loc["d", "monetary_total"] == 60.0
    # f and g: unmatched cancellations lower the spend only.
    assert snapshot.loc["f", "n_orders"] == 1 and snapshot.loc["f", "monetary_total"] == 20.0
    assert snapshot.loc["g", "n_orders"] == 1 and snapshot.loc["g", "monetary_total"] == 0.0
    # i: the later purchase (5 January) is cancelled, the first one stays.
    assert snapshot.loc["i", "n_orders"] == 1 and snapshot.loc["i", "frequency"] == 0
    assert snapshot.loc["i", "last_purchase"] == pd.Timestamp("2024-01-01 12:00")
    assert snapshot.loc["k", "n_orders"] == 1 and snapshot.loc["k", "monetary_total"] == 10.0


def test_matches_by_customer_product_and_quantity() -> None:
    orders = _orders(_ROWS)
    matches = matched_cancellations(orders, as_of=AS_OF)
    # Eight cancellation rows up to the as-of day (C12 is later); five are matched.
    assert matches.attrs["cancellation_rows"] == 8
    pairs = {
        (orders.loc[c, "order_id"], orders.loc[s, "order_id"])
        for c, s in zip(matches["cancel_row"], matches["sale_row"], strict=True)
    }
    assert pairs == {("C2", "o2"), ("C3", "o3"), ("C8", "o9"), ("C9", "o8"), ("C10", "o11")}
    assert matches["amount"].sum() == -180.0
    # Without product ids nothing can be matched: c, h and i keep their purchases.
    no_products = customer_snapshot(orders.drop(columns="product_id"), as_of=AS_OF)
    assert no_products.loc[["c", "h", "i"], "n_orders"].tolist() == [1, 2, 2]
    assert matched_cancellations(orders.drop(columns="product_id"), as_of=AS_OF).empty


def test_the_pandas_summary_and_the_days_agree(hand_snapshot: pd.DataFrame) -> None:
    orders = _orders(_ROWS)
    summary = repeat_purchase_summary(orders, as_of=AS_OF)
    buyers = hand_snapshot.loc[~hand_snapshot["is_potential"]]
    assert summary.index.tolist() == buyers.index.tolist()
    assert summary["n_orders"].tolist() == buyers["n_orders"].tolist()
    assert summary["monetary_total"].tolist() == buyers["monetary_total"].tolist()
    days = purchase_days(orders, as_of=AS_OF)
    assert days.groupby("customer_id").size().to_dict() == {
        "b": 1,
        "d": 1,
        "f": 1,
        "g": 1,
        "i": 1,
        "k": 1,
    }


def test_cut_at_the_as_of_day_changes_nothing(hand_snapshot: pd.DataFrame) -> None:
    orders = _orders(_ROWS)
    cut = orders.loc[orders["order_ts"] < pd.Timestamp(AS_OF) + pd.Timedelta(days=1)]
    ids = hand_snapshot.index.tolist()
    pd.testing.assert_frame_equal(
        customer_snapshot(cut.reset_index(drop=True), _customers(ids), as_of=AS_OF),
        hand_snapshot,
    )


def test_rule_schemes_label_the_fully_refunded(hand_snapshot: pd.DataFrame) -> None:
    for scheme in (lifecycle, value_tier):
        result = scheme(hand_snapshot, config=CONFIG)
        assert result.labels[result.labels == "fully_refunded"].index.tolist() == [
            "a",
            "c",
            "e",
            "h",
        ]
        assert result.labels["p"] == "potential"
        profile = result.profile.loc["fully_refunded"]
        assert (profile["name_zh"], profile["name_en"]) == ("全额退款", "Fully refunded")
        assert profile["size"] == 4
        assert profile["action_zh"].startswith("了解退款原因")
        # Right above potential, below every buyer's segment.
        assert result.labels.cat.categories[:2].tolist() == ["potential", "fully_refunded"]


def test_states_line() -> None:
    counts = {"buyer": 4068, "potential": 890, "fully_refunded": 42}
    assert (
        states_line(counts, config=CONFIG, lang="zh")
        == "购买客户 4,068 · 潜在客户（从未购买） 890 · 全额退款 42"
    )
    assert (
        states_line(counts, config=CONFIG, lang="en")
        == "Buyers 4,068 · Potential (never bought) 890 · Fully refunded 42"
    )


# --- the demo: one count everywhere -------------------------------------------------------


def test_demo_counts_agree_in_the_overview_and_every_scheme() -> None:
    demo = demo_frames()
    snapshot = customer_snapshot(demo.orders, demo.customers, demo.interactions, as_of=DEMO_AS_OF)
    counts = state_counts(snapshot)
    # With the demo's campaign: 5 fully refunded and 1 guest-only customer bought again.
    assert counts == {"buyer": 4_074, "potential": 889, "fully_refunded": 37}
    overview = data_overview(
        demo.orders, demo.customers, demo.interactions, {}, lang="en", states=counts
    ).iloc[:, 0]
    assert overview["Known customers (incl. potential)"] == "5,000"
    assert overview["Buying customers"] == "4,074"
    assert overview["Potential customers (never bought)"] == "889"
    assert overview["Fully refunded (every purchase refunded)"] == "37"
    run = run_schemes(snapshot, as_of=DEMO_AS_OF, config=CONFIG)
    with_non_buyers = {
        name: seg.labels.value_counts()
        for name, seg in run.segmentations.items()
        if "potential" in seg.labels.cat.categories
    }
    assert sorted(with_non_buyers) == sorted(
        [
            "rfm_named",
            "rfm_8class",
            "value_tier",
            "frequency_tier",
            "lifecycle",
            "clv_tier",
            "churn_risk",
            "clusters",
        ]
    )
    for name, sizes in with_non_buyers.items():
        assert (sizes["potential"], sizes["fully_refunded"]) == (889, 37), name
        profile = run.segmentations[name].profile
        assert profile.loc["fully_refunded", "size"] == 37, name


# --- Online Retail --------------------------------------------------------------------------

ONLINE_RETAIL_MONTH_END = "2011-11-30"


@pytest.fixture(scope="module")
def online_retail(online_retail_path: Path) -> pd.DataFrame:
    from segmentation.ingest import ingest

    return ingest(online_retail_path).orders


@pytest.mark.shared
def test_online_retail_cancellations(online_retail: pd.DataFrame) -> None:
    orders = online_retail
    matches = matched_cancellations(orders, as_of=ONLINE_RETAIL_MONTH_END)
    assert (len(matches), matches.attrs["cancellation_rows"]) == (2_775, 8_516)
    assert orders.loc[matches["cancel_row"], "order_id"].astype(str).str.startswith("C").all()
    # Every pair: one customer, one product, opposite quantities, the sale not later.
    cancel = orders.iloc[matches["cancel_row"]].reset_index(drop=True)
    sale = orders.iloc[matches["sale_row"]].reset_index(drop=True)
    assert (cancel["customer_id"].astype(str) == sale["customer_id"].astype(str)).all()
    assert (cancel["product_id"] == sale["product_id"]).all()
    assert (cancel["quantity"] == -sale["quantity"]).all()
    assert (sale["order_ts"] <= cancel["order_ts"]).all()
    assert not matches["sale_row"].duplicated().any()

    netted = customer_snapshot(orders, as_of=ONLINE_RETAIL_MONTH_END)
    unmatched = customer_snapshot(orders.drop(columns="product_id"), as_of=ONLINE_RETAIL_MONTH_END)
    lost_orders = unmatched["n_orders"] - netted["n_orders"]
    # Purchase days of a buyer: frequency + 1.
    days = netted["frequency"].where(netted["n_orders"] > 0, -1) + 1
    lost_days = unmatched["frequency"].where(unmatched["n_orders"] > 0, -1) + 1 - days
    assert (int(lost_orders.sum()), int(lost_days.sum()), int((lost_orders > 0).sum())) == (
        139,
        82,
        112,
    )
    # Net spend is the same either way: a match only moves a cancellation to its purchase.
    np.testing.assert_allclose(
        netted.loc[netted["n_orders"] > 0, "monetary_total"],
        unmatched.loc[netted.index[netted["n_orders"] > 0], "monetary_total"],
        atol=1e-6,
    )
    # 12346 bought 74,215 of one product for £77,183.60 and cancelled it under C541433.
    assert netted.loc["12346", "n_orders"] == 0
    assert unmatched.loc["12346", "n_orders"] == 1
    assert matches.loc[matches["customer_id"] == "12346", "amount"].tolist() == [-77_183.6]


@pytest.mark.shared
def test_online_retail_states(online_retail: pd.DataFrame) -> None:
    orders = online_retail
    snapshot = customer_snapshot(orders, as_of=ONLINE_RETAIL_MONTH_END)
    counts = state_counts(snapshot)
    assert counts == {"buyer": 4_287, "potential": 0, "fully_refunded": 43}
    states = customer_states(snapshot)
    assert states["12346"] == "fully_refunded"
    # 33 of the 43 have nothing but cancellations up to the as-of day (refunds of purchases
    # from before the data): counted as fully refunded, as they never bought in the data.
    window = orders.loc[orders["order_ts"] < pd.Timestamp("2011-12-01")]
    only_cancellations = window.groupby("customer_id", observed=True)["amount"].max() < 0
    refund_only = set(only_cancellations[only_cancellations].index.astype(str))
    assert len(refund_only) == 33
    assert refund_only <= set(states[states == "fully_refunded"].index)
