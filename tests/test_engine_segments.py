"""The engine's second half: the CLV fits' unique rows and their predictions joined back,
and the month's segment table written back to the engine (Python API and command line).

On DuckDB and on Spark local[2] (the session's, from conftest): the unique rows equal
:func:`segmentation.clv.compress_customers` on the pandas snapshot, a fit on them equals the
pandas path's fit to the bit (and, on the CDNOW sample, Fader, Hardie and Lee's published
BG/NBD estimates), and the segment table written equals every rule scheme's labels.
"""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from segmentation.clv import compress_customers, fit_purchase_model, fit_purchase_rows
from segmentation.config import load_config
from segmentation.engine import (
    RULE_SCHEME_NAMES,
    clv_rows_expr,
    connect,
    customer_snapshot_expr,
    join_row_predictions,
    load_tables,
    migration_counts_expr,
    rule_labels_expr,
    segment_on_engine,
    tables_on_engine,
)
from segmentation.errors import CLVInputError, InvalidOptionError, SegmentationInputError
from segmentation.features import customer_snapshot
from segmentation.ingest import ingest
from segmentation.schemes.registry import run_schemes

from canonical_frames import DEMO_AS_OF, cdnow_orders

CONFIG = load_config()
# The CDNOW sample's calibration period in Fader, Hardie and Lee (2005): 39 weeks to 1997-09-30.
CDNOW_CALIBRATION_END = "1997-09-30"
FHL_2005 = {"r": 0.24259, "alpha": 4.4136, "a": 0.79292, "b": 2.4259}


@pytest.fixture(scope="module")
def demo_ingested(demo_dir: Path) -> Any:
    return ingest(demo_dir, pii_key="engine-segments")


def _rows_and_snapshots(
    backend: Any, orders: pd.DataFrame, customers: pd.DataFrame | None, *, as_of: str
) -> tuple[pd.DataFrame, Any, pd.DataFrame]:
    """The engine's unique rows, its snapshot expression, and the pandas snapshot."""
    tables = load_tables(backend, orders, customers, config=CONFIG)
    snapshot = customer_snapshot_expr(tables, as_of=as_of).cache()
    rows = clv_rows_expr(snapshot).to_pandas()
    return rows, snapshot, customer_snapshot(orders, customers, as_of=as_of)


def test_the_unique_rows_and_the_fit_equal_the_pandas_path(
    backend: Any, demo_ingested: Any
) -> None:
    rows, _, snapshot = _rows_and_snapshots(
        backend, demo_ingested.orders, demo_ingested.customers, as_of=DEMO_AS_OF
    )
    buyers = snapshot[~snapshot["is_potential"]]
    patterns = compress_customers(buyers["frequency"], buyers["recency"], buyers["T"])
    # 4,074 buyers of 5,000 contacts on 3,005 unique rows, in compress_customers' order.
    assert (len(rows), int(rows["weight"].sum())) == (3_005, 4_074)
    assert rows["frequency"].to_numpy().tobytes() == patterns.frequency.tobytes()
    assert rows["recency"].to_numpy().tobytes() == patterns.recency.tobytes()
    assert rows["T"].to_numpy().tobytes() == patterns.T.tobytes()
    assert rows["weight"].to_numpy().tobytes() == patterns.weight.tobytes()
    for model in ("bgnbd", "pareto"):
        on_engine = fit_purchase_rows(rows, model=model)
        on_pandas = fit_purchase_model(snapshot, model=model)
        assert on_engine.params == on_pandas.params, model
        assert on_engine.log_likelihood == on_pandas.log_likelihood
        assert (on_engine.n_customers, on_engine.n_patterns) == (4_074, 3_005)


def test_cdnow_rows_on_the_engine_give_the_published_bgnbd(backend: Any) -> None:
    rows, _, snapshot = _rows_and_snapshots(
        backend, cdnow_orders(sample=True), None, as_of=CDNOW_CALIBRATION_END
    )
    fit = fit_purchase_rows(rows, model="bgnbd")
    assert (fit.n_customers, fit.n_repeat_customers, fit.n_patterns) == (2_357, 946, 1_016)
    assert max(abs(fit.params[k] / v - 1) for k, v in FHL_2005.items()) < 1e-3
    assert fit.log_likelihood == pytest.approx(-9582.429, abs=1e-3)
    assert fit.params == fit_purchase_model(snapshot, model="bgnbd").params


