"""Benchmarks: how each stage scales with the number of customers, and side-by-side speed.

``segmentation bench`` (and ``make bench``) generates a synthetic export at each size (10k, 100k
and 1M customers by default), runs every stage of the kit on it, each in a fresh subprocess
so that its peak memory is its own, and writes ``benchmarks/results.md`` (the tables, the
ratios, a scaling exponent per stage, the machine), ``results.json`` and ``scaling.png``.
Every performance claim the kit makes is a number in that file, measured, never written by
hand.

The data are generated (程序生成的合成数据): customers buy by a BG/NBD process and spend by a
Gamma-Gamma one, about 3.4 orders per customer over 24 months, with refunds, guest orders and
potential customers who never buy (see :func:`synthetic_export`).

Side by side, on the same data in the same run:

- the customer snapshot against lifetimes' ``summary_data_from_transaction_data``
  (:func:`segmentation.clv.lifetimes_summary`) and against the same summary written as plain
  pandas groupbys (:func:`pandas_groupby_summary`), all on the tables as ingest gives them
  (ids dictionary-encoded), and the snapshot and lifetimes again on the ids as plain text;
- BG/NBD and Pareto/NBD fitted on the customers compressed to unique rows against the same
  lifetimes fit on one row per customer, counting purchase days and purchase weeks;
- ingest against a plain ``pandas.read_csv`` of the same files.

A stage's time is the fastest of its runs: a stage under a second is run again, on freshly
read inputs, until a second has passed or it has run five times. Peak memory is the peak
resident set size of the stage's process (``resource.getrusage``), inputs included; for the
report, whose notebook kernels run beside it, the peak of the process and its kernels
together, sampled every 50 ms.
"""

from __future__ import annotations

import contextlib
import gc
import json
import math
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from segmentation.errors import InvalidOptionError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "DEFAULT_SIZES",
    "RATIOS",
    "BenchRun",
    "Ratio",
    "Stage",
    "SyntheticExport",
    "bench_stages",
    "check_targets",
    "machine_info",
    "pandas_groupby_summary",
    "parse_sizes",
    "plot_scaling",
    "results_markdown",
    "run_bench",
    "scaling_exponent",
    "scaling_exponents",
    "speed_ratios",
    "synthetic_export",
    "write_results",
    "write_synthetic_export",
]

DEFAULT_SIZES: tuple[int, ...] = (10_000, 100_000, 1_000_000)

#: Above this many customers, plain lifetimes' Pareto/NBD (minutes) runs only with ``full``.
UNCOMPRESSED_PARETO_LIMIT = 100_000

# The synthetic export's calendar is fixed so a seed gives the same bytes on any day.
_START = pd.Timestamp("2024-11-01")
_END = pd.Timestamp("2026-10-31 23:59:59")
_AS_OF = pd.Timestamp("2026-10-31")
_CATEGORIES = ("母婴", "美妆", "个护", "食品", "家居", "保健")
_BASE_PRICE = np.array([89.0, 259.0, 119.0, 79.0, 149.0, 199.0])
_CITY_TIERS = ("一线", "新一线", "二线", "三线及以下")
_SOURCE_CHANNELS = ("企业微信扫码", "公众号", "小程序", "门店导购", "直播间", "老客推荐")
_BENCH_PII_KEY = "segmentation-bench"  # the synthetic export has no PII; the report wants a key


# --- synthetic data -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SyntheticExport:
    """A generated order export, as pyarrow tables ready to write.

    Attributes
    ----------
    orders : pyarrow.Table
        One row per order (``order_id``, ``customer_id``, ``order_ts``, ``category``,
        ``quantity``, ``unit_price``, ``amount``) and one per refund (negative quantity and
        amount, the order's id, dated 1 hour to 10 days later); sorted by time. Guest orders
        have no ``customer_id``.
    customers : pyarrow.Table
        Every contact (``customer_id``, ``first_seen_ts``, ``city_tier``,
        ``source_channel``), including potential customers who never buy.
    n_customers, n_buyers, n_orders : int
        Contacts, contacts with at least one order, and orders (refund rows not counted).
    """

    orders: Any
    customers: Any
    n_customers: int
    n_buyers: int
    n_orders: int


