"""The analysis of what was measured: each stage's scaling exponent (log time against log
customers) and the side-by-side ratios (the kit's way against a baseline, same data, same run)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "RATIOS",
    "Ratio",
    "ratio_text",
    "scaling_exponent",
    "scaling_exponents",
    "speed_ratios",
]


def ratio_text(value: float) -> str:
    """A ratio for reading: ``"22.5x"``, and two decimals below 1 (``"0.02x"``), where the
    kit's way is the slower and one decimal would read 0.0x."""
    return f"{value:.1f}x" if value >= 1 else f"{value:.2f}x"


def scaling_exponent(n_customers: Sequence[float], seconds: Sequence[float]) -> float:
    """Least-squares slope of log(time) against log(customers).

    1 means time grows in proportion to the customers, 2 with their square, 0 not at all.

    Parameters
    ----------
    n_customers, seconds : sequence of float
        Equal length; pairs with a missing or non-positive time are left out.

    Returns
    -------
    float
        NaN with fewer than two distinct sizes.
    """
    n = np.asarray(n_customers, dtype=float)
    t = np.asarray(seconds, dtype=float)
    keep = np.isfinite(n) & np.isfinite(t) & (n > 0) & (t > 0)
    x, y = np.log(n[keep]), np.log(t[keep])
    if len(np.unique(x)) < 2:
        return float("nan")
    x_centred = x - x.mean()
    return float((x_centred * (y - y.mean())).sum() / (x_centred**2).sum())


def scaling_exponents(results: pd.DataFrame) -> pd.Series:
    """:func:`scaling_exponent` of every stage over the sizes where it ran.

    Parameters
    ----------
    results : pandas.DataFrame
        Long format: ``stage``, ``n_customers``, ``seconds`` and ``status``.

    Returns
    -------
    pandas.Series
        Indexed by stage, in first-appearance order.
    """
    ok = results.loc[results["status"] == "ok"]
    stages = list(dict.fromkeys(results["stage"]))
    return pd.Series(
        {
            stage: scaling_exponent(part["n_customers"], part["seconds"])
            for stage, part in ((s, ok.loc[ok["stage"] == s]) for s in stages)
        },
        name="exponent",
        dtype=float,
    )


@dataclass(frozen=True)
class Ratio:
    """A side-by-side comparison: ``slow`` seconds over ``fast`` seconds, same data.

    Attributes
    ----------
    name : str
    fast : str
        The kit's stage.
    slow : str or tuple of str
        The stage it is compared with; the ratio is ``seconds(slow) / seconds(fast)``. A tuple
        names peers, and the fastest of them that ran at that size is taken (the best peer).
    title : str
    target : float or None
        The ratio the kit promises (at least this), judged at the largest size run.
    judged_above : int
        The target applies only at sizes of at least this many customers.
    parameters : bool
        Whether both stages fit parameters that must agree (the compressed fits).
    """

    name: str
    fast: str
    slow: str | tuple[str, ...]
    title: str
    target: float | None = None
    judged_above: int = 0
    parameters: bool = False