def test_predictions_made_for_the_rows_reach_every_customer_on_the_engine(
    backend: Any, demo_ingested: Any
) -> None:
    rows, snapshot_expr, snapshot = _rows_and_snapshots(
        backend, demo_ingested.orders, demo_ingested.customers, as_of=DEMO_AS_OF
    )
    fit = fit_purchase_rows(rows, model="bgnbd")
    keys = (rows["frequency"], rows["recency"], rows["T"])
    predictions = rows.assign(
        expected=fit.expected_purchases(90, *keys), p_alive=fit.probability_alive(*keys)
    )
    joined = join_row_predictions(snapshot_expr, predictions).to_pandas()
    joined = joined.set_index("customer_id").sort_index()
    assert len(joined) == 5_000 and list(joined.columns) == ["expected", "p_alive"]
    buyers = snapshot[~snapshot["is_potential"]]
    per_customer = joined.loc[buyers.index.astype(str)]
    expected = fit.expected_purchases(90, buyers["frequency"], buyers["recency"], buyers["T"])
    assert per_customer["expected"].to_numpy().tobytes() == expected.tobytes()
    # Potential customers have no row, so no prediction: 926 of them.
    assert int(joined["expected"].isna().sum()) == int(snapshot["is_potential"].sum()) == 926


def test_a_weight_below_one_and_a_missing_weight_are_refused() -> None:
    rows = pd.DataFrame({"frequency": [0, 2], "recency": [0.0, 10.0], "T": [20.0, 30.0]})
    with pytest.raises(SegmentationInputError, match=r"no column 'weight'"):
        fit_purchase_rows(rows)
    with pytest.raises(CLVInputError, match=r"1 row\(s\) with a weight below 1"):
        fit_purchase_rows(rows.assign(weight=[3, 0]))


