"""The benchmark machinery: synthetic data, the baselines, exponents, ratios, targets, output.

Speed itself is never asserted: these tests check that the numbers `make bench` reports are
computed correctly from what it measured, on a 1,000-customer run.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import ROOT

# benchmarks/ is a folder at the project's root, not part of the installed package; `python -m
# pytest` from the root finds it, a bare `pytest` needs the root on the path.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import (
    RATIOS,
    bench_stages,
    check_targets,
    main,
    pandas_groupby_summary,
    parse_sizes,
    run_bench,
    scaling_exponent,
    scaling_exponents,
    speed_ratios,
    synthetic_export,
    write_results,
)
from segmentation.clv import lifetimes_summary
from segmentation.errors import InvalidOptionError
from segmentation.features import customer_snapshot


def _canonical(export: object) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The synthetic tables as ingest would give them (the columns the snapshot reads)."""
    orders = export.orders.to_pandas()  # type: ignore[attr-defined]
    customers = export.customers.to_pandas()  # type: ignore[attr-defined]
    orders["customer_id"] = orders["customer_id"].astype("string")
    orders["order_id"] = orders["order_id"].astype("string")
    orders["category"] = orders["category"].astype("string")
    orders["order_ts"] = orders["order_ts"].astype("datetime64[ns]")
    orders["quantity"] = orders["quantity"].astype(float)
    customers["customer_id"] = customers["customer_id"].astype("string")
    customers["first_seen_ts"] = customers["first_seen_ts"].astype("datetime64[ns]")
    return orders, customers


# --- scaling exponent -------------------------------------------------------------------------


@pytest.mark.parametrize("power", [0.0, 0.5, 1.0, 1.1, 2.0])
def test_scaling_exponent_recovers_exact_power_laws(power: float) -> None:
    n = np.array([1e4, 1e5, 1e6])
    assert scaling_exponent(n, 0.003 * n**power) == pytest.approx(power, abs=1e-12)


def test_scaling_exponent_is_the_least_squares_slope_and_skips_missing_times() -> None:
    # log10 times 0, 1, 3 at log10 sizes 4, 5, 6: slope (3 - 0) / 2 = 1.5 by least squares.
    n = [1e4, 1e5, 1e6, 1e7]
    seconds = [1.0, 10.0, 1000.0, np.nan]
    assert scaling_exponent(n, seconds) == pytest.approx(1.5)
    assert np.isnan(scaling_exponent([1e4], [2.0]))
    assert np.isnan(scaling_exponent([1e4, 1e4], [2.0, 3.0]))


def test_scaling_exponents_per_stage_use_only_the_sizes_that_ran() -> None:
    results = pd.DataFrame(
        {
            "stage": ["a", "a", "a", "b", "b", "b"],
            "n_customers": [10, 100, 1000] * 2,
            "seconds": [1.0, 10.0, 100.0, 2.0, 8.0, np.nan],
            "status": ["ok", "ok", "ok", "ok", "ok", "skipped"],
        }
    )
    exponents = scaling_exponents(results)
    assert list(exponents.index) == ["a", "b"]
    assert exponents["a"] == pytest.approx(1.0)
    assert exponents["b"] == pytest.approx(np.log10(4.0))  # two sizes: 2 -> 8 over a decade


# --- ratios and targets --------------------------------------------------------------------------


def _results(rows: list[tuple[str, int, float, float, dict]]) -> pd.DataFrame:
    stages = {s.name: s for s in bench_stages()}
    return pd.DataFrame(
        [
            {
                "stage": name,
                "group": stages[name].group,
                "baseline": stages[name].baseline,
                "n_customers": n,
                "status": "ok",
                "seconds": seconds,
                "runs": 1,
                "peak_mb": peak,
                "rss_before_mb": 100.0,
                "note": "",
                "info": info,
            }
            for name, n, seconds, peak, info in rows
        ]
    )