def synthetic_export(
    n_customers: int,
    *,
    seed: int = 0,
    potential_share: float = 0.10,
    guest_share: float = 0.02,
    refund_share: float = 0.04,
) -> SyntheticExport:
    """Generate a private-domain order export of ``n_customers`` contacts, vectorised.

    Each contact is added on a day of the 24 months ending 2026-10-31 (more of them later, as
    a growing private domain would) and, unless potential, first buys an exponential 12 days
    later. Purchases follow BG/NBD: a Poisson rate ``lambda ~ Gamma(0.75, 1/34)`` per day
    while alive, and after each purchase a dropout with probability ``p ~ Beta(0.6, 3.5)``.
    Order values follow Gamma-Gamma: ``z ~ Gamma(6, 1/nu)`` with ``nu ~ Gamma(3.5, 1/104)``,
    sold as a whole number of units of a category's shelf price less a discount. This gives
    about 3.4 orders per contact. Generation is a loop over purchase rounds, each vectorised
    over the customers still buying; a million contacts take a few seconds.

    Parameters
    ----------
    n_customers : int
        Contacts, at least 1.
    seed : int, default 0
        Seed of the only random generator; the same seed gives identical tables.
    potential_share : float, default 0.10
        Contacts who never buy.
    guest_share : float, default 0.02
        Orders without a customer id.
    refund_share : float, default 0.04
        Orders with a refund row: a third of them (and every single-unit order) in full,
        the others one unit.

    Returns
    -------
    SyntheticExport

    References
    ----------
    Fader, P. S., Hardie, B. G. S. and Lee, K. L. (2005). "Counting Your Customers" the Easy
    Way: An Alternative to the Pareto/NBD Model. Marketing Science 24(2), 275-284.

    Fader, P. S., Hardie, B. G. S. and Lee, K. L. (2005). RFM and CLV: Using Iso-Value Curves
    for Customer Base Analysis. Journal of Marketing Research 42(4), 415-430.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if n_customers < 1:
        raise InvalidOptionError(f"n_customers must be at least 1, got {n_customers}.")
    rng = np.random.default_rng(seed)
    span_days = (_END - _START) / pd.Timedelta(days=1)
    span_seconds = round(span_days * 86400)
    n = n_customers

    first_seen = span_days * np.sqrt(rng.uniform(0, 1, n))
    first_purchase = first_seen + rng.exponential(12.0, n)
    buyer = (rng.uniform(0, 1, n) >= potential_share) & (first_purchase < span_days)
    rate = rng.gamma(0.75, 1 / 34.0, n)
    dropout = rng.beta(0.6, 3.5, n)
    spend_nu = rng.gamma(3.5, 1 / 104.0, n)
    favourite = rng.integers(0, len(_CATEGORIES), n)

    # One round per purchase: everyone still buying buys, then drops out or waits.
    who = np.flatnonzero(buyer)
    day = first_purchase[who]
    rounds_who, rounds_day = [], []
    while who.size:
        rounds_who.append(who)
        rounds_day.append(day)
        stays = rng.uniform(0, 1, who.size) >= dropout[who]
        who, day = who[stays], day[stays]
        day = day + rng.exponential(1.0, who.size) / rate[who]
        inside = day < span_days
        who, day = who[inside], day[inside]
    customer = np.concatenate(rounds_who) if rounds_who else np.zeros(0, dtype=np.int64)
    purchase_day = np.concatenate(rounds_day) if rounds_day else np.zeros(0)
    n_orders = len(customer)

    value = rng.gamma(6.0, 1.0 / spend_nu[customer])
    other = rng.integers(0, len(_CATEGORIES), n_orders)
    category = np.where(rng.uniform(0, 1, n_orders) < 0.7, favourite[customer], other)
    unit_price = np.round(_BASE_PRICE[category] * rng.choice([0.8, 0.9, 1.0], n_orders), 2)
    quantity = np.maximum(1, np.round(value / unit_price)).astype(np.int64)
    amount = np.round(quantity * unit_price, 2)
    seconds = np.minimum(np.round(purchase_day * 86400).astype(np.int64), span_seconds)
    guest = rng.uniform(0, 1, n_orders) < guest_share

    refunded = np.flatnonzero(rng.uniform(0, 1, n_orders) < refund_share)
    full = (quantity[refunded] == 1) | (rng.uniform(0, 1, len(refunded)) < 1 / 3)
    refund_seconds = seconds[refunded] + rng.integers(3600, 10 * 86400, len(refunded))
    inside = refund_seconds <= span_seconds
    refunded, full, refund_seconds = refunded[inside], full[inside], refund_seconds[inside]

    # Order numbers in time order, as a shop's system hands them out.
    order_number = np.empty(n_orders, dtype=np.int64)
    order_number[np.argsort(seconds, kind="stable")] = np.arange(n_orders) + 1_000_000_001
    row_order = np.concatenate([np.arange(n_orders), refunded])
    row_seconds = np.concatenate([seconds, refund_seconds])
    row_quantity = np.concatenate([quantity, np.where(full, -quantity[refunded], -1)])
    row_amount = np.concatenate([amount, np.where(full, -amount[refunded], -unit_price[refunded])])
    by_time = np.lexsort((np.arange(len(row_order)), row_seconds))
    row_order, row_seconds = row_order[by_time], row_seconds[by_time]
    row_quantity, row_amount = row_quantity[by_time], row_amount[by_time]

    ids = _prefixed("C", rng.choice(9_000_000, n, replace=False) + 1_000_000)
    row_customer = pc.take(ids, pa.array(customer[row_order]))
    row_customer = pc.if_else(
        pa.array(guest[row_order]), pa.scalar(None, pa.string()), row_customer
    )
    start = np.datetime64(_START, "s")
    orders = pa.table(
        {
            "order_id": _prefixed("SO", order_number[row_order]),
            "customer_id": row_customer,
            "order_ts": pa.array(start + row_seconds.astype("timedelta64[s]")),
            "category": pc.take(pa.array(_CATEGORIES), pa.array(category[row_order])),
            "quantity": pa.array(row_quantity),
            "unit_price": pa.array(unit_price[row_order]),
            "amount": pa.array(np.round(row_amount, 2)),
        }
    )
    first_seen_seconds = np.round(first_seen * 86400).astype(np.int64)
    customers = pa.table(
        {
            "customer_id": ids,
            "first_seen_ts": pa.array(start + first_seen_seconds.astype("timedelta64[s]")),
            "city_tier": pc.take(pa.array(_CITY_TIERS), pa.array(rng.integers(0, 4, n))),
            "source_channel": pc.take(
                pa.array(_SOURCE_CHANNELS), pa.array(rng.integers(0, len(_SOURCE_CHANNELS), n))
            ),
        }
    )
    return SyntheticExport(
        orders=orders,
        customers=customers,
        n_customers=n,
        n_buyers=int(np.count_nonzero(buyer)),
        n_orders=n_orders,
    )


def _prefixed(prefix: str, numbers: np.ndarray) -> Any:
    import pyarrow as pa
    import pyarrow.compute as pc

    return pc.binary_join_element_wise(prefix, pa.array(numbers).cast(pa.string()), "")


def write_synthetic_export(
    out_dir: str | Path, n_customers: int, *, seed: int = 0, **options: float
) -> dict[str, Any]:
    """Write :func:`synthetic_export` as CSV and as Parquet.

    Layout::

        out_dir/README.txt                    says the data are generated
        out_dir/csv/orders.csv                UTF-8, header line, one row per order or refund
        out_dir/csv/customers.csv
        out_dir/parquet/orders.parquet        the same tables, typed
        out_dir/parquet/customers.parquet

    Parameters
    ----------
    out_dir : str or Path
        Created if absent.
    n_customers : int
    seed : int, default 0
    **options
        ``potential_share``, ``guest_share``, ``refund_share`` of :func:`synthetic_export`.

    Returns
    -------
    dict
        ``n_customers``, ``n_buyers``, ``n_orders``, ``n_rows`` (orders plus refund rows),
        ``orders_per_customer``, ``csv_bytes``, ``parquet_bytes`` and ``seconds`` (to
        generate and write).
    """
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    started = time.perf_counter()
    export = synthetic_export(n_customers, seed=seed, **options)
    out = Path(out_dir)
    for folder in ("csv", "parquet"):
        (out / folder).mkdir(parents=True, exist_ok=True)
    (out / "README.txt").write_text(
        "程序生成的合成数据，非真实客户 / Generated synthetic data, not real customers.\n"
        f"segmentation bench, n_customers={n_customers}, seed={seed}.\n",
        encoding="utf-8",
    )
    # No value needs quoting (ids, ISO times, numbers, category names).
    options_csv = pacsv.WriteOptions(quoting_style="none")
    for name, table in (("orders", export.orders), ("customers", export.customers)):
        pacsv.write_csv(table, out / "csv" / f"{name}.csv", write_options=options_csv)
        pq.write_table(table, out / "parquet" / f"{name}.parquet")
    return {
        "n_customers": export.n_customers,
        "n_buyers": export.n_buyers,
        "n_orders": export.n_orders,
        "n_rows": int(export.orders.num_rows),
        "orders_per_customer": export.n_orders / export.n_customers,
        "csv_bytes": sum(p.stat().st_size for p in (out / "csv").glob("*.csv")),
        "parquet_bytes": sum(p.stat().st_size for p in (out / "parquet").glob("*.parquet")),
        "seconds": time.perf_counter() - started,
    }


# --- the plain pandas baseline ----------------------------------------------------------------


def pandas_groupby_summary(orders: pd.DataFrame, *, as_of: str | pd.Timestamp) -> pd.DataFrame:
    """The snapshot's purchase columns computed the plain pandas way: groupbys on the ids.

    The same definitions as :func:`segmentation.features.customer_snapshot` (orders netted,
    fully refunded orders not purchases, purchase days counted as lifetimes counts them), in
    the code an analyst would write first; the baseline the snapshot is timed against.

    Parameters
    ----------
    orders : pandas.DataFrame
        Canonical orders.
    as_of : str or pandas.Timestamp
        The observation end (the whole day included).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``customer_id`` (sorted), one row per customer with a purchase:
        ``n_orders``, ``frequency``, ``recency``, ``T``, ``monetary_value`` and
        ``monetary_total``.
    """
    from segmentation.features import REFUND_TOLERANCE, as_of_cutoff

    rows = orders.loc[
        orders["customer_id"].notna() & (orders["order_ts"] < as_of_cutoff(as_of)),
        ["customer_id", "order_id", "order_ts", "amount"],
    ]
    rows = rows.assign(sale=rows["amount"] >= 0, refund=rows["amount"] < 0)
    per_order = rows.groupby(["customer_id", "order_id"], sort=False).agg(
        order_ts=("order_ts", "min"),
        amount=("amount", "sum"),
        sale=("sale", "any"),
        refund=("refund", "any"),
    )
    purchase = per_order["sale"] & ~(
        per_order["refund"] & (per_order["amount"] <= REFUND_TOLERANCE)
    )
    purchases = per_order.loc[purchase].reset_index()
    purchases["day"] = purchases["order_ts"].dt.normalize()
    per_day = purchases.groupby(["customer_id", "day"], sort=True)["amount"].sum().reset_index()
    by_customer = per_day.groupby("customer_id", sort=True)
    first_day = by_customer["day"].min()
    n_days = by_customer.size()
    frequency = n_days - 1
    repeat_spend = by_customer["amount"].sum() - by_customer["amount"].first()
    end = pd.Timestamp(as_of).normalize()
    summary = pd.DataFrame(
        {
            "n_orders": purchases.groupby("customer_id", sort=True).size(),
            "frequency": frequency,
            "recency": (by_customer["day"].max() - first_day).dt.days.astype(float),
            "T": (end - first_day).dt.days.astype(float),
            "monetary_value": (repeat_spend / frequency.clip(lower=1)).where(frequency > 0, 0.0),
        }
    )
    summary["monetary_total"] = per_order.groupby("customer_id")["amount"].sum()
    return summary


# --- stages -------------------------------------------------------------------------------------


class _Workspace:
    """What a stage reads: the export's paths and the prepared tables, loaded on demand."""

    def __init__(self, spec: Mapping[str, Any]) -> None:
        self.spec = dict(spec)
        self.export_dir = Path(spec["export_dir"])
        self.prepared_dir = Path(spec["prepared_dir"])
        self.scratch_dir = Path(spec["scratch_dir"])
        self.project_root = Path(spec["project_root"])
        self.seed = int(spec["seed"])
        self.min_seconds = float(spec.get("min_seconds", 1.0))
        self.as_of = pd.Timestamp(spec["as_of"])
        self._cache: dict[str, Any] = {}
        self._config: dict[str, Any] | None = None

    def _parquet(self, name: str) -> pd.DataFrame:
        if name not in self._cache:
            self._cache[name] = pd.read_parquet(self.prepared_dir / f"{name}.parquet")
        return self._cache[name]

    def forget(self) -> None:
        """Drop the tables read so far, so that the next read gives fresh objects."""
        self._cache.clear()

    def orders(self) -> pd.DataFrame:
        return self._parquet("orders")

    def customers(self) -> pd.DataFrame | None:
        path = self.prepared_dir / "customers.parquet"
        return self._parquet("customers") if path.is_file() else None

    def snapshot(self, *, with_clv: bool = False) -> pd.DataFrame:
        return self._parquet("snapshot_clv" if with_clv else "snapshot")

    def fit_summary(self, period_days: int) -> pd.DataFrame:
        return self._parquet(f"fit_summary_{period_days}")

    def config(self) -> dict[str, Any]:
        from segmentation.config import load_config

        if self._config is None:
            self._config = load_config()
        return self._config

    @property
    def calibration_end(self) -> pd.Timestamp:
        return pd.Timestamp(self.spec["calibration_end"])


