"""What each customer of a campaign log did in the days after they were reached (or, for the
control group, would have been): bought, revenue and refunds, per window."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from segmentation.features import as_of_cutoff, as_text, order_purchases

__all__ = ["contact_outcomes"]


def contact_outcomes(
    log: pd.DataFrame,
    orders: pd.DataFrame,
    *,
    windows_days: Sequence[int],
    as_of: str | pd.Timestamp,
) -> pd.DataFrame:
    """Each contact's outcome over each window after it.

    A window of ``w`` days after a contact at ``t`` holds the order rows dated in
    ``[t, t + w days)``. A customer *bought* in it when one of their purchases (an order that
    is not refunded in full, :func:`segmentation.features.order_purchases`, netted as of
    ``as_of``) starts in it; *revenue* is the net amount of their rows in it (refunds dated in
    it subtract), *refunds* the money returned by rows in it. A window that has not closed by
    the end of ``as_of`` is not measured: its columns are NaN and ``closed_<w>`` False.

    Parameters
    ----------
    log : pandas.DataFrame
        The campaign log (:data:`segmentation.schema.CAMPAIGNS`).
    orders : pandas.DataFrame
        Canonical orders; guest rows are ignored.
    windows_days : sequence of int
        Window lengths in days.
    as_of : str or pandas.Timestamp
        The report's as-of day; contacts after it are dropped.

    Returns
    -------
    pandas.DataFrame
        One row per contact on or before ``as_of``, the log's columns (ids as text) and per
        window ``w``: ``closed_<w>``, ``bought_<w>`` (float 0/1), ``revenue_<w>``,
        ``refunds_<w>``.
    """
    cutoff = as_of_cutoff(as_of)
    contacts = log.loc[log["contacted_at"] < cutoff].reset_index(drop=True)
    contacts = contacts.assign(
        customer_id=as_text(contacts["customer_id"]),
        campaign_id=as_text(contacts["campaign_id"]),
    )
    reached = set(contacts["customer_id"])
    ids = as_text(orders["customer_id"])
    mine = orders.loc[ids.isin(reached).to_numpy() & (orders["order_ts"] < cutoff).to_numpy()]
    mine = mine.assign(customer_id=as_text(mine["customer_id"]))
    purchases = order_purchases(mine, as_of=as_of)
    purchases = purchases.loc[purchases["is_purchase"], ["customer_id", "order_ts"]]
    rows = mine[["customer_id", "order_ts", "amount"]]
    out = contacts
    for days in windows_days:
        out = out.join(_window(contacts, purchases, rows, days=int(days), cutoff=cutoff))
    return out


def _window(
    contacts: pd.DataFrame,
    purchases: pd.DataFrame,
    rows: pd.DataFrame,
    *,
    days: int,
    cutoff: pd.Timestamp,
) -> pd.DataFrame:
    """One window's columns, indexed like ``contacts``."""
    start = contacts["contacted_at"]
    end = start + pd.Timedelta(days=days)
    closed = (end <= cutoff).to_numpy()
    position = pd.Series(np.arange(len(contacts)), name="contact")
    keyed = contacts[["customer_id"]].assign(contact=position, start=start, end=end)
    bought = _in_window(keyed, purchases).groupby("contact").size()
    in_rows = _in_window(keyed, rows)
    revenue = in_rows.groupby("contact")["amount"].sum()
    refunds = -in_rows["amount"].clip(upper=0).groupby(in_rows["contact"]).sum()
    columns = {
        f"closed_{days}": closed,
        f"bought_{days}": (bought.reindex(position, fill_value=0).to_numpy() > 0).astype(float),
        f"revenue_{days}": revenue.reindex(position, fill_value=0.0).to_numpy(dtype=float),
        f"refunds_{days}": refunds.reindex(position, fill_value=0.0).to_numpy(dtype=float),
    }
    frame = pd.DataFrame(columns, index=contacts.index)
    measured = [c for c in columns if not c.startswith("closed_")]
    frame.loc[~closed, measured] = np.nan
    return frame


def _in_window(keyed: pd.DataFrame, events: pd.DataFrame) -> pd.DataFrame:
    """``events`` of each contact's customer dated in the contact's window, with ``contact``."""
    joined = keyed.merge(events, on="customer_id", how="inner")
    inside = (joined["order_ts"] >= joined["start"]) & (joined["order_ts"] < joined["end"])
    return joined.loc[inside]
