"""The customer snapshot: one row per customer known at a date, every scheme's input.

:func:`customer_snapshot` reads as its steps: who is known, their purchases (netted orders,
purchase periods, refunds) with the product features on the other core, then the columns.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import numpy as np
import pandas as pd

from segmentation.arrays import day_number
from segmentation.features._attributes import (
    ATTRIBUTE_COLUMNS,
    customer_attributes,
    interaction_counts,
    product_features,
)
from segmentation.features._cancellations import match_cancellations, net_cancellations
from segmentation.features._kernels import (
    day_numbers,
    float_values,
    minor_units,
    sum_by,
    to_day,
    to_minor_units,
    zero_for_missing,
)
from segmentation.features._netting import NetOrders, net_orders
from segmentation.features._periods import purchase_periods
from segmentation.features._purchases import as_of_cutoff
from segmentation.features._universe import customer_universe

__all__ = ["SNAPSHOT_COLUMNS", "customer_snapshot"]

#: Columns every snapshot has, before the optional ones and the attributes.
SNAPSHOT_COLUMNS: tuple[str, ...] = (
    "first_purchase",
    "last_purchase",
    "recency_days",
    "n_orders",
    "frequency",
    "recency",
    "T",
    "monetary_value",
    "monetary_total",
    "monetary_avg",
    "tenure_days",
    "refund_share",
    "is_potential",
)


def customer_snapshot(
    orders: pd.DataFrame,
    customers: pd.DataFrame | None = None,
    interactions: pd.DataFrame | None = None,
    *,
    as_of: str | pd.Timestamp,
) -> pd.DataFrame:
    """One row per customer known at ``as_of``: purchases, value, refunds, engagement, profile.

    A customer is known at ``as_of`` when the customers table lists them with a
    ``first_seen_ts`` on or before that day, or when they have an order row up to that day;
    a listed customer with no ``first_seen_ts`` and no order row at all is known throughout.
    So the snapshot as of a day is the same on the full export and on the export cut at that
    day (no look-ahead). Potential customers, known but without a purchase, get a row too.

    Everything is vectorised over integer codes, with no per-customer Python code: customer
    and order ids are factorised once, each order is its first row plus its few other rows
    (refunds, further lines), and per-customer figures are ``numpy.bincount`` sums. Purchase
    days come from one counting sort of the purchases by customer; rows in time order (as
    ingest writes them) need no other sort.

    ``customer_id`` and ``order_id`` may be pandas categoricals (dictionary-encoded, as a
    Parquet read can give them): their codes are used as they are, and nothing is hashed when
    the categories are the customers table's ids, or sorted like them (``astype("category")``
    sorts them). The snapshot is the same as with the ids as text.

    Parameters
    ----------
    orders : pandas.DataFrame
        Canonical orders (:data:`segmentation.schema.ORDERS`). Guest rows (no customer id)
        and rows after ``as_of`` are ignored. ``unit_price`` and ``category`` are optional.
        ``customer_id``, ``order_id`` and ``category`` may also be categoricals.
    customers : pandas.DataFrame, optional
        Canonical customers (:data:`segmentation.schema.CUSTOMERS`). A customer listed twice
        keeps the row with the earliest ``first_seen_ts``. ``customer_id`` may be a
        categorical.
    interactions : pandas.DataFrame, optional
        Canonical interactions (``customer_id``, ``ts``, ``kind``). Interactions of ids that
        are not known customers at ``as_of`` are ignored.
    as_of : str or pandas.Timestamp
        The observation end; the whole of its day is included.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``customer_id`` (string dtype, sorted). Columns, in order:

        ``first_purchase``, ``last_purchase``
            Earliest and latest purchase time (NaT for potential customers).
        ``recency_days``
            Calendar days from the last purchase day to ``as_of``.
        ``n_orders``
            Purchases: orders that are neither refund-only nor refunded in full.
        ``frequency``, ``recency``, ``T``, ``monetary_value``
            As ``lifetimes.utils.summary_data_from_transaction_data(..., freq="D")`` computes
            them: repeat purchase days, days from the first to the last purchase day, days
            from the first purchase day to ``as_of``, and the mean net spend of the repeat
            purchase days (0 without repeats).
        ``monetary_total``, ``monetary_avg``
            Net spend up to ``as_of`` after every refund and cancellation, and that divided
            by ``n_orders``.
        ``tenure_days``
            Days from the earlier of ``first_seen_ts`` and the first order row to ``as_of``
            (NaN for a listed customer with neither).
        ``refund_share``
            Refunded amount (negative rows) over gross sales (positive rows), capped at 1;
            1 when there are refunds but no sales up to ``as_of`` (refunds of purchases made
            before the data starts), 0 with neither.
        ``is_potential``
            No purchase up to ``as_of``. Then ``n_orders``, ``frequency`` and the
            ``monetary_*`` columns are 0 (even when refunds of older purchases exist) and
            ``recency``, ``T`` and ``recency_days`` are NaN.
        ``interactions_30d``, ``interactions_90d``
            Only when ``interactions`` is given: interactions in the 30 and 90 days ending
            on ``as_of``, inclusive.
        ``avg_unit_price_ratio``, ``category_breadth``
            Only when at least one sale line up to ``as_of`` has a positive ``unit_price``
            and a ``category``: the mean over the customer's sale lines of ``unit_price``
            divided by the median ``unit_price`` of the line's category (medians over the
            known customers' sale lines up to ``as_of``; NaN without such lines), and the
            number of distinct categories bought.
        ``region``, ``city``, ``city_tier``, ``source_channel``, ``industry``, ``tags``, ``first_seen_ts``
            From ``customers``, missing when absent. A ``first_seen_ts`` after ``as_of`` is
            shown as missing, so a snapshot never shows the future.

    References
    ----------
    Fader, P. S., Hardie, B. G. S. and Lee, K. L. (2005). "Counting Your Customers" the Easy
    Way: An Alternative to the Pareto/NBD Model. Marketing Science 24(2), 275-284.
    """
    cutoff = as_of_cutoff(as_of)
    end_day = day_number(pd.Timestamp(as_of).normalize())
    listed = customer_attributes(customers, cutoff, order_customers=orders["customer_id"])
    in_window = (orders["customer_id"].notna() & (orders["order_ts"] < cutoff)).to_numpy(dtype=bool)
    universe, row_customer, attribute_row = customer_universe(
        orders["customer_id"], in_window, listed
    )
    figures = _purchase_figures(orders, in_window, row_customer, len(universe))
    del row_customer
    profile = _profile(listed.frame, attribute_row)
    columns = _purchase_columns(figures, end_day=end_day, first_seen=profile["first_seen_ts"])
    if interactions is not None:
        columns.update(interaction_counts(interactions, universe, cutoff))
    if figures.product is not None:
        columns["avg_unit_price_ratio"], columns["category_breadth"] = figures.product
    columns.update(profile)
    # Every array is this function's own: the frame takes them as they are, uncopied.
    return pd.DataFrame(columns, index=universe, copy=False)


class _PurchaseFigures(NamedTuple):
    """Per customer (one entry each, in universe order) unless said otherwise."""

    net: NetOrders  # one entry per (customer, order)
    periods: dict[str, np.ndarray]  # :func:`purchase_periods`
    monetary_total: np.ndarray  # net of every refund and cancellation
    refunded: np.ndarray  # the negative rows' amounts, as positive
    gross: np.ndarray  # the positive rows' amounts
    product: tuple[np.ndarray, np.ndarray] | None  # price ratio and category breadth
    ts_unit: str  # the orders' timestamp unit, which ``net.ts`` counts in


def _purchase_figures(
    orders: pd.DataFrame, in_window: np.ndarray, row_customer: np.ndarray, n_customers: int
) -> _PurchaseFigures:
    """Net the orders, count purchase periods and sum refunds and sales per customer, while
    the product features are worked out beside them."""
    # Row-sized arrays are tens of megabytes at a million customers, and fresh memory is slow
    # to come by: each is used and let go in turn, so that the next reuses its memory.
    all_amount = float_values(orders["amount"])
    # The product features need none of the purchase figures: they are worked out on the
    # other core meanwhile (numpy lets go of the GIL in its loops). Both only read the
    # arrays they share.
    with ThreadPoolExecutor(max_workers=1) as beside:
        products = beside.submit(
            product_features,
            orders.get("unit_price"),
            orders.get("category"),
            in_window,
            row_customer,
            all_amount,
            n_customers,
        )
        raw_amount = all_amount[in_window]
        # Sums of whole cents go back on the cent grid, so that equal spend is equal to the
        # bit (a tie is never split) and a total of exactly a threshold reaches it.
        money_grid = minor_units(raw_amount)
        amount = zero_for_missing(raw_amount)
        ts = orders["order_ts"].to_numpy()[in_window]
        ts_unit = np.datetime_data(ts.dtype)[0]
        net = net_orders(
            orders["order_id"], in_window, row_customer, ts.view(np.int64), raw_amount, amount
        )
        monetary_total = sum_by(net.customer, net.amount, n_customers)
        matches = match_cancellations(
            net,
            row_customer=row_customer,
            in_window=in_window,
            orders=orders,
            ts_int=ts.view(np.int64),
        )
        net = net_cancellations(net, matches, amount)
        del ts, raw_amount, matches
        # Only refund rows add to the refunded amount (the others would add zeros).
        refund_row = np.flatnonzero(amount < 0)  # few
        refunded = sum_by(row_customer[refund_row], -amount[refund_row], n_customers)
        # ``amount`` is this function's own copy and no longer needed: clip it where it is.
        gross = sum_by(row_customer, np.clip(amount, 0, None, out=amount), n_customers)
        del refund_row, amount
        periods = purchase_periods(net, n_customers, ts_unit)
        for total in (monetary_total, refunded, gross, periods["repeat_spend"]):
            to_minor_units(total, money_grid)
        product = products.result()
    return _PurchaseFigures(net, periods, monetary_total, refunded, gross, product, ts_unit)


def _purchase_columns(
    figures: _PurchaseFigures, *, end_day: int, first_seen: object
) -> dict[str, object]:
    """The :data:`SNAPSHOT_COLUMNS`, in order, from the purchase figures."""
    days = figures.periods
    n_orders = days["n_orders"]
    is_potential = n_orders == 0
    monetary_total = figures.monetary_total
    monetary_total[is_potential] = 0.0
    frequency = days["frequency"]
    monetary_value = days["repeat_spend"] / np.maximum(frequency, 1)
    monetary_value[frequency == 0] = 0.0
    first_known_day = np.fmin(day_numbers(first_seen), _first_row_day(figures, is_potential))
    ts_unit = figures.ts_unit
    return {
        "first_purchase": days["first_purchase"].view(f"datetime64[{ts_unit}]"),
        "last_purchase": days["last_purchase"].view(f"datetime64[{ts_unit}]"),
        "recency_days": end_day - days["last_day"],
        "n_orders": n_orders,
        "frequency": frequency,
        "recency": days["last_day"] - days["first_day"],
        "T": end_day - days["first_day"],
        "monetary_value": monetary_value,
        "monetary_total": monetary_total,
        "monetary_avg": monetary_total / np.maximum(n_orders, 1),
        "tenure_days": end_day - first_known_day,
        "refund_share": _refund_share(figures.refunded, figures.gross),
        "is_potential": is_potential,
    }


def _refund_share(refunded: np.ndarray, gross: np.ndarray) -> np.ndarray:
    """Refunded over gross sales, capped at 1; 1 with refunds but no sales, 0 with neither."""
    refund_share = np.where(refunded > 0, 1.0, 0.0)
    has_gross = gross > 0
    refund_share[has_gross] = np.minimum(refunded[has_gross] / gross[has_gross], 1.0)
    return refund_share


def _first_row_day(figures: _PurchaseFigures, is_potential: np.ndarray) -> np.ndarray:
    """Each customer's first order row as a day number (NaN without rows): the earliest of
    their orders' earliest rows, that is of their first purchase and their other orders."""
    net = figures.net
    # No order row is dated at the largest int64 (it would be after any as_of), so that
    # means none.
    no_rows = np.iinfo(np.int64).max
    first_row_ts = np.where(is_potential, no_rows, figures.periods["first_purchase"])
    not_purchase = np.flatnonzero(~net.is_purchase)  # few
    np.minimum.at(first_row_ts, net.customer[not_purchase], net.ts[not_purchase])
    has_rows = first_row_ts != no_rows
    first_row_day = np.full(len(is_potential), np.nan)
    first_row_day[has_rows] = to_day(first_row_ts[has_rows], figures.ts_unit)
    return first_row_day


def _profile(attributes: pd.DataFrame, attribute_row: np.ndarray) -> dict[str, object]:
    """The :data:`ATTRIBUTE_COLUMNS` per customer, from the customers table's rows."""
    # Ingest lists every customer, all known by the as-of date: then the rows are the table's.
    every_row = len(attribute_row) == len(attributes) and bool(
        (attribute_row == np.arange(len(attributes))).all()
    )
    # A copy, not the customers table's own array: arrow-backed text copies in no time.
    return {
        column: (
            attributes[column].array.copy()
            if every_row
            else attributes[column].array.take(attribute_row, allow_fill=True)
        )
        for column in ATTRIBUTE_COLUMNS
    }