RATIOS: tuple[Ratio, ...] = (
    Ratio(
        "snapshot_vs_lifetimes",
        "snapshot",
        "lifetimes_summary",
        "snapshot vs lifetimes' summary_data_from_transaction_data",
        target=10.0,
        judged_above=1_000_000,
    ),
    Ratio(
        "snapshot_vs_lifetimes_text_ids",
        "snapshot_text_ids",
        "lifetimes_summary_text_ids",
        "snapshot vs lifetimes' summary, both on plain-text ids (not ingest's output)",
    ),
    Ratio(
        "snapshot_vs_pandas_groupby",
        "snapshot",
        "pandas_groupby_summary",
        "snapshot vs the same summary as plain pandas groupbys",
    ),
    Ratio(
        "bgnbd_weeks",
        "bgnbd_fit_weeks",
        "bgnbd_fit_weeks_uncompressed",
        "BG/NBD, purchase weeks: compressed vs one row per customer",
        target=20.0,
        judged_above=1_000_000,
        parameters=True,
    ),
    Ratio(
        "bgnbd_days",
        "bgnbd_fit_days",
        "bgnbd_fit_days_uncompressed",
        "BG/NBD, purchase days: compressed vs one row per customer",
        parameters=True,
    ),
    Ratio(
        "pareto_weeks",
        "pareto_fit_weeks",
        "pareto_fit_weeks_uncompressed",
        "Pareto/NBD, purchase weeks: compressed vs one row per customer",
        target=40.0,
        judged_above=100_000,
        parameters=True,
    ),
    Ratio(
        "pareto_days",
        "pareto_fit_days",
        "pareto_fit_days_uncompressed",
        "Pareto/NBD, purchase days: compressed vs one row per customer",
        parameters=True,
    ),
    Ratio(
        "bgnbd_weeks_vs_lifetimes_weights",
        "bgnbd_fit_weeks",
        "bgnbd_fit_weeks_lifetimes_weights",
        "BG/NBD, purchase weeks: the kit vs lifetimes' fit given weights= on the same rows",
        target=1.0,
        judged_above=1_000_000,
        parameters=True,
    ),
    Ratio(
        "bgnbd_days_vs_lifetimes_weights",
        "bgnbd_fit_days",
        "bgnbd_fit_days_lifetimes_weights",
        "BG/NBD, purchase days: the kit vs lifetimes' fit given weights= on the same rows",
        parameters=True,
    ),
    Ratio(
        "pareto_weeks_vs_lifetimes_weights",
        "pareto_fit_weeks",
        "pareto_fit_weeks_lifetimes_weights",
        "Pareto/NBD, purchase weeks: the kit vs lifetimes' fit given weights= on the same "
        "rows (tol 1e-8)",
        target=1.0,
        judged_above=100_000,
        parameters=True,
    ),
    Ratio(
        "pareto_days_vs_lifetimes_weights",
        "pareto_fit_days",
        "pareto_fit_days_lifetimes_weights",
        "Pareto/NBD, purchase days: the kit vs lifetimes' fit given weights= on the same "
        "rows (tol 1e-8)",
        target=1.0,
        judged_above=100_000,
        parameters=True,
    ),
    Ratio(
        "ingest_vs_read_csv",
        "read_csv",
        "ingest_csv",
        "ingest (validated, canonical) over a plain pandas.read_csv of the same files",
    ),
    Ratio(
        "raw_to_summary_csv_vs_duckdb",
        "raw_to_summary_kit_csv",
        "raw_to_summary_duckdb_csv",
        "raw CSV export to lifetimes' four columns: DuckDB's one query over the kit's ingest "
        "and snapshot (0.5x = the kit within 2x of DuckDB)",
        target=0.5,
        judged_above=1_000_000,
    ),
    Ratio(
        "raw_to_summary_csv_vs_best_peer",
        "raw_to_summary_kit_csv",
        ("raw_to_summary_duckdb_csv", "raw_to_summary_polars_csv", "raw_to_summary_pandas_csv"),
        "raw CSV export to lifetimes' four columns: the best peer (DuckDB, polars, pandas) "
        "over the kit",
    ),
    Ratio(
        "raw_to_summary_csv_vs_pandas",
        "raw_to_summary_kit_csv",
        "raw_to_summary_pandas_csv",
        "raw CSV export to lifetimes' four columns: pandas read_csv and groupbys over the kit",
    ),
    Ratio(
        "raw_to_summary_parquet_vs_best_peer",
        "raw_to_summary_kit_parquet",
        ("raw_to_summary_duckdb_parquet", "raw_to_summary_polars_parquet"),
        "Parquet export to lifetimes' four columns: the best peer (DuckDB, polars) over the kit",
    ),
    Ratio(
        "ingest_csv_vs_floor",
        "ingest_csv",
        "read_floor_csv",
        "ingest of the CSV export: pyarrow's typed read of the same files over ingest "
        "(0.25x = ingest within 4x of its read floor)",
        target=0.25,
        judged_above=1_000_000,
    ),
    Ratio(
        "ingest_parquet_vs_floor",
        "ingest_parquet",
        "read_floor_parquet",
        "ingest of the Parquet export: pyarrow's read of the same files over ingest "
        "(0.5x = ingest within 2x of its read floor)",
        target=0.5,
        judged_above=1_000_000,
    ),
    Ratio(
        "snapshot_rfm_duckdb_vs_pandas",
        "snapshot_rfm_duckdb",
        "snapshot_rfm",
        "snapshot, RFM scores and rule-scheme labels: Ibis on DuckDB vs the pandas path",
    ),
    Ratio(
        "snapshot_rfm_spark_vs_pandas",
        "snapshot_rfm_spark",
        "snapshot_rfm",
        "snapshot, RFM scores and rule-scheme labels: Ibis on Spark local[2] vs the pandas path",
    ),
    Ratio(
        "clusters_backtest_duckdb_vs_pandas",
        "clusters_backtest_duckdb_parquet",
        "clusters_backtest",
        "clusters and the backtest: DuckDB from Parquet (the segment table written too) vs "
        "the pandas path on the ingested tables",
    ),
)


def speed_ratios(results: pd.DataFrame, ratios: Sequence[Ratio] = RATIOS) -> pd.DataFrame:
    """Every side-by-side ratio at every size where both of its stages ran.

    Parameters
    ----------
    results : pandas.DataFrame
        Long format, as :attr:`BenchRun.results`.
    ratios : sequence of Ratio, default :data:`RATIOS`

    Returns
    -------
    pandas.DataFrame
        One row per (ratio, size): ``ratio``, ``title``, ``n_customers``, ``fast_seconds``,
        ``slow_seconds``, ``ratio_value`` (slow / fast), ``slow_stage`` (the peer taken) and,
        for fits, ``max_relative_param_difference``.
    """
    ok = results.loc[results["status"] == "ok"].set_index(["stage", "n_customers"])
    rows = []
    for ratio in ratios:
        candidates = (ratio.slow,) if isinstance(ratio.slow, str) else ratio.slow
        for n in sorted(results["n_customers"].unique()):
            ran = [name for name in candidates if (name, n) in ok.index]
            if (ratio.fast, n) not in ok.index or not ran:
                continue
            slow_stage = min(ran, key=lambda name: float(ok.loc[(name, n), "seconds"]))
            fast, slow = ok.loc[(ratio.fast, n)], ok.loc[(slow_stage, n)]
            row: dict[str, Any] = {
                "ratio": ratio.name,
                "title": ratio.title,
                "slow_stage": slow_stage,
                "n_customers": int(n),
                "fast_seconds": float(fast["seconds"]),
                "slow_seconds": float(slow["seconds"]),
                "ratio_value": float(slow["seconds"]) / float(fast["seconds"]),
                "max_relative_param_difference": np.nan,
            }
            if ratio.parameters:
                mine, theirs = fast["info"].get("params", {}), slow["info"].get("params", {})
                if mine and theirs:
                    row["max_relative_param_difference"] = max(
                        abs(mine[k] / theirs[k] - 1.0) for k in mine
                    )
            rows.append(row)
    columns = [
        "ratio",
        "title",
        "slow_stage",
        "n_customers",
        "fast_seconds",
        "slow_seconds",
        "ratio_value",
        "max_relative_param_difference",
    ]
    return pd.DataFrame(rows, columns=columns)