def test_speed_ratios_are_the_quotient_of_the_measured_times() -> None:
    results = _results(
        [
            ("snapshot", 1000, 0.5, 200.0, {}),
            ("lifetimes_summary", 1000, 6.0, 300.0, {}),
            ("bgnbd_fit_weeks", 1000, 0.25, 200.0, {"params": {"r": 1.0, "alpha": 2.0}}),
            (
                "bgnbd_fit_weeks_uncompressed",
                1000,
                5.0,
                200.0,
                {"params": {"r": 1.00002, "alpha": 2.0}},
            ),
            ("ingest_csv", 1000, 3.0, 200.0, {}),
            ("read_csv", 1000, 1.0, 200.0, {}),
        ]
    )
    ratios = speed_ratios(results).set_index("ratio")
    assert ratios.loc["snapshot_vs_lifetimes", "ratio_value"] == 12.0
    assert ratios.loc["bgnbd_weeks", "ratio_value"] == 20.0
    assert ratios.loc["bgnbd_weeks", "max_relative_param_difference"] == abs(1.0 / 1.00002 - 1)
    assert ratios.loc["ingest_vs_read_csv", "ratio_value"] == 3.0
    # A ratio needs both of its stages at that size.
    assert "pareto_weeks" not in ratios.index


def test_targets_are_judged_at_a_million_customers_and_name_the_slow_stage() -> None:
    rows = []
    for n, scale in ((10_000, 1), (100_000, 10), (1_000_000, 100)):
        rows += [
            ("snapshot", n, 0.01 * scale, 100.0, {}),
            ("lifetimes_summary", n, 0.11 * scale, 100.0, {}),
            ("scheme_rfm_named", n, 0.001 * scale**1.5, 100.0, {}),  # exponent 1.5
            ("report", n, 0.4 * scale, 2000.0 + n / 1000, {}),
        ]
    targets = check_targets(_results(rows)).set_index("target")
    snapshot = targets.loc["snapshot vs lifetimes' summary_data_from_transaction_data >= 10x"]
    assert snapshot["met"] is True and snapshot["measured"].startswith("11.0x at 1,000,000")
    seconds = targets.loc["whole report at 1M customers <= 45 s"]
    assert seconds["met"] is True and seconds["measured"] == "40.0 s"
    memory = targets.loc["whole report at 1M customers <= 2.5 GB peak memory"]
    assert memory["met"] is False and memory["measured"] == "3,000.0 MB"
    exponent = targets.loc["every stage's scaling exponent <= 1.1"]
    assert exponent["met"] is False
    assert exponent["measured"] == "largest 1.50 (scheme_rfm_named); above: scheme_rfm_named"
    assert (
        targets.loc["BG/NBD, purchase weeks: compressed vs one row per customer >= 20x", "met"]
        is None
    )


def test_the_ten_million_run_is_judged_on_its_peak_memory_only_when_it_ran() -> None:
    one_million = [("segments_duckdb_parquet", 1_000_000, 9.0, 900.0, {})]
    assert not check_targets(_results(one_million))["target"].str.contains("10M").any()
    rows = [*one_million, ("segments_duckdb_parquet", 10_000_000, 120.0, 6_000.0, {})]
    targets = check_targets(_results(rows)).set_index("target")
    scale = targets.loc["segment table on DuckDB from Parquet at 10M customers <= 8 GB peak memory"]
    assert scale["met"] is True and scale["measured"] == "6,000.0 MB in 120.0 s"
    over = [*one_million, ("segments_duckdb_parquet", 10_000_000, 120.0, 9_000.0, {})]
    assert check_targets(_results(over)).set_index("target").loc[scale.name, "met"] is False


def test_a_run_of_parquet_stages_alone_skips_the_preparation_and_the_csv(
    tmp_path: Path,
) -> None:
    run = run_bench(
        [500], stages=["segments_duckdb_parquet"], isolated=False, workdir=tmp_path, seed=0
    )
    (row,) = run.results.to_dict("records")  # type: ignore[attr-defined]
    assert row["status"] == "ok" and row["info"]["customers"] == 500
    data = run.data.iloc[0]  # type: ignore[attr-defined]
    assert data["csv_bytes"] == 0 and data["calibration_end"] == "—"
    assert not (tmp_path / "n500" / "export" / "csv").exists()
    assert not (tmp_path / "n500" / "prepared").exists()
    assert (tmp_path / "n500" / "scratch" / "segments.parquet").is_file()


