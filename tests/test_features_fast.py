"""The snapshot's fast paths give exactly what the straightforward ones give.

Categorical ids (sorted or not, with categories that never appear, the customers table's own
ids as categories) against the same ids as text; rows in time order against shuffled rows;
and each internal shortcut against the plain numpy or pandas computation it replaces.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from segmentation.arrays import run_starts
from segmentation.features import _attributes, customer_snapshot, purchase_days
from segmentation.features._attributes import _distinct_per_customer, _medians_by_code
from segmentation.features._kernels import stable_group_order
from segmentation.features._netting import _ranks_among, order_sums
from segmentation.features._universe import _fixed_width_keys, _merged_ranks, _sorted_positions

AS_OF = "2024-02-15"
_START = pd.Timestamp("2024-01-01")
_CUSTOMERS = ["c01", "c02", "c03", "c04", "c05"]
_LISTED_ONLY = ["c00", "c06", "c99"]  # listed, never ordering
_CATEGORIES = ["美妆", "食品", "家居"]

_row = st.tuples(
    st.sampled_from([*_CUSTOMERS, None]),  # None: a guest
    st.sampled_from(["o1", "o2", "o3", "o4", "o5", "o6", "o7", None]),
    st.integers(min_value=0, max_value=60),  # day offset (some after AS_OF)
    st.integers(min_value=0, max_value=23),  # hour
    st.floats(min_value=-80, max_value=250, allow_nan=False).map(lambda x: round(x, 2)),
    st.sampled_from([*_CATEGORIES, None]),
)
_listed = st.lists(
    st.tuples(
        st.sampled_from(_CUSTOMERS + _LISTED_ONLY),
        st.integers(min_value=-20, max_value=70),  # first seen, days from _START
        st.sampled_from(["北京", "上海", None]),
    ),
    max_size=12,
)


def _orders(rows: list[tuple], *, in_time_order: bool) -> pd.DataFrame:
    orders = pd.DataFrame(
        {
            "customer_id": pd.Series([r[0] for r in rows], dtype="string"),
            "order_id": pd.Series([r[1] for r in rows], dtype="string"),
            "order_ts": [_START + pd.Timedelta(days=r[2], hours=r[3]) for r in rows],
            "amount": [float(r[4]) for r in rows],
            "unit_price": [abs(float(r[4])) + 1.0 for r in rows],
            "category": pd.Series([r[5] for r in rows], dtype="string"),
        }
    )
    if in_time_order:
        orders = orders.sort_values("order_ts", kind="stable", ignore_index=True)
    return orders


def _customers(listed: list[tuple], *, sort: bool) -> pd.DataFrame | None:
    if not listed:
        return None
    customers = pd.DataFrame(
        {
            "customer_id": pd.Series([r[0] for r in listed], dtype="string"),
            "first_seen_ts": [_START + pd.Timedelta(days=r[1]) for r in listed],
            "region": pd.Series([r[2] for r in listed], dtype="string"),
        }
    )
    if sort:  # as ingest writes it: sorted by id, one row each
        customers = customers.drop_duplicates("customer_id").sort_values(
            "customer_id", ignore_index=True
        )
    return customers


def _coded(orders: pd.DataFrame, how: str) -> pd.DataFrame:
    """The orders with categorical ids: categories as ``astype`` sorts them, shuffled with
    ids that never appear, or the whole id list (every customer, listed or not)."""
    customer_id = orders["customer_id"].astype("category")
    order_id = orders["order_id"].astype("category")
    if how == "unsorted":
        extra = ["zz", "a0", "c00"]
        names = [*customer_id.cat.categories, *extra]
        customer_id = customer_id.cat.set_categories(names[::-1])
        order_id = order_id.cat.set_categories(["o9", *order_id.cat.categories[::-1]])
    elif how == "everyone":
        customer_id = customer_id.cat.set_categories(sorted(_CUSTOMERS + _LISTED_ONLY))
    coded = orders.assign(customer_id=customer_id, order_id=order_id)
    if "category" in orders.columns:
        coded["category"] = orders["category"].astype("category")
    return coded


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(_row, min_size=1, max_size=40),
    listed=_listed,
    how=st.sampled_from(["sorted", "unsorted", "everyone"]),
    sort_customers=st.booleans(),
    coded_customers=st.booleans(),
    in_time_order=st.booleans(),
)
def test_categorical_ids_give_exactly_the_snapshot_of_text_ids(
    rows: list[tuple],
    listed: list[tuple],
    how: str,
    sort_customers: bool,
    coded_customers: bool,
    in_time_order: bool,
) -> None:
    orders = _orders(rows, in_time_order=in_time_order)
    customers = _customers(listed, sort=sort_customers)
    expected = customer_snapshot(orders, customers, as_of=AS_OF)
    coded_customers_table = customers
    if customers is not None and coded_customers:
        coded_customers_table = customers.assign(
            customer_id=customers["customer_id"].astype("category"),
            region=customers["region"].astype("category"),
        )
    got = customer_snapshot(_coded(orders, how), coded_customers_table, as_of=AS_OF)
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
    pd.testing.assert_frame_equal(
        purchase_days(_coded(orders, how), as_of=AS_OF),
        purchase_days(orders, as_of=AS_OF),
        check_exact=True,
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(_row, min_size=1, max_size=40), listed=_listed, seed=st.integers(0, 999))
def test_rows_out_of_time_order_give_exactly_the_same_snapshot(
    rows: list[tuple], listed: list[tuple], seed: int
) -> None:
    # In time order the purchase days need no sort by day; shuffled, they take that route.
    # Whole amounts and no product columns: sums in another row order round the same.
    orders = _orders(rows, in_time_order=True).drop(columns=["unit_price", "category"])
    orders["amount"] = orders["amount"].round()
    shuffled = orders.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    customers = _customers(listed, sort=False)
    for frame in (shuffled, _coded(shuffled, "sorted")):
        pd.testing.assert_frame_equal(
            customer_snapshot(frame, customers, as_of=AS_OF),
            customer_snapshot(orders, customers, as_of=AS_OF),
            check_exact=True,
        )


def test_hand_made_coded_and_text_snapshots_match() -> None:
    """Guests, refunds in full and in part, a customer listed twice, a customers table out
    of order and listing people who never order, ids in the categories that never appear."""
    orders = _orders(
        [
            ("c02", "o1", 1, 10, 100.0, "美妆"),
            ("c02", "o1", 1, 10, 50.25, "食品"),
            ("c02", "o2", 1, 15, 30.5, "食品"),
            ("c01", "o3", 2, 9, 80.0, "美妆"),
            ("c01", "o3", 4, 9, -20.0, "美妆"),  # partly refunded
            ("c03", "o4", 5, 9, 40.0, None),
            ("c03", "o4", 6, 9, -40.0, None),  # refunded in full
            (None, "o5", 7, 9, 999.0, "美妆"),  # guest
            ("c04", "o6", 8, 9, -15.0, "家居"),  # a refund only
            ("c01", None, 9, 9, 12.5, "家居"),  # no order id
            ("c05", "o7", 80, 9, 60.0, "食品"),  # after as_of
        ],
        in_time_order=True,
    )
    customers = pd.DataFrame(
        {
            "customer_id": pd.Series(["c06", "c02", "c00", "c06", "c01"], dtype="string"),
            "first_seen_ts": pd.to_datetime(
                ["2024-01-05", "2023-12-01", "2024-03-01", "2024-01-02", "2024-01-01"]
            ),
            "region": pd.Series(["北京", "上海", "广东", "浙江", None], dtype="string"),
        }
    )
    expected = customer_snapshot(orders, customers, as_of=AS_OF)
    assert expected.index.tolist() == ["c01", "c02", "c03", "c04", "c06"]
    assert expected.loc["c06", "region"] == "浙江"  # listed twice: the earliest row wins
    for how in ("sorted", "unsorted", "everyone"):
        coded = _coded(orders, how)
        pd.testing.assert_frame_equal(
            customer_snapshot(coded, customers, as_of=AS_OF), expected, check_exact=True
        )
        listed_coded = customers.assign(customer_id=customers["customer_id"].astype("category"))
        pd.testing.assert_frame_equal(
            customer_snapshot(coded, listed_coded, as_of=AS_OF), expected, check_exact=True
        )


def test_categories_that_are_the_customers_table_give_the_same_snapshot() -> None:
    # The shared-dictionary case: no lookup of the ids at all.
    orders = _orders(
        [("c01", "o1", 1, 1, 10.0, "美妆"), ("c03", "o2", 2, 1, 20.0, "食品")],
        in_time_order=True,
    )
    customers = _customers([(c, 0, "北京") for c in sorted(_CUSTOMERS)], sort=True)
    assert customers is not None
    coded = orders.assign(
        customer_id=pd.Categorical(orders["customer_id"], categories=sorted(_CUSTOMERS))
    )
    pd.testing.assert_frame_equal(
        customer_snapshot(coded, customers, as_of=AS_OF),
        customer_snapshot(orders, customers, as_of=AS_OF),
        check_exact=True,
    )


# --- the internals against the plain computation --------------------------------------------

_ids = st.text(alphabet="aBz09_美妆~", max_size=12)


def _bytewise_sorted(values: set[str]) -> list[str]:
    return sorted(values, key=lambda s: s.encode())


@settings(max_examples=150, deadline=None)
@given(haystack=st.sets(_ids, max_size=25), needles=st.sets(_ids, max_size=25))
def test_merging_sorted_ids_finds_what_a_dictionary_finds(
    haystack: set[str], needles: set[str]
) -> None:
    hay = _bytewise_sorted(haystack)
    found = _bytewise_sorted(needles)
    positions = _sorted_positions(
        pa.array(found, pa.large_string()), pa.array(hay, pa.large_string())
    )
    where = {value: i for i, value in enumerate(hay)}
    assert positions is not None
    assert positions.tolist() == [where.get(value, -1) for value in found]
    others = [value for value in hay if value not in needles]
    ranks = _merged_ranks(
        pa.array(found, pa.large_string()), pa.array(others, pa.large_string()), listed_sorted=True
    )
    union = _bytewise_sorted(set(found) | set(others))
    assert ranks is not None
    assert ranks.tolist() == [union.index(value) for value in found + others]


def test_ids_with_nul_bytes_are_hashed_instead() -> None:
    assert _fixed_width_keys([pa.array(["a\x00"], pa.large_string())]) is None
    orders = _orders([("a", "o1", 1, 1, 5.0, None)], in_time_order=True)
    orders = orders.assign(customer_id=pd.Series(["a\x00"], dtype="string"))
    customers = pd.DataFrame({"customer_id": pd.Series(["a", "a\x00"], dtype="string")})
    snapshot = customer_snapshot(
        orders.assign(customer_id=orders["customer_id"].astype("category")),
        customers,
        as_of=AS_OF,
    )
    assert snapshot.index.tolist() == ["a", "a\x00"]
    assert snapshot["n_orders"].tolist() == [0, 1]


@settings(max_examples=150, deadline=None)
@given(
    opened=st.sets(st.integers(0, 60), max_size=30),
    codes=st.lists(st.integers(-2, 65), max_size=12),
)
def test_ranks_among_opened_codes_are_binary_search_positions(
    opened: set[int], codes: list[int]
) -> None:
    opened_codes = np.array(sorted(opened), dtype=np.int32)
    code_array = np.array(codes, dtype=np.int32)
    ranks = _ranks_among(code_array, opened_codes)
    if set(codes) <= opened:
        assert ranks is not None
        assert ranks.tolist() == np.searchsorted(opened_codes, code_array).tolist()
    else:
        assert ranks is None


@settings(max_examples=150, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 14), min_size=1, max_size=12),
    seed=st.integers(0, 2**16),
)
def test_order_sums_round_as_reduceat_over_each_orders_rows(sizes: list[int], seed: int) -> None:
    rng = np.random.default_rng(seed)
    group = np.repeat(np.arange(len(sizes)), sizes)
    rows = rng.permutation(len(group))  # the rows, in row order, of shuffled groups
    group = group[rows]
    amount = rng.normal(0, 100, len(group)) * 10.0 ** rng.integers(-3, 4, len(group))
    amount[rng.random(len(group)) < 0.1] = -0.0
    first = np.array([np.flatnonzero(group == g)[0] for g in range(len(sizes))])
    others = np.setdiff1d(np.arange(len(group)), first)
    sums = order_sums(amount[first], group[others], amount[others])
    by_group = np.argsort(group, kind="stable")
    expected = np.add.reduceat(amount[by_group], run_starts(group[by_group]))
    np.testing.assert_array_equal(sums, expected)  # -0.0 and 0.0 count as equal here


@settings(max_examples=100, deadline=None)
@given(keys=st.lists(st.integers(-1, 9), max_size=40))
def test_stable_grouping_is_a_stable_argsort(keys: list[int]) -> None:
    key_array = np.array(keys, dtype=np.int64)
    expected = np.argsort(key_array, kind="stable")
    counts = np.bincount(key_array[key_array >= 0], minlength=10)
    order, got_counts = stable_group_order(key_array, 10)
    np.testing.assert_array_equal(order, expected)
    np.testing.assert_array_equal(got_counts, counts)
    # And numpy's stable sort, should pandas' counting sort ever move.
    import pandas._libs.algos

    with pytest.MonkeyPatch.context() as patch:
        patch.delattr(pandas._libs.algos, "groupsort_indexer")
        order, got_counts = stable_group_order(key_array, 10)
    np.testing.assert_array_equal(order, expected)
    np.testing.assert_array_equal(got_counts, counts)


@settings(max_examples=100, deadline=None)
@given(
    codes=st.lists(st.integers(0, 11), min_size=1, max_size=60),
    seed=st.integers(0, 2**16),
    looped=st.booleans(),
)
def test_category_medians_are_pandas_groupby_medians(
    codes: list[int], seed: int, looped: bool
) -> None:
    code_array = np.array(codes, dtype=np.intp)
    values = np.random.default_rng(seed).choice([1.5, 2.0, 3.25, 7.0, 100.1], len(codes))
    values = values * np.random.default_rng(seed + 1).uniform(0.5, 2.0, len(codes))
    expected = np.full(12, np.nan)
    by_code = pd.Series(values).groupby(code_array, sort=True).median()
    expected[by_code.index.to_numpy()] = by_code.to_numpy()
    with pytest.MonkeyPatch.context() as patch:
        if not looped:  # the groupby route, for many categories
            patch.setattr(_attributes, "_MAX_LOOPED_CATEGORIES", 0)
        got = _medians_by_code(code_array, values.copy(), 12)
    np.testing.assert_array_equal(got, expected)


@settings(max_examples=100, deadline=None)
@given(pairs=st.lists(st.tuples(st.integers(0, 6), st.integers(0, 11)), max_size=50))
def test_category_breadth_counts_distinct_pairs(pairs: list[tuple[int, int]]) -> None:
    customer = np.array([p[0] for p in pairs], dtype=np.int64)
    code = np.array([p[1] for p in pairs], dtype=np.int64)
    expected = [len({c for who, c in pairs if who == person}) for person in range(7)]
    few = code % 8  # eight codes or fewer take the popcount route
    expected_few = [len({c % 8 for who, c in pairs if who == person}) for person in range(7)]
    assert _distinct_per_customer(customer, code, 7, 12).tolist() == expected
    assert _distinct_per_customer(customer, few, 7, 8).tolist() == expected_few
    # Too many (customer, category) pairs for a bitmap: the sort route.
    many = _distinct_per_customer(customer, code, 200_000, 12)
    assert many[:7].tolist() == expected
    assert not many[7:].any()


def test_nullable_amounts_and_unlisted_ids_give_the_same_snapshot() -> None:
    orders = _orders(
        [
            ("c01", "o1", 1, 1, 10.0, "美妆"),
            ("c01", "o2", 2, 1, 0.0, "食品"),
            ("c02", "o3", 3, 1, 7.5, "家居"),
        ],
        in_time_order=True,
    )
    orders.loc[1, "amount"] = np.nan
    customers = pd.DataFrame(
        {
            "customer_id": pd.Series(["c01", None, "c02"], dtype="string"),
            "first_seen_ts": pd.to_datetime(["2024-01-01", "2024-01-01", None]),
        }
    )
    expected = customer_snapshot(orders, customers, as_of=AS_OF)
    assert expected.index.tolist() == ["c01", "c02"]  # the row without an id is dropped
    nullable = orders.assign(
        amount=orders["amount"].astype("Float64"), unit_price=orders["unit_price"].astype("Float64")
    )
    pd.testing.assert_frame_equal(
        customer_snapshot(_coded(nullable, "sorted"), customers, as_of=AS_OF),
        expected,
        check_exact=True,
    )


def test_the_snapshot_does_not_share_the_customers_tables_arrays() -> None:
    orders = _orders([("c01", "o1", 1, 1, 5.0, None)], in_time_order=True)
    customers = _customers([("c01", 0, "北京"), ("c02", 0, "上海")], sort=True)
    assert customers is not None
    before = customers.copy()
    snapshot = customer_snapshot(orders, customers, as_of=AS_OF)
    snapshot.loc["c01", "region"] = "广东"
    snapshot.loc["c01", "first_seen_ts"] = pd.Timestamp("2020-01-01")
    pd.testing.assert_frame_equal(customers, before)
