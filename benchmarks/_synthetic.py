"""The synthetic export the benchmarks run on: a private-domain shop's orders and contacts at
any size, drawn from :func:`segmentation.datasets.simulate_bgnbd_purchases`, as CSV and Parquet."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from segmentation.datasets import (
    draw_customer_latents,
    draw_order_values,
    simulate_bgnbd_purchases,
)
from segmentation.errors import InvalidOptionError

__all__ = ["AS_OF", "SyntheticExport", "synthetic_export", "write_synthetic_export"]

# The synthetic export's calendar is fixed so a seed gives the same bytes on any day.
_START = pd.Timestamp("2024-11-01")
_END = pd.Timestamp("2026-10-31 23:59:59")
#: The day the stages take as "now": the export's last day.
AS_OF = pd.Timestamp("2026-10-31")
_CATEGORIES = ("母婴", "美妆", "个护", "食品", "家居", "保健")
_BASE_PRICE = np.array([89.0, 259.0, 119.0, 79.0, 149.0, 199.0])
_CITY_TIERS = ("一线", "新一线", "二线", "三线及以下")
_SOURCE_CHANNELS = ("企业微信扫码", "公众号", "小程序", "门店导购", "直播间", "老客推荐")


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
    about 3.4 orders per contact. The purchases are drawn by
    :func:`segmentation.datasets.simulate_bgnbd_purchases`, a loop over purchase rounds, each
    vectorised over the customers still buying; a million contacts take a few seconds.

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
    if n_customers < 1:
        raise InvalidOptionError(f"n_customers must be at least 1, got {n_customers}.")
    rng = np.random.default_rng(seed)
    span_days = (_END - _START) / pd.Timedelta(days=1)
    n = n_customers

    first_seen = span_days * np.sqrt(rng.uniform(0, 1, n))
    first_purchase = first_seen + rng.exponential(12.0, n)
    buyer = (rng.uniform(0, 1, n) >= potential_share) & (first_purchase < span_days)
    latents = draw_customer_latents(rng, n)
    favourite = rng.integers(0, len(_CATEGORIES), n)
    purchases = simulate_bgnbd_purchases(
        rng,
        first_day=np.where(buyer, first_purchase, np.inf),
        rate=latents.rate,
        dropout=latents.dropout,
        end_day=span_days,
    )
    sales = _sales(
        rng,
        customer=purchases.customer,
        purchase_day=purchases.day,
        spend_nu=latents.spend_nu,
        favourite=favourite,
        guest_share=guest_share,
        span_seconds=round(span_days * 86400),
    )
    rows = _order_rows(rng, sales, refund_share=refund_share, span_seconds=sales.span_seconds)
    # Seven-digit ids up to 9M contacts (the same ids as ever at 1M); ten times the contacts
    # above that, so a 10M export draws from 90M numbers.
    ids = _prefixed("C", rng.choice(max(9_000_000, 9 * n), n, replace=False) + 1_000_000)
    return SyntheticExport(
        orders=_orders_table(rows, sales, ids),
        customers=_customers_table(rng, ids, first_seen),
        n_customers=n,
        n_buyers=int(np.count_nonzero(buyer)),
        n_orders=len(sales.customer),
    )


@dataclass(frozen=True)
class _Sales:
    """One entry per order: who bought what, when (seconds from the start), for how much."""

    customer: np.ndarray
    category: np.ndarray
    unit_price: np.ndarray
    quantity: np.ndarray
    amount: np.ndarray
    seconds: np.ndarray
    guest: np.ndarray
    span_seconds: int


def _sales(
    rng: np.random.Generator,
    *,
    customer: np.ndarray,
    purchase_day: np.ndarray,
    spend_nu: np.ndarray,
    favourite: np.ndarray,
    guest_share: float,
    span_seconds: int,
) -> _Sales:
    n_orders = len(customer)
    value = draw_order_values(rng, spend_nu, customer)
    other = rng.integers(0, len(_CATEGORIES), n_orders)
    category = np.where(rng.uniform(0, 1, n_orders) < 0.7, favourite[customer], other)
    unit_price = np.round(_BASE_PRICE[category] * rng.choice([0.8, 0.9, 1.0], n_orders), 2)
    quantity = np.maximum(1, np.round(value / unit_price)).astype(np.int64)
    return _Sales(
        customer=customer,
        category=category,
        unit_price=unit_price,
        quantity=quantity,
        amount=np.round(quantity * unit_price, 2),
        seconds=np.minimum(np.round(purchase_day * 86400).astype(np.int64), span_seconds),
        guest=rng.uniform(0, 1, n_orders) < guest_share,
        span_seconds=span_seconds,
    )


@dataclass(frozen=True)
class _OrderRows:
    """The export's rows, sales and refunds, in time order: the order of each and its numbers."""

    order: np.ndarray
    seconds: np.ndarray
    quantity: np.ndarray
    amount: np.ndarray
    order_number: np.ndarray


