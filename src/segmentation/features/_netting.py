"""Orders netted from their rows: a refund row carries its order's id and a negative amount.

An order that has refund rows and nets to zero or less (within :data:`REFUND_TOLERANCE`) is
refunded in full and is not a purchase; neither is an order of refund rows only.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from segmentation.arrays import factorized, run_starts
from segmentation.features._kernels import reduceat

__all__ = ["REFUND_TOLERANCE", "NetOrders", "net_orders", "order_sums"]

#: An order with refund rows whose net is at most this (currency units) is refunded in full:
#: refunds that cancel a sale exactly leave float residue such as 2.8e-14.
REFUND_TOLERANCE = 1e-6


class NetOrders(NamedTuple):
    """One entry per (customer, order); a customer's orders in order of their first row."""

    customer: np.ndarray  # int64 position in the universe
    ts: np.ndarray  # int64 timestamp of the earliest row, in the orders' unit
    amount: np.ndarray  # net of refund rows
    is_purchase: np.ndarray  # not refund-only, not refunded in full
    refund_only: np.ndarray  # refund rows only: a cancellation under its own order id
    # The entry of each row in the window, only when some order is refund-only (the
    # cancellations' matching needs it); empty otherwise.
    row_entry: np.ndarray


def net_orders(
    order_id: pd.Series,
    in_window: np.ndarray,
    row_customer: np.ndarray,
    ts_int: np.ndarray,
    raw_amount: np.ndarray,
    amount: np.ndarray,
) -> NetOrders:
    """Net the rows of each (customer, order): a refund row carries its order's id.

    ``raw_amount`` is the rows' amount, NaN where missing, and ``amount`` the same with 0.

    Most orders are a single row: every per-order figure starts from the order's first row,
    and only the other rows (further lines, refunds), which are few, are reduced into it.
    """
    all_codes, ids = factorized(order_id)
    first, others, other_entry = _order_rows(all_codes[in_window], len(ids))
    entry_customer = row_customer[first]
    if not np.array_equal(entry_customer[other_entry], row_customer[others]):
        # An order id is shared by customers: key each order on the pair instead.
        entry_code = np.empty(len(row_customer), dtype=np.int64)
        entry_code[first] = np.arange(len(entry_customer), dtype=np.int64)
        entry_code[others] = other_entry
        return _net_orders_by_pair(entry_code, row_customer, ts_int, raw_amount)
    first_amount = amount[first]
    other_amount = amount[others]
    has_refund = first_amount < 0
    has_refund[other_entry[other_amount < 0]] = True
    # A missing amount is neither sale nor refund (NaN compares false, its 0 would not).
    has_sale = (first_amount if amount is raw_amount else raw_amount[first]) >= 0
    has_sale[other_entry[raw_amount[others] >= 0]] = True
    earliest = ts_int[first]
    np.minimum.at(earliest, other_entry, ts_int[others])
    net_amount = order_sums(first_amount, other_entry, other_amount)
    refund_only = has_refund & ~has_sale
    row_entry = np.zeros(0, dtype=np.int64)
    if refund_only.any():
        row_entry = np.empty(len(row_customer), dtype=np.int64)
        row_entry[first] = np.arange(len(entry_customer), dtype=np.int64)
        row_entry[others] = other_entry
    return NetOrders(
        customer=entry_customer,
        ts=earliest,
        amount=net_amount,
        is_purchase=has_sale & ~(has_refund & (net_amount <= REFUND_TOLERANCE)),
        refund_only=refund_only,
        row_entry=row_entry,
    )


class _OrderRows(NamedTuple):
    """The rows of each order: orders numbered in order of their first row (as factorising
    text in row order numbers them), then one order per row without an order id."""

    first: np.ndarray  # each order's first row: positions, or a mask when rows are in order
    others: np.ndarray  # positions of the rows that are not an order's first, in row order
    other_entry: np.ndarray  # the order of each of ``others``


def _order_rows(order_code: np.ndarray, n_ids: int) -> _OrderRows:
    """Find each order's first row and the order of every other row, from order id codes
    (-1 for a row without an order id)."""
    n_rows = len(order_code)
    has_id = order_code >= 0
    # Order ids issued in sequence (coded ids sorted like the shop's numbers, or text
    # factorised in row order) open their orders in increasing code order: a row opens an
    # order when its code exceeds every earlier one.
    opens = np.zeros(n_rows, dtype=bool)
    if n_rows:
        running_max = np.maximum.accumulate(order_code)
        opens[0] = has_id[0]
        np.greater(order_code[1:], running_max[:-1], out=opens[1:])
        del running_max
    others = np.flatnonzero(~opens & has_id)
    opened_codes = order_code[opens]
    other_entry = _ranks_among(order_code[others], opened_codes)
    if other_entry is not None:
        if bool(has_id.all()):
            return _OrderRows(opens, others, other_entry)
        first = np.concatenate([np.flatnonzero(opens), np.flatnonzero(~has_id)])
        return _OrderRows(first, others, other_entry)
    # Otherwise, each code's first row by a scatter of minima; the orders in order of it.
    codes = np.where(has_id, order_code, n_ids).astype(np.int64)
    first_row = np.full(n_ids + 1, n_rows, dtype=np.int64)
    np.minimum.at(first_row, codes, np.arange(n_rows, dtype=np.int64))
    is_first = np.zeros(n_rows, dtype=bool)
    is_first[first_row[:n_ids][first_row[:n_ids] < n_rows]] = True
    first = np.flatnonzero(is_first)
    entry_of_code = np.full(n_ids + 1, -1, dtype=np.int64)
    entry_of_code[codes[first]] = np.arange(len(first), dtype=np.int64)
    others = np.flatnonzero(~is_first & has_id)
    first = np.concatenate([first, np.flatnonzero(~has_id)])
    return _OrderRows(first, others, entry_of_code[codes[others]])


