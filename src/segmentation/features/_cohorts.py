"""Cohorts by first-purchase month: who came back in each later month, and what they spent.

A customer's cohort is the calendar month of their first purchase, a purchase being what the
snapshot counts (:func:`~segmentation.features.customer_snapshot`: an order that is neither
refund-only nor refunded in full, dated by its earliest row). Revenue is the orders' net
amount as the snapshot nets it: refund rows netted into their order, cancellations under
their own order id moved to the order they cancel, and what is left of an unmatched
cancellation counted in its own month. Only rows up to the as-of day are read, so the matrix
as of a day is the same on the full export and on the export cut at that day.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from segmentation.arrays import run_starts
from segmentation.errors import InvalidOptionError
from segmentation.features._purchases import _netted_orders

__all__ = ["CohortMatrix", "cohort_matrix"]


@dataclass(frozen=True)
class CohortMatrix:
    """Retention and revenue of the customers grouped by the month of their first purchase.

    Attributes
    ----------
    as_of : pandas.Timestamp
        The last day read (its whole day included).
    sizes : pandas.Series
        Customers per cohort (int64), indexed by the cohort's month (a monthly
        ``pandas.Period``), oldest first; a month in which nobody bought first is 0.
    buyers : pandas.DataFrame
        Same index; columns the month offsets 0, 1, ... (0 is the cohort's own month). Cells
        count the cohort's customers with at least one purchase in that month; months after
        ``as_of``'s month are missing (the cells are floats for that reason).
    retention : pandas.DataFrame
        ``buyers`` divided by ``sizes``: the share of the cohort buying in each month.
        Offset 0 is 1 for every non-empty cohort; an empty cohort's row is missing.
    revenue_per_member : pandas.DataFrame
        The cohort's net revenue in each month divided by ``sizes`` (currency units).
    """

    as_of: pd.Timestamp
    sizes: pd.Series
    buyers: pd.DataFrame
    retention: pd.DataFrame
    revenue_per_member: pd.DataFrame


def cohort_matrix(
    orders: pd.DataFrame, *, as_of: str | pd.Timestamp, months: int = 24
) -> CohortMatrix:
    """The retention matrix and revenue per member of the last ``months`` cohorts.

    Parameters
    ----------
    orders : pandas.DataFrame
        Canonical orders (:data:`segmentation.schema.ORDERS`); guest rows, rows without an
        order id and rows after ``as_of`` are ignored.
    as_of : str or pandas.Timestamp
        The last day read. Its month is the last cohort and the last month observed (up to
        ``as_of`` when that is not the month's last day).
    months : int, default 24
        Cohorts shown: the ``months`` calendar months ending with ``as_of``'s, and as many
        month offsets (0 to ``months - 1``). Customers who first bought earlier are in no
        cohort.

    Returns
    -------
    CohortMatrix

    Raises
    ------
    InvalidOptionError
        When ``months`` is not a whole number of at least 1.

    Examples
    --------
    A customer who first bought in January and again in March is in the January cohort, and
    counts at offsets 0 and 2:

    >>> orders = pd.DataFrame({"customer_id": ["a", "a"], "order_id": ["1", "2"],
    ...     "order_ts": pd.to_datetime(["2024-01-05", "2024-03-02"]), "amount": [10.0, 4.0]})
    >>> cohort_matrix(orders, as_of="2024-03-31", months=3).buyers.iloc[0].tolist()
    [1.0, 0.0, 1.0]
    """
    if isinstance(months, bool) or not isinstance(months, int) or months < 1:
        raise InvalidOptionError(
            f"cohort months: found {months!r}; give a whole number of months, 1 or more "
            "(config over_time.cohort_months)."
        )
    as_of = pd.Timestamp(as_of).normalize()
    netted = _netted_orders(orders, as_of)
    net = netted.net
    month = net.ts.view(f"datetime64[{netted.ts_unit}]").astype("datetime64[M]").astype(np.int64)
    last_month = int(np.datetime64(as_of.date(), "M").astype(np.int64))
    first_cohort = last_month - months + 1
    first_month = _first_purchase_month(net.customer, month, net.is_purchase, len(netted.universe))
    # Every order of a cohort's customer from their first purchase's month on.
    owner_first = first_month[net.customer]
    kept = (owner_first >= first_cohort) & (month >= owner_first)
    cohort = owner_first[kept] - first_cohort
    cell = cohort * months + (month[kept] - owner_first[kept])
    revenue = np.bincount(cell, weights=net.amount[kept], minlength=months * months)
    # A customer counts once in a month however many purchases they made in it.
    bought = net.is_purchase[kept]
    customer_cell = np.sort(net.customer[kept][bought] * (months * months) + cell[bought])
    distinct = customer_cell[run_starts(customer_cell)] % (months * months)
    buyers = np.bincount(distinct, minlength=months * months).astype(float)
    in_cohort = (first_month >= first_cohort) & (first_month <= last_month)
    sizes = np.bincount(first_month[in_cohort] - first_cohort, minlength=months)
    return _matrices(sizes, buyers, revenue, first_cohort=first_cohort, as_of=as_of)


def _first_purchase_month(
    customer: np.ndarray, month: np.ndarray, is_purchase: np.ndarray, n_customers: int
) -> np.ndarray:
    """Each customer's first purchase month (months since 1970-01); a very large number for
    a customer without a purchase, so they fall in no cohort."""
    never = np.iinfo(np.int64).max // 2
    first = np.full(n_customers, never, dtype=np.int64)
    np.minimum.at(first, customer[is_purchase], month[is_purchase])
    return first


def _matrices(
    sizes: np.ndarray,
    buyers: np.ndarray,
    revenue: np.ndarray,
    *,
    first_cohort: int,
    as_of: pd.Timestamp,
) -> CohortMatrix:
    """The cohort tables from flat (cohort, offset) cells, months after ``as_of``'s missing."""
    months = len(sizes)
    grid = (months, months)
    cohort, offset = np.indices(grid)
    unobserved = cohort + offset > months - 1
    index = pd.period_range(
        start=pd.Period(str(np.datetime64(first_cohort, "M")), freq="M"), periods=months, freq="M"
    )
    index.name = "cohort"
    columns = pd.RangeIndex(months, name="month_offset")
    buyer_cells = np.where(unobserved, np.nan, buyers.reshape(grid))
    revenue_cells = np.where(unobserved, np.nan, revenue.reshape(grid))
    size = np.where(sizes > 0, sizes, np.nan)[:, None]
    return CohortMatrix(
        as_of=as_of,
        sizes=pd.Series(sizes.astype(np.int64), index=index, name="customers"),
        buyers=pd.DataFrame(buyer_cells, index=index, columns=columns),
        retention=pd.DataFrame(buyer_cells / size, index=index, columns=columns),
        revenue_per_member=pd.DataFrame(revenue_cells / size, index=index, columns=columns),
    )
