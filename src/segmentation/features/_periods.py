"""Each customer's purchase periods, as lifetimes counts them with ``freq="D"``.

A period is a run of purchases on one calendar day; from the netted orders come, per
customer, the purchases, the repeat periods, the spend of the repeat periods and the first
and last purchase.
"""

from __future__ import annotations

import numpy as np

from segmentation.arrays import run_starts
from segmentation.features._kernels import (
    NAT,
    reduceat,
    spread,
    stable_group_order,
    sum_by,
    to_day,
)
from segmentation.features._netting import NetOrders, order_sums

__all__ = ["purchase_periods"]


def purchase_periods(net: NetOrders, n_customers: int, ts_unit: str) -> dict[str, np.ndarray]:
    """Per customer: lifetimes' purchase periods with freq="D" (runs of equal customer, day).

    The purchases are grouped by customer with one counting sort. Purchases in time order
    (as ingest writes them) are then in day order within each customer, and only the few
    that join an earlier purchase's day need more work; otherwise a counting sort by day goes
    first and every period is reduced.
    """
    ts = net.ts
    if len(ts) > 1 and bool((ts[1:] < ts[:-1]).any()):
        return _purchase_periods_by_sort(net, n_customers, ts_unit)
    purchase = net.is_purchase
    # Orders that are not purchases get the key -1, which the grouping puts first.
    all_grouped, n_orders = stable_group_order(np.where(purchase, net.customer, -1), n_customers)
    grouped = all_grouped[len(ts) - int(n_orders.sum()) :]  # positions in ``net``
    buyers = np.flatnonzero(n_orders)
    first_position = (np.cumsum(n_orders) - n_orders)[buyers]
    first_purchase = grouped[first_position]
    last_purchase = grouped[first_position + n_orders[buyers] - 1]
    # A purchase opens a period unless the customer's previous purchase is on its day; days
    # as 16-bit offsets make the gather in customer order four times lighter.
    day = to_day(ts, ts_unit)
    day_offset, last_day = (int(day[0]), int(day[-1])) if len(day) else (0, 0)
    day -= day_offset
    narrow_day = day.astype(np.int16 if last_day - day_offset < 2**15 else np.int32)
    del day
    grouped_day = narrow_day[grouped]
    opens = np.empty(len(grouped), dtype=bool)
    np.not_equal(grouped_day[1:], grouped_day[:-1], out=opens[1:])
    opens[first_position] = True
    joins = np.flatnonzero(~opens)  # positions in the grouping, few
    # Consecutive joiners share a period, opened by the purchase just before them.
    new_run = np.ones(len(joins), dtype=bool)
    new_run[1:] = joins[1:] != joins[:-1] + 1
    run_start = np.flatnonzero(new_run)
    run_length = np.diff(np.append(run_start, len(joins)))
    opener = grouped[joins[run_start] - 1]
    joiner = grouped[joins]
    # A period's amount: its opener's plus its joiners', in time order. Joiners and orders
    # that are not purchases add nothing to the per-customer sum over periods (adding 0.0
    # leaves a sum unchanged).
    period_amount = np.where(purchase, net.amount, 0.0)
    period_amount[opener] = order_sums(
        net.amount[opener], np.repeat(np.arange(len(run_start)), run_length), net.amount[joiner]
    )
    period_amount[joiner] = 0.0
    repeat_spend = sum_by(net.customer, period_amount, n_customers)
    repeat_spend[buyers] -= period_amount[first_purchase]
    frequency = n_orders - 1
    np.subtract.at(frequency, net.customer[joiner], 1)
    first_ts = ts[first_purchase]
    last_ts = ts[last_purchase]
    return _per_customer(
        n_customers,
        buyers,
        n_orders=n_orders,
        frequency=frequency,
        repeat_spend=repeat_spend,
        first_day=to_day(first_ts, ts_unit),
        last_day=to_day(last_ts, ts_unit),
        first_purchase=first_ts,
        last_purchase=last_ts,
    )


def _purchase_periods_by_sort(
    net: NetOrders, n_customers: int, ts_unit: str
) -> dict[str, np.ndarray]:
    """:func:`purchase_periods` for purchases not in time order: sort by (customer, day)."""
    customer = net.customer[net.is_purchase]
    ts = net.ts[net.is_purchase]
    amount = net.amount[net.is_purchase]
    day = to_day(ts, ts_unit)
    day_offset = int(day.min(initial=0))
    by_day, _ = stable_group_order(day - day_offset, int(day.max(initial=0)) - day_offset + 1)
    by_customer, n_orders = stable_group_order(customer[by_day], n_customers)
    grouped = by_day[by_customer]
    customer, day, ts, amount = customer[grouped], day[grouped], ts[grouped], amount[grouped]
    new_period = np.ones(len(customer), dtype=bool)
    new_period[1:] = (customer[1:] != customer[:-1]) | (day[1:] != day[:-1])
    period_start = np.flatnonzero(new_period)
    period_customer = customer[period_start]
    # The stable sorts keep each period's purchases in their order: reduceat sums them as
    # the time-ordered route does.
    period_amount = reduceat(np.add, amount, period_start)
    first = run_starts(period_customer)
    last = np.append(first[1:], len(period_start)).astype(np.int64)[: len(first)] - 1
    buyers = period_customer[first]
    repeat_spend = sum_by(period_customer, period_amount, n_customers)
    repeat_spend[buyers] -= period_amount[first]
    return _per_customer(
        n_customers,
        buyers,
        n_orders=n_orders,
        frequency=spread(n_customers, buyers, last - first, 0),
        repeat_spend=repeat_spend,
        first_day=day[period_start[first]],
        last_day=day[period_start[last]],
        first_purchase=reduceat(np.minimum, ts, period_start)[first],
        last_purchase=reduceat(np.maximum, ts, period_start)[last],
    )


def _per_customer(
    n_customers: int,
    buyers: np.ndarray,
    *,
    n_orders: np.ndarray,
    frequency: np.ndarray,
    repeat_spend: np.ndarray,
    first_day: np.ndarray,
    last_day: np.ndarray,
    first_purchase: np.ndarray,
    last_purchase: np.ndarray,
) -> dict[str, np.ndarray]:
    """The purchase figures by customer: the first four already are, the others are the
    buyers' and are spread over every customer (NaN or NaT for the others)."""
    return {
        "n_orders": n_orders,
        "frequency": np.maximum(frequency, 0),
        "repeat_spend": repeat_spend,
        "first_day": spread(n_customers, buyers, first_day, np.nan),
        "last_day": spread(n_customers, buyers, last_day, np.nan),
        "first_purchase": spread(n_customers, buyers, first_purchase, NAT),
        "last_purchase": spread(n_customers, buyers, last_purchase, NAT),
    }