def test_equal_rows_given_twice_fit_as_one_row_with_both_weights(demo_ingested: Any) -> None:
    rows, _, _ = _rows_and_snapshots(
        connect("duckdb", config=CONFIG),
        demo_ingested.orders,
        demo_ingested.customers,
        as_of=DEMO_AS_OF,
    )
    # Split each row's weight in two, shuffled: the same customers, so the same fit.
    first = rows.assign(weight=rows["weight"] // 2)
    halves = pd.concat(
        [first[first["weight"] > 0], rows.assign(weight=rows["weight"] - first["weight"])]
    )
    shuffled = halves.sample(frac=1.0, random_state=7)
    assert fit_purchase_rows(shuffled).params == fit_purchase_rows(rows).params


def _pandas_labels(snapshot: pd.DataFrame) -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # RFM ties warn
        run = run_schemes(
            snapshot, as_of=DEMO_AS_OF, config=CONFIG, schemes=list(RULE_SCHEME_NAMES)
        )
    return pd.DataFrame({name: s.labels.astype(str) for name, s in run.segmentations.items()})


def test_the_segment_table_written_back_equals_every_rule_schemes_labels(
    backend: Any, demo_ingested: Any, tmp_path: Path
) -> None:
    data = demo_ingested
    tables = load_tables(backend, data.orders, data.customers, data.interactions, config=CONFIG)
    result = segment_on_engine(tables, to=tmp_path / "segments.parquet", config=CONFIG)
    # The last order day of the demo is its month-end.
    assert result.as_of == pd.Timestamp(DEMO_AS_OF)
    assert result.customers == 5_000 and result.schemes == RULE_SCHEME_NAMES
    parts = sorted(tmp_path.glob("segments.parquet*")) or [tmp_path / "segments.parquet"]
    written = pd.read_parquet(parts[0]).set_index("customer_id").sort_index()
    snapshot = customer_snapshot(data.orders, data.customers, data.interactions, as_of=DEMO_AS_OF)
    expected = _pandas_labels(snapshot)
    expected.index = expected.index.astype(str)
    for scheme in RULE_SCHEME_NAMES:
        assert written[scheme].astype(str).tolist() == expected[scheme].tolist(), scheme
    # The sizes read back are the pandas labels' counts, scheme by scheme.
    for scheme, sizes in result.sizes.groupby("scheme"):
        counts = expected[scheme].value_counts()
        assert dict(zip(sizes["segment"], sizes["customers"], strict=True)) == counts.to_dict(), (
            scheme
        )
    assert int(result.sizes["customers"].sum()) == 5_000 * len(RULE_SCHEME_NAMES)


def test_a_table_in_a_duckdb_file_from_the_command_line(demo_ingested: Any, tmp_path: Path) -> None:
    orders = demo_ingested.orders[["customer_id", "order_id", "order_ts", "amount"]]
    orders.astype({"customer_id": "string", "order_id": "string"}).to_parquet(
        tmp_path / "orders.parquet"
    )
    database = tmp_path / "shop.duckdb"
    argv = [
        sys.executable, "-m", "segmentation", "engine-segments",
        "--orders", str(tmp_path / "orders.parquet"),
        "--to", "segments", "--database", str(database), "--as-of", "2026-09-30",
    ]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    # Orders only (no customers table, no products): the 3,788 customers with an order by
    # 2026-09-30, every rule scheme but the interaction tiers and needs, and the clusters.
    backend = connect(
        "duckdb", config={"engine": {**CONFIG["engine"], "duckdb_database": str(database)}}
    )
    written = backend.table("segments").to_pandas()
    assert len(written) == 3_788 and written.columns[-1] == "clusters"
    assert lines[-1].startswith("3,788 customers as of 2026-09-30, 7 schemes (rfm_named, ")
    assert lines[0].split("\t") == [
        "scheme", "segment", "customers", "share", "recency_days_mean", "frequency_mean",
        "monetary_total_mean", "revenue_share",
    ]  # fmt: skip
    assert lines[-2].startswith("clusters: k=") and "fitted on a seeded sample of " in lines[-2]
    profiles = [line.split("\t") for line in lines[1:-2]]
    assert sum(int(row[2]) for row in profiles) == 7 * 3_788
    counted = {(row[0], row[1]): int(row[2]) for row in profiles}
    assert counted == {
        (scheme, key): int(n)
        for scheme in written.columns[1:]
        for key, n in written[scheme].value_counts().items()
    }
    # Each segment's share of the customers, to four places.
    assert all(row[3] == f"{int(row[2]) / 3_788:.4f}" for row in profiles)
    # No customer id reaches the terminal.
    assert not set(written["customer_id"]) & set(done.stdout.split())


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--orders", "shop.orders", "--to", "out.parquet"], "shop.orders: no such table"),
        (["--orders", "missing.parquet", "--to", "out.parquet"], "missing.parquet: no such"),
        (["--orders", "orders.parquet", "--to", "segments"], "in-memory database is gone"),
        (["--orders", "orders.parquet", "--to", "nowhere/s.parquet"], "does not exist"),
        (
            ["--orders", "orders.parquet", "--to", "s.parquet", "--as-of", "2026-13-01"],
            "not a date",
        ),
        (
            ["--engine", "spark", "--database", "x.duckdb", "--orders", "o", "--to", "t"],
            "--database",
        ),
    ],
)
def test_mistakes_are_one_line_and_exit_2(
    demo_ingested: Any, tmp_path: Path, extra: list[str], message: str
) -> None:
    orders = demo_ingested.orders[["customer_id", "order_id", "order_ts", "amount"]]
    orders.astype({"customer_id": "string", "order_id": "string"}).to_parquet(
        tmp_path / "orders.parquet"
    )
    done = subprocess.run(
        [sys.executable, "-m", "segmentation", "engine-segments", *extra],
        capture_output=True, text=True, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and message in done.stderr, done.stderr
    assert done.stderr.startswith("segmentation engine-segments: error: ")


def test_an_empty_orders_table_is_named(tmp_path: Path) -> None:
    path = tmp_path / "orders.parquet"
    pd.DataFrame(
        {
            "customer_id": pd.Series([], dtype="string"),
            "order_id": pd.Series([], dtype="string"),
            "order_ts": pd.Series([], dtype="datetime64[us]"),
            "amount": pd.Series([], dtype=float),
        }
    ).to_parquet(path)
    tables = tables_on_engine(connect("duckdb", config=CONFIG), path, config=CONFIG)
    with pytest.raises(SegmentationInputError, match="orders: the table has no rows"):
        segment_on_engine(tables, to=tmp_path / "s.parquet", config=CONFIG)
    with pytest.raises(InvalidOptionError, match="not a date"):
        segment_on_engine(tables, to=tmp_path / "s.parquet", as_of="soon", config=CONFIG)


def test_migration_counts_on_the_engine_equal_the_pandas_migration(
    backend: Any, demo_ingested: Any
) -> None:
    from segmentation.schemes.migration import GONE, NEW, migration_between
    from segmentation.schemes.tiers import member_grade

    data = demo_ingested
    tables = load_tables(backend, data.orders, data.customers, data.interactions, config=CONFIG)
    days = ("2026-09-30", DEMO_AS_OF)
    labels = [
        rule_labels_expr(
            customer_snapshot_expr(tables, as_of=day).cache(),
            money_scale=tables.money_scale,
            config=CONFIG,
        )
        for day in days
    ]
    got = migration_counts_expr(*labels, "member_grade", new=NEW, gone=GONE).to_pandas()
    got_pairs = {(a, b): int(n) for a, b, n in got.itertuples(index=False)}
    earlier, later = (
        member_grade(
            customer_snapshot(data.orders, data.customers, data.interactions, as_of=day),
            config=CONFIG,
        )
        for day in days
    )
    counts = migration_between(earlier, later).counts.stack()
    expected = {(str(a), str(b)): int(n) for (a, b), n in counts.items() if n}
    assert got_pairs == expected
    # Every customer known at either month-end is counted once; the demo gains contacts.
    assert sum(got_pairs.values()) == 5_000
    assert sum(n for (a, _), n in got_pairs.items() if a == NEW) > 0
