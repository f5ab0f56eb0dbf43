"""The report's backtest where the orders are: outcomes per customer, sums per segment, and
scores and ranks equal to the pandas backtest's (DuckDB, and Spark local[2]).

Only whole numbers come back from the engine (customers, cents, buyers, and the exact sum of
squared revenue), so the engines agree to the bit; the scores then equal
:func:`segmentation.evaluate.scheme_scores` within rounding (eta² and the top-20% share,
which pandas sums in floating point) or exactly (the AUC and the shape scores).
"""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segmentation.config import load_config
from segmentation.engine import (
    RULE_SCHEME_NAMES,
    connect,
    customer_snapshot_expr,
    future_outcomes_expr,
    load_tables,
)
from segmentation.engine_backtest import backtest_on_engine
from segmentation.evaluate import future_outcomes, scheme_scores
from segmentation.features import buyer_mask, customer_snapshot
from segmentation.ingest import ingest
from segmentation.ranking import RevenueSpread, rank_schemes, scores_from_sums, segment_scores
from segmentation.schemes.registry import run_schemes

CONFIG = load_config()
# The demo's last order day is 2026-10-31; with the report's 90-day horizon the schemes are
# computed as of 2026-08-02.
CALIBRATION_END = pd.Timestamp("2026-08-02")


@pytest.fixture(scope="module")
def demo_ingested(demo_dir: Path) -> Any:
    return ingest(demo_dir, pii_key="engine-backtest")