def _order_rows(
    rng: np.random.Generator, sales: _Sales, *, refund_share: float, span_seconds: int
) -> _OrderRows:
    n_orders = len(sales.customer)
    seconds, quantity, amount = sales.seconds, sales.quantity, sales.amount
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
    row_amount = np.concatenate(
        [amount, np.where(full, -amount[refunded], -sales.unit_price[refunded])]
    )
    by_time = np.lexsort((np.arange(len(row_order)), row_seconds))
    return _OrderRows(
        order=row_order[by_time],
        seconds=row_seconds[by_time],
        quantity=row_quantity[by_time],
        amount=row_amount[by_time],
        order_number=order_number,
    )


def _orders_table(rows: _OrderRows, sales: _Sales, ids: Any) -> Any:
    import pyarrow as pa
    import pyarrow.compute as pc

    row_customer = pc.take(ids, pa.array(sales.customer[rows.order]))
    row_customer = pc.if_else(
        pa.array(sales.guest[rows.order]), pa.scalar(None, pa.string()), row_customer
    )
    return pa.table(
        {
            "order_id": _prefixed("SO", rows.order_number[rows.order]),
            "customer_id": row_customer,
            "order_ts": pa.array(
                np.datetime64(_START, "s") + rows.seconds.astype("timedelta64[s]")
            ),
            "category": pc.take(pa.array(_CATEGORIES), pa.array(sales.category[rows.order])),
            "quantity": pa.array(rows.quantity),
            "unit_price": pa.array(sales.unit_price[rows.order]),
            "amount": pa.array(np.round(rows.amount, 2)),
        }
    )


def _customers_table(rng: np.random.Generator, ids: Any, first_seen: np.ndarray) -> Any:
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(first_seen)
    first_seen_seconds = np.round(first_seen * 86400).astype(np.int64)
    return pa.table(
        {
            "customer_id": ids,
            "first_seen_ts": pa.array(
                np.datetime64(_START, "s") + first_seen_seconds.astype("timedelta64[s]")
            ),
            "city_tier": pc.take(pa.array(_CITY_TIERS), pa.array(rng.integers(0, 4, n))),
            "source_channel": pc.take(
                pa.array(_SOURCE_CHANNELS), pa.array(rng.integers(0, len(_SOURCE_CHANNELS), n))
            ),
        }
    )


def _prefixed(prefix: str, numbers: np.ndarray) -> Any:
    import pyarrow as pa
    import pyarrow.compute as pc

    return pc.binary_join_element_wise(prefix, pa.array(numbers).cast(pa.string()), "")


def write_synthetic_export(
    out_dir: str | Path,
    n_customers: int,
    *,
    seed: int = 0,
    formats: Sequence[str] = ("csv", "parquet"),
    **options: float,
) -> dict[str, Any]:
    """Write :func:`synthetic_export` as CSV and as Parquet (or only the ``formats`` given).

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
    formats : sequence of {"csv", "parquet"}, default both
        What to write; a run whose stages read only Parquet skips the CSV files.
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
    for folder in formats:
        (out / folder).mkdir(parents=True, exist_ok=True)
    (out / "README.txt").write_text(
        "程序生成的合成数据，非真实客户 / Generated synthetic data, not real customers.\n"
        f"segmentation bench, n_customers={n_customers}, seed={seed}.\n",
        encoding="utf-8",
    )
    # No value needs quoting (ids, ISO times, numbers, category names).
    options_csv = pacsv.WriteOptions(quoting_style="none")
    for name, table in (("orders", export.orders), ("customers", export.customers)):
        if "csv" in formats:
            pacsv.write_csv(table, out / "csv" / f"{name}.csv", write_options=options_csv)
        if "parquet" in formats:
            pq.write_table(table, out / "parquet" / f"{name}.parquet")
    return {
        "n_customers": export.n_customers,
        "n_buyers": export.n_buyers,
        "n_orders": export.n_orders,
        "n_rows": int(export.orders.num_rows),
        "orders_per_customer": export.n_orders / export.n_customers,
        "csv_bytes": sum(p.stat().st_size for p in out.glob("csv/*.csv")),
        "parquet_bytes": sum(p.stat().st_size for p in out.glob("parquet/*.parquet")),
        "seconds": time.perf_counter() - started,
    }