@dataclass(frozen=True)
class Stage:
    """One timed step.

    Attributes
    ----------
    name : str
        Row name in the results.
    group : str
        ``ingest``, ``snapshot``, ``schemes``, ``clv``, ``compare`` or ``report``.
    title : str
        What is timed, one line.
    load : callable
        ``load(workspace) -> dict``: reads the inputs, untimed.
    run : callable
        ``run(**inputs) -> dict or None``: the timed work; a dict is kept as ``info``.
    baseline : bool
        A reference the kit is compared with (plain pandas, plain lifetimes, or the kit's
        snapshot on plain-text ids, which the report never gives it), not a stage of the
        report; no scaling target applies to it.
    repeat : bool
        Whether a quick run may be repeated to take the fastest.
    full_only_above : int or None
        Above this many customers the stage runs only with ``full=True``.
    spawns_processes : bool
        The stage starts processes of its own (the report's notebook kernels): its peak
        memory is sampled over the whole process tree.
    """

    name: str
    group: str
    title: str
    load: Callable[[_Workspace], dict[str, Any]] = field(repr=False)
    run: Callable[..., dict[str, Any] | None] = field(repr=False)
    baseline: bool = False
    repeat: bool = True
    full_only_above: int | None = None
    spawns_processes: bool = False


def _load_nothing(workspace: _Workspace) -> dict[str, Any]:
    return {"workspace": workspace}


def _ingest_stage(folder: str) -> Callable[..., dict[str, Any]]:
    def run(workspace: _Workspace) -> dict[str, Any]:
        from segmentation.ingest import ingest

        result = ingest([workspace.export_dir / folder])
        return {"rows_kept": len(result.orders)}

    return run


def _read_csv(workspace: _Workspace) -> dict[str, Any]:
    frames = [pd.read_csv(path) for path in sorted((workspace.export_dir / "csv").glob("*.csv"))]
    return {"rows": int(sum(len(f) for f in frames))}


def _load_tables(workspace: _Workspace) -> dict[str, Any]:
    return {
        "orders": workspace.orders(),
        "customers": workspace.customers(),
        "as_of": workspace.as_of,
    }


def _snapshot(
    orders: pd.DataFrame, customers: pd.DataFrame | None, as_of: pd.Timestamp
) -> dict[str, Any]:
    from segmentation.features import customer_snapshot

    snapshot = customer_snapshot(orders, customers, as_of=as_of)
    return {"customers": len(snapshot), "buyers": int((~snapshot["is_potential"]).sum())}


def _load_orders(workspace: _Workspace) -> dict[str, Any]:
    return {"orders": workspace.orders(), "as_of": workspace.as_of}


def _load_orders_for_lifetimes(workspace: _Workspace) -> dict[str, Any]:
    from segmentation.clv import _import_lifetimes

    _import_lifetimes()  # outside the timing, as a session would have it imported already
    return {"orders": workspace.orders(), "as_of": workspace.as_of}


def _with_text_ids(orders: pd.DataFrame) -> pd.DataFrame:
    """The orders with their dictionary-encoded columns decoded to plain text, as an export
    read without ingest would have them."""
    from segmentation.schema import ORDERS

    return orders.astype({column: "string" for column in ORDERS.dictionary})


def _load_tables_text(workspace: _Workspace) -> dict[str, Any]:
    inputs = _load_tables(workspace)
    customers = inputs["customers"]
    return {
        **inputs,
        "orders": _with_text_ids(inputs["orders"]),
        "customers": None if customers is None else customers.astype({"customer_id": "string"}),
    }


def _load_orders_for_lifetimes_text(workspace: _Workspace) -> dict[str, Any]:
    inputs = _load_orders_for_lifetimes(workspace)
    return {**inputs, "orders": _with_text_ids(inputs["orders"])}


def _lifetimes_summary(orders: pd.DataFrame, as_of: pd.Timestamp) -> dict[str, Any]:
    from segmentation.clv import lifetimes_summary

    return {"customers": len(lifetimes_summary(orders, as_of=as_of))}


def _groupby_summary(orders: pd.DataFrame, as_of: pd.Timestamp) -> dict[str, Any]:
    return {"customers": len(pandas_groupby_summary(orders, as_of=as_of))}


def _scheme_stage(name: str) -> tuple[Callable[..., dict[str, Any]], Callable[..., Any]]:
    def load(workspace: _Workspace) -> dict[str, Any]:
        from segmentation.schemes.registry import registry

        names = list(registry())
        # As run_schemes does: schemes after clv_tier see its clv and p_alive columns.
        after_clv = "clv_tier" in names and names.index(name) > names.index("clv_tier")
        return {
            "snapshot": workspace.snapshot(with_clv=after_clv),
            "config": workspace.config(),
            "seed": workspace.seed,
        }

    def run(snapshot: pd.DataFrame, config: dict[str, Any], seed: int) -> dict[str, Any]:
        from segmentation.errors import DataUnavailableError
        from segmentation.schemes.registry import registry

        try:
            result = registry()[name](snapshot, config=config, random_state=seed, previous=None)
        except DataUnavailableError as error:
            return {"unavailable": str(error)}
        info: dict[str, Any] = {"segments": int(result.labels.nunique())}
        if "k" in result.details:
            info["k"] = int(result.details["k"])
        return info

    return load, run