@pytest.fixture(scope="module")
def pandas_backtest(demo_ingested: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The pandas path's outcomes and ranked scores of the rule schemes at calibration."""
    data = demo_ingested
    snapshot = customer_snapshot(
        data.orders, data.customers, data.interactions, as_of=CALIBRATION_END
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # RFM ties warn
        run = run_schemes(
            snapshot, as_of=CALIBRATION_END, config=CONFIG, schemes=list(RULE_SCHEME_NAMES)
        )
    outcomes = future_outcomes(
        data.orders, snapshot.index, calibration_end=CALIBRATION_END, horizon_days=90
    )
    buyers = buyer_mask(snapshot)
    rows = {}
    for name, segmentation in run.segmentations.items():
        row = scheme_scores(segmentation, outcomes)
        counts = segmentation.labels[buyers].value_counts()
        row["largest_buyer_share"] = float(counts.max() / buyers.sum())
        row["collapsed"] = ""
        rows[name] = row
    return outcomes, rank_schemes(pd.DataFrame.from_dict(rows, orient="index"))


def _tables(backend: Any, data: Any) -> Any:
    return load_tables(backend, data.orders, data.customers, data.interactions, config=CONFIG)


def test_each_customers_outcome_equals_the_pandas_outcome(
    backend: Any, demo_ingested: Any, pandas_backtest: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    expected, _ = pandas_backtest
    tables = _tables(backend, demo_ingested)
    snapshot = customer_snapshot_expr(tables, as_of=CALIBRATION_END)
    got = future_outcomes_expr(tables, snapshot, calibration_end=CALIBRATION_END, horizon_days=90)
    got = got.to_pandas().set_index("customer_id").sort_index()
    expected = expected.set_axis(expected.index.astype(str)).sort_index()
    # 3,849 customers known on 2026-08-02; 1,390 of them bought in the 90 days after.
    assert got.index.tolist() == expected.index.tolist() and len(got) == 3_849
    cents = np.round(expected["revenue"].to_numpy() * 100).astype(np.int64)
    assert got["revenue_cents"].tolist() == cents.tolist()
    assert got["bought"].tolist() == expected["bought"].tolist()
    assert int(got["bought"].sum()) == 1_390


def test_the_scores_and_ranks_equal_the_pandas_backtest(
    backend: Any, demo_ingested: Any, pandas_backtest: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    outcomes, expected = pandas_backtest
    result = backtest_on_engine(_tables(backend, demo_ingested), config=CONFIG)
    assert (result.calibration_end, result.horizon_days) == (CALIBRATION_END, 90)
    cents = np.round(outcomes["revenue"].to_numpy() * 100).astype(np.int64)
    squares = sum(int(c) * int(c) for c in cents)
    assert result.totals == (3_849, int(cents.sum()), squares)
    scores = result.scores
    assert scores.index.tolist() == expected.index.tolist()  # the same ranking
    assert scores.index[0] == "rfm_named"
    assert scores["rank"].tolist() == expected["rank"].tolist()
    for column in ("eta_squared", "top20_revenue_share"):
        np.testing.assert_allclose(scores[column], expected[column], rtol=1e-12, err_msg=column)
    for column in ("auc_purchase", "n_segments", "smallest_share", "entropy_bits"):
        assert scores[column].tolist() == expected[column].tolist(), column
    assert scores["largest_buyer_share"].tolist() == expected["largest_buyer_share"].tolist()
    assert (scores["collapsed"] == "").all()


@pytest.mark.spark
def test_spark_and_duckdb_give_the_same_backtest_to_the_bit(
    spark_backend: Any, demo_ingested: Any
) -> None:
    on_duckdb = backtest_on_engine(
        _tables(connect("duckdb", config=CONFIG), demo_ingested), config=CONFIG
    )
    on_spark = backtest_on_engine(_tables(spark_backend, demo_ingested), config=CONFIG)
    pd.testing.assert_frame_equal(on_spark.sums, on_duckdb.sums, check_dtype=False)
    assert on_spark.totals == on_duckdb.totals
    pd.testing.assert_frame_equal(on_spark.scores, on_duckdb.scores, check_exact=True)


def test_the_exact_spread_of_a_hand_computed_case() -> None:
    # Revenue 0, 100 and 300 cents: mean 400/3; squares 100,000; spread 100,000 - 400²/3.
    spread = RevenueSpread.exact(3, 400, 100_000)
    assert spread.mean == 400 / 3
    assert spread.spread == 140_000 / 3 and spread.scale == 100_000.0
    # Two segments, {0, 100} and {300}: between = 2 (50 - 400/3)² + (300 - 400/3)².
    eta, _, _ = scores_from_sums(
        np.array([2, 1]), np.array([100, 300]), np.array([1, 1]), spread=spread
    )
    assert eta == pytest.approx((2 * (50 - 400 / 3) ** 2 + (300 - 400 / 3) ** 2) / (140_000 / 3))
    assert np.isnan(RevenueSpread.exact(0, 0, 0).mean)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    cents=st.lists(st.integers(-50_000, 5_000_000), min_size=2, max_size=300),
    segments=st.integers(1, 6),
    seed=st.integers(0, 2**16),
)
def test_scores_from_exact_sums_equal_the_per_customer_scores(
    cents: list[int], segments: int, seed: int
) -> None:
    revenue = np.array(cents, dtype=np.int64)
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, segments, size=len(revenue))
    bought = (revenue > 0).astype(float)
    k = int(codes.max()) + 1
    exact = scores_from_sums(
        np.bincount(codes, minlength=k),
        np.bincount(codes, weights=revenue, minlength=k),
        np.bincount(codes, weights=bought, minlength=k),
        spread=RevenueSpread.exact(
            len(revenue), int(revenue.sum()), sum(int(c) * int(c) for c in cents)
        ),
    )
    per_customer = segment_scores(codes, revenue.astype(float), bought)
    np.testing.assert_allclose(exact, per_customer, rtol=1e-9, atol=1e-12)


def test_the_command_prints_the_ranked_backtest(demo_ingested: Any, tmp_path: Path) -> None:
    orders = demo_ingested.orders[["customer_id", "order_id", "order_ts", "amount"]]
    orders.astype({"customer_id": "string", "order_id": "string"}).to_parquet(
        tmp_path / "orders.parquet"
    )
    done = subprocess.run(
        [
            sys.executable, "-m", "segmentation", "engine-segments", "--orders",
            "orders.parquet", "--to", "segments.parquet", "--backtest",
        ],
        capture_output=True, text=True, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("backtest: "))
    # Orders only: the 3,157 customers with an order by 2026-08-02.
    assert lines[start] == (
        "backtest: schemes as of 2026-08-02, scored on the 90 days after (3,157 customers)"
    )
    ranked = [line.split("\t") for line in lines[start + 2 :]]
    assert [row[0] for row in ranked] == [str(i) for i in range(1, 8)]
    assert {row[1] for row in ranked} == {
        "rfm_named", "rfm_8class", "value_tier", "member_grade", "frequency_tier",
        "lifecycle", "clusters",
    }  # fmt: skip
    assert ranked[0][1] == "rfm_named"
