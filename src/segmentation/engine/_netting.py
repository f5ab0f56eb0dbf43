"""Orders netted from their rows, on the engine, by the kit's rules
(:mod:`segmentation.features._netting`): a refund row carries its order's id and a negative
amount; an order with refund rows that nets to zero or less is refunded in full and is not a
purchase, and neither is an order of refund rows only."""

from __future__ import annotations

import ibis

from segmentation.features import REFUND_TOLERANCE

__all__ = ["net_orders", "order_rows"]


def order_rows(orders: ibis.Table, cutoff: object) -> ibis.Table:
    """The rows a snapshot reads: a customer's (not a guest's), dated before ``cutoff``."""
    return orders.filter(orders.customer_id.notnull(), orders.order_ts < cutoff)


def net_orders(rows: ibis.Table, *, money_scale: int) -> ibis.Table:
    """One row per (customer, order): ``order_ts`` (the earliest row), ``amount_cents`` (net;
    a missing amount counts 0), ``day`` (days since 1970-01-01 of ``order_ts``) and
    ``is_purchase``.

    A row without an order id is an order of its own, as the snapshot counts it.
    """
    cents = rows.amount_cents
    per_order = rows.group_by(
        customer_id=rows.customer_id,
        order_id=rows.order_id,
        lone_row=ibis.ifelse(rows.order_id.isnull(), rows.row, ibis.null("int64")),
    ).aggregate(
        order_ts=rows.order_ts.min(),
        amount_cents=cents.sum().fill_null(0),
        # A missing amount is neither sale nor refund.
        has_refund=(cents < 0).any().fill_null(False),
        has_sale=(cents >= 0).any().fill_null(False),
    )
    # REFUND_TOLERANCE is in currency units (float residue); whole cents have none.
    fully_refunded = per_order.has_refund & (
        per_order.amount_cents <= REFUND_TOLERANCE * money_scale
    )
    return per_order.select(
        "customer_id",
        "order_ts",
        "amount_cents",
        day=per_order.order_ts.date().epoch_days(),
        is_purchase=per_order.has_sale & ~fully_refunded,
    )
