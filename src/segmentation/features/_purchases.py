"""Purchases as of a date: netted orders, purchase days and the repeat-purchase summary.

Purchases are orders, not line items: the rows of an order are netted (refund rows carry the
order's id and a negative amount). An order that has refund rows and nets to zero or less
(within :data:`REFUND_TOLERANCE`) is a fully refunded order and is not a purchase. A
cancellation with its own order id (Online Retail's ``C`` invoices) is not a purchase either,
but its negative amount is netted into the customer's monetary totals.

Counting follows ``lifetimes.utils.summary_data_from_transaction_data`` with ``freq="D"``:
purchases on the same calendar day are one purchase period, ``frequency`` is the number of
periods after the first, ``recency`` is the days from the first to the last period and ``T``
the days from the first period to ``as_of``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from segmentation.arrays import run_starts
from segmentation.errors import InvalidOptionError
from segmentation.features._attributes import customer_attributes
from segmentation.features._cancellations import (
    CancellationMatches,
    match_cancellations,
    net_cancellations,
    pair_lines,
)
from segmentation.features._kernels import as_text, to_day, zero_for_missing
from segmentation.features._netting import REFUND_TOLERANCE, NetOrders, net_orders
from segmentation.features._universe import customer_universe

__all__ = [
    "as_of_cutoff",
    "as_of_day",
    "matched_cancellations",
    "order_purchases",
    "purchase_days",
    "repeat_purchase_summary",
]


def as_of_day(as_of: str | pd.Timestamp, *, name: str = "--as-of") -> pd.Timestamp:
    """The day ``as_of`` falls on (midnight), or a one-line error naming the option.

    Parameters
    ----------
    as_of : str or pandas.Timestamp
        A date given by the user (``"2026-10-31"``).
    name : str, default "--as-of"
        The option as the user wrote it, for the message (``as_of`` in Python).

    Raises
    ------
    InvalidOptionError
        When ``as_of`` is not a date.
    """
    try:
        return pd.Timestamp(as_of).normalize()
    except (TypeError, ValueError) as error:
        raise InvalidOptionError(
            f"{name}: {as_of!r} is not a date; give it as YYYY-MM-DD, e.g. 2026-10-31."
        ) from error


def as_of_cutoff(as_of: str | pd.Timestamp) -> pd.Timestamp:
    """The first instant after the as-of day: ``as_of`` includes the whole of its day.

    Parameters
    ----------
    as_of : str or pandas.Timestamp
        A date (``"2011-11-30"``) or timestamp; its time of day is ignored.

    Returns
    -------
    pandas.Timestamp
        Midnight at the start of the day after ``as_of``; rows with ``order_ts`` strictly
        before it are "as of" that day.
    """
    return pd.Timestamp(as_of).normalize() + pd.Timedelta(days=1)


def order_purchases(orders: pd.DataFrame, *, as_of: str | pd.Timestamp) -> pd.DataFrame:
    """Net the line items of each customer's orders up to ``as_of``.

    Parameters
    ----------
    orders : pandas.DataFrame
        Canonical orders (see :mod:`segmentation.schema`); guest rows (no customer id) are
        ignored.
    as_of : str or pandas.Timestamp
        Rows dated after this day are ignored.

    Returns
    -------
    pandas.DataFrame
        One row per (customer_id, order_id), and per row without an order id (an order of
        its own, as the snapshot counts it): ``order_ts`` (the earliest row, the purchase
        time), ``amount`` (net, of matched cancellations too), ``has_refund`` (any negative
        row, or a matched cancellation) and ``is_purchase`` (not a refund-only or fully
        refunded order). Cancellations under their own order id are matched to the lines they
        cancel by customer, product and quantity when ``product_id`` and ``quantity`` are
        there (:mod:`segmentation.features._cancellations`): their amount moves to the order
        they cancel.
    """
    cutoff = as_of_cutoff(as_of)
    in_window = (orders["customer_id"].notna() & (orders["order_ts"] < cutoff)).to_numpy(bool)
    rows = orders.loc[in_window, ["customer_id", "order_id", "order_ts", "amount"]]
    # Ids as text: pandas regroups a categorical by hashing all of its categories (a million
    # customer ids) on every groupby, where text is hashed only for the rows at hand.
    rows = rows.assign(customer_id=as_text(rows["customer_id"]), order_id=as_text(rows["order_id"]))
    keys = ["customer_id", "order_id"]
    lone = rows["order_id"].isna().to_numpy(dtype=bool)
    has_lone = bool(lone.any())
    if has_lone:
        # A row without an order id is an order of its own, as the snapshot counts it
        # (features._netting): keyed on its position. Ingest quarantines such rows, so only
        # orders given to the API directly take this path.
        rows = rows.assign(lone_row=np.where(lone, np.arange(len(rows)), -1))
        keys.append("lone_row")
    grouped = rows.assign(negative=rows["amount"] < 0, sale=rows["amount"] >= 0).groupby(
        keys, sort=True, observed=True, dropna=not has_lone
    )
    per_order = grouped.agg(
        order_ts=("order_ts", "min"),
        amount=("amount", "sum"),
        has_refund=("negative", "any"),
        has_sale=("sale", "any"),
    )
    per_order["is_purchase"] = per_order["has_sale"] & ~(
        per_order["has_refund"] & (per_order["amount"] <= REFUND_TOLERANCE)
    )
    if "product_id" in orders.columns and "quantity" in orders.columns:
        row_order = grouped.ngroup().to_numpy(dtype=float, na_value=np.nan)
        _net_matched_cancellations(per_order, orders.iloc[np.flatnonzero(in_window)], row_order)
    per_order = per_order.drop(columns="has_sale").reset_index()
    return per_order.drop(columns="lone_row") if has_lone else per_order


def _net_matched_cancellations(
    per_order: pd.DataFrame, rows: pd.DataFrame, row_order: np.ndarray
) -> None:
    """Move each matched cancellation's amount (:mod:`._cancellations`) from its own order to
    the order it cancels, in ``per_order`` (one row per order; ``row_order`` is the order of
    each of ``rows``, NaN without an order id), which then is no purchase when it nets to zero
    or less."""
    has_order = ~np.isnan(row_order)
    order = np.where(has_order, row_order, 0).astype(np.int64)
    refund_only = (per_order["has_refund"] & ~per_order["has_sale"]).to_numpy(bool)
    in_cancellation = refund_only[order] & has_order
    in_purchase = per_order["is_purchase"].to_numpy(bool)[order] & has_order
    if not in_cancellation.any():
        return
    where = np.flatnonzero(in_cancellation | in_purchase)
    candidates = rows.iloc[where]
    cancel, sale = pair_lines(
        customer=pd.factorize(candidates["customer_id"])[0],
        product=pd.factorize(candidates["product_id"])[0],
        quantity=candidates["quantity"].to_numpy(dtype=float, na_value=np.nan),
        amount=candidates["amount"].to_numpy(dtype=float, na_value=np.nan),
        ts=candidates["order_ts"].to_numpy().view(np.int64),
        in_cancellation=in_cancellation[where],
    )
    moved = candidates["amount"].to_numpy(dtype=float)[cancel]
    amount = per_order["amount"].to_numpy(dtype=float, copy=True)
    cancelled = order[where[sale]]
    np.add.at(amount, cancelled, moved)
    np.subtract.at(amount, order[where[cancel]], moved)
    per_order["amount"] = amount
    has_refund = per_order["has_refund"].to_numpy(copy=True)
    has_refund[cancelled] = True
    per_order["has_refund"] = has_refund
    is_purchase = per_order["is_purchase"].to_numpy(copy=True)
    is_purchase[cancelled] &= amount[cancelled] > REFUND_TOLERANCE
    per_order["is_purchase"] = is_purchase


def purchase_days(orders: pd.DataFrame, *, as_of: str | pd.Timestamp) -> pd.DataFrame:
    """Each customer's purchase days up to ``as_of``: one row per (customer, calendar day).

    The days on which :func:`order_purchases` finds at least one purchase (an order that is
    neither refund-only nor refunded in full, dated by its earliest row), computed without
    sorting the order ids as text: the ids are factorised once and every order is netted with
    integer codes, as the snapshot does.

    Parameters
    ----------
    orders : pandas.DataFrame
        Canonical orders; guest rows and rows without an order id are ignored, as
        :func:`order_purchases` ignores them.
    as_of : str or pandas.Timestamp
        Rows dated after this day are ignored.

    Returns
    -------
    pandas.DataFrame
        ``customer_id`` (string) and ``day`` (int64, days since 1970-01-01), sorted by
        customer_id and day, without repeats.
    """
    netted = _netted_orders(orders, as_of)
    net, universe = netted.net, netted.universe
    customer = net.customer[net.is_purchase]
    day = to_day(net.ts[net.is_purchase], netted.ts_unit)
    offset = int(day.min(initial=0))
    span = int(day.max(initial=0)) - offset + 1
    key = np.sort(customer * span + (day - offset))
    key = key[run_starts(key)]
    return pd.DataFrame(
        {
            "customer_id": universe.take(key // span).array,
            "day": (key % span + offset).astype(np.int64),
        }
    )


class _Netted(NamedTuple):
    """The orders up to a day, netted as the snapshot nets them."""

    universe: pd.Index  # the customers, in code order
    net: NetOrders  # after matched cancellations
    matches: CancellationMatches
    window_rows: np.ndarray  # positions in the orders of the rows netted
    ts_unit: str


def _netted_orders(orders: pd.DataFrame, as_of: str | pd.Timestamp) -> _Netted:
    """Net the customers' rows with an order id up to ``as_of``, cancellations matched."""
    cutoff = as_of_cutoff(as_of)
    in_window = (
        orders["customer_id"].notna() & orders["order_id"].notna() & (orders["order_ts"] < cutoff)
    ).to_numpy(dtype=bool)
    universe, row_customer, _ = customer_universe(
        orders["customer_id"],
        in_window,
        customer_attributes(None, cutoff, order_customers=orders["customer_id"]),
    )
    ts = orders["order_ts"].to_numpy()[in_window]
    ts_int = ts.view(np.int64)
    raw_amount = orders["amount"].to_numpy(dtype=float, na_value=np.nan)[in_window]
    amount = zero_for_missing(raw_amount)
    net = net_orders(orders["order_id"], in_window, row_customer, ts_int, raw_amount, amount)
    matches = match_cancellations(
        net, row_customer=row_customer, in_window=in_window, orders=orders, ts_int=ts_int
    )
    return _Netted(
        universe,
        net_cancellations(net, matches, amount),
        matches,
        np.flatnonzero(in_window),
        np.datetime_data(ts.dtype)[0],
    )


