"""The engine boundary: the snapshot, the RFM scores, every rule scheme's labels, the segment
profiles' sums and the backtest's outcomes as Ibis expressions equal the pandas path to the
bit, on DuckDB and on Spark local[2], on the demo, CDNOW and synthetic exports.

The pandas path reads the same orders with their amounts in cents (floats holding whole
numbers, so its sums are exact too); the engines carry integer cents. Spark runs once per
test session (the ``spark_backend`` fixture) and skips with the reason only where pyspark or
a Java runtime cannot be had; DuckDB never skips.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lifetimes.utils import summary_data_from_transaction_data

from segmentation.config import config_section, load_config, merge_config
from segmentation.datasets import load_cdnow
from segmentation.engine import (
    ENGINE_SNAPSHOT_COLUMNS,
    PROFILE_SUM_COLUMNS,
    RULE_SCHEME_NAMES,
    EngineTables,
    connect,
    customer_snapshot_expr,
    future_outcomes_expr,
    load_tables,
    outcome_totals,
    rfm_scores_expr,
    rule_labels_expr,
    segment_profile_sums_expr,
    to_cents,
)
from segmentation.engine._quantiles import interpolate_quantiles, order_statistic_positions
from segmentation.engine._rfm import rfm_quintile_edges
from segmentation.errors import SegmentationInputError
from segmentation.evaluate import future_outcomes
from segmentation.features import customer_snapshot
from segmentation.ingest import ingest
from segmentation.schemes.registry import run_schemes
from segmentation.schemes.rfm import _rfm_scores_and_edges

from canonical_frames import CDNOW_AS_OF, DEMO_AS_OF, cdnow_orders

CONFIG = load_config()
# The pandas path reads amounts in cents for the comparison: its money thresholds too.
CONFIG_CENTS = merge_config(
    CONFIG,
    {
        "member_grade": {
            "thresholds": {
                k: v * 100 for k, v in config_section(CONFIG, "member_grade")["thresholds"].items()
            }
        }
    },
)


def _in_cents(orders: pd.DataFrame) -> pd.DataFrame:
    """The orders as the pandas path reads them for the comparison: amounts in cents."""
    cents = to_cents(orders["amount"], money_scale=100)
    return orders.assign(amount=cents.to_numpy(dtype=float, na_value=np.nan))


def _engine_frame(expr: Any) -> pd.DataFrame:
    frame = expr.to_pyarrow().to_pandas(types_mapper={}.get)
    return frame.set_index("customer_id").sort_index()


def _assert_bitwise_equal(got: pd.Series, expected: pd.Series) -> None:
    """Equal values, NaN/NaT/NA where the other has one, floats to the last bit."""
    name = expected.name
    g, e = got.to_numpy(), expected.to_numpy()
    if e.dtype.kind == "M":
        g, e = g.astype("datetime64[ns]").view(np.int64), e.astype("datetime64[ns]").view(np.int64)
    elif e.dtype.kind == "f":
        g = g.astype(np.float64)
        assert np.array_equal(np.isnan(g), np.isnan(e)), name
        g, e = g[~np.isnan(g)].view(np.int64), e[~np.isnan(e)].view(np.int64)
    else:
        g, e = (
            pd.Series(g).astype(object).where(pd.Series(g).notna(), None).tolist(),
            pd.Series(e).astype(object).where(pd.Series(e).notna(), None).tolist(),
        )
    assert np.array_equal(np.asarray(g), np.asarray(e)), f"{name}: engine and pandas differ"


def _assert_parity(
    backend: Any,
    orders: pd.DataFrame,
    customers: pd.DataFrame | None,
    interactions: pd.DataFrame | None = None,
    *,
    as_of: str,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The engine's snapshot, RFM scores and every rule scheme's labels equal the pandas
    path's; both snapshots back."""
    tables = load_tables(backend, orders, customers, interactions, config=CONFIG)
    snapshot = customer_snapshot_expr(tables, as_of=as_of).cache()
    got = _engine_frame(snapshot)
    expected = customer_snapshot(_in_cents(orders), customers, interactions, as_of=as_of)
    # The engine has the purchase, interaction and product columns; not the profile.
    assert list(got.columns) == list(expected.columns[: len(got.columns)])
    assert list(got.columns[: len(ENGINE_SNAPSHOT_COLUMNS)]) == list(ENGINE_SNAPSHOT_COLUMNS)
    assert got.index.tolist() == expected.index.astype(str).tolist()
    for column in got.columns:
        if column == "avg_unit_price_ratio":
            # A float mean whose summation order the engine picks: equal to rounding.
            np.testing.assert_allclose(got[column], expected[column], rtol=1e-13)
            continue
        _assert_bitwise_equal(got[column], expected[column])
    _assert_labels_equal(snapshot, expected)
    _assert_sums_equal(tables, snapshot, expected, _in_cents(orders), as_of=as_of)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # ties: the pandas scheme warns
        expected_scores, expected_edges, _ = _rfm_scores_and_edges(expected, config=CONFIG)
    edges = rfm_quintile_edges(snapshot, config=CONFIG)
    for letter in "RFM":
        # The pandas scheme tells R's edges back in days; the scores use minus the days.
        pandas_edges = np.asarray(expected_edges[letter], dtype=np.float64)
        pandas_edges = -pandas_edges if letter == "R" else pandas_edges
        assert edges[letter].tobytes() == pandas_edges.tobytes(), letter
    scores = _engine_frame(rfm_scores_expr(snapshot, config=CONFIG))
    for column in ("R", "F", "M", "FM", "RFM"):
        _assert_bitwise_equal(scores[column], expected_scores[column])
    return got, expected