def test_every_ratio_names_stages_that_exist() -> None:
    names = {s.name for s in bench_stages()}
    for ratio in RATIOS:
        slow = (ratio.slow,) if isinstance(ratio.slow, str) else ratio.slow
        assert ratio.fast in names and set(slow) <= names


# --- data and baselines ----------------------------------------------------------------------


def test_synthetic_export_is_seeded_and_shaped_like_a_shop_export() -> None:
    first, again = synthetic_export(2000, seed=3), synthetic_export(2000, seed=3)
    assert first.orders.equals(again.orders) and first.customers.equals(again.customers)
    assert not first.orders.equals(synthetic_export(2000, seed=4).orders)
    orders = first.orders.to_pandas()
    assert first.customers.num_rows == 2000
    assert first.customers.column("customer_id").to_pandas().is_unique
    ts = orders["order_ts"]
    assert ts.is_monotonic_increasing
    assert ts.min() >= pd.Timestamp("2024-11-01") and ts.max() <= pd.Timestamp(
        "2026-10-31 23:59:59"
    )
    sales, refunds = orders.loc[orders["amount"] > 0], orders.loc[orders["amount"] < 0]
    assert len(sales) == first.n_orders and sales["order_id"].is_unique
    np.testing.assert_allclose(sales["amount"], sales["quantity"] * sales["unit_price"])
    # Every refund carries the id of an earlier sale of the same customer.
    matched = refunds.merge(sales, on="order_id", suffixes=("", "_sale"))
    assert len(matched) == len(refunds) > 0
    assert (matched["order_ts"] > matched["order_ts_sale"]).all()
    assert (matched["customer_id"].fillna("") == matched["customer_id_sale"].fillna("")).all()
    assert (-matched["amount"] <= matched["amount_sale"] + 1e-9).all()
    guests = sales["customer_id"].isna().mean()
    assert 0.005 < guests < 0.05  # 2% of orders are guest orders
    buyers = sales["customer_id"].dropna().unique()
    assert len(buyers) <= first.n_buyers < 2000  # potential customers never buy
    assert 2.5 < first.n_orders / 2000 < 4.5  # about 3.4 orders per contact


def test_pandas_groupby_baseline_computes_what_the_snapshot_computes() -> None:
    orders, customers = _canonical(synthetic_export(1500, seed=1))
    snapshot = customer_snapshot(orders, customers, as_of="2026-10-31")
    baseline = pandas_groupby_summary(orders, as_of="2026-10-31")
    buyers = snapshot.loc[~snapshot["is_potential"]]
    assert list(baseline.index) == list(buyers.index)
    for column in ("n_orders", "frequency"):
        np.testing.assert_array_equal(baseline[column], buyers[column])
    for column in ("recency", "T", "monetary_value", "monetary_total"):
        np.testing.assert_allclose(baseline[column], buyers[column], rtol=1e-12)


def test_lifetimes_summary_agrees_with_the_snapshot_when_every_row_is_a_purchase() -> None:
    # Without refunds and guests each row is one purchase, which is all lifetimes knows.
    export = synthetic_export(1500, seed=2, refund_share=0.0, guest_share=0.0)
    orders, customers = _canonical(export)
    snapshot = customer_snapshot(orders, customers, as_of="2026-06-30")
    theirs = lifetimes_summary(orders, as_of="2026-06-30")
    buyers = snapshot.loc[~snapshot["is_potential"]]
    theirs = theirs.reindex(buyers.index.astype(object))
    assert len(theirs) == len(buyers) > 800
    for column in ("frequency", "recency", "T", "monetary_value"):
        np.testing.assert_allclose(theirs[column], buyers[column], rtol=1e-12)


# --- a whole run ----------------------------------------------------------------------------------


def _no_spark() -> bool:
    from segmentation.config import config_section, load_config
    from segmentation.engine._connect import spark_session
    from segmentation.errors import EngineUnavailableError

    try:
        spark_session(config_section(load_config(), "engine"))
    except EngineUnavailableError:
        return True
    return False