def matched_cancellations(orders: pd.DataFrame, *, as_of: str | pd.Timestamp) -> pd.DataFrame:
    """The cancellations under their own order id matched to the lines they cancel.

    Each cancellation row (a row of an order that has refund rows only, such as Online
    Retail's ``C`` invoices) is matched to a sale line of the same customer, product and
    quantity dated at or before it, as the snapshot matches them
    (:mod:`segmentation.features._cancellations`).

    Parameters
    ----------
    orders : pandas.DataFrame
        Canonical orders with ``product_id`` and ``quantity`` (no match without them).
    as_of : str or pandas.Timestamp
        Rows dated after this day are ignored.

    Returns
    -------
    pandas.DataFrame
        One row per matched cancellation row: ``customer_id``, ``cancel_row`` and
        ``sale_row`` (positions in ``orders``) and ``amount`` (the cancellation's, negative).
        ``attrs["cancellation_rows"]`` counts every cancellation row up to ``as_of``,
        matched or not.
    """
    netted = _netted_orders(orders, as_of)
    matches = netted.matches
    cancel_row = netted.window_rows[matches.cancel_row]
    table = pd.DataFrame(
        {
            "customer_id": netted.universe.take(
                netted.net.customer[netted.net.row_entry[matches.cancel_row]]
            ).array
            if len(cancel_row)
            else pd.array([], dtype="string"),
            "cancel_row": cancel_row,
            "sale_row": netted.window_rows[matches.sale_row],
            "amount": orders["amount"].to_numpy(dtype=float, na_value=np.nan)[cancel_row],
        }
    )
    table.attrs["cancellation_rows"] = matches.n_cancel_rows
    return table


