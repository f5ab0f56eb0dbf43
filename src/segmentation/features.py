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

from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from segmentation.arrays import (
    arrow_text,
    day_number,
    factorized,
    run_starts,
    strictly_increasing,
)
from segmentation.errors import InvalidOptionError

__all__ = [
    "ATTRIBUTE_COLUMNS",
    "INTERACTION_COLUMNS",
    "PRODUCT_COLUMNS",
    "REFUND_TOLERANCE",
    "SNAPSHOT_COLUMNS",
    "as_of_cutoff",
    "as_text",
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
    # Ids as text: pandas regroups a categorical by hashing all of its categories (a million
    # customer ids) on every groupby, where text is hashed only for the rows at hand.
    rows = rows.assign(customer_id=as_text(rows["customer_id"]), order_id=as_text(rows["order_id"]))
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
    net = _net_orders(
        orders["order_id"],
        in_window,
        row_customer,
        ts.view(np.int64),
        raw_amount,
        _zero_for_missing(raw_amount),
    )
    customer = net.customer[net.is_purchase]
    day = _to_day(net.ts[net.is_purchase], np.datetime_data(ts.dtype)[0])
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
    listed = _customer_attributes(customers, cutoff)
    attributes = listed.frame
    in_window = (orders["customer_id"].notna() & (orders["order_ts"] < cutoff)).to_numpy(dtype=bool)
    universe, row_customer, attribute_row = _customer_universe(
        orders["customer_id"], in_window, listed
    )
    n_customers = len(universe)

    # Row-sized arrays are tens of megabytes at a million customers, and fresh memory is slow
    # to come by: each is used and let go in turn, so that the next reuses its memory.
    all_amount = _float_values(orders["amount"])
    # The product features need none of the purchase figures: they are worked out on the
    # other core meanwhile (numpy lets go of the GIL in its loops). Both only read the
    # arrays they share.
    with ThreadPoolExecutor(max_workers=1) as beside:
        product_features = beside.submit(
            _product_features,
            orders.get("unit_price"),
            orders.get("category"),
            in_window,
            row_customer,
            all_amount,
            n_customers,
        )
        raw_amount = all_amount[in_window]
        amount = _zero_for_missing(raw_amount)
        ts = orders["order_ts"].to_numpy()[in_window]
        ts_unit = np.datetime_data(ts.dtype)[0]
        net = _net_orders(
            orders["order_id"], in_window, row_customer, ts.view(np.int64), raw_amount, amount
        )
        del ts, raw_amount
        # Only refund rows add to the refunded amount (the others would add zeros).
        refund_row = np.flatnonzero(amount < 0)  # few
        refunded = _sum_by(row_customer[refund_row], -amount[refund_row], n_customers)
        # ``amount`` is this function's own copy and no longer needed: clip it where it is.
        gross = _sum_by(row_customer, np.clip(amount, 0, None, out=amount), n_customers)
        del refund_row, amount
        monetary_total = _sum_by(net.customer, net.amount, n_customers)
        days = _purchase_days(net, n_customers, ts_unit)
        product = product_features.result()
    del row_customer

    n_orders = days["n_orders"]
    is_potential = n_orders == 0
    monetary_total[is_potential] = 0.0
    frequency = days["frequency"]
    monetary_value = days["repeat_spend"] / np.maximum(frequency, 1)
    monetary_value[frequency == 0] = 0.0

    refund_share = np.where(refunded > 0, 1.0, 0.0)
    has_gross = gross > 0
    refund_share[has_gross] = np.minimum(refunded[has_gross] / gross[has_gross], 1.0)

    # Ingest lists every customer, all known by the as-of date: then the rows are the table's.
    every_row = len(attribute_row) == len(attributes) and bool(
        (attribute_row == np.arange(len(attributes))).all()
    )
    # A copy, not the customers table's own array: arrow-backed text copies in no time.
    profile = {
        column: (
            attributes[column].array.copy()
            if every_row
            else attributes[column].array.take(attribute_row, allow_fill=True)
        )
        for column in ATTRIBUTE_COLUMNS
    }
    # Each customer's first order row: the earliest of their orders' earliest rows, that is
    # of their first purchase and their other orders. No order row is dated at the largest
    # int64 (it would be after any as_of), so that means none.
    no_rows = np.iinfo(np.int64).max
    first_row_ts = np.where(is_potential, no_rows, days["first_purchase"])
    not_purchase = np.flatnonzero(~net.is_purchase)  # few
    np.minimum.at(first_row_ts, net.customer[not_purchase], net.ts[not_purchase])
    has_rows = first_row_ts != no_rows
    first_row_day = np.full(n_customers, np.nan)
    first_row_day[has_rows] = _to_day(first_row_ts[has_rows], ts_unit)
    first_known_day = np.fmin(_day_numbers(profile["first_seen_ts"]), first_row_day)

    columns: dict[str, object] = {
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
        "refund_share": refund_share,
        "is_potential": is_potential,
    }
    if interactions is not None:
        columns.update(_interaction_counts(interactions, universe, cutoff))
    if product is not None:
        columns["avg_unit_price_ratio"], columns["category_breadth"] = product
    columns.update(profile)
    # Every array is this function's own: the frame takes them as they are, uncopied.
    return pd.DataFrame(columns, index=universe, copy=False)


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
    all_codes, ids = factorized(customer_id)
    row_code = all_codes[in_window].astype(np.intp)  # numpy indexes with intp
    id_strings = arrow_text(ids)
    all_known = listed.strictly_sorted and len(listed.ids) > 0 and bool(listed.known.all())
    if all_known:
        # Every listed customer is known by now: when every id is listed, the universe is the
        # customers table, whichever of them have orders.
        id_row = _listed_rows(id_strings, np.ones(len(ids), dtype=bool), listed)
        if bool((id_row >= 0).all()):
            universe = pd.Index(pd.arrays.ArrowStringArray(listed.ids), name="customer_id")
            table_rows = np.arange(len(listed.ids), dtype=np.int64)
            return universe, id_row[row_code], table_rows
    seen = np.bincount(row_code, minlength=len(ids)) > 0
    from_orders = id_strings.filter(pa.array(seen))
    # Where each ordering customer is in the customers table, by the cheapest route.
    listed_row = id_row[seen] if all_known else _listed_rows(id_strings, seen, listed)
    # Per distinct id, its customer's position in the universe: one gather carries it to rows.
    code_position = np.full(len(ids), -1, dtype=np.int64)
    if listed.strictly_sorted and bool((listed_row >= 0).all()):
        # Every ordering customer is listed and the list is sorted (ingest writes it so): the
        # universe is the listed customers known by now or with orders, already in order.
        in_universe = listed.known.copy()
        in_universe[listed_row] = True
        position = np.cumsum(in_universe) - 1
        code_position[seen] = position[listed_row]
        everyone = bool(in_universe.all())
        kept_ids = listed.ids if everyone else listed.ids.filter(pa.array(in_universe))
        universe = pd.Index(pd.arrays.ArrowStringArray(kept_ids), name="customer_id")
        return universe, code_position[row_code], np.flatnonzero(in_universe)
    listed_only_rows = np.flatnonzero(listed.known)
    if len(listed_row):
        is_ordering = np.zeros(len(listed.known), dtype=bool)
        is_ordering[listed_row[listed_row >= 0]] = True
        listed_only_rows = listed_only_rows[~is_ordering[listed_only_rows]]
    listed_only = listed.ids.take(pa.array(listed_only_rows, type=pa.int64()))
    known = pa.concat_arrays([from_orders, listed_only])
    known_row = np.concatenate([listed_row, listed_only_rows])
    # The universe is the sorted union of two disjoint lists; merge them when both are sorted
    # (coded ids usually are), else sort the ids and carry the row codes along by rank.
    rank = _merged_ranks(from_orders, listed_only, listed_sorted=listed.strictly_sorted)
    if rank is None:
        sort_order = pc.sort_indices(known).to_numpy()
        rank = np.empty(len(known), dtype=np.int64)
        rank[sort_order] = np.arange(len(known), dtype=np.int64)
    else:
        sort_order = np.empty(len(known), dtype=np.int64)
        sort_order[rank] = np.arange(len(known), dtype=np.int64)
    code_position[seen] = rank[: len(from_orders)]
    universe = pd.Index(
        pd.arrays.ArrowStringArray(known.take(pa.array(sort_order))), name="customer_id"
    )
    return universe, code_position[row_code], known_row[sort_order]


def _listed_rows(id_strings: pa.Array, seen: np.ndarray, listed: _Listed) -> np.ndarray:
    """Row in the customers table of each of the ids ``seen`` picks (-1 when not listed).

    Hashing a million ids costs a quarter of a second, so it is the last resort: coded ids
    whose categories are the customers table's ids need no lookup at all, and sorted ids (a
    categorical's categories usually are) are merged with the sorted table.
    """
    if id_strings.equals(listed.ids):
        return np.flatnonzero(seen)
    from_orders = id_strings if bool(seen.all()) else id_strings.filter(pa.array(seen))
    if len(from_orders) == 0:
        return np.zeros(0, dtype=np.int64)
    if listed.strictly_sorted and strictly_increasing(from_orders):
        found = _sorted_positions(from_orders, listed.ids)
        if found is not None:
            return found
    positions = pc.index_in(from_orders, value_set=listed.ids)
    return pc.fill_null(positions, -1).to_numpy().astype(np.int64)


def _sorted_positions(needles: pa.Array, haystack: pa.Array) -> np.ndarray | None:
    """Position of each needle in ``haystack`` (-1 when absent), both strictly increasing, by
    merging fixed-width keys; None when the strings have no such keys."""
    keys = _fixed_width_keys([haystack, needles])
    if keys is None:
        return None
    haystack_keys, needle_keys = keys
    _, in_merge = _merge_positions(haystack_keys, needle_keys)
    # The haystack ids before a needle in the merge; an equal one comes just before it.
    candidate = in_merge - np.arange(len(needle_keys)) - 1
    hit = candidate >= 0
    hit[hit] = haystack_keys[candidate[hit]] == needle_keys[hit]
    return np.where(hit, candidate, -1).astype(np.int64)


def _merged_ranks(first: pa.Array, second: pa.Array, *, listed_sorted: bool) -> np.ndarray | None:
    """Rank of every id of ``first`` then ``second`` (disjoint) in their sorted union, merged
    without a sort when both are strictly increasing; None when they are not."""
    if len(second) == 0 and strictly_increasing(first):
        return np.arange(len(first), dtype=np.int64)
    if not listed_sorted or not strictly_increasing(first):
        return None
    keys = _fixed_width_keys([first, second])
    if keys is None:
        return None
    return np.concatenate(_merge_positions(*keys))


def _merge_positions(first: np.ndarray, second: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where the elements of two sorted arrays land when merged, those of ``first`` before
    equal ones of ``second``: numpy's stable sort (timsort) merges two sorted runs in one
    linear pass, several times faster than a binary search per element."""
    from_second = np.argsort(np.concatenate([first, second]), kind="stable") >= len(first)
    return np.flatnonzero(~from_second), np.flatnonzero(from_second)


def _fixed_width_keys(arrays: list[pa.Array]) -> list[np.ndarray] | None:
    """Keys that order and compare as the strings do bytewise, one array per input: unsigned
    big-endian integers for ids of up to 8 bytes, else numpy bytes of one common width.

    Ids are right-padded with NUL bytes, which keeps their order as long as no id contains a
    NUL; None when one does (or an id is missing), and the caller hashes instead.
    """
    layouts = []
    for strings in arrays:
        if strings.null_count:
            return None
        offsets = np.frombuffer(strings.buffers()[1], dtype=np.int64)
        offsets = offsets[strings.offset : strings.offset + len(strings) + 1]
        data = np.frombuffer(strings.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]]
        if bool((data == 0).any()):
            return None
        layouts.append((offsets - offsets[0], data))
    width = max((int(np.diff(o).max(initial=0)) for o, _ in layouts), default=0)
    width = max(width, 1)
    padded_width = 8 if width <= 8 else width
    keys = []
    for offsets, data in layouts:
        n = len(offsets) - 1
        lengths = np.diff(offsets)
        matrix = np.zeros((n, padded_width), dtype=np.uint8)
        if n and bool((lengths == lengths[0]).all()):
            matrix[:, : lengths[0]] = data.reshape(n, int(lengths[0]))
        elif n:
            row = np.repeat(np.arange(n, dtype=np.int64), lengths)
            column = np.arange(len(data), dtype=np.int64) - np.repeat(offsets[:-1], lengths)
            matrix[row, column] = data
        if padded_width == 8:
            keys.append(matrix.view(">u8").ravel().astype(np.uint64))
        else:
            keys.append(matrix.view(f"S{padded_width}").ravel())
    return keys


def _net_orders(
    order_id: pd.Series,
    in_window: np.ndarray,
    row_customer: np.ndarray,
    ts_int: np.ndarray,
    raw_amount: np.ndarray,
    amount: np.ndarray,
) -> _NetOrders:
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
    net_amount = _order_sums(first_amount, other_entry, other_amount)
    return _NetOrders(
        customer=entry_customer,
        ts=earliest,
        amount=net_amount,
        is_purchase=has_sale & ~(has_refund & (net_amount <= REFUND_TOLERANCE)),
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


def _order_sums(
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
) -> _NetOrders:
    """:func:`_net_orders` when an order id is shared by customers: key on the pair."""
    order_key = row_customer * (int(order_code.max(initial=0)) + 1) + order_code
    by_order = np.argsort(order_key, kind="stable")
    start = run_starts(order_key[by_order])
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
    """Per customer: lifetimes' purchase periods with freq="D" (runs of equal customer, day).

    The purchases are grouped by customer with one counting sort. Purchases in time order
    (as ingest writes them) are then in day order within each customer, and only the few
    that join an earlier purchase's day need more work; otherwise a counting sort by day goes
    first and every period is reduced.
    """
    ts = net.ts
    if len(ts) > 1 and bool((ts[1:] < ts[:-1]).any()):
        return _purchase_days_by_sort(net, n_customers, ts_unit)
    purchase = net.is_purchase
    # Orders that are not purchases get the key -1, which the grouping puts first.
    all_grouped, n_orders = _stable_group_order(np.where(purchase, net.customer, -1), n_customers)
    grouped = all_grouped[len(ts) - int(n_orders.sum()) :]  # positions in ``net``
    buyers = np.flatnonzero(n_orders)
    first_position = (np.cumsum(n_orders) - n_orders)[buyers]
    first_purchase = grouped[first_position]
    last_purchase = grouped[first_position + n_orders[buyers] - 1]
    # A purchase opens a period unless the customer's previous purchase is on its day; days
    # as 16-bit offsets make the gather in customer order four times lighter.
    day = _to_day(ts, ts_unit)
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
    period_amount[opener] = _order_sums(
        net.amount[opener], np.repeat(np.arange(len(run_start)), run_length), net.amount[joiner]
    )
    period_amount[joiner] = 0.0
    repeat_spend = _sum_by(net.customer, period_amount, n_customers)
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
        first_day=_to_day(first_ts, ts_unit),
        last_day=_to_day(last_ts, ts_unit),
        first_purchase=first_ts,
        last_purchase=last_ts,
    )


def _purchase_days_by_sort(
    net: _NetOrders, n_customers: int, ts_unit: str
) -> dict[str, np.ndarray]:
    """:func:`_purchase_days` for purchases not in time order: sort by (customer, day)."""
    customer = net.customer[net.is_purchase]
    ts = net.ts[net.is_purchase]
    amount = net.amount[net.is_purchase]
    day = _to_day(ts, ts_unit)
    day_offset = int(day.min(initial=0))
    by_day, _ = _stable_group_order(day - day_offset, int(day.max(initial=0)) - day_offset + 1)
    by_customer, n_orders = _stable_group_order(customer[by_day], n_customers)
    grouped = by_day[by_customer]
    customer, day, ts, amount = customer[grouped], day[grouped], ts[grouped], amount[grouped]
    new_period = np.ones(len(customer), dtype=bool)
    new_period[1:] = (customer[1:] != customer[:-1]) | (day[1:] != day[:-1])
    period_start = np.flatnonzero(new_period)
    period_customer = customer[period_start]
    # The stable sorts keep each period's purchases in their order: reduceat sums them as
    # the time-ordered route does.
    period_amount = _reduceat(np.add, amount, period_start)
    first = run_starts(period_customer)
    last = np.append(first[1:], len(period_start)).astype(np.int64)[: len(first)] - 1
    buyers = period_customer[first]
    repeat_spend = _sum_by(period_customer, period_amount, n_customers)
    repeat_spend[buyers] -= period_amount[first]
    return _per_customer(
        n_customers,
        buyers,
        n_orders=n_orders,
        frequency=_spread(n_customers, buyers, last - first, 0),
        repeat_spend=repeat_spend,
        first_day=day[period_start[first]],
        last_day=day[period_start[last]],
        first_purchase=_reduceat(np.minimum, ts, period_start)[first],
        last_purchase=_reduceat(np.maximum, ts, period_start)[last],
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
        "first_day": _spread(n_customers, buyers, first_day, np.nan),
        "last_day": _spread(n_customers, buyers, last_day, np.nan),
        "first_purchase": _spread(n_customers, buyers, first_purchase, _NAT),
        "last_purchase": _spread(n_customers, buyers, last_purchase, _NAT),
    }


def _spread(length: int, where: np.ndarray, values: np.ndarray, fill: float) -> np.ndarray:
    """An array of ``length`` with ``values`` at ``where`` and ``fill`` elsewhere."""
    dtype = np.float64 if isinstance(fill, float) else values.dtype
    out = np.full(length, fill, dtype=dtype)
    out[where] = values
    return out


def _stable_group_order(keys: np.ndarray, n_groups: int) -> tuple[np.ndarray, np.ndarray]:
    """The positions of ``keys`` (integers in ``[0, n_groups)``, or -1 to leave out) sorted
    by key, stably, the -1 first; and the count of each key from 0.

    pandas' counting sort does it in linear time, about ten times faster than numpy's stable
    sort of 64-bit integers; numpy's is the fallback should that helper ever move.
    """
    keys = keys.astype(np.intp, copy=False)
    try:
        from pandas._libs.algos import groupsort_indexer
    except ImportError:  # pragma: no cover - pandas has it, but it is not public API
        pass
    else:
        order, counts = groupsort_indexer(keys, n_groups)
        if len(counts) == n_groups + 1:  # counts[0] counts the -1 keys
            return np.asarray(order, dtype=np.int64), np.asarray(counts[1:], dtype=np.int64)
    counts = np.bincount(keys[keys >= 0], minlength=n_groups).astype(np.int64)
    return np.argsort(keys, kind="stable").astype(np.int64), counts


def _reduceat(ufunc: np.ufunc, values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    # reduceat rejects empty input; an empty group list reduces to an empty result.
    if len(starts) == 0:
        return values[:0]
    return ufunc.reduceat(values, starts)


def _sum_by(codes: np.ndarray, weights: np.ndarray, length: int) -> np.ndarray:
    """Sum of ``weights`` per code, as floats even when there is nothing to sum."""
    return np.bincount(codes, weights=weights, minlength=length).astype(np.float64, copy=False)


def _float_values(values: pd.Series) -> np.ndarray:
    """A column as float64 with NaN where missing (no copy when it already is that)."""
    if values.dtype == np.float64:
        return values.to_numpy()
    return values.to_numpy(dtype=float, na_value=np.nan)


def _zero_for_missing(values: np.ndarray) -> np.ndarray:
    """``values`` with NaN as 0 (the same array when nothing is missing)."""
    return np.nan_to_num(values, nan=0.0) if bool(np.isnan(values).any()) else values


def _to_day(ts_int: np.ndarray, unit: str) -> np.ndarray:
    """Integer timestamps in ``unit`` to day numbers since the epoch (calendar days)."""
    ticks_per_day = np.timedelta64(1, "D").astype(f"timedelta64[{unit}]").astype(np.int64)
    # Floor division rounds down before 1970 too, as the calendar day does.
    return np.floor_divide(ts_int, ticks_per_day)


def _positions(values: object, lookup: object) -> np.ndarray:
    """Position of each of ``values`` in ``lookup`` (-1 when absent), hashed by pyarrow."""
    found = pc.index_in(arrow_text(values), value_set=arrow_text(lookup))
    return pc.fill_null(found, -1).to_numpy().astype(np.int64)


def as_text(values: pd.Series) -> pd.Series:
    """A column of ids or other text as pandas' string dtype.

    A categorical of text (as ingest writes ``customer_id``, ``order_id`` and ``category``)
    is decoded with one take of its categories, many times faster than
    ``astype("string")``; other columns are converted with ``astype("string")``.

    Parameters
    ----------
    values : pandas.Series
        Text, or a categorical whose categories are text.

    Returns
    -------
    pandas.Series
        The same values, index and name, as ``string``; missing values stay missing.
    """
    dtype = values.dtype
    if isinstance(dtype, pd.CategoricalDtype) and isinstance(
        dtype.categories.dtype, pd.StringDtype
    ):
        codes = values.cat.codes.to_numpy()
        text = arrow_text(dtype.categories).take(pa.array(codes, mask=codes < 0))
        return pd.Series(pd.arrays.ArrowStringArray(text), index=values.index, name=values.name)
    return values.astype("string")


def _day_numbers(values: object) -> np.ndarray:
    """Day numbers as floats, NaN where the timestamp is missing."""
    stamps = np.asarray(values)
    days = np.full(len(stamps), np.nan)
    present = ~np.isnat(stamps)
    days[present] = stamps[present].astype("datetime64[D]").view(np.int64)
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
                as_text(customers[column])
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
    frame.insert(0, "customer_id", as_text(customers["customer_id"]))
    has_id = frame["customer_id"].notna()
    if not bool(has_id.all()):
        frame = frame.loc[has_id]
    ids = arrow_text(frame["customer_id"])
    # Ingest writes the table sorted by id: strictly increasing ids need no hash to dedupe.
    strictly_sorted = strictly_increasing(ids)
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
            ids = arrow_text(frame["customer_id"])
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
    unit_price: pd.Series | None,
    category: pd.Series | None,
    in_window: np.ndarray,
    row_customer: np.ndarray,
    all_amount: np.ndarray,
    n_customers: int,
) -> tuple[np.ndarray, np.ndarray] | None:
    """Mean price ratio to the category median and category breadth, or None without data.

    ``unit_price``, ``category`` and ``all_amount`` (NaN where missing) are the orders'
    columns, every row; ``row_customer`` is for the in-window rows only.
    """
    if unit_price is None or category is None:
        return None
    all_price = _float_values(unit_price)
    all_category_codes, categories = factorized(category)
    sale_line = in_window & (all_amount > 0) & (all_price > 0) & (all_category_codes >= 0)
    if not sale_line.any():
        return None
    category_code = all_category_codes[sale_line].astype(np.intp, copy=False)
    del all_category_codes
    price = all_price[sale_line]
    customer = row_customer[sale_line[in_window]]
    median = _medians_by_code(category_code, price, len(categories))
    ratio = np.divide(price, median.take(category_code), out=price)
    lines = np.bincount(customer, minlength=n_customers)
    ratio_sum = _sum_by(customer, ratio, n_customers)
    avg_ratio = np.divide(ratio_sum, lines, out=np.full(n_customers, np.nan), where=lines > 0)
    return avg_ratio, _distinct_per_customer(customer, category_code, n_customers, len(categories))


#: Up to this many categories, medians are taken one category at a time after one linear
#: sort by category; more go through a pandas groupby.
_MAX_LOOPED_CATEGORIES = 4096


def _medians_by_code(codes: np.ndarray, values: np.ndarray, n_codes: int) -> np.ndarray:
    """Median of ``values`` per code (NaN for a code without values), as pandas' groupby
    median computes it: the middle value, or the mean of the two middle values."""
    median = np.full(n_codes, np.nan)
    if n_codes > _MAX_LOOPED_CATEGORIES:
        grouped_median = pd.Series(values).groupby(codes, sort=True).median()
        median[grouped_median.index.to_numpy()] = grouped_median.to_numpy()
        return median
    by_code, counts = _stable_group_order(codes, n_codes)
    grouped = values[by_code]
    bounds = np.concatenate([[0], np.cumsum(counts)])
    for code in np.flatnonzero(counts):
        # The slice is a private copy's: partitioning it in place is harmless.
        median[code] = np.median(grouped[bounds[code] : bounds[code + 1]], overwrite_input=True)
    return median


def _distinct_per_customer(
    customer: np.ndarray, code: np.ndarray, n_customers: int, n_codes: int
) -> np.ndarray:
    """Distinct codes per customer: a bitmap of the pairs, or a sort when that is too large."""
    if n_codes <= 8:
        # One byte per (customer, code), eight to a customer: a popcount of each customer's
        # eight bytes, read as one integer, counts their codes.
        bought = np.zeros((n_customers, 8), dtype=bool)
        slot = customer << 3
        slot |= code
        bought.reshape(-1)[slot] = True
        return np.bitwise_count(bought.view(np.uint64).reshape(-1)).astype(np.int64)
    pair = customer * n_codes + code
    if n_customers * n_codes <= max(64 * len(pair), 1 << 20):
        seen = np.zeros(n_customers * n_codes, dtype=bool)
        seen[pair] = True
        return seen.reshape(n_customers, n_codes).sum(axis=1).astype(np.int64)
    pair = np.sort(pair)  # numpy's hash-based unique is several times slower on integers
    distinct = pair[np.r_[True, pair[1:] != pair[:-1]]] if len(pair) else pair
    return np.bincount(distinct // n_codes, minlength=n_customers).astype(np.int64)