@pytest.fixture(scope="module")
def small_run() -> object:
    """Every stage but the report (papermill kernels take a minute), in this process."""
    stages = [s.name for s in bench_stages() if s.name != "report"]
    return run_bench([500, 1000], stages=stages, isolated=False, seed=0, min_seconds=0.05)


def test_a_run_has_a_row_per_stage_and_size_with_positive_times(small_run: object) -> None:
    results = small_run.results  # type: ignore[attr-defined]
    names = [s.name for s in bench_stages() if s.name != "report"]
    assert list(dict.fromkeys(results["stage"])) == names
    assert len(results) == 2 * len(names)
    ran = results.loc[results["status"] == "ok"]
    assert set(results["status"]) <= {"ok", "unavailable"}
    # Only the interaction tier lacks its data (the synthetic export has no interaction log),
    # and Spark only where it cannot start (no Java: make test-setup installs it as root).
    unavailable = {"scheme_interaction_tier"} | ({"snapshot_rfm_spark"} if _no_spark() else set())
    if importlib.util.find_spec("polars") is None:  # a test extra: make test-setup installs it
        unavailable |= {"raw_to_summary_polars_csv", "raw_to_summary_polars_parquet"}
    assert set(results.loc[results["status"] == "unavailable", "stage"]) == unavailable
    engine = results.loc[results["group"] == "engine"].set_index(["stage", "n_customers"])
    for n in (500, 1000):
        # The pandas path and each engine label the same customers with the same schemes.
        pandas_info = engine.loc[("snapshot_rfm", n), "info"]
        assert engine.loc[("snapshot_rfm_duckdb", n), "info"] == pandas_info
        if not _no_spark():
            assert engine.loc[("snapshot_rfm_spark", n), "info"] == pandas_info
        written = engine.loc[("segments_duckdb_parquet", n), "info"]
        assert written["customers"] == pandas_info["customers"] == n
        assert written["schemes"] == pandas_info["schemes"] == 7
    assert (ran["seconds"] > 0).all() and (ran["runs"] >= 1).all()
    snapshot = results.loc[results["stage"] == "snapshot"].set_index("n_customers")
    assert snapshot.loc[1000, "info"]["customers"] > snapshot.loc[500, "info"]["customers"]
    # Ingest's dictionary-encoded ids change nothing but the speed.
    text = results.loc[results["stage"] == "snapshot_text_ids"].set_index("n_customers")
    assert text.loc[1000, "info"] == snapshot.loc[1000, "info"]


def test_every_peer_computes_the_kits_four_columns_from_the_raw_export(small_run: object) -> None:
    results = small_run.results  # type: ignore[attr-defined]
    peers = results.loc[(results["group"] == "peers") & (results["status"] == "ok")]
    summaries = peers.loc[peers["stage"].str.startswith("raw_to_summary_")]
    # The kit from CSV and from Parquet, DuckDB and pandas at least (polars where installed).
    assert len(summaries) >= 2 * 5
    snapshot = results.loc[results["stage"] == "snapshot"].set_index("n_customers")
    for _, row in summaries.iterrows():
        info = row["info"]
        assert info["same_customers"], row["stage"]
        assert info["customers"] == snapshot.loc[row["n_customers"], "info"]["buyers"]
        assert info["max_abs_difference"] < 1e-9, row["stage"]
    floors = peers.loc[peers["stage"].str.startswith("read_floor_")].set_index(
        ["stage", "n_customers"]
    )
    for n in (500, 1000):
        # The floor reads every row of both files, as ingest does (the export is clean).
        assert (
            floors.loc[("read_floor_csv", n), "info"]
            == floors.loc[("read_floor_parquet", n), "info"]
        )
    assert (peers["cpu_seconds"] > 0).all()