def _load_backtest(workspace: _Workspace) -> dict[str, Any]:
    from segmentation.clv import _import_lifetimes

    _import_lifetimes()
    return {"orders": workspace.orders(), "config": workspace.config(), "as_of": workspace.as_of}


def _backtest(orders: pd.DataFrame, config: dict[str, Any], as_of: pd.Timestamp) -> dict[str, Any]:
    from segmentation.clv import backtest_from_config

    backtest = backtest_from_config(orders, config=config, holdout_end=as_of)
    return {
        "chosen": backtest.chosen,
        "period_days": backtest.period_days,
        "n_customers": len(backtest.customers),
    }


def _fit_stage(
    model: str, period_days: int, *, compress: bool
) -> tuple[Callable[..., dict[str, Any]], Callable[..., dict[str, Any]]]:
    def load(workspace: _Workspace) -> dict[str, Any]:
        from segmentation.clv import _import_lifetimes

        _import_lifetimes()
        return {"summary": workspace.fit_summary(period_days)}

    def run(summary: pd.DataFrame) -> dict[str, Any]:
        from segmentation.clv import fit_purchase_model

        fit = fit_purchase_model(
            summary,
            model=model,
            period_days=period_days,
            min_repeat_customers=1,
            compress=compress,
        )
        return {"params": fit.params, "n_patterns": fit.n_patterns, "n_customers": fit.n_customers}

    return load, run


def _load_month(workspace: _Workspace) -> dict[str, Any]:
    from segmentation.clv import _import_lifetimes

    _import_lifetimes()
    return {**_load_tables(workspace), "config": workspace.config(), "seed": workspace.seed}


def _compare(
    orders: pd.DataFrame,
    customers: pd.DataFrame | None,
    as_of: pd.Timestamp,
    config: dict[str, Any],
    seed: int,
) -> dict[str, Any]:
    from segmentation.compare import analyse_month

    analysis = analyse_month(orders, customers, None, as_of=as_of, config=config, random_state=seed)
    return {
        "schemes": len(analysis.scores),
        "best": str(analysis.scores.index[0]) if len(analysis.scores) else "",
        "timings": {k: round(v, 3) for k, v in analysis.timings.items()},
    }


def _report(workspace: _Workspace) -> dict[str, Any]:
    from segmentation.report import build_report

    reports_dir = workspace.scratch_dir / "reports"
    if reports_dir.exists():
        shutil.rmtree(reports_dir)
    result = build_report(
        input_path=workspace.export_dir / "csv",
        month=f"{workspace.as_of:%Y-%m}",
        lang="zh",
        reports_dir=reports_dir,
        random_state=workspace.seed,
        notebooks_dir=workspace.project_root / "notebooks",
    )
    return {
        "index_html_bytes": result.index_html.stat().st_size,
        "timings": {k: round(v, 3) for k, v in result.timings.items()},
    }


def bench_stages() -> list[Stage]:
    """Every stage, in the order they run, with the baselines beside the stages they match.

    Returns
    -------
    list of Stage
    """
    from segmentation.schemes.registry import registry

    stages = [
        Stage(
            "ingest_csv",
            "ingest",
            "segmentation.ingest.ingest of the CSV export (orders and customers)",
            _load_nothing,
            _ingest_stage("csv"),
        ),
        Stage(
            "ingest_parquet",
            "ingest",
            "segmentation.ingest.ingest of the same export as Parquet",
            _load_nothing,
            _ingest_stage("parquet"),
        ),
        Stage(
            "read_csv",
            "ingest",
            "plain pandas.read_csv of the same CSV files (no validation, no dates)",
            _load_nothing,
            _read_csv,
            baseline=True,
        ),
        Stage(
            "snapshot",
            "snapshot",
            "features.customer_snapshot (orders and customers as ingest gives them, ids "
            "dictionary-encoded; as of the last day)",
            _load_tables,
            _snapshot,
        ),
        Stage(
            "lifetimes_summary",
            "snapshot",
            "lifetimes.utils.summary_data_from_transaction_data on the same orders (freq D)",
            _load_orders_for_lifetimes,
            _lifetimes_summary,
            baseline=True,
        ),
        Stage(
            "pandas_groupby_summary",
            "snapshot",
            "the snapshot's purchase columns as plain pandas groupbys (bench.pandas_groupby_summary)",
            _load_orders,
            _groupby_summary,
            baseline=True,
        ),
        Stage(
            "snapshot_text_ids",
            "snapshot",
            "features.customer_snapshot on the same tables with the ids and category as plain "
            "text, as a table read without ingest has them (the decoding is not timed); a "
            "reference, since the report's snapshots always get ingest's encoded ids",
            _load_tables_text,
            _snapshot,
            baseline=True,
        ),
        Stage(
            "lifetimes_summary_text_ids",
            "snapshot",
            "lifetimes' summary_data_from_transaction_data on those plain-text orders",
            _load_orders_for_lifetimes_text,
            _lifetimes_summary,
            baseline=True,
        ),
    ]
    for name in registry():
        load, run = _scheme_stage(name)
        title = f"the {name} scheme on the snapshot, as run_schemes runs it"
        if name == "clusters":
            title += " (features, choice of k with bootstrap stability, assignment)"
        if name == "clv_tier":
            title += " (MBG/NBD and Gamma-Gamma fits, CLV per customer)"
        stages.append(Stage(f"scheme_{name}", "schemes", title, load, run))
    stages.append(
        Stage(
            "clv_backtest",
            "clv",
            "clv.backtest_from_config: BG/NBD, Pareto/NBD, MBG/NBD fitted and scored (weeks)",
            _load_backtest,
            _backtest,
        )
    )
    for model, title in (("bgnbd", "BG/NBD"), ("pareto", "Pareto/NBD")):
        for period_days, unit in ((1, "days"), (7, "weeks")):
            for compress in (True, False):
                load, run = _fit_stage(model, period_days, compress=compress)
                suffix = "" if compress else "_uncompressed"
                how = "unique rows with weights" if compress else "one row per customer"
                stages.append(
                    Stage(
                        f"{model}_fit_{unit}{suffix}",
                        "clv",
                        f"{title} fit counting purchase {unit}, lifetimes on {how}",
                        load,
                        run,
                        baseline=not compress,
                        full_only_above=(
                            UNCOMPRESSED_PARETO_LIMIT
                            if model == "pareto" and not compress
                            else None
                        ),
                    )
                )
    stages += [
        Stage(
            "compare",
            "compare",
            "compare.analyse_month: three snapshots, every scheme three times, backtest, scores",
            _load_month,
            _compare,
        ),
        Stage(
            "report",
            "report",
            "report.build_report from the CSV export: ingest, analysis, five notebooks, HTML",
            _load_nothing,
            _report,
            repeat=False,
            spawns_processes=True,
        ),
    ]
    return stages


def _select_stages(stages: Sequence[Stage], wanted: Sequence[str] | None) -> list[Stage]:
    """The stages named in ``wanted`` (names or groups), in run order."""
    if not wanted:
        return list(stages)
    names = {s.name for s in stages}
    groups = {s.group for s in stages}
    unknown = [w for w in wanted if w not in names and w not in groups]
    if unknown:
        raise InvalidOptionError(
            f"--stages: unknown stage or group {unknown}; groups are {sorted(groups)}, "
            f"stages are {[s.name for s in stages]}."
        )
    chosen = set(wanted)
    return [s for s in stages if s.name in chosen or s.group in chosen]


# --- measuring --------------------------------------------------------------------------------