def _assert_labels_equal(snapshot: Any, expected: pd.DataFrame) -> None:
    """Every rule scheme's keys on the engine equal the pandas scheme's labels, customer by
    customer, and the engine leaves out exactly the schemes pandas finds unavailable."""
    labels = _engine_frame(rule_labels_expr(snapshot, money_scale=100, config=CONFIG))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # ties: the RFM schemes warn
        run = run_schemes(
            expected, as_of=AS_OF, config=CONFIG_CENTS, schemes=list(RULE_SCHEME_NAMES)
        )
    assert list(labels.columns) == list(run.segmentations)
    assert set(labels.columns) | set(run.unavailable) == set(RULE_SCHEME_NAMES)
    for name, segmentation in run.segmentations.items():
        pandas_keys = segmentation.labels.astype(str).to_numpy()
        engine_keys = labels[name].to_numpy(dtype=object).astype(str)
        differ = np.flatnonzero(pandas_keys != engine_keys)
        assert len(differ) == 0, (
            f"{name}: {len(differ)} customers differ, e.g. {labels.index[differ[:3]].tolist()}: "
            f"engine {engine_keys[differ[:3]].tolist()}, pandas {pandas_keys[differ[:3]].tolist()}"
        )


def _assert_sums_equal(
    tables: EngineTables,
    snapshot: Any,
    expected: pd.DataFrame,
    orders_in_cents: pd.DataFrame,
    *,
    as_of: str,
) -> None:
    """The segment profiles' sums and the backtest's outcomes (the 30 days after ``as_of``)
    on the engine equal the pandas snapshot's and :func:`future_outcomes`, as whole numbers."""
    labels_expr = rule_labels_expr(snapshot, money_scale=100, config=CONFIG)
    labels = _engine_frame(labels_expr)
    schemes = list(labels.columns)
    sums = segment_profile_sums_expr(snapshot, labels_expr, schemes).to_pandas()
    outcomes = future_outcomes(
        orders_in_cents, expected.index, calibration_end=as_of, horizon_days=30
    )
    for scheme in schemes:
        got = sums[sums["scheme"] == scheme].set_index("segment").sort_index()
        grouped = expected.groupby(labels[scheme].to_numpy())
        assert got["customers"].tolist() == grouped.size().tolist(), scheme
        for column in PROFILE_SUM_COLUMNS:
            assert got[f"{column}_sum"].tolist() == (
                grouped[column].sum().astype(np.int64).tolist()
            ), (scheme, column)
            assert got[f"{column}_count"].tolist() == grouped[column].count().tolist()
    on_engine = _engine_frame(
        future_outcomes_expr(tables, snapshot, calibration_end=as_of, horizon_days=30)
    )
    assert on_engine["revenue_cents"].tolist() == outcomes["revenue"].astype(np.int64).tolist()
    assert on_engine["bought"].tolist() == outcomes["bought"].tolist()
    cents = outcomes["revenue"].astype(np.int64).tolist()
    assert outcome_totals(
        future_outcomes_expr(tables, snapshot, calibration_end=as_of, horizon_days=30)
    ) == (len(cents), sum(cents), sum(c * c for c in cents))