def test_a_run_reports_ratios_as_quotients_of_its_own_times(small_run: object) -> None:
    results = small_run.results.set_index(["stage", "n_customers"])  # type: ignore[attr-defined]
    ratios = small_run.ratios  # type: ignore[attr-defined]
    assert len(ratios) == 2 * len(RATIOS)
    by_name = {r.name: r for r in RATIOS}
    for _, row in ratios.iterrows():
        ratio = by_name[row["ratio"]]
        fast = results.loc[(ratio.fast, row["n_customers"]), "seconds"]
        candidates = (ratio.slow,) if isinstance(ratio.slow, str) else ratio.slow
        assert row["slow_stage"] in candidates
        peers = [
            results.loc[(name, row["n_customers"]), "seconds"]
            for name in candidates
            if results.loc[(name, row["n_customers"]), "status"] == "ok"
        ]
        slow = results.loc[(row["slow_stage"], row["n_customers"]), "seconds"]
        assert slow == min(peers)  # the best peer that ran
        assert row["ratio_value"] == slow / fast
    fits = ratios.loc[ratios["ratio"].isin(["bgnbd_weeks", "bgnbd_days", "pareto_weeks"])]
    # The compressed fit finds the parameters of the fit on one row per customer.
    assert (fits["max_relative_param_difference"] < 1e-4).all()
    # lifetimes' own fit given weights= on the kit's rows: BG/NBD reaches the kit's optimum
    # to the bit; Pareto/NBD (Nelder-Mead, tol 1e-8) the same log-likelihood to 1e-6.
    weighted = ratios.loc[ratios["ratio"].str.endswith("_vs_lifetimes_weights")]
    assert len(weighted) == 2 * 4
    bgnbd = weighted["ratio"].str.startswith("bgnbd")
    assert (weighted.loc[bgnbd, "max_relative_param_difference"] == 0).all()
    assert (weighted.loc[~bgnbd, "max_relative_param_difference"] < 1e-3).all()
    gaps = [
        info["log_likelihood_gap"]
        for (stage, _), info in results["info"].items()
        if stage.endswith("_lifetimes_weights")
    ]
    assert len(gaps) == 2 * 4 and all(abs(gap) < 1e-6 for gap in gaps)


def test_results_are_written_with_the_table(small_run: object, tmp_path: Path) -> None:
    paths = write_results(small_run, tmp_path)  # type: ignore[arg-type]
    text = paths["markdown"].read_text(encoding="utf-8")
    assert text.startswith("<!-- Generated by `python -m benchmarks`")
    assert "never edited by hand" in text
    exponents = small_run.exponents  # type: ignore[attr-defined]
    for name in ("snapshot", "scheme_clusters", "compare", "pareto_fit_weeks"):
        line = next(row for row in text.splitlines() if row.startswith(f"| {name} |"))
        assert f"| {exponents[name]:.2f} |" in line
    assert "| scheme_interaction_tier | unavailable | unavailable |" in text
    assert "## Targets" in text and "## Side by side" in text and "Load average" in text
    payload = json.loads(paths["json"].read_text(encoding="utf-8"))
    assert len(payload["results"]) == len(small_run.results)  # type: ignore[attr-defined]
    assert paths["plot"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bench_command_runs_each_stage_in_its_own_process(tmp_path: Path) -> None:
    out = tmp_path / "bench"
    argv = ["--customers", "1000", "--stages", "pandas_groupby_summary", "--out", str(out)]
    assert main(argv) == 0
    payload = json.loads((out / "results.json").read_text(encoding="utf-8"))
    (row,) = payload["results"]
    assert row["stage"] == "pandas_groupby_summary" and row["status"] == "ok"
    # Peak memory of the stage's own process: above what its inputs took, and plausible.
    assert 0 < row["rss_before_mb"] < row["peak_mb"] < 4096
    assert payload["isolated"] is True


def test_unknown_stages_and_bad_sizes_are_user_errors() -> None:
    with pytest.raises(InvalidOptionError, match="unknown stage or group"):
        run_bench([1000], stages=["snapshots"], isolated=False)
    assert parse_sizes("10000, 1e5,1_000_000") == [10_000, 100_000, 1_000_000]
    with pytest.raises(InvalidOptionError, match="'ten'"):
        parse_sizes("ten")
    with pytest.raises(InvalidOptionError, match="'5'"):
        parse_sizes("5")
