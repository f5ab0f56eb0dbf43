"""The customer snapshot's core on the engine: one row per customer known at a date, with
the columns of :data:`segmentation.features.SNAPSHOT_COLUMNS`, money in cents.

It follows :func:`segmentation.features.customer_snapshot` step by step (who is known, netted
orders, purchase days, refunds) and equals it to the bit on the same orders with their
amounts in cents: every sum is of whole cents, and each division is one IEEE division of
two such sums, whichever engine runs it.
"""

from __future__ import annotations

import ibis
import pandas as pd

from segmentation.engine._activity import (
    interaction_counts_expr,
    product_features_expr,
    sale_lines,
)
from segmentation.engine._load import EngineTables
from segmentation.engine._netting import net_orders, order_rows
from segmentation.features import SNAPSHOT_COLUMNS, as_of_cutoff

__all__ = ["ENGINE_SNAPSHOT_COLUMNS", "customer_snapshot_expr"]

#: The columns :func:`customer_snapshot_expr` gives after ``customer_id``, in this order.
ENGINE_SNAPSHOT_COLUMNS: tuple[str, ...] = SNAPSHOT_COLUMNS


def customer_snapshot_expr(tables: EngineTables, *, as_of: str | pd.Timestamp) -> ibis.Table:
    """One row per customer known at ``as_of``, as an Ibis expression on ``tables``' engine.

    Known customers, purchases, refunds and tenure are as
    :func:`segmentation.features.customer_snapshot` defines them (see there); the columns
    are ``customer_id``, :data:`ENGINE_SNAPSHOT_COLUMNS`, then, as the pandas snapshot has
    them, ``interactions_30d`` and ``interactions_90d`` (int64) when ``tables`` has an
    interaction log, and ``avg_unit_price_ratio`` (float64) and ``category_breadth`` (int64)
    when the orders have a unit price and category and at least one sale line up to
    ``as_of`` (one small query finds out). The customers table's profile (region, city,
    tags, ...) is not computed here.

    Parameters
    ----------
    tables : EngineTables
        From :func:`segmentation.engine.load_tables`.
    as_of : str or pandas.Timestamp
        The observation end; the whole of its day is included.

    Returns
    -------
    ibis.Table
        Unordered (sort by ``customer_id`` when reading it back). Money columns
        (``monetary_value``, ``monetary_total``, ``monetary_avg``) are in minor units
        (cents) as float64; ``n_orders`` and ``frequency`` are int64; day counts float64
        (NaN, i.e. null, for potential customers); ``first_purchase`` and ``last_purchase``
        naive timestamps.

    References
    ----------
    Fader, P. S., Hardie, B. G. S. and Lee, K. L. (2005). "Counting Your Customers" the Easy
    Way: An Alternative to the Pareto/NBD Model. Marketing Science 24(2), 275-284.
    """
    cutoff = as_of_cutoff(as_of)
    end_day = int((cutoff - pd.Timedelta(days=1)).normalize().value // 86_400_000_000_000)
    cutoff_literal = ibis.literal(cutoff.to_pydatetime(), type="timestamp")
    rows = order_rows(tables.orders, cutoff_literal)
    orders = net_orders(rows, money_scale=tables.money_scale)
    buyers = _purchase_periods(orders)
    money = _money(rows, orders)
    known = _known_customers(tables, rows, cutoff_literal)
    joined = known.left_join(buyers, "customer_id").left_join(money, "customer_id")
    snapshot = _columns(joined, end_day=end_day)
    return _with_activity(snapshot, tables, rows, cutoff_literal)


def _with_activity(
    snapshot: ibis.Table, tables: EngineTables, rows: ibis.Table, cutoff: ibis.Value
) -> ibis.Table:
    """The snapshot with the interaction counts and product features, where there are any."""
    extra: dict[str, ibis.Value] = {}
    counts = interaction_counts_expr(tables, cutoff)
    if counts is not None:
        snapshot = snapshot.left_join(counts, "customer_id")
        extra |= {
            c: snapshot[c].fill_null(0).cast("int64")
            for c in ("interactions_30d", "interactions_90d")
        }
    products = product_features_expr(rows)
    # The pandas snapshot has the product columns only when there is a sale line at all.
    if products is not None and sale_lines(rows).count().to_pyarrow().as_py() > 0:
        snapshot = snapshot.left_join(products, "customer_id")
        extra |= {
            "avg_unit_price_ratio": snapshot.avg_unit_price_ratio,
            "category_breadth": snapshot.category_breadth.fill_null(0).cast("int64"),
        }
    if not extra:
        return snapshot
    return snapshot.select("customer_id", *ENGINE_SNAPSHOT_COLUMNS, **extra)


def _purchase_periods(orders: ibis.Table) -> ibis.Table:
    """Per buyer: purchases, purchase days (periods), the spend of the repeat days, the first
    and last purchase day and time (lifetimes' ``freq="D"``)."""
    purchases = orders.filter(orders.is_purchase)
    days = purchases.group_by("customer_id", "day").aggregate(
        n_orders=purchases.count(),
        day_cents=purchases.amount_cents.sum(),
        first_ts=purchases.order_ts.min(),
        last_ts=purchases.order_ts.max(),
    )
    # The repeat days' spend is all of it less the first day's (one day each: argmin is exact).
    return days.group_by("customer_id").aggregate(
        n_orders=days.n_orders.sum(),
        n_days=days.count(),
        repeat_cents=days.day_cents.sum() - days.day_cents.argmin(days.day),
        first_day=days.day.min(),
        last_day=days.day.max(),
        first_purchase=days.first_ts.min(),
        last_purchase=days.last_ts.max(),
    )


def _money(rows: ibis.Table, orders: ibis.Table) -> ibis.Table:
    """Per customer with rows: net spend over every order, refunded and gross row amounts,
    and the first order row's day."""
    per_order = orders.group_by("customer_id").aggregate(
        total_cents=orders.amount_cents.sum(), first_row_day=orders.day.min()
    )
    cents = rows.amount_cents
    per_row = rows.group_by("customer_id").aggregate(
        refunded_cents=(-cents).sum(where=cents < 0).fill_null(0),
        gross_cents=cents.sum(where=cents > 0).fill_null(0),
    )
    return per_order.join(per_row, "customer_id")


def _known_customers(tables: EngineTables, rows: ibis.Table, cutoff: object) -> ibis.Table:
    """``customer_id`` and ``first_seen_day`` (before the cutoff, else null) of everyone known:
    with a row up to the cutoff, listed as first seen before it, or listed undated and
    without any order row."""
    with_rows = rows.select("customer_id").distinct()
    if tables.customers is None:
        return with_rows.mutate(first_seen_day=ibis.null("int64"))
    customers = tables.customers
    # A customer listed twice keeps the earliest first_seen_ts.
    listed = (
        customers.filter(customers.customer_id.notnull())
        .group_by("customer_id")
        .aggregate(first_seen_ts=customers.first_seen_ts.min())
    )
    orders = tables.orders
    ever_ordered = orders.filter(orders.customer_id.notnull()).select("customer_id").distinct()
    dated = listed.filter(listed.first_seen_ts < cutoff).select("customer_id")
    undated = (
        listed.filter(listed.first_seen_ts.isnull())
        .anti_join(ever_ordered, "customer_id")
        .select("customer_id")
    )
    known = ibis.union(with_rows, dated, undated, distinct=True)
    seen = listed.filter(listed.first_seen_ts < cutoff)
    seen = seen.select("customer_id", first_seen_day=seen.first_seen_ts.date().epoch_days())
    return known.left_join(seen, "customer_id").select("customer_id", "first_seen_day")


def _columns(joined: ibis.Table, *, end_day: int) -> ibis.Table:
    """The snapshot's columns from the joined figures (nulls for customers without rows)."""
    n_orders = joined.n_orders.fill_null(0)
    is_potential = n_orders == 0
    frequency = ibis.greatest(joined.n_days.fill_null(1) - 1, 0)
    total = ibis.ifelse(is_potential, 0, joined.total_cents.fill_null(0)).cast("float64")
    refunded = joined.refunded_cents.fill_null(0).cast("float64")
    gross = joined.gross_cents.fill_null(0).cast("float64")
    first_seen = joined.first_seen_day
    first_row = joined.first_row_day
    first_known = ibis.least(first_seen.fill_null(first_row), first_row.fill_null(first_seen))
    columns = {
        "first_purchase": joined.first_purchase,
        "last_purchase": joined.last_purchase,
        "recency_days": (end_day - joined.last_day).cast("float64"),
        "n_orders": n_orders.cast("int64"),
        "frequency": frequency.cast("int64"),
        "recency": (joined.last_day - joined.first_day).cast("float64"),
        "T": (end_day - joined.first_day).cast("float64"),
        "monetary_value": ibis.ifelse(
            frequency > 0,
            joined.repeat_cents.fill_null(0).cast("float64") / frequency.cast("float64"),
            0.0,
        ),
        "monetary_total": total,
        "monetary_avg": total / ibis.greatest(n_orders, 1).cast("float64"),
        "tenure_days": (end_day - first_known).cast("float64"),
        "refund_share": ibis.cases(
            (gross > 0, ibis.least(refunded / gross, 1.0)),
            (refunded > 0, 1.0),
            else_=0.0,
        ),
        "is_potential": is_potential,
    }
    return joined.select("customer_id", **columns)
