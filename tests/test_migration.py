"""Migration between two as-of dates: a hand-computed case and the demo shop over six months."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segmentation.config import load_config
from segmentation.features import customer_snapshot
from segmentation.schemes.base import Segment, Segmentation, make_segmentation
from segmentation.schemes.migration import GONE, NEW, migration_between, migration_matrix
from segmentation.schemes.rules import RULE_SCHEMES

from canonical_frames import DEMO_AS_OF, demo_frames

CONFIG = load_config()
TIERS = [Segment(k, k, k) for k in ("potential", "low", "mid", "high")]


def _segmentation(labels: dict[str, str], *, ordered: bool = True) -> Segmentation:
    index = pd.Index(list(labels), dtype="string", name="customer_id")
    snapshot = pd.DataFrame(
        {"recency_days": 1.0, "frequency": 1, "monetary_total": 1.0}, index=index
    )
    return make_segmentation(
        scheme="value_tier",
        title={"zh": "价值", "en": "Value"},
        snapshot=snapshot,
        keys=np.array(list(labels.values()), dtype=object),
        segments=TIERS,
        ordered=ordered,
    )


EARLIER = {"x1": "high", "x2": "high", "x3": "mid", "x4": "low", "x5": "potential"}
LATER = {"x2": "mid", "x3": "high", "x4": "low", "x5": "low", "x6": "high"}


def test_migration_by_hand() -> None:
    migration = migration_between(_segmentation(EARLIER), _segmentation(LATER))
    # x2 down, x3 up, x4 stays, x5 up (first purchase); x6 is new, x1 is gone.
    assert migration.counts.to_dict(orient="index") == {
        "potential": {"potential": 0, "low": 1, "mid": 0, "high": 0, GONE: 0},
        "low": {"potential": 0, "low": 1, "mid": 0, "high": 0, GONE: 0},
        "mid": {"potential": 0, "low": 0, "mid": 0, "high": 1, GONE: 0},
        "high": {"potential": 0, "low": 0, "mid": 1, "high": 0, GONE: 1},
        NEW: {"potential": 0, "low": 0, "mid": 0, "high": 1, GONE: 0},
    }
    assert (migration.n_both, migration.n_new, migration.n_gone) == (4, 1, 1)
    assert (migration.stayed, migration.moved_up, migration.moved_down) == (0.25, 0.5, 0.25)
    assert migration.row_shares.loc["high"].tolist() == [0.0, 0.0, 0.5, 0.0, 0.5]
    assert migration.row_shares.loc["mid"].tolist() == [0.0, 0.0, 0.0, 1.0, 0.0]
    named = migration.named("row_shares", lang="zh")
    assert named.index[-1] == "（新增）" and named.columns[-1] == "（已不在）"


def test_unordered_schemes_have_no_up_or_down() -> None:
    migration = migration_between(
        _segmentation(EARLIER, ordered=False), _segmentation(LATER, ordered=False)
    )
    assert migration.stayed == 0.25
    assert np.isnan(migration.moved_up) and np.isnan(migration.moved_down)


def test_different_schemes_cannot_be_compared() -> None:
    other = make_segmentation(
        scheme="other",
        title={"zh": "其他", "en": "Other"},
        snapshot=pd.DataFrame(
            {"recency_days": [1.0], "frequency": [1], "monetary_total": [1.0]},
            index=pd.Index(["x1"], dtype="string"),
        ),
        keys=np.array(["a"], dtype=object),
        segments=[Segment("a", "甲", "A")],
    )
    with pytest.raises(ValueError, match="different segments"):
        migration_between(_segmentation(EARLIER), other)


@pytest.fixture(scope="module")
def demo_snapshots() -> tuple[pd.DataFrame, pd.DataFrame]:
    demo = demo_frames()
    return tuple(  # type: ignore[return-value]
        customer_snapshot(demo.orders, demo.customers, demo.interactions, as_of=day)
        for day in ("2026-04-30", DEMO_AS_OF)
    )


@pytest.mark.filterwarnings("ignore:rfm. F has too many tied values:UserWarning")
@pytest.mark.parametrize("name", ["value_tier", "lifecycle", "member_grade", "rfm_named"])
def test_demo_migration_over_six_months(
    demo_snapshots: tuple[pd.DataFrame, pd.DataFrame], name: str
) -> None:
    earlier_snapshot, later_snapshot = demo_snapshots
    scheme = RULE_SCHEMES[name]
    migration = migration_matrix(scheme, earlier_snapshot, later_snapshot, config=CONFIG)
    earlier = scheme(earlier_snapshot, config=CONFIG).labels
    later = scheme(later_snapshot, config=CONFIG).labels
    # Contacts added since April are the new row; nobody known in April disappears.
    new = later_snapshot.index.difference(earlier_snapshot.index)
    assert migration.n_new == len(new) == migration.counts.loc[NEW].sum()
    assert migration.n_gone == 0 and migration.counts[GONE].sum() == 0
    assert migration.counts.to_numpy().sum() == len(later_snapshot) == 5_000
    both = earlier_snapshot.index
    kept = earlier.astype(str) == later.reindex(both).astype(str)
    assert migration.stayed == pytest.approx(kept.mean())
    if scheme(later_snapshot, config=CONFIG).ordered:
        assert migration.stayed + migration.moved_up + migration.moved_down == pytest.approx(1.0)
    # Nobody goes back to "never bought" once they have bought.
    if "potential" in migration.counts.columns:
        bought_before = [c for c in migration.counts.index if c not in ("potential", NEW)]
        assert migration.counts.loc[bought_before, "potential"].sum() == 0


def test_lifecycle_first_purchases_move_up(
    demo_snapshots: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    earlier_snapshot, later_snapshot = demo_snapshots
    migration = migration_matrix(
        RULE_SCHEMES["lifecycle"], earlier_snapshot, later_snapshot, config=CONFIG
    )
    # April's potential customers (never bought; not those who refunded everything) who
    # bought by October: counted from the snapshots directly.
    never_bought = earlier_snapshot["is_potential"] & (earlier_snapshot["refund_share"] == 0)
    converted = earlier_snapshot.index[
        never_bought & ~later_snapshot["is_potential"].reindex(earlier_snapshot.index)
    ]
    assert migration.counts.loc["potential"].drop("potential").sum() == len(converted) == 122
    assert migration.counts.loc["potential", "fully_refunded"] == 0


@settings(max_examples=60, deadline=None)
@given(
    earlier=st.dictionaries(
        st.sampled_from([f"c{i}" for i in range(12)]), st.sampled_from(["low", "mid", "high"])
    ),
    later=st.dictionaries(
        st.sampled_from([f"c{i}" for i in range(12)]), st.sampled_from(["low", "mid", "high"])
    ),
)
def test_migration_counts_equal_a_crosstab_of_the_labels(earlier, later) -> None:
    # The reference: a crosstab of the labels over the union of customers, NEW and GONE filled.
    moved = migration_between(_segmentation(earlier), _segmentation(later))
    customers = sorted(set(earlier) | set(later))
    source = pd.Series([earlier.get(c, NEW) for c in customers])
    target = pd.Series([later.get(c, GONE) for c in customers])
    rows = ["potential", "low", "mid", "high", NEW]
    columns = ["potential", "low", "mid", "high", GONE]
    expected = pd.crosstab(source, target).reindex(index=rows, columns=columns, fill_value=0)
    assert moved.counts.to_numpy().tolist() == expected.to_numpy().tolist()
    both = [c for c in customers if c in earlier and c in later]
    rank = {"low": 1, "mid": 2, "high": 3}
    up = sum(rank[later[c]] > rank[earlier[c]] for c in both)
    assert moved.n_both == len(both)
    assert moved.n_new == len(set(later) - set(earlier))
    assert moved.n_gone == len(set(earlier) - set(later))
    if both:
        assert moved.moved_up == pytest.approx(up / len(both))


def test_common_positions_by_hand() -> None:
    from segmentation.schemes.base import common_positions

    a, b = pd.Index(["C1", "C2", "C3"]), pd.Index(["C3", "C4", "C1"])
    in_a, in_b = common_positions(a, b)
    assert in_a.tolist() == [0, 2] and in_b.tolist() == [2, 0]
    assert a[in_a].tolist() == b[in_b].tolist() == ["C1", "C3"]
    same_a, same_b = common_positions(a, a)
    assert same_a.tolist() == same_b.tolist() == [0, 1, 2]
    none_a, none_b = common_positions(a, pd.Index(["C9"]))
    assert none_a.tolist() == none_b.tolist() == []
