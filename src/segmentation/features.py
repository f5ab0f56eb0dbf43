"""Customer features as of a date: one row per customer, computed in one vectorised pass.

Purchases are orders, not line items: the rows of an order are netted (refund rows carry the
order's id and a negative amount). An order that has refund rows and nets to zero or less
(within :data:`REFUND_TOLERANCE`) is a fully refunded order and is not a purchase. A
cancellation with its own order id (Online Retail's ``C`` invoices) is not a purchase either,
but its negative amount is netted into the customer's monetary totals.

:func:`customer_snapshot` builds the one row per customer every scheme reads.

Counting follows ``lifetimes.utils.summary_data_from_transaction_data`` with ``freq="D"``:
purchases on the same calendar day are one purchase period, ``frequency`` is the number of
periods after the first, ``recency`` is the days from the first to the last period and ``T``
the days from the first period to ``as_of``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from segmentation.errors import InvalidOptionError

__all__ = [
    "ATTRIBUTE_COLUMNS",
    "INTERACTION_COLUMNS",
    "PRODUCT_COLUMNS",
    "REFUND_TOLERANCE",
    "SNAPSHOT_COLUMNS",
    "as_of_cutoff",
    "customer_snapshot",
    "order_purchases",
    "purchase_days",
    "repeat_purchase_summary",
]


#: An order with refund rows whose net is at most this (currency units) is refunded in full:
#: refunds that cancel a sale exactly leave float residue such as 2.8e-14.
REFUND_TOLERANCE = 1e-6


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
        One row per (customer_id, order_id): ``order_ts`` (the earliest row, the purchase
        time), ``amount`` (net), ``has_refund`` (any negative row) and ``is_purchase``
        (not a refund-only or fully refunded order).
    """
    cutoff = as_of_cutoff(as_of)
    rows = orders.loc[
        orders["customer_id"].notna() & (orders["order_ts"] < cutoff),
        ["customer_id", "order_id", "order_ts", "amount"],
    ]
    grouped = rows.assign(negative=rows["amount"] < 0, sale=rows["amount"] >= 0).groupby(
        ["customer_id", "order_id"], sort=True, observed=True
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
    return per_order.drop(columns="has_sale").reset_index()


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
    cutoff = as_of_cutoff(as_of)
    in_window = (
        orders["customer_id"].notna() & orders["order_id"].notna() & (orders["order_ts"] < cutoff)
    ).to_numpy(dtype=bool)
    universe, row_customer, _ = _customer_universe(
        orders["customer_id"], in_window, _customer_attributes(None, cutoff)
    )
    ts = orders["order_ts"].to_numpy()[in_window]
    raw_amount = orders["amount"].to_numpy(dtype=float, na_value=np.nan)[in_window]
    net = _net_orders(orders["order_id"], in_window, row_customer, ts.view(np.int64), raw_amount)
    customer = net.customer[net.is_purchase]
    day = _to_day(net.ts[net.is_purchase], np.datetime_data(ts.dtype)[0])
    offset = int(day.min(initial=0))
    span = int(day.max(initial=0)) - offset + 1
    key = np.sort(customer * span + (day - offset))
    key = key[_run_starts(key)]
    return pd.DataFrame(
        {
            "customer_id": universe.take(key // span).array,
            "day": (key % span + offset).astype(np.int64),
        }
    )


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


# --- the customer snapshot ------------------------------------------------------------------

#: Customer attributes the snapshot carries from the customers table, in this order.
ATTRIBUTE_COLUMNS: tuple[str, ...] = (
    "region",
    "city",
    "city_tier",
    "source_channel",
    "industry",
    "tags",
    "first_seen_ts",
)

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

#: Present only when an interaction log is given.
INTERACTION_COLUMNS: tuple[str, ...] = ("interactions_30d", "interactions_90d")

#: Present only when the orders carry unit prices and categories.
PRODUCT_COLUMNS: tuple[str, ...] = ("avg_unit_price_ratio", "category_breadth")

_INTERACTION_WINDOW_DAYS = {"interactions_30d": 30, "interactions_90d": 90}
_NAT = np.iinfo(np.int64).min  # the int64 value of NaT


def customer_snapshot(
    orders: pd.DataFrame,
    customers: pd.DataFrame | None = None,
    interactions: pd.DataFrame | None = None,
    *,
    as_of: str | pd.Timestamp,
) -> pd.DataFrame:
    """One row per customer known at ``as_of``: purchases, value, refunds, engagement, profile.

    A customer is known at ``as_of`` when the customers table lists them with a
    ``first_seen_ts`` on or before that day (or none at all), or when they have an order row
    up to that day. Potential customers, known but without a purchase, get a row too.

    Everything is vectorised: customer and order ids are factorised once, and every per-order
    and per-customer figure is a ``numpy.bincount`` or ``numpy.ufunc.at`` over integer codes.
    Rows in time order (as ingest writes them) need no sort at all: the only Python loop is
    over the calendar days, to find each customer's purchase days; otherwise one integer sort
    does it. There is no per-customer Python code.

    Parameters
    ----------
    orders : pandas.DataFrame
        Canonical orders (:data:`segmentation.schema.ORDERS`). Guest rows (no customer id)
        and rows after ``as_of`` are ignored. ``unit_price`` and ``category`` are optional.
        ``customer_id`` and ``order_id`` may also be categoricals: their codes are then used
        as they are, which skips hashing the ids (about half the time at a million customers).
    customers : pandas.DataFrame, optional
        Canonical customers (:data:`segmentation.schema.CUSTOMERS`). A customer listed twice
        keeps the row with the earliest ``first_seen_ts``.
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
    end_day = _day_number(pd.Timestamp(as_of).normalize())
    listed = _customer_attributes(customers, cutoff)
    attributes = listed.frame
    in_window = (orders["customer_id"].notna() & (orders["order_ts"] < cutoff)).to_numpy(dtype=bool)
    universe, row_customer, attribute_row = _customer_universe(
        orders["customer_id"], in_window, listed
    )
    n_customers = len(universe)

    ts = orders["order_ts"].to_numpy()[in_window]
    ts_unit = np.datetime_data(ts.dtype)[0]
    raw_amount = orders["amount"].to_numpy(dtype=float, na_value=np.nan)[in_window]
    amount = np.nan_to_num(raw_amount, nan=0.0)
    net = _net_orders(orders["order_id"], in_window, row_customer, ts.view(np.int64), raw_amount)
    days = _purchase_days(net, n_customers, ts_unit)

    n_orders = np.bincount(net.customer[net.is_purchase], minlength=n_customers)
    is_potential = n_orders == 0
    monetary_total = _sum_by(net.customer, net.amount, n_customers)
    monetary_total[is_potential] = 0.0
    frequency = days["frequency"]
    monetary_value = days["repeat_spend"] / np.maximum(frequency, 1)
    monetary_value[frequency == 0] = 0.0

    gross = _sum_by(row_customer, np.clip(amount, 0, None), n_customers)
    refunded = _sum_by(row_customer, np.clip(-amount, 0, None), n_customers)
    refund_share = np.where(refunded > 0, 1.0, 0.0)
    has_gross = gross > 0
    refund_share[has_gross] = np.minimum(refunded[has_gross] / gross[has_gross], 1.0)

    profile = {
        column: pd.Series(
            attributes[column].array.take(attribute_row, allow_fill=True), index=universe
        )
        for column in ATTRIBUTE_COLUMNS
    }
    # Each customer's first order row: the earliest of their orders' earliest rows.
    first_row_ts = np.full(n_customers, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first_row_ts, net.customer, net.ts)
    has_rows = np.bincount(net.customer, minlength=n_customers) > 0
    first_row_day = np.full(n_customers, np.nan)
    first_row_day[has_rows] = _to_day(first_row_ts[has_rows], ts_unit)
    first_known_day = np.fmin(_day_numbers(profile["first_seen_ts"]), first_row_day)

    snapshot = pd.DataFrame(
        {
            "first_purchase": days["first_purchase"].view(f"datetime64[{ts_unit}]"),
            "last_purchase": days["last_purchase"].view(f"datetime64[{ts_unit}]"),
            "recency_days": end_day - days["last_day"],
            "n_orders": n_orders.astype(np.int64),
            "frequency": frequency.astype(np.int64),
            "recency": days["last_day"] - days["first_day"],
            "T": end_day - days["first_day"],
            "monetary_value": monetary_value,
            "monetary_total": monetary_total,
            "monetary_avg": monetary_total / np.maximum(n_orders, 1),
            "tenure_days": end_day - first_known_day,
            "refund_share": refund_share,
            "is_potential": is_potential,
        },
        index=universe,
    )
    if interactions is not None:
        for column, counts in _interaction_counts(interactions, universe, cutoff).items():
            snapshot[column] = counts
    product = _product_features(orders, in_window, row_customer, n_customers)
    if product is not None:
        snapshot["avg_unit_price_ratio"], snapshot["category_breadth"] = product
    return pd.concat([snapshot, pd.DataFrame(profile)], axis=1)


# --- snapshot internals ---------------------------------------------------------------------


class _NetOrders(NamedTuple):
    """One entry per (customer, order); a customer's orders in order of their first row."""

    customer: np.ndarray  # int64 position in the universe
    ts: np.ndarray  # int64 timestamp of the earliest row, in the orders' unit
    amount: np.ndarray  # net of refund rows
    is_purchase: np.ndarray  # not refund-only, not refunded in full


def _customer_universe(
    customer_id: pd.Series, in_window: np.ndarray, listed: _Listed
) -> tuple[pd.Index, np.ndarray, np.ndarray]:
    """Sorted ids of every known customer, each in-window order row's position in them, and
    each known customer's row in the customers table (-1 when not listed)."""
    # Factorise the full column once and filter the integer codes, not the strings.
    all_codes, ids, _ = _factorize(customer_id)
    row_code = all_codes[in_window]
    seen = np.bincount(row_code, minlength=len(ids)) > 0
    from_orders = _arrow_strings(ids).filter(pa.array(seen))
    # One hash of the listed ids: where each ordering customer is in the customers table.
    found = pc.index_in(from_orders, value_set=listed.ids)
    listed_row = pc.fill_null(found, -1).to_numpy().astype(np.int64)
    # The order customers' ranks among themselves, carried to the rows by their codes.
    order_rank = np.cumsum(seen) - 1
    if listed.strictly_sorted and found.null_count == 0:
        # Every ordering customer is listed and the list is sorted (ingest writes it so): the
        # universe is the listed customers known by now or with orders, already in order.
        in_universe = listed.known.copy()
        in_universe[listed_row] = True
        position = np.cumsum(in_universe) - 1
        row_customer = position[listed_row[order_rank[row_code]]]
        kept_rows = np.flatnonzero(in_universe)
        universe = pd.Index(
            pd.arrays.ArrowStringArray(listed.ids.filter(pa.array(in_universe))),
            name="customer_id",
        )
        return universe, row_customer, kept_rows
    listed_only_rows = np.flatnonzero(listed.known)
    if len(listed_row):
        is_ordering = np.zeros(len(listed.known), dtype=bool)
        is_ordering[listed_row[listed_row >= 0]] = True
        listed_only_rows = listed_only_rows[~is_ordering[listed_only_rows]]
    known = pa.concat_arrays([from_orders, listed.ids.take(pa.array(listed_only_rows))])
    known_row = np.concatenate([listed_row, listed_only_rows])
    # Sort the ids and carry the row codes along by rank, rather than hashing them again.
    sort_order = pc.sort_indices(known).to_numpy()
    rank = np.empty(len(known), dtype=np.int64)
    rank[sort_order] = np.arange(len(known), dtype=np.int64)
    row_customer = rank[order_rank[row_code]]
    universe = pd.Index(
        pd.arrays.ArrowStringArray(known.take(pa.array(sort_order))), name="customer_id"
    )
    return universe, row_customer, known_row[sort_order]


def _net_orders(
    order_id: pd.Series,
    in_window: np.ndarray,
    row_customer: np.ndarray,
    ts_int: np.ndarray,
    raw_amount: np.ndarray,
) -> _NetOrders:
    """Net the rows of each (customer, order): a refund row carries its order's id."""
    all_codes, ids, in_appearance_order = _factorize(order_id)
    order_code = all_codes[in_window].astype(np.int64)
    no_order_id = order_code < 0
    if not in_appearance_order:
        order_code = _in_appearance_order(order_code, no_order_id)
    if no_order_id.any():  # a row without an order id is an order of its own
        order_code[no_order_id] = len(ids) + np.arange(int(no_order_id.sum()))
    n_codes = int(order_code.max(initial=-1)) + 1
    first_row = np.full(n_codes, len(order_code), dtype=np.int64)
    np.minimum.at(first_row, order_code, np.arange(len(order_code), dtype=np.int64))
    amount = np.nan_to_num(raw_amount, nan=0.0)
    # An order id normally belongs to one customer; then the id alone keys the order, and
    # every per-order figure is a bincount over the dense codes, with no sort of the rows.
    order_customer = np.full(n_codes, -1, dtype=np.int64)
    order_customer[order_code] = row_customer
    if not np.array_equal(order_customer[order_code], row_customer):
        return _net_orders_by_pair(order_code, row_customer, ts_int, raw_amount)
    rows_per_order = np.bincount(order_code, minlength=n_codes)
    present = np.flatnonzero(rows_per_order)
    net_amount = _order_sums(order_code, amount, rows_per_order, first_row)[present]
    has_refund = np.bincount(order_code[amount < 0], minlength=n_codes)[present] > 0
    has_sale = np.bincount(order_code[raw_amount >= 0], minlength=n_codes)[present] > 0
    earliest = np.full(n_codes, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(earliest, order_code, ts_int)
    return _NetOrders(
        customer=order_customer[present],
        ts=earliest[present],
        amount=net_amount,
        is_purchase=has_sale & ~(has_refund & (net_amount <= REFUND_TOLERANCE)),
    )


def _in_appearance_order(codes: np.ndarray, missing: np.ndarray) -> np.ndarray:
    """Codes renumbered by first appearance, as factorising text numbers them, so that coded
    and text ids give the same orders, summed in the same order; missing stays missing."""
    valid = np.flatnonzero(~missing)
    n_codes = int(codes.max(initial=-1)) + 1
    first_row = np.full(n_codes, len(codes), dtype=np.int64)
    np.minimum.at(first_row, codes[valid], valid)
    is_first_row = np.zeros(len(codes), dtype=bool)
    is_first_row[first_row[first_row < len(codes)]] = True
    renumber = np.full(max(n_codes, 1), -1, dtype=np.int64)
    renumber[codes[is_first_row]] = np.arange(int(is_first_row.sum()), dtype=np.int64)
    return np.where(missing, -1, renumber[np.maximum(codes, 0)])


def _order_sums(
    codes: np.ndarray, amount: np.ndarray, rows_per_order: np.ndarray, first_row: np.ndarray
) -> np.ndarray:
    """Sum of ``amount`` per code, rounded exactly as ``np.add.reduceat`` over the rows sorted
    by code (stably) rounds it: the first row plus the sum of the others.

    ``rows_per_order`` counts each code's rows and ``first_row`` is the position of its first.
    """
    n_codes = len(rows_per_order)
    has_rows = rows_per_order > 0
    others = np.ones(len(codes), dtype=bool)
    others[first_row[has_rows]] = False
    sums = np.zeros(n_codes)
    sums[has_rows] = amount[first_row[has_rows]]
    # numpy adds the other rows from 0 in order while there are fewer than 8 of them, as
    # bincount does; from 8 on it sums pairwise, so those few orders take the reduceat route.
    several = rows_per_order > 1  # adding 0.0 to a single row would turn -0.0 into 0.0
    sums[several] += np.bincount(codes[others], weights=amount[others], minlength=n_codes)[several]
    many = rows_per_order > 8
    if many.any():
        rows = np.flatnonzero(many[codes])
        by_code = rows[np.argsort(codes[rows], kind="stable")]
        start = _run_starts(codes[by_code])
        sums[codes[by_code][start]] = np.add.reduceat(amount[by_code], start)
    return sums


def _net_orders_by_pair(
    order_code: np.ndarray, row_customer: np.ndarray, ts_int: np.ndarray, raw_amount: np.ndarray
) -> _NetOrders:
    """:func:`_net_orders` when an order id is shared by customers: key on the pair."""
    order_key = row_customer * (int(order_code.max(initial=0)) + 1) + order_code
    by_order = np.argsort(order_key, kind="stable")
    start = _run_starts(order_key[by_order])
    amount = np.nan_to_num(raw_amount, nan=0.0)
    net_amount = _reduceat(np.add, amount[by_order], start)
    has_refund = _reduceat(np.logical_or, (amount < 0)[by_order], start)
    has_sale = _reduceat(np.logical_or, (raw_amount >= 0)[by_order], start)
    return _NetOrders(
        customer=row_customer[by_order][start],
        ts=_reduceat(np.minimum, ts_int[by_order], start),
        amount=net_amount,
        is_purchase=has_sale & ~(has_refund & (net_amount <= REFUND_TOLERANCE)),
    )


def _purchase_days(net: _NetOrders, n_customers: int, ts_unit: str) -> dict[str, np.ndarray]:
    """Per customer: lifetimes' purchase periods with freq="D" (runs of equal customer, day)."""
    customer = net.customer[net.is_purchase]
    ts = net.ts[net.is_purchase]
    amount = net.amount[net.is_purchase]
    day = _to_day(ts, ts_unit)
    if len(day) > 1 and bool((day[1:] < day[:-1]).any()):
        period = _periods_by_sort(customer, day)
    else:
        # Exports are in time order, and so are the orders netted from them: a customer's
        # purchase day is a new period unless they bought earlier that day, so each day's
        # orders are compared among themselves only, with no sort of all the orders.
        period = _periods_in_time_order(customer, day, n_customers)
    # Each period's members, in order: its first purchase and the purchase that ends it.
    n_periods = int(period.max(initial=-1)) + 1
    members = np.bincount(period, minlength=n_periods)
    position = np.arange(len(period), dtype=np.int64)
    first_member = np.full(n_periods, len(period), dtype=np.int64)
    np.minimum.at(first_member, period, position)
    period_amount = _order_sums(period, amount, members, first_member)
    period_customer = customer[first_member]
    period_day = day[first_member]
    period_first_ts = np.full(n_periods, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(period_first_ts, period, ts)
    period_last_ts = np.full(n_periods, np.iinfo(np.int64).min, dtype=np.int64)
    np.maximum.at(period_last_ts, period, ts)

    # Periods are numbered by day within each customer, so a customer's first and last
    # periods are their smallest and largest numbers.
    index = np.arange(n_periods, dtype=np.int64)
    first = np.full(n_customers, n_periods, dtype=np.int64)
    np.minimum.at(first, period_customer, index)
    last = np.full(n_customers, -1, dtype=np.int64)
    np.maximum.at(last, period_customer, index)
    buyers = np.flatnonzero(last >= 0)
    first, last = first[buyers], last[buyers]
    repeat_spend = _sum_by(period_customer, period_amount, n_customers)
    repeat_spend[buyers] -= period_amount[first]
    out = {
        "frequency": np.maximum(np.bincount(period_customer, minlength=n_customers) - 1, 0),
        "repeat_spend": repeat_spend,
        "first_day": np.full(n_customers, np.nan),
        "last_day": np.full(n_customers, np.nan),
        "first_purchase": np.full(n_customers, _NAT, dtype=np.int64),
        "last_purchase": np.full(n_customers, _NAT, dtype=np.int64),
    }
    out["first_day"][buyers] = period_day[first]
    out["last_day"][buyers] = period_day[last]
    out["first_purchase"][buyers] = period_first_ts[first]
    out["last_purchase"][buyers] = period_last_ts[last]
    return out


def _periods_by_sort(customer: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Each purchase's period number, periods numbered in (customer, day) order."""
    day_offset = int(day.min(initial=0))
    period_key = customer * (int(day.max(initial=0)) - day_offset + 1) + (day - day_offset)
    by_period = np.argsort(period_key, kind="stable")
    new_period = np.ones(len(by_period), dtype=bool)
    sorted_key = period_key[by_period]
    new_period[1:] = sorted_key[1:] != sorted_key[:-1]
    period = np.empty(len(by_period), dtype=np.int64)
    period[by_period] = np.cumsum(new_period) - 1
    return period


def _periods_in_time_order(customer: np.ndarray, day: np.ndarray, n_customers: int) -> np.ndarray:
    """Each purchase's period number, periods numbered in order of time, for purchases
    already in time order: the first purchase of a customer on a day opens a period."""
    opener = np.empty(len(day), dtype=np.int64)  # the purchase that opened each one's period
    first_today = np.full(n_customers, len(day), dtype=np.int64)
    for start, stop in zip(*_run_bounds(day), strict=True):
        who = customer[start:stop]
        np.minimum.at(first_today, who, np.arange(start, stop, dtype=np.int64))
        opener[start:stop] = first_today[who]
        first_today[who] = len(day)
    opens = opener == np.arange(len(day))
    return (np.cumsum(opens) - 1)[opener]


def _run_bounds(sorted_keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and stop of each run of equal values in a sorted array."""
    starts = _run_starts(sorted_keys)
    stops = np.append(starts[1:], len(sorted_keys)).astype(np.int64)
    return starts, stops[: len(starts)]


def _factorize(values: pd.Series) -> tuple[np.ndarray, pd.Index, bool]:
    """Integer codes (-1 for missing), the distinct values, and whether the codes number the
    values in order of first appearance; text is hashed only when it is not already coded."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        # Already coded (e.g. dictionary-encoded on read): reuse the codes, no hashing.
        return values.cat.codes.to_numpy().astype(np.int64), values.cat.categories, False
    codes, uniques = pd.factorize(values)
    return codes, pd.Index(uniques), True


def _run_starts(sorted_keys: np.ndarray) -> np.ndarray:
    """Positions where a run of equal values starts in an already sorted array."""
    if len(sorted_keys) == 0:
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])


def _reduceat(ufunc: np.ufunc, values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    # reduceat rejects empty input; an empty group list reduces to an empty result.
    if len(starts) == 0:
        return values[:0]
    return ufunc.reduceat(values, starts)


def _sum_by(codes: np.ndarray, weights: np.ndarray, length: int) -> np.ndarray:
    """Sum of ``weights`` per code, as floats even when there is nothing to sum."""
    return np.bincount(codes, weights=weights, minlength=length).astype(np.float64)


def _to_day(ts_int: np.ndarray, unit: str) -> np.ndarray:
    """Integer timestamps in ``unit`` to day numbers since the epoch (calendar days)."""
    ticks_per_day = np.timedelta64(1, "D").astype(f"timedelta64[{unit}]").astype(np.int64)
    # Floor division rounds down before 1970 too, as the calendar day does.
    return np.floor_divide(ts_int, ticks_per_day)


def _arrow_strings(values: object) -> pa.Array:
    """Ids as one pyarrow string array (zero-copy for pandas' pyarrow-backed strings)."""
    strings = pd.array(values, dtype=pd.StringDtype("pyarrow"))  # type: ignore[call-overload]
    array = pa.array(strings)
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    # One string type throughout, so arrays concatenate and compare without surprises.
    return array.cast(pa.large_string())


def _positions(values: object, lookup: object) -> np.ndarray:
    """Position of each of ``values`` in ``lookup`` (-1 when absent), hashed by pyarrow."""
    found = pc.index_in(_arrow_strings(values), value_set=_arrow_strings(lookup))
    return pc.fill_null(found, -1).to_numpy().astype(np.int64)


def _day_number(timestamp: pd.Timestamp) -> int:
    return int(np.datetime64(timestamp.date(), "D").astype(np.int64))


def _day_numbers(values: pd.Series) -> np.ndarray:
    """Day numbers as floats, NaN where the timestamp is missing."""
    days = np.full(len(values), np.nan)
    present = values.notna().to_numpy(dtype=bool)
    stamps = values.to_numpy()[present]
    days[present] = stamps.astype("datetime64[D]").view(np.int64)
    return days


class _Listed(NamedTuple):
    """The customers table as the snapshot reads it."""

    frame: pd.DataFrame  # attributes, one row per listed customer, indexed by customer_id
    ids: pa.Array  # the frame's index as one large_string array
    known: np.ndarray  # first seen by the cutoff (or never recorded)
    strictly_sorted: bool  # ids strictly increasing: sorted and without repeats


def _customer_attributes(customers: pd.DataFrame | None, cutoff: pd.Timestamp) -> _Listed:
    """Attributes per listed customer (one row each) and which of them are known by ``cutoff``."""
    if customers is None:
        dtypes = {column: "string" for column in ATTRIBUTE_COLUMNS}
        dtypes["first_seen_ts"] = "datetime64[ns]"
        empty = pd.DataFrame({c: pd.Series(dtype=d) for c, d in dtypes.items()})
        empty.index = pd.Index([], dtype="string", name="customer_id")
        return _Listed(empty, pa.array([], type=pa.large_string()), np.zeros(0, bool), True)
    text_columns = [c for c in ATTRIBUTE_COLUMNS if c != "first_seen_ts"]
    frame = pd.DataFrame(
        {
            column: (
                customers[column].astype("string")
                if column in customers.columns
                else pd.Series(pd.NA, index=customers.index, dtype="string")
            )
            for column in text_columns
        }
    )
    frame["first_seen_ts"] = (
        pd.to_datetime(customers["first_seen_ts"])
        if "first_seen_ts" in customers.columns
        else pd.Series(pd.NaT, index=customers.index, dtype="datetime64[ns]")
    )
    frame.insert(0, "customer_id", customers["customer_id"].astype("string"))
    frame = frame.loc[frame["customer_id"].notna()]
    ids = _arrow_strings(frame["customer_id"])
    # Ingest writes the table sorted by id: strictly increasing ids need no hash to dedupe.
    strictly_sorted = len(ids) < 2 or bool(
        pc.all(pc.less(ids.slice(0, len(ids) - 1), ids.slice(1))).as_py()
    )
    if not strictly_sorted:
        listed_twice = frame["customer_id"].duplicated(keep=False).to_numpy(dtype=bool)
        if listed_twice.any():
            # Sorting on every column makes the kept row independent of the row order.
            kept = (
                frame.loc[listed_twice]
                .sort_values(["customer_id", "first_seen_ts", *text_columns], kind="stable")
                .drop_duplicates("customer_id", keep="first")
            )
            frame = pd.concat([frame.loc[~listed_twice], kept])
            ids = _arrow_strings(frame["customer_id"])
    frame = frame.set_index("customer_id")
    first_seen = frame["first_seen_ts"]
    known = (first_seen.isna() | (first_seen < cutoff)).to_numpy(dtype=bool)
    frame["first_seen_ts"] = first_seen.where(first_seen < cutoff)
    return _Listed(frame, ids, known, strictly_sorted)


def _interaction_counts(
    interactions: pd.DataFrame, universe: pd.Index, cutoff: pd.Timestamp
) -> dict[str, np.ndarray]:
    """Interactions per customer in each trailing window ending at ``cutoff``."""
    longest = max(_INTERACTION_WINDOW_DAYS.values())
    ts = interactions["ts"]
    in_window = (
        interactions["customer_id"].notna()
        & (ts < cutoff)
        & (ts >= cutoff - pd.Timedelta(days=longest))
    ).to_numpy(dtype=bool)
    codes, ids = pd.factorize(interactions["customer_id"].loc[in_window])
    position = _positions(ids, universe)[codes]
    window_ts = ts.loc[in_window]
    counts: dict[str, np.ndarray] = {}
    for column, days in _INTERACTION_WINDOW_DAYS.items():
        within = (window_ts >= cutoff - pd.Timedelta(days=days)).to_numpy(dtype=bool)
        keep = within & (position >= 0)
        counts[column] = np.bincount(position[keep], minlength=len(universe)).astype(np.int64)
    return counts


def _product_features(
    orders: pd.DataFrame, in_window: np.ndarray, row_customer: np.ndarray, n_customers: int
) -> tuple[np.ndarray, np.ndarray] | None:
    """Mean price ratio to the category median and category breadth, or None without data."""
    if "unit_price" not in orders.columns or "category" not in orders.columns:
        return None
    price = orders["unit_price"].to_numpy(dtype=float, na_value=np.nan)[in_window]
    amount = orders["amount"].to_numpy(dtype=float, na_value=np.nan)[in_window]
    all_category_codes, categories = pd.factorize(orders["category"])
    category_code = all_category_codes[in_window].astype(np.int64)
    sale_line = (amount > 0) & (price > 0) & (category_code >= 0)
    if not sale_line.any():
        return None
    category_code = category_code[sale_line]
    price = price[sale_line]
    customer = row_customer[sale_line]
    median = np.full(len(categories), np.nan)
    by_category = pd.Series(price).groupby(category_code, sort=True).median()
    median[by_category.index.to_numpy()] = by_category.to_numpy()
    ratio = price / median[category_code]
    lines = np.bincount(customer, minlength=n_customers)
    ratio_sum = _sum_by(customer, ratio, n_customers)
    avg_ratio = np.full(n_customers, np.nan)
    bought = lines > 0
    avg_ratio[bought] = ratio_sum[bought] / lines[bought]
    return avg_ratio, _distinct_per_customer(customer, category_code, n_customers, len(categories))


def _distinct_per_customer(
    customer: np.ndarray, code: np.ndarray, n_customers: int, n_codes: int
) -> np.ndarray:
    """Distinct codes per customer: a bitmap of the pairs, or a sort when that is too large."""
    pair = customer * n_codes + code
    if n_customers * n_codes <= max(64 * len(pair), 1 << 20):
        seen = np.zeros(n_customers * n_codes, dtype=bool)
        seen[pair] = True
        return seen.reshape(n_customers, n_codes).sum(axis=1).astype(np.int64)
    pair = np.sort(pair)  # numpy's hash-based unique is several times slower on integers
    distinct = pair[np.r_[True, pair[1:] != pair[:-1]]] if len(pair) else pair
    return np.bincount(distinct // n_codes, minlength=n_customers).astype(np.int64)