@pytest.fixture(scope="module")
def demo_ingested(demo_dir: Any) -> Any:
    """The demo export (5,000 contacts) read by the kit's own ingest."""
    return ingest(demo_dir, pii_key="engine-test")


def test_demo_snapshot_and_rfm_equal_the_pandas_path(backend: Any, demo_ingested: Any) -> None:
    got, _ = _assert_parity(
        backend,
        demo_ingested.orders,
        demo_ingested.customers,
        demo_ingested.interactions,
        as_of=DEMO_AS_OF,
    )
    assert len(got) == 5_000
    assert int((~got["is_potential"]).sum()) == int(got["n_orders"].gt(0).sum())
    # Refunds happen in the demo: some netted totals are below the gross.
    assert got["refund_share"].gt(0).any()


def test_cdnow_snapshot_equals_the_pandas_path_and_lifetimes(backend: Any) -> None:
    got, _ = _assert_parity(backend, cdnow_orders(), None, as_of=CDNOW_AS_OF)
    raw = load_cdnow()
    expected = summary_data_from_transaction_data(
        raw,
        "customer_id",
        "date",
        monetary_value_col="dollar_value",
        observation_period_end=CDNOW_AS_OF,
        freq="D",
    )
    expected.index = expected.index.astype(str)
    expected = expected.reindex(got.index)
    assert len(got) == len(expected) == 23_570
    for column in ("frequency", "recency", "T"):
        np.testing.assert_array_equal(
            got[column].to_numpy(dtype=float), expected[column].to_numpy(dtype=float)
        )
    np.testing.assert_allclose(
        got["monetary_value"] / 100, expected["monetary_value"], rtol=1e-12, atol=1e-9
    )
    # Every cent of the file is in the totals (no refunds in CDNOW).
    assert got["monetary_total"].sum() == to_cents(raw["dollar_value"], money_scale=100).sum()


# A synthetic export: a few customers (and guests) whose orders have several lines, refunds
# (negative rows with the order's id), refund-only orders, missing amounts, orders on the
# same day, and rows after the as-of date; a customers table with undated, future and
# repeated entries, and listed customers without orders.
BASE = pd.Timestamp("2024-01-01")
AS_OF = "2024-01-31"
CUSTOMER_POOL = [f"c{i}" for i in range(8)]

_order_row = st.tuples(
    st.one_of(st.none(), st.sampled_from(CUSTOMER_POOL)),  # None: a guest
    st.one_of(st.sampled_from([f"o{i}" for i in range(12)]), st.none()),
    st.integers(0, 40),  # day: 31 and later are after the as-of date
    st.integers(0, 23),  # hour: several orders a day
    st.one_of(st.integers(-5_000, 20_000), st.none()),  # cents; None: missing amount
    st.one_of(st.none(), st.sampled_from([0, 50, 100, 150, 300, 999])),  # unit price, cents
    st.one_of(st.none(), st.sampled_from(["a", "b", "c", "d"])),  # category
)
_interaction_row = st.tuples(
    st.one_of(st.none(), st.sampled_from([*CUSTOMER_POOL, "stranger"])),
    st.integers(-70, 40),  # day: before the 90-day window, in it, after the as-of date
    st.integers(0, 23),
)
_customer_row = st.tuples(
    st.sampled_from(CUSTOMER_POOL),
    st.one_of(st.none(), st.integers(-10, 45)),  # first seen: undated, or a day
)


def _synthetic(
    rows: list[tuple], listed: list[tuple] | None, logged: list[tuple] | None = None
) -> tuple[pd.DataFrame, Any, Any]:
    orders = pd.DataFrame(
        {
            "customer_id": pd.array([r[0] for r in rows], dtype="string"),
            "order_id": pd.array([r[1] for r in rows], dtype="string"),
            "order_ts": pd.to_datetime(
                [BASE + pd.Timedelta(days=r[2], hours=r[3]) for r in rows]
            ).astype("datetime64[ns]"),
            "amount": [np.nan if r[4] is None else r[4] / 100 for r in rows],
        }
    )
    if rows and len(rows[0]) > 5:
        orders["unit_price"] = [np.nan if r[5] is None else r[5] / 100 for r in rows]
        orders["category"] = pd.array([r[6] for r in rows], dtype="string")
    interactions = None
    if logged is not None:
        interactions = pd.DataFrame(
            {
                "customer_id": pd.array([i[0] for i in logged], dtype="string"),
                "ts": pd.to_datetime(
                    [BASE + pd.Timedelta(days=i[1], hours=i[2]) for i in logged]
                ).astype("datetime64[ns]"),
                "kind": pd.array(["message"] * len(logged), dtype="string"),
            }
        )
    if listed is None:
        return orders, None, interactions
    customers = pd.DataFrame(
        {
            "customer_id": pd.array([c[0] for c in listed], dtype="string"),
            "first_seen_ts": pd.to_datetime(
                [pd.NaT if c[1] is None else BASE + pd.Timedelta(days=c[1]) for c in listed]
            ).astype("datetime64[ns]"),
        }
    )
    return orders, customers, interactions