def _ranks_among(codes: np.ndarray, opened: np.ndarray) -> np.ndarray | None:
    """Position of each of ``codes`` in the strictly increasing ``opened``, or None when one
    is not there."""
    if len(codes) == 0:
        return np.zeros(0, dtype=np.int64)
    if len(opened) == 0:
        return None
    codes = codes.astype(np.int64)
    # A code's position is the code less the codes below it that are not opened, which lie
    # in the gaps between consecutive opened codes (binary search in the gaps, not in all).
    step = np.diff(opened)
    gap = np.flatnonzero(step > 1)
    gap_end = opened[gap + 1].astype(np.int64)
    not_opened_below = int(opened[0]) + np.concatenate([[0], np.cumsum(step[gap] - 1)])
    rank = codes - not_opened_below[np.searchsorted(gap_end, codes, side="right")]
    inside = (rank >= 0) & (rank < len(opened))
    if not bool(inside.all()) or not np.array_equal(opened[rank], codes):
        return None
    return rank


def order_sums(
    first_amount: np.ndarray, other_entry: np.ndarray, other_amount: np.ndarray
) -> np.ndarray:
    """Each group's sum, rounded exactly as ``np.add.reduceat`` over its members in order
    rounds it: the first member plus the sum of the others.

    ``first_amount`` is each group's first member (summed into in place); ``other_entry``
    and ``other_amount`` are the group and amount of every other member, in order.
    """
    sums = first_amount
    if len(other_entry) == 0:
        return sums
    # Only the groups with other members change: number them apart, in a small space. The
    # members usually come nearly in group order, which numpy's stable sort (timsort) likes.
    by_group = np.argsort(other_entry, kind="stable")
    sorted_entry = other_entry[by_group]
    new_group = np.ones(len(sorted_entry), dtype=bool)
    np.not_equal(sorted_entry[1:], sorted_entry[:-1], out=new_group[1:])
    grouped = sorted_entry[new_group]
    local = np.empty(len(other_entry), dtype=np.int64)
    local[by_group] = np.cumsum(new_group) - 1
    n_others = np.bincount(local, minlength=len(grouped))
    # numpy adds the other members from 0 in order while there are fewer than 8 of them, as
    # bincount does; from 8 on it sums pairwise, so those few groups take the reduceat route.
    other_sums = np.bincount(local, weights=other_amount, minlength=len(grouped))
    many = n_others >= 8
    if many.any():
        # The stable sort keeps each group's other members in order.
        members = by_group[many[local[by_group]]]
        start = run_starts(local[members])
        groups = local[members][start]
        # Each group's first member goes before its others, then one reduceat sums them.
        values = np.empty(len(members) + len(start))
        heads = start + np.arange(len(start))
        is_head = np.zeros(len(values), dtype=bool)
        is_head[heads] = True
        values[heads] = sums[grouped[groups]]
        values[~is_head] = other_amount[members]
        sums[grouped[groups]] = np.add.reduceat(values, heads)
    few = ~many
    sums[grouped[few]] += other_sums[few]
    return sums


def _net_orders_by_pair(
    order_code: np.ndarray, row_customer: np.ndarray, ts_int: np.ndarray, raw_amount: np.ndarray
) -> NetOrders:
    """:func:`net_orders` when an order id is shared by customers: key on the pair."""
    order_key = row_customer * (int(order_code.max(initial=0)) + 1) + order_code
    by_order = np.argsort(order_key, kind="stable")
    start = run_starts(order_key[by_order])
    amount = np.nan_to_num(raw_amount, nan=0.0)
    net_amount = reduceat(np.add, amount[by_order], start)
    has_refund = reduceat(np.logical_or, (amount < 0)[by_order], start)
    has_sale = reduceat(np.logical_or, (raw_amount >= 0)[by_order], start)
    refund_only = has_refund & ~has_sale
    row_entry = np.zeros(0, dtype=np.int64)
    if refund_only.any():
        row_entry = np.empty(len(row_customer), dtype=np.int64)
        row_entry[by_order] = np.repeat(
            np.arange(len(start), dtype=np.int64), np.diff(np.append(start, len(by_order)))
        )
    return NetOrders(
        customer=row_customer[by_order][start],
        ts=reduceat(np.minimum, ts_int[by_order], start),
        amount=net_amount,
        is_purchase=has_sale & ~(has_refund & (net_amount <= REFUND_TOLERANCE)),
        refund_only=refund_only,
        row_entry=row_entry,
    )
