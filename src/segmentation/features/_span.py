"""Whether an as-of day or a report month lies within the days the orders cover.

Before the first order every customer would be a prospect with a first-order coupon; after
the last one every customer would drift towards lapsed: both are silently wrong answers, so
both are refused with the data's first and last day and what to pick instead. ``segment
--as-of`` and ``report --month`` share this one check.
"""

from __future__ import annotations

import pandas as pd

from segmentation.errors import AsOfOutsideDataError

__all__ = ["check_within_data", "data_days"]


def data_days(order_ts: pd.Series) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The first and the last order day (midnight) of ``order_ts``."""
    return pd.Timestamp(order_ts.min()).normalize(), pd.Timestamp(order_ts.max()).normalize()


def check_within_data(
    order_ts: pd.Series,
    *,
    start: pd.Timestamp,
    end: pd.Timestamp,
    option: str,
    period: str,
) -> tuple[pd.Timestamp, pd.Timestamp]:
    """Refuse a period (an as-of day, a report month) that the orders do not reach.

    Parameters
    ----------
    order_ts : pandas.Series
        The orders' timestamps.
    start, end : pandas.Timestamp
        The period's first and last day; the same day for an as-of day.
    option : str
        How the user gave it, for the message: ``"--as-of 1999-01-01"``, ``"MONTH=2012-01"``.
    period : {"day", "month"}
        What the option names.

    Returns
    -------
    first, last : pandas.Timestamp
        The data's first and last order day.

    Raises
    ------
    AsOfOutsideDataError
        When the period ends before the first order day or starts after the last one.
    """
    first, last = data_days(order_ts)
    if end.normalize() < first:
        pick = (
            "a month the data covers"
            if period == "month"
            else f"a day from {first:%Y-%m-%d} to {last:%Y-%m-%d}"
        )
        raise AsOfOutsideDataError(
            f"{option}: the data starts on {first:%Y-%m-%d}, after that {period}; pick {pick}."
        )
    if start.normalize() > last:
        pick = (
            f"{last:%Y-%m} or earlier"
            if period == "month"
            else f"a day from {first:%Y-%m-%d} to {last:%Y-%m-%d}, or leave out --as-of to "
            "segment as of the last order day"
        )
        starts = " starts" if period == "month" else ""
        raise AsOfOutsideDataError(
            f"{option}: the data ends on {last:%Y-%m-%d}, before that {period}{starts}; "
            f"pick {pick}."
        )
    return first, last
