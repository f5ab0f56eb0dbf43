"""Cancellations under their own order id, matched to the purchases they cancel.

Online Retail writes a cancellation as its own invoice (``C536379``): rows with a negative
quantity and amount, and no sale. Netting rows by order id cannot tell which purchase such an
order cancels, so the purchase would still count. Where the export has product ids and
quantities, each cancellation row is matched to the purchase line it cancels: the same
customer, the same product, the same quantity (sold ``q``, cancelled ``-q``), dated at or
before the cancellation. Among several such lines the latest one not already matched is
taken, one line per cancellation row, the cancellations in time order (a stack per customer,
product and quantity). Only rows up to the as-of day take part, so a match never looks ahead.

A matched cancellation's amount is netted into the order of the line it cancels: an order that
nets to zero or less is then refunded in full and is not a purchase, as an order with its own
refund rows would be. A purchase day keeps only purchases that net above zero, so a purchase
day whose net spend after refunds is not positive is not a purchase either. Unmatched
cancellations stay as they are: they lower the customer's net spend only.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from segmentation.arrays import factorized
from segmentation.features._kernels import float_values
from segmentation.features._netting import REFUND_TOLERANCE, NetOrders

__all__ = ["CancellationMatches", "match_cancellations", "net_cancellations", "pair_lines"]


class CancellationMatches(NamedTuple):
    """Matched cancellation rows and the sale rows they cancel, as positions among the rows
    in the window (the rows ``net_orders`` was given), one pair per matched cancellation."""

    cancel_row: np.ndarray
    sale_row: np.ndarray
    n_cancel_rows: int  # cancellation rows in the window, matched or not


def match_cancellations(
    net: NetOrders,
    *,
    row_customer: np.ndarray,
    in_window: np.ndarray,
    orders: pd.DataFrame,
    ts_int: np.ndarray,
) -> CancellationMatches:
    """Match each cancellation row (a row of a refund-only order) to the sale line it cancels.

    Parameters
    ----------
    net : NetOrders
        The netted orders of the rows in the window.
    row_customer : numpy.ndarray
        The customer of each row in the window.
    in_window : numpy.ndarray
        Which rows of ``orders`` are in the window (a customer's, up to the as-of day).
    orders : pandas.DataFrame
        The canonical orders; ``product_id`` and ``quantity`` are read when present.
    ts_int : numpy.ndarray
        Each window row's timestamp as int64.

    Returns
    -------
    CancellationMatches
        No pair when the export has no product ids or quantities, or no refund-only order.
    """
    none = np.zeros(0, dtype=np.int64)
    if len(net.row_entry) == 0 or "product_id" not in orders or "quantity" not in orders:
        return CancellationMatches(none, none, 0)
    window_rows = np.flatnonzero(in_window)
    cancel_rows = np.flatnonzero(net.refund_only[net.row_entry])  # few
    cancel_customer = np.zeros(int(row_customer.max(initial=-1)) + 1, dtype=bool)
    cancel_customer[row_customer[cancel_rows]] = True
    # Candidate lines: every row of a customer who cancelled, in a purchase, or a cancellation.
    entry = net.row_entry
    rows = np.flatnonzero(cancel_customer[row_customer])
    rows = rows[net.is_purchase[entry[rows]] | net.refund_only[entry[rows]]]
    in_cancellation = net.refund_only[entry[rows]]
    quantity = float_values(orders["quantity"])[window_rows[rows]]
    # Only a sale of a quantity some cancellation of its customer names can match: the
    # others are left out before the product ids (text) are read.
    line = _dense_key(row_customer[rows], _codes(np.abs(quantity)))
    cancelled = in_cancellation & (quantity < 0)
    rows = rows[cancelled | (~in_cancellation & np.isin(line, line[cancelled]))]
    product, _ = factorized(orders["product_id"].iloc[window_rows[rows]])
    cancel_pos, sale_pos = pair_lines(
        customer=row_customer[rows],
        product=product,
        quantity=float_values(orders["quantity"])[window_rows[rows]],
        amount=float_values(orders["amount"])[window_rows[rows]],
        ts=ts_int[rows],
        in_cancellation=net.refund_only[entry[rows]],
    )
    return CancellationMatches(rows[cancel_pos], rows[sale_pos], len(cancel_rows))


def pair_lines(
    *,
    customer: np.ndarray,
    product: np.ndarray,
    quantity: np.ndarray,
    amount: np.ndarray,
    ts: np.ndarray,
    in_cancellation: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Pair cancellation rows with the sale lines they cancel, among the rows given.

    Parameters
    ----------
    customer, product : numpy.ndarray
        Integer codes of each row's customer and product (product -1 when missing).
    quantity, amount : numpy.ndarray
        Each row's quantity and amount (NaN when missing).
    ts : numpy.ndarray
        Each row's timestamp as int64.
    in_cancellation : numpy.ndarray
        Whether the row belongs to a refund-only order (a cancellation); the other rows given
        must belong to purchases.

    Returns
    -------
    cancel, sale : numpy.ndarray
        Positions among the rows given: ``cancel[i]`` cancels ``sale[i]``.
    """
    customer = customer.astype(np.int64)
    product = product.astype(np.int64)
    is_cancel = in_cancellation & (quantity < 0) & (amount < 0) & (product >= 0)
    is_sale = ~in_cancellation & (quantity > 0) & (amount > 0) & (product >= 0)
    # One integer per (customer, product, quantity): a line and the cancellations of it.
    line = _dense_key(_dense_key(customer, product), _codes(np.abs(quantity)))
    # Only sales of a line some cancellation names can match: the others are left out
    # before the sort (most of a cancelling customer's lines are never cancelled).
    usable = np.flatnonzero(is_cancel | (is_sale & np.isin(line, line[is_cancel])))
    cancel_pos, sale_pos = _stack_pairs(line[usable], ts[usable], is_cancel[usable])
    return usable[cancel_pos], usable[sale_pos]


def _codes(values: np.ndarray) -> np.ndarray:
    """Integer codes of values (NaN gets one code too), numbered from 0."""
    return pd.factorize(values, use_na_sentinel=False)[0].astype(np.int64)


def _dense_key(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """One integer code per distinct pair of non-negative integer codes, from 0, without
    overflow: the pairs are numbered afresh."""
    a = a.astype(np.int64)
    return _codes(a * (int(b.max(initial=0)) + 1) + b) if len(a) else a


def _stack_pairs(
    line: np.ndarray, ts: np.ndarray, is_cancel: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Pair each cancellation with the latest unmatched sale of its line (one code per
    customer, product and quantity) dated at or before it, the cancellations taken in time
    order.

    Within one line this is a stack (sales pushed in time order, each cancellation pops the
    latest), worked out without a loop: the depth of the stack after each event, floored at
    zero (a cancellation with nothing to cancel leaves it as it is), gives each sale the level
    it is pushed at and each matched cancellation the level it pops; at one level of one line
    the events alternate sale, cancellation, sale, ..., so each cancellation pairs with the
    event just before it.
    """
    if not is_cancel.any():
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    # lexsort is stable: among equal times a sale comes before a cancellation, and the later
    # row is the later event.
    by_event = np.lexsort((is_cancel, ts, line))
    ordered_line = line[by_event]
    key_start = np.ones(len(by_event), dtype=bool)
    np.not_equal(ordered_line[1:], ordered_line[:-1], out=key_start[1:])
    step = np.where(is_cancel[by_event], -1, 1)
    key_id = np.cumsum(key_start) - 1
    depth = np.cumsum(step)
    depth -= (depth - step)[key_start][key_id]  # counted from each key's first event
    # Skorokhod reflection: the depth floored at zero.
    lowest = pd.Series(np.minimum(depth, 0)).groupby(key_id).cummin().to_numpy()
    floored = depth - lowest
    before = np.empty_like(floored)  # the floored depth before each event
    before[1:] = floored[:-1]
    before[key_start] = 0
    matched_cancel = (step < 0) & (before > 0)
    pushed = step > 0
    kept = np.flatnonzero(pushed | matched_cancel)
    level = np.where(pushed, floored, before)[kept]
    # Stable sort by (key, level): events of one level stay in time order.
    by_level = kept[np.lexsort((level, key_id[kept]))]
    pops = np.flatnonzero(step[by_level] < 0)
    return by_event[by_level[pops]], by_event[by_level[pops - 1]]


def net_cancellations(
    net: NetOrders, matches: CancellationMatches, amount: np.ndarray
) -> NetOrders:
    """Net each matched cancellation into the order of the line it cancels.

    Parameters
    ----------
    net : NetOrders
        The netted orders.
    matches : CancellationMatches
        From :func:`match_cancellations`.
    amount : numpy.ndarray
        Each window row's amount (0 where missing).

    Returns
    -------
    NetOrders
        ``net`` when nothing matched; otherwise new amounts (a matched cancellation's amount
        moved from its own order to the order it cancels) and purchases (an order that a
        cancellation brings to zero or less is not one).
    """
    if len(matches.cancel_row) == 0:
        return net
    cancelled_entry = net.row_entry[matches.sale_row]
    moved = amount[matches.cancel_row]
    net_amount = net.amount.copy()
    np.add.at(net_amount, cancelled_entry, moved)
    np.subtract.at(net_amount, net.row_entry[matches.cancel_row], moved)
    is_purchase = net.is_purchase.copy()
    is_purchase[cancelled_entry] &= net_amount[cancelled_entry] > REFUND_TOLERANCE
    return net._replace(amount=net_amount, is_purchase=is_purchase)