def repeat_purchase_summary(
    orders: pd.DataFrame, *, as_of: str | pd.Timestamp, period_days: int = 1
) -> pd.DataFrame:
    """Frequency, recency, T and monetary value per customer, as lifetimes counts them.

    Parameters
    ----------
    orders : pandas.DataFrame
        Canonical orders.
    as_of : str or pandas.Timestamp
        The observation end (inclusive of the whole day).
    period_days : int, default 1
        Length of a purchase period. 1 counts purchase days. 7 counts purchase weeks, as
        lifetimes' ``freq="W"`` does but with the weeks ending on ``as_of`` rather than on a
        Sunday: each purchase day is moved to the last day of its period, so ``frequency``
        counts repeat purchase periods, ``recency`` and ``T`` are whole multiples of
        ``period_days`` (still in days) and ``monetary_value`` is the mean net spend of the
        repeat purchase periods.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``customer_id`` (customers with at least one purchase up to ``as_of``),
        sorted, with columns ``first_purchase``, ``last_purchase``, ``n_orders`` (purchases),
        ``frequency`` (repeat purchase days), ``recency`` and ``T`` (days, float),
        ``monetary_value`` (mean net spend of the repeat purchase days, 0 when there are
        none, as lifetimes defines it) and ``monetary_total`` (net of every refund and
        cancellation up to ``as_of``).

    References
    ----------
    Fader, P. S., Hardie, B. G. S. and Lee, K. L. (2005). "Counting Your Customers" the Easy
    Way: An Alternative to the Pareto/NBD Model. Marketing Science 24(2), 275-284.
    """
    if isinstance(period_days, bool) or not isinstance(period_days, int) or period_days < 1:
        raise InvalidOptionError(
            f"period_days must be a whole number of days, at least 1 (1 = purchase days, "
            f"7 = purchase weeks); got {period_days!r}."
        )
    per_order = order_purchases(orders, as_of=as_of)
    monetary_total = per_order.groupby("customer_id", sort=True)["amount"].sum()
    purchases = per_order.loc[per_order["is_purchase"]]
    if purchases.empty:  # nobody bought: the per-customer reductions below need one row
        empty = pd.DataFrame(
            {
                "first_purchase": pd.Series(dtype=per_order["order_ts"].dtype),
                "last_purchase": pd.Series(dtype=per_order["order_ts"].dtype),
                "n_orders": pd.Series(dtype=np.int64),
                "frequency": pd.Series(dtype=np.int64),
                "recency": pd.Series(dtype=float),
                "T": pd.Series(dtype=float),
                "monetary_value": pd.Series(dtype=float),
                "monetary_total": pd.Series(dtype=float),
            }
        )
        empty.index = pd.Index([], name="customer_id", dtype="string")
        return empty
    customer_codes, customers = pd.factorize(purchases["customer_id"], sort=True)
    day = purchases["order_ts"].to_numpy().astype("datetime64[D]").astype(np.int64)
    amount = purchases["amount"].to_numpy(dtype=float)
    end_day = np.datetime64(pd.Timestamp(as_of).normalize().date(), "D").astype(np.int64)
    if period_days > 1:
        # Periods end on as_of, so T is whole periods and none straddles the observation end.
        day = end_day - period_days * ((end_day - day) // period_days)

    # Sort by (customer, day) once; a purchase period is a run of equal (customer, day) pairs.
    order = np.lexsort((day, customer_codes))
    codes, day, amount = customer_codes[order], day[order], amount[order]
    new_period = np.ones(len(codes), dtype=bool)
    new_period[1:] = (codes[1:] != codes[:-1]) | (day[1:] != day[:-1])
    period_start = np.flatnonzero(new_period)
    period_code = codes[period_start]
    period_day = day[period_start]
    period_amount = np.add.reduceat(amount, period_start) if len(amount) else amount

    n_customers = len(customers)
    n_periods = np.bincount(period_code, minlength=n_customers)
    first_period = np.flatnonzero(np.r_[True, period_code[1:] != period_code[:-1]])
    first_day = period_day[first_period]
    last_day = period_day[np.r_[first_period[1:], len(period_code)] - 1]
    first_amount = period_amount[first_period]
    total_over_periods = np.bincount(period_code, weights=period_amount, minlength=n_customers)
    frequency = n_periods - 1
    with np.errstate(invalid="ignore", divide="ignore"):
        monetary_value = np.where(
            frequency > 0, (total_over_periods - first_amount) / np.maximum(frequency, 1), 0.0
        )
    first_ts = purchases["order_ts"].to_numpy()[order][period_start][first_period]
    last_idx = np.r_[period_start[1:], len(codes)] - 1
    last_ts_per_period = purchases["order_ts"].to_numpy()[order][last_idx]
    last_ts = last_ts_per_period[np.r_[first_period[1:], len(period_code)] - 1]

    summary = pd.DataFrame(
        {
            "first_purchase": first_ts,
            "last_purchase": last_ts,
            "n_orders": np.bincount(codes, minlength=n_customers),
            "frequency": frequency.astype(np.int64),
            "recency": (last_day - first_day).astype(float),
            "T": (end_day - first_day).astype(float),
            "monetary_value": monetary_value,
        },
        index=pd.Index(customers, name="customer_id", dtype="string"),
    )
    summary["monetary_total"] = monetary_total.reindex(summary.index).to_numpy()
    return summary