def _maxrss_mb(who: int) -> float:
    peak = resource.getrusage(who).ru_maxrss
    # Kilobytes on Linux, bytes on macOS.
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def _current_rss_mb() -> float:
    try:
        with open("/proc/self/statm", encoding="ascii") as handle:
            pages = int(handle.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / (1024 * 1024)
    except (OSError, ValueError, IndexError):
        return _maxrss_mb(resource.RUSAGE_SELF)


class _TreeMemory:
    """Peak resident memory of this process and all its descendants together, sampled.

    ``getrusage(RUSAGE_CHILDREN)`` cannot give it: it reports the largest child on its own,
    and a child forked from a large parent counts the parent's pages until it execs. The
    report's notebook kernels run while the report's process holds its data, so what the
    machine needs is their sum at the same moment. Sampled with psutil (installed with
    ipykernel); without it the result is NaN.
    """

    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        self.peak_mb = float("nan")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> _TreeMemory:
        try:
            import psutil
        except ImportError:
            return self
        me = psutil.Process()
        self.peak_mb = 0.0

        def sample() -> None:
            while not self._stop.is_set():
                total = 0
                for process in [me, *me.children(recursive=True)]:
                    with contextlib.suppress(psutil.Error):
                        total += process.memory_info().rss
                self.peak_mb = max(self.peak_mb, total / (1024 * 1024))
                self._stop.wait(self.interval)

        self._thread = threading.Thread(target=sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


def _measure(
    stage: Stage,
    workspace: _Workspace,
    *,
    min_seconds: float = 1.0,
    max_runs: int = 5,
    collect: bool = True,
) -> dict[str, Any]:
    """Load a stage's inputs, then time its runs; memory as this process sees it.

    ``collect`` runs the garbage collector before measuring, so that the memory before the
    stage is what its inputs hold (a tenth of a second in a process that imported
    scikit-learn: worth it in a stage's own process only).
    """
    inputs = stage.load(workspace)
    if collect:
        gc.collect()
    rss_before = _current_rss_mb()
    times: list[float] = []
    info: dict[str, Any] | None = None
    tree = _TreeMemory() if stage.spawns_processes else contextlib.nullcontext()
    while True:
        started = time.perf_counter()
        with tree:
            info = stage.run(**inputs)
        times.append(time.perf_counter() - started)
        if not stage.repeat or sum(times) >= min_seconds or len(times) >= max_runs:
            break
        # Fresh inputs for the next run: pandas caches hash tables on an index once it is
        # looked up, and a repeat must not be faster for what the first run left behind.
        del inputs
        workspace.forget()
        inputs = stage.load(workspace)
    own_peak = _maxrss_mb(resource.RUSAGE_SELF)
    tree_peak = tree.peak_mb if isinstance(tree, _TreeMemory) else own_peak
    return {
        "seconds": min(times),
        "runs": len(times),
        "rss_before_mb": rss_before,
        "peak_rss_mb": own_peak,
        # Never below the process's own exact peak, which sampling can miss.
        "tree_peak_mb": max(own_peak, tree_peak) if np.isfinite(tree_peak) else tree_peak,
        "info": info or {},
    }


def _prepare(workspace: _Workspace) -> dict[str, Any]:
    """Ingest once and write the tables the stages read: canonical orders and customers, the
    snapshot (with and without the CLV forecast's columns) and the CLV fits' summaries."""
    from segmentation.clv import CLV_SCHEMES, default_backtest_dates
    from segmentation.errors import DataUnavailableError
    from segmentation.features import customer_snapshot, repeat_purchase_summary
    from segmentation.ingest import ingest

    started = time.perf_counter()
    folder = workspace.prepared_dir
    folder.mkdir(parents=True, exist_ok=True)
    result = ingest([workspace.export_dir / "parquet"])
    orders, customers = result.orders, result.customers
    orders.to_parquet(folder / "orders.parquet", index=False)
    if customers is not None:
        customers.to_parquet(folder / "customers.parquet", index=False)
    snapshot = customer_snapshot(orders, customers, as_of=workspace.as_of)
    snapshot.to_parquet(folder / "snapshot.parquet")
    with_clv = snapshot
    try:
        forecast = CLV_SCHEMES["clv_tier"](snapshot, config=workspace.config()).details[
            "customer_clv"
        ]
        with_clv = snapshot.assign(
            clv=forecast["clv"].reindex(snapshot.index),
            p_alive=forecast["p_alive"].reindex(snapshot.index),
        )
    except DataUnavailableError:
        pass
    with_clv.to_parquet(folder / "snapshot_clv.parquet")
    holdout_days = int(workspace.config()["clv"].get("backtest", {}).get("holdout_days", 273))
    calibration_end, _ = default_backtest_dates(
        orders, holdout_days=holdout_days, holdout_end=workspace.as_of
    )
    for period_days in (1, 7):
        summary = repeat_purchase_summary(orders, as_of=calibration_end, period_days=period_days)
        summary.to_parquet(folder / f"fit_summary_{period_days}.parquet")
    return {
        "calibration_end": f"{calibration_end:%Y-%m-%d}",
        "rows_kept": len(orders),
        "customers": len(snapshot),
        "buyers": int((~snapshot["is_potential"]).sum()),
        "seconds": time.perf_counter() - started,
    }


def _child_main(argv: Sequence[str]) -> int:
    """Entry point of a stage's subprocess: ``python -m segmentation.bench SPEC.json``."""
    spec_path = Path(argv[0])
    spec = json.loads(spec_path.read_text(encoding="utf-8"))
    workspace = _Workspace(spec["workspace"])
    task = spec["task"]
    if task == "generate":
        out = write_synthetic_export(
            workspace.export_dir, int(spec["n_customers"]), seed=workspace.seed
        )
    elif task == "prepare":
        out = _prepare(workspace)
    else:
        stage = {s.name: s for s in bench_stages()}[task]
        out = _measure(stage, workspace, min_seconds=workspace.min_seconds)
    Path(spec["result"]).write_text(json.dumps(out, default=_json_default), encoding="utf-8")
    return 0


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, pd.Timestamp | Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _run_child(
    task: str,
    spec: Mapping[str, Any],
    *,
    folder: Path,
    timeout: float | None,
) -> dict[str, Any]:
    """Run one task in a fresh interpreter; raise RuntimeError with its last error line."""
    folder.mkdir(parents=True, exist_ok=True)
    spec_path = folder / f"{task}.spec.json"
    result_path = folder / f"{task}.result.json"
    result_path.unlink(missing_ok=True)
    spec_path.write_text(
        json.dumps({**spec, "task": task, "result": str(result_path)}, default=_json_default),
        encoding="utf-8",
    )
    env = {
        **os.environ,
        "SEGMENTATION_PII_KEY": os.environ.get("SEGMENTATION_PII_KEY") or _BENCH_PII_KEY,
        "MPLBACKEND": "Agg",
    }
    log_path = folder / f"{task}.log"
    with log_path.open("w", encoding="utf-8") as log:
        try:
            done = subprocess.run(
                [sys.executable, "-m", "segmentation.bench", str(spec_path)],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=spec["workspace"]["project_root"],
                env=env,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as error:
            raise RuntimeError(f"timed out after {timeout:.0f} s") from error
    if done.returncode != 0 or not result_path.is_file():
        lines = [
            line
            for line in log_path.read_text(encoding="utf-8", errors="replace").splitlines()
            if line.strip()
        ]
        raise RuntimeError(lines[-1] if lines else f"exit status {done.returncode}")
    result: dict[str, Any] = json.loads(result_path.read_text(encoding="utf-8"))
    return result


# --- a whole run ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class BenchRun:
    """Everything one ``segmentation bench`` measured.

    Attributes
    ----------
    sizes : tuple of int
        Customers per synthetic export, in the order run.
    seed : int
    full : bool
        Whether plain lifetimes' Pareto/NBD ran above :data:`UNCOMPRESSED_PARETO_LIMIT`.
    isolated : bool
        Each stage in its own process (peak memory is then the stage's own).
    machine : dict
        :func:`machine_info` at the start.
    data : pandas.DataFrame
        One row per size: what was generated and prepared.
    results : pandas.DataFrame
        One row per (stage, size): ``stage``, ``group``, ``baseline``, ``n_customers``,
        ``status`` (ok, unavailable, skipped, failed), ``seconds``, ``runs``, ``peak_mb``
        (the stage's process; for the report, with its kernels), ``rss_before_mb``,
        ``note`` and ``info``.
    stages : list of Stage
        The stages selected, in run order.
    command : str
        The command line, for the results file.
    """

    sizes: tuple[int, ...]
    seed: int
    full: bool
    isolated: bool
    machine: dict[str, Any]
    data: pd.DataFrame
    results: pd.DataFrame
    stages: list[Stage]
    command: str = ""

    @property
    def ratios(self) -> pd.DataFrame:
        """:func:`speed_ratios` of the results."""
        return speed_ratios(self.results)

    @property
    def exponents(self) -> pd.Series:
        """:func:`scaling_exponents` of the results."""
        return scaling_exponents(self.results)

    @property
    def targets(self) -> pd.DataFrame:
        """:func:`check_targets` of the results."""
        return check_targets(self.results)


def machine_info() -> dict[str, Any]:
    """Cores, memory, CPU, load average and versions of the machine the bench runs on.

    Returns
    -------
    dict
    """
    from importlib import metadata

    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory_gb = float("nan")
    with contextlib.suppress(ValueError, OSError, AttributeError):
        memory_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
    try:
        load = [round(v, 2) for v in os.getloadavg()]
    except OSError:
        load = []
    versions: dict[str, str | None] = {}
    for package in ("pandas", "numpy", "pyarrow", "scipy", "scikit-learn", "lifetimes"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(memory_gb, 1),
        "load_average": load,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "packages": versions,
        "started_utc": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def _git_commit(root: Path) -> str | None:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError:
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None


def _skip_reason(stage: Stage, n_customers: int, *, full: bool) -> str:
    if stage.full_only_above is not None and n_customers > stage.full_only_above and not full:
        return (
            f"plain lifetimes takes minutes above {stage.full_only_above:,} customers; "
            "run with --full"
        )
    return ""


def run_bench(
    sizes: Sequence[int] = DEFAULT_SIZES,
    *,
    stages: Sequence[str] | None = None,
    seed: int = 0,
    full: bool = False,
    isolated: bool = True,
    workdir: str | Path | None = None,
    timeout: float | None = 3600.0,
    min_seconds: float = 1.0,
    progress: Callable[[str], None] | None = None,
    command: str = "",
) -> BenchRun:
    """Generate the data at every size and time the stages on it.

    Parameters
    ----------
    sizes : sequence of int, default (10000, 100000, 1000000)
        Customers per synthetic export; run in increasing order.
    stages : sequence of str, optional
        Stage names or groups (``ingest``, ``snapshot``, ``schemes``, ``clv``, ``compare``,
        ``report``); all when omitted.
    seed : int, default 0
        Seed of the data and of every model.
    full : bool, default False
        Also run plain lifetimes' Pareto/NBD above 100,000 customers (minutes).
    isolated : bool, default True
        Run data generation, preparation and each stage in a fresh subprocess, so that peak
        memory is the stage's own. ``False`` runs everything in this process (quicker to
        start; peak memory is then not per stage and is left out).
    workdir : str or Path, optional
        Where the exports and scratch files go; a temporary folder, removed at the end,
        when omitted.
    timeout : float, optional, default 3600
        Seconds after which a stage's subprocess is stopped and the stage marked failed.
    min_seconds : float, default 1.0
        A stage is run again, up to five times, until its runs add up to this; the fastest
        run counts.
    progress : callable, optional
        Called with one line per finished stage (e.g. ``print``).
    command : str, optional
        The command line, recorded in the results.

    Returns
    -------
    BenchRun
    """
    from segmentation.report import project_root

    sizes = tuple(sorted({int(s) for s in sizes}))
    if not sizes or min(sizes) < 10:
        raise InvalidOptionError(f"--customers: give sizes of at least 10, got {list(sizes)}.")
    selected = _select_stages(bench_stages(), stages)
    say = progress or (lambda line: None)
    machine = machine_info()
    root = project_root(Path(__file__).resolve().parent)
    if not (root / "pyproject.toml").is_file():
        root = project_root()
    machine["git_commit"] = _git_commit(root)
    owned = workdir is None
    base = Path(tempfile.mkdtemp(prefix="segmentation-bench-")) if owned else Path(str(workdir))
    rows: list[dict[str, Any]] = []
    data_rows: list[dict[str, Any]] = []
    try:
        for n in sizes:
            folder = base / f"n{n}"
            spec: dict[str, Any] = {
                "workspace": {
                    "export_dir": str(folder / "export"),
                    "prepared_dir": str(folder / "prepared"),
                    "scratch_dir": str(folder / "scratch"),
                    "project_root": str(root),
                    "seed": seed,
                    "min_seconds": min_seconds,
                    "as_of": f"{_AS_OF:%Y-%m-%d}",
                    "calibration_end": "",
                },
                "n_customers": n,
            }
            generated = _task("generate", spec, folder / "logs", isolated, timeout)
            prepared = _task("prepare", spec, folder / "logs", isolated, timeout)
            spec["workspace"]["calibration_end"] = prepared["calibration_end"]
            data_rows.append(
                {
                    **{k: v for k, v in generated.items() if k != "seconds"},
                    "generate_seconds": generated["seconds"],
                    "buyers_as_of": prepared["buyers"],
                    "as_of": spec["workspace"]["as_of"],
                    "calibration_end": prepared["calibration_end"],
                }
            )
            say(
                f"n={n:,}: {generated['n_rows']:,} order rows "
                f"({generated['orders_per_customer']:.2f} orders per customer), "
                f"generated in {generated['seconds']:.1f} s"
            )
            for stage in selected:
                rows.append(_run_stage(stage, spec, n, folder, isolated, timeout, full))
                say(_progress_line(rows[-1]))
            if owned:
                shutil.rmtree(folder, ignore_errors=True)
    finally:
        if owned:
            shutil.rmtree(base, ignore_errors=True)
    return BenchRun(
        sizes=sizes,
        seed=seed,
        full=full,
        isolated=isolated,
        machine=machine,
        data=pd.DataFrame(data_rows),
        results=pd.DataFrame(rows, columns=_RESULT_COLUMNS),
        stages=selected,
        command=command,
    )


_RESULT_COLUMNS = [
    "stage",
    "group",
    "baseline",
    "n_customers",
    "status",
    "seconds",
    "runs",
    "peak_mb",
    "rss_before_mb",
    "note",
    "info",
]


def _task(
    task: str, spec: dict[str, Any], logs: Path, isolated: bool, timeout: float | None
) -> dict[str, Any]:
    if isolated:
        return _run_child(task, spec, folder=logs, timeout=timeout)
    workspace = _Workspace(spec["workspace"])
    if task == "generate":
        return write_synthetic_export(
            workspace.export_dir, int(spec["n_customers"]), seed=workspace.seed
        )
    return _prepare(workspace)


def _run_stage(
    stage: Stage,
    spec: dict[str, Any],
    n: int,
    folder: Path,
    isolated: bool,
    timeout: float | None,
    full: bool,
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "stage": stage.name,
        "group": stage.group,
        "baseline": stage.baseline,
        "n_customers": n,
        "status": "ok",
        "seconds": np.nan,
        "runs": 0,
        "peak_mb": np.nan,
        "rss_before_mb": np.nan,
        "note": "",
        "info": {},
    }
    reason = _skip_reason(stage, n, full=full)
    if reason:
        return {**row, "status": "skipped", "note": reason}
    try:
        if isolated:
            measured = _run_child(stage.name, spec, folder=folder / "logs", timeout=timeout)
        else:
            workspace = _Workspace(spec["workspace"])
            measured = _measure(stage, workspace, min_seconds=workspace.min_seconds, collect=False)
    except Exception as error:  # a failed stage is reported, the others still run
        return {**row, "status": "failed", "note": f"{type(error).__name__}: {error}"[:300]}
    info = measured["info"]
    note = str(info.get("unavailable", ""))[:200]
    peak = measured["tree_peak_mb"] if isolated else np.nan
    return {
        **row,
        "status": "unavailable" if note else "ok",
        "seconds": measured["seconds"],
        "runs": measured["runs"],
        "peak_mb": peak,
        "rss_before_mb": measured["rss_before_mb"] if isolated else np.nan,
        "note": note,
        "info": info,
    }


def _progress_line(row: Mapping[str, Any]) -> str:
    head = f"  {row['stage']:<32} n={row['n_customers']:>9,}"
    if row["status"] != "ok":
        return f"{head}  {row['status']}: {row['note']}"
    memory = f"{row['peak_mb']:>8,.0f} MB" if np.isfinite(row["peak_mb"]) else ""
    return f"{head}  {row['seconds']:>9.3f} s {memory}"


# --- analysis -----------------------------------------------------------------------------------


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
    fast, slow : str
        Stage names; the ratio is ``seconds(slow) / seconds(fast)``.
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
    slow: str
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
        "ingest_vs_read_csv",
        "read_csv",
        "ingest_csv",
        "ingest (validated, canonical) over a plain pandas.read_csv of the same files",
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
        ``slow_seconds``, ``ratio_value`` (slow / fast) and, for fits,
        ``max_relative_param_difference``.
    """
    ok = results.loc[results["status"] == "ok"].set_index(["stage", "n_customers"])
    rows = []
    for ratio in ratios:
        for n in sorted(results["n_customers"].unique()):
            if (ratio.fast, n) not in ok.index or (ratio.slow, n) not in ok.index:
                continue
            fast, slow = ok.loc[(ratio.fast, n)], ok.loc[(ratio.slow, n)]
            row: dict[str, Any] = {
                "ratio": ratio.name,
                "title": ratio.title,
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
        "n_customers",
        "fast_seconds",
        "slow_seconds",
        "ratio_value",
        "max_relative_param_difference",
    ]
    return pd.DataFrame(rows, columns=columns)


#: The whole report at a million customers.
REPORT_SECONDS_TARGET = 120.0
REPORT_MEMORY_TARGET_MB = 4096.0
EXPONENT_TARGET = 1.1
PARAMETER_TOLERANCE = 1e-4


def check_targets(results: pd.DataFrame, ratios: Sequence[Ratio] = RATIOS) -> pd.DataFrame:
    """Each performance target, what was measured, and whether it is met.

    Ratios are judged at the largest size run where both stages ran (and at least the
    ratio's ``judged_above``; below it the row says not judged). The report's time and memory
    are judged at 1,000,000 customers. Every stage of the kit (not the baselines) must scale
    with an exponent of at most :data:`EXPONENT_TARGET`.

    Parameters
    ----------
    results : pandas.DataFrame
        :attr:`BenchRun.results`.
    ratios : sequence of Ratio, default :data:`RATIOS`

    Returns
    -------
    pandas.DataFrame
        ``target``, ``measured``, ``met`` (True, False, or None when not measured).
    """
    rows: list[dict[str, Any]] = []
    table = speed_ratios(results, ratios)
    for ratio in ratios:
        if ratio.target is None:
            continue
        part = table.loc[table["ratio"] == ratio.name]
        label = f"{ratio.title} >= {ratio.target:g}x"
        if part.empty:
            rows.append({"target": label, "measured": "not measured", "met": None})
            continue
        last = part.iloc[-1]
        measured = f"{last['ratio_value']:.1f}x at {int(last['n_customers']):,}"
        if last["n_customers"] < ratio.judged_above:
            rows.append(
                {
                    "target": label,
                    "measured": f"{measured} (judged at {ratio.judged_above:,})",
                    "met": None,
                }
            )
            continue
        met = bool(last["ratio_value"] >= ratio.target)
        if ratio.parameters:
            difference = last["max_relative_param_difference"]
            measured += f", parameters within {difference:.1e}"
            met = met and bool(difference <= PARAMETER_TOLERANCE)
        rows.append({"target": label, "measured": measured, "met": met})
    report = results.loc[(results["stage"] == "report") & (results["n_customers"] == 1_000_000)]
    for label, column, limit, unit in (
        (f"whole report at 1M customers <= {REPORT_SECONDS_TARGET:g} s", "seconds",
         REPORT_SECONDS_TARGET, "s"),
        (f"whole report at 1M customers <= {REPORT_MEMORY_TARGET_MB / 1024:g} GB peak memory",
         "peak_mb", REPORT_MEMORY_TARGET_MB, "MB"),
    ):  # fmt: skip
        if (
            report.empty
            or report.iloc[0]["status"] != "ok"
            or not np.isfinite(report.iloc[0][column])
        ):
            rows.append({"target": label, "measured": "not measured", "met": None})
        else:
            value = float(report.iloc[0][column])
            rows.append(
                {"target": label, "measured": f"{value:,.1f} {unit}", "met": value <= limit}
            )
    exponents = scaling_exponents(results)
    kit = results.loc[~results["baseline"].astype(bool), "stage"].unique()
    measured_exponents = exponents.reindex(kit).dropna()
    label = f"every stage's scaling exponent <= {EXPONENT_TARGET:g}"
    if measured_exponents.empty:
        rows.append({"target": label, "measured": "not measured", "met": None})
    else:
        worst = str(measured_exponents.idxmax())
        above = measured_exponents[measured_exponents > EXPONENT_TARGET]
        rows.append(
            {
                "target": label,
                "measured": f"largest {measured_exponents.max():.2f} ({worst})"
                + (f"; above: {', '.join(str(a) for a in above.index)}" if len(above) else ""),
                "met": bool(above.empty),
            }
        )
    return pd.DataFrame(rows, columns=["target", "measured", "met"])


# --- output -------------------------------------------------------------------------------------


def plot_scaling(results: pd.DataFrame) -> Figure:
    """Time against customers, log-log, one line per stage (baselines dashed).

    Parameters
    ----------
    results : pandas.DataFrame
        :attr:`BenchRun.results`.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.figure import Figure

    figure = Figure(figsize=(11, 7), layout="constrained")
    axes = figure.add_subplot()
    ok = results.loc[results["status"] == "ok"]
    stages = list(dict.fromkeys(ok["stage"]))
    colours = [
        f"C{i % 10}" for i in range(len(stages))
    ]  # the default cycle, wrapped; markers tell repeats apart
    markers = "osD^v<>ph*"
    for i, stage in enumerate(stages):
        part = ok.loc[ok["stage"] == stage].sort_values("n_customers")
        baseline = bool(part["baseline"].iloc[0])
        axes.plot(
            part["n_customers"],
            part["seconds"],
            linestyle="--" if baseline else "-",
            marker=markers[(i // 10) % len(markers)],
            color=colours[i],
            label=stage + (" (baseline)" if baseline else ""),
        )
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("customers")
    axes.set_ylabel("seconds (fastest run)")
    axes.set_title("Time per stage against customers (log-log)")
    axes.grid(True, which="both", alpha=0.3)
    if stages:
        axes.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize="small")
    return figure


def _cell(value: float, fmt: str) -> str:
    return format(value, fmt) if value is not None and np.isfinite(value) else "—"


def results_markdown(run: BenchRun) -> str:
    """The text of ``results.md``.

    Parameters
    ----------
    run : BenchRun

    Returns
    -------
    str
    """
    sizes = list(run.sizes)
    machine = run.machine
    lines = [
        "<!-- Generated by `segmentation bench` (make bench). Do not edit by hand: regenerate. -->",
        "# Benchmarks",
        "",
        "Generated by `segmentation bench`; every number below is measured by that command and "
        "the file is rewritten on each run, never edited by hand.",
        "",
        f"Command: `{run.command or 'segmentation bench'}` · seed {run.seed} · "
        f"{'each stage in its own process' if run.isolated else 'all stages in one process'}"
        f"{' · --full' if run.full else ''}",
        "",
        "## Machine",
        "",
        f"- CPU: {machine.get('cpu')} · {machine.get('cores')} cores · "
        f"{machine.get('memory_gb')} GB memory",
        f"- Load average at start (1, 5, 15 min): "
        f"{', '.join(str(v) for v in machine.get('load_average', []))}",
        f"- {machine.get('platform')} · Python {machine.get('python')} · "
        + ", ".join(f"{k} {v}" for k, v in machine.get("packages", {}).items()),
        f"- git commit {machine.get('git_commit') or 'unknown'} · started "
        f"{machine.get('started_utc')}",
        "",
        "## Data",
        "",
        "Synthetic exports (程序生成): BG/NBD purchases and Gamma-Gamma spend over the 24 months "
        "to 2026-10-31, with refunds, guest orders and potential customers "
        "(`segmentation.bench.synthetic_export`), written as CSV and as Parquet.",
        "",
        "| customers | buyers | orders | order rows | orders per customer | CSV MB | Parquet MB "
        "| as of | CLV calibration end |",
        "|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for _, row in run.data.iterrows():
        lines.append(
            f"| {row['n_customers']:,} | {row['n_buyers']:,} | {row['n_orders']:,} "
            f"| {row['n_rows']:,} | {row['orders_per_customer']:.2f} "
            f"| {row['csv_bytes'] / 1e6:,.1f} | {row['parquet_bytes'] / 1e6:,.1f} "
            f"| {row['as_of']} | {row['calibration_end']} |"
        )
    lines += ["", "## Targets", "", "| target | measured | met |", "|---|---|:---:|"]
    for _, row in run.targets.iterrows():
        met = {True: "yes", False: "**no**"}.get(row["met"], "not judged")
        lines.append(f"| {row['target']} | {row['measured']} | {met} |")
    lines += [
        "",
        "## Side by side",
        "",
        "Same data, same run. The ratio is the slower's time over the faster's: how many times "
        "faster the kit's way is (for ingest: how many times slower than a bare read).",
        "",
        "| comparison | customers | fast s | slow s | ratio | max parameter difference |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for _, row in run.ratios.iterrows():
        lines.append(
            f"| {row['title']} | {row['n_customers']:,} | {row['fast_seconds']:.3f} "
            f"| {row['slow_seconds']:.3f} | {row['ratio_value']:.1f}x "
            f"| {_cell(row['max_relative_param_difference'], '.1e')} |"
        )
    exponents = run.exponents
    header = (
        " | ".join(f"{n:,} s" for n in sizes) + " | " + " | ".join(f"{n:,} peak MB" for n in sizes)
    )
    lines += [
        "",
        "## Stages",
        "",
        "Seconds are the fastest run (a stage under a second is run again, up to five times). "
        "Peak MB is the stage process's peak resident memory, its inputs and the interpreter "
        "included; for the report, the sampled peak of its process and notebook kernels "
        "together. The exponent is the "
        "least-squares slope of log time against log customers over the sizes run "
        "(1 = linear). Baselines are plain pandas or plain lifetimes, for comparison.",
        "",
        f"| stage | {header} | exponent |",
        "|---|" + "---:|" * (2 * len(sizes) + 1),
    ]
    measured: dict[tuple[str, int], dict[Any, Any]] = {
        (str(row["stage"]), int(row["n_customers"])): row
        for row in run.results.to_dict(orient="records")
    }
    for stage in run.stages:
        cells_time, cells_memory = [], []
        for n in sizes:
            cell = measured.get((stage.name, n))
            if cell is None:
                cells_time.append("—")
                cells_memory.append("—")
            elif cell["status"] == "ok":
                cells_time.append(_cell(float(cell["seconds"]), ",.3f"))
                cells_memory.append(_cell(float(cell["peak_mb"]), ",.0f"))
            else:
                cells_time.append(str(cell["status"]))
                cells_memory.append("—")
        name = f"{stage.name} (baseline)" if stage.baseline else stage.name
        lines.append(
            f"| {name} | {' | '.join(cells_time)} | {' | '.join(cells_memory)} "
            f"| {_cell(exponents.get(stage.name, np.nan), '.2f')} |"
        )
    notes = run.results.loc[run.results["note"].astype(bool)]
    lines += [
        "",
        "![time against customers, log-log](scaling.png)",
        "",
        "## What each stage times",
        "",
    ]
    lines += [f"- `{s.name}`: {s.title}" for s in run.stages]
    if not notes.empty:
        lines += ["", "## Notes", ""]
        lines += [
            f"- `{row['stage']}` at {row['n_customers']:,}: {row['status']}: {row['note']}"
            for _, row in notes.iterrows()
        ]
    return "\n".join(lines) + "\n"


def write_results(run: BenchRun, out_dir: str | Path) -> dict[str, Path]:
    """Write ``results.md``, ``results.json`` and ``scaling.png`` to ``out_dir``.

    Parameters
    ----------
    run : BenchRun
    out_dir : str or Path
        Created if absent; the three files are overwritten.

    Returns
    -------
    dict of str to Path
        ``markdown``, ``json``, ``plot``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "markdown": out / "results.md",
        "json": out / "results.json",
        "plot": out / "scaling.png",
    }
    paths["markdown"].write_text(results_markdown(run), encoding="utf-8")
    payload = {
        "command": run.command,
        "sizes": list(run.sizes),
        "seed": run.seed,
        "full": run.full,
        "isolated": run.isolated,
        "machine": run.machine,
        "data": run.data.to_dict(orient="records"),
        "results": run.results.to_dict(orient="records"),
        "ratios": run.ratios.to_dict(orient="records"),
        "exponents": {k: _json_number(v) for k, v in run.exponents.items()},
        "targets": run.targets.to_dict(orient="records"),
    }
    paths["json"].write_text(
        json.dumps(_json_clean(payload), ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
    )
    figure = plot_scaling(run.results)
    figure.savefig(paths["plot"], dpi=110)
    return paths


def _json_number(value: float) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None


def _json_clean(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_clean(v) for v in value]
    if isinstance(value, float | np.floating):
        return _json_number(float(value))
    if isinstance(value, np.integer | np.bool_):
        return value.item()
    return value


def parse_sizes(text: str) -> list[int]:
    """``"10000,100000,1e6"`` -> ``[10000, 100000, 1000000]``.

    Raises
    ------
    InvalidOptionError
        When an entry is not a whole number of at least 10.
    """
    sizes = []
    for part in (p.strip().replace("_", "") for p in text.split(",")):
        try:
            value = float(part)
        except ValueError:
            value = float("nan")
        if not math.isfinite(value) or value != int(value) or value < 10:
            raise InvalidOptionError(
                f"--customers: {part!r} is not a whole number of customers of at least 10; "
                "give sizes such as 10000,100000,1000000."
            )
        sizes.append(int(value))
    return sizes


if __name__ == "__main__":
    sys.exit(_child_main(sys.argv[1:]))