_synthetic_exports = st.tuples(
    st.lists(_order_row, min_size=1, max_size=40),
    st.one_of(st.none(), st.lists(_customer_row, max_size=10)),
    st.one_of(st.none(), st.lists(_interaction_row, max_size=30)),
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(export=_synthetic_exports)
def test_duckdb_equals_pandas_on_synthetic_exports(export: tuple) -> None:
    orders, customers, interactions = _synthetic(*export)
    _assert_parity(connect("duckdb", config=CONFIG), orders, customers, interactions, as_of=AS_OF)


@pytest.mark.spark
@settings(
    max_examples=3,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(export=_synthetic_exports)
def test_spark_equals_pandas_on_synthetic_exports(spark_backend: Any, export: tuple) -> None:
    orders, customers, interactions = _synthetic(*export)
    _assert_parity(spark_backend, orders, customers, interactions, as_of=AS_OF)


def test_a_hand_computed_snapshot_with_refunds_guests_and_same_day_orders() -> None:
    rows = [
        # A: two orders on Jan 2 (one purchase day), one on Jan 10, one refunded in full.
        ("A", "a1", 1, 9, 1_000),
        ("A", "a2", 1, 15, 500),
        ("A", "a3", 9, 10, 2_000),
        ("A", "a4", 12, 10, 700),
        ("A", "a4", 13, 10, -700),
        # B: a purchase, partly refunded, and an order after the as-of date.
        ("B", "b1", 4, 12, 3_000),
        ("B", "b1", 5, 12, -1_000),
        ("B", "b2", 35, 12, 9_000),
        # A guest's order counts for nobody.
        (None, "g1", 3, 12, 4_000),
    ]
    orders, customers, _ = _synthetic(rows, [("C", 2), ("D", 40)])
    tables = load_tables(connect("duckdb", config=CONFIG), orders, customers, config=CONFIG)
    got = _engine_frame(customer_snapshot_expr(tables, as_of=AS_OF))
    # D is first seen after the as-of date: not known yet.
    assert got.index.tolist() == ["A", "B", "C"]
    a, b, c = got.loc["A"], got.loc["B"], got.loc["C"]
    # A: 3 purchases on 2 days (Jan 2, Jan 10); a4 nets to 0 with a refund row.
    assert (a["n_orders"], a["frequency"], a["recency"], a["T"]) == (3, 1, 8.0, 29.0)
    assert a["monetary_value"] == 2_000.0 and a["monetary_total"] == 3_500.0
    assert a["monetary_avg"] == 3_500.0 / 3 and a["refund_share"] == 700 / 4_200
    assert (b["n_orders"], b["frequency"], b["monetary_total"]) == (1, 0, 2_000.0)
    assert b["refund_share"] == 1_000 / 3_000 and b["recency_days"] == 26.0
    assert bool(c["is_potential"]) and c["tenure_days"] == 28.0 and np.isnan(c["T"])


def test_quantiles_from_order_statistics_equal_numpy_to_the_bit() -> None:
    rng = np.random.default_rng(0)
    for n in (1, 2, 3, 5, 7, 10, 11, 101, 4_999):
        values = np.round(rng.gamma(0.7, 300.0, size=n), 2)
        ordered = np.sort(values)
        positions = order_statistic_positions(n, (0.2, 0.4, 0.6, 0.8))
        edges = interpolate_quantiles(
            n, (0.2, 0.4, 0.6, 0.8), {k: float(ordered[k]) for k in positions}
        )
        assert edges.tobytes() == np.quantile(values, (0.2, 0.4, 0.6, 0.8)).tobytes(), n


def test_amounts_in_fractions_of_a_cent_are_refused_with_the_row() -> None:
    assert to_cents(pd.Series([29.33, -0.1, np.nan, 1e9]), money_scale=100).tolist() == [
        2_933,
        -10,
        pd.NA,
        100_000_000_000,
    ]
    with pytest.raises(SegmentationInputError, match=r"row 2: 0\.125 .*2 rows"):
        to_cents(pd.Series([1.0, 0.125, 0.001]), money_scale=100)


def test_an_unknown_engine_is_refused() -> None:
    with pytest.raises(SegmentationInputError, match="duckdb, spark"):
        connect("sqlite", config=CONFIG)


def test_tables_keep_their_rows_and_cents(demo_ingested: Any) -> None:
    tables = load_tables(connect("duckdb", config=CONFIG), demo_ingested.orders, None)
    assert isinstance(tables, EngineTables) and tables.customers is None
    orders = demo_ingested.orders
    counted = tables.orders.aggregate(
        rows=tables.orders.count(), cents=tables.orders.amount_cents.sum()
    ).to_pyarrow()
    assert counted["rows"][0].as_py() == len(orders)
    assert counted["cents"][0].as_py() == int(to_cents(orders["amount"], money_scale=100).sum())


def test_hand_computed_rule_labels_on_the_engine() -> None:
    rows = [
        # A: 3,000 yuan on 4 purchase days from Dec 12 on (loyal, gold, high value).
        ("A", "a1", -20, 9, 100_000, 10_000, "a"),
        ("A", "a2", 9, 9, 100_000, 10_000, "b"),
        ("A", "a3", 16, 9, 50_000, 10_000, "c"),
        ("A", "a4", 23, 9, 50_000, 30_000, "a"),
        # B: exactly 1,000 yuan on one day (silver; new: first purchase 20 days ago).
        ("B", "b1", 10, 12, 100_000, 10_000, "a"),
        # C: 50 yuan, then refunded in full: no purchase left, so fully refunded.
        ("C", "c1", 3, 12, 5_000, None, None),
        ("C", "c1", 4, 12, -5_000, None, None),
    ]
    orders, customers, interactions = _synthetic(
        rows, [("D", 1)], [("D", 29, 1), ("D", 28, 1), ("A", 30, 1)]
    )
    tables = load_tables(
        connect("duckdb", config=CONFIG), orders, customers, interactions, config=CONFIG
    )
    snapshot = customer_snapshot_expr(tables, as_of=AS_OF).cache()
    got = _engine_frame(rule_labels_expr(snapshot, money_scale=100, config=CONFIG))
    assert got.index.tolist() == ["A", "B", "C", "D"]
    # Revenue 4,000: A holds 75% (high); above B is 75% < 80% (high too).
    assert got["value_tier"].tolist() == ["high", "high", "fully_refunded", "potential"]
    assert got["member_grade"].tolist() == ["gold", "silver", "regular", "regular"]
    assert got["frequency_tier"].tolist() == ["mid", "low", "fully_refunded", "potential"]
    assert got["lifecycle"].tolist() == ["loyal", "new", "fully_refunded", "potential"]
    # D chatted twice in the window (mid), A once.
    assert got["interaction_tier"].tolist() == ["low", "low", "low", "mid"]
    # Category a's lines cost 100 and 300 and 100 -> median 100; A's mean ratio
    # (1 + 1 + 1 + 3) / 4 = 1.5: premium; B's 1.0 in one category: basic.
    assert got["needs"].tolist() == ["premium", "basic", "no_products", "no_products"]


def test_rfm_8class_about_the_median_equals_the_pandas_scheme(demo_ingested: Any) -> None:
    orders, customers = demo_ingested.orders, demo_ingested.customers
    median = merge_config(CONFIG, {"rfm_8class": {"center": "median"}})
    tables = load_tables(connect("duckdb", config=CONFIG), orders, customers, config=CONFIG)
    snapshot = customer_snapshot_expr(tables, as_of=DEMO_AS_OF).cache()
    got = _engine_frame(rule_labels_expr(snapshot, money_scale=100, config=median))
    expected = run_schemes(
        customer_snapshot(_in_cents(orders), customers, as_of=DEMO_AS_OF),
        as_of=DEMO_AS_OF,
        config=median,
        schemes=["rfm_8class"],
    ).segmentations["rfm_8class"]
    assert got["rfm_8class"].tolist() == expected.labels.astype(str).tolist()
    # About the median, not the mean: 1,614 of the 5,000 customers change class.
    about_mean = _engine_frame(rule_labels_expr(snapshot, money_scale=100, config=CONFIG))
    moved = int((about_mean["rfm_8class"] != got["rfm_8class"]).sum())
    assert moved == 1_614
