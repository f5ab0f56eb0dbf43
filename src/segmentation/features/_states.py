"""The one definition of a customer's state as of a date: buyer, potential or fully refunded.

Every count of buyers reads it: the report's overview, every scheme, the command line's
summary and the CRM export. From the customer snapshot:

* **buyer**: at least one purchase up to the as-of day. A purchase is an order that nets
  above zero after its refunds (its own refund rows, and cancellations under their own order
  id matched to it by customer, product and quantity), so a purchase day whose net spend
  after refunds is not positive is not a purchase.
* **fully refunded**: no purchase, but refunds or cancellations up to the as-of day: every
  purchase was refunded, or the data holds only their refunds (refunds of purchases made
  before the export starts, as 33 customers of Online Retail have). Their net spend is not
  positive. Not someone to win a first order from.
* **potential**: known (listed, or with an order row) but never bought and never refunded.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from segmentation.config import config_section

__all__ = [
    "BUYER",
    "CUSTOMER_STATES",
    "FULLY_REFUNDED",
    "POTENTIAL",
    "buyer_mask",
    "customer_states",
    "state_counts",
    "state_name",
    "states_line",
]

#: The state keys, as segment keys and as the keys of :func:`state_counts`.
BUYER = "buyer"
POTENTIAL = "potential"
FULLY_REFUNDED = "fully_refunded"
#: Every state, in the order the summaries list them.
CUSTOMER_STATES: tuple[str, ...] = (BUYER, POTENTIAL, FULLY_REFUNDED)


def buyer_mask(snapshot: pd.DataFrame) -> np.ndarray:
    """Which customers bought up to the snapshot's as-of day.

    Parameters
    ----------
    snapshot : pandas.DataFrame
        The customer snapshot (:func:`segmentation.features.customer_snapshot`), or any table
        of customers with ``is_potential`` or ``n_orders`` (a repeat-purchase summary, whose
        rows all bought).

    Returns
    -------
    numpy.ndarray
        One bool per row: True for a buyer.
    """
    if "is_potential" in snapshot.columns:
        return ~snapshot["is_potential"].fillna(False).to_numpy(dtype=bool)
    if "n_orders" in snapshot.columns:
        return snapshot["n_orders"].fillna(0).to_numpy(dtype=float) > 0
    return np.ones(len(snapshot), dtype=bool)


def _refunded_mask(snapshot: pd.DataFrame) -> np.ndarray:
    """Which customers have refunds or cancellations up to the as-of day."""
    if "refund_share" not in snapshot.columns:
        return np.zeros(len(snapshot), dtype=bool)
    return snapshot["refund_share"].fillna(0.0).to_numpy(dtype=float) > 0


def customer_states(snapshot: pd.DataFrame) -> pd.Series:
    """Each customer's state: ``"buyer"``, ``"potential"`` or ``"fully_refunded"``.

    Parameters
    ----------
    snapshot : pandas.DataFrame
        The customer snapshot.

    Returns
    -------
    pandas.Series
        Indexed like ``snapshot``; a categorical of :data:`CUSTOMER_STATES`.
    """
    buyer = buyer_mask(snapshot)
    codes = np.where(buyer, 0, np.where(_refunded_mask(snapshot), 2, 1))
    return pd.Series(
        pd.Categorical.from_codes(codes, categories=pd.Index(list(CUSTOMER_STATES))),
        index=snapshot.index,
        name="customer_state",
    )


def state_counts(snapshot: pd.DataFrame) -> dict[str, int]:
    """How many customers are in each state.

    Parameters
    ----------
    snapshot : pandas.DataFrame
        The customer snapshot.

    Returns
    -------
    dict of str to int
        ``{"buyer": ..., "potential": ..., "fully_refunded": ...}``, summing to the snapshot's
        rows.
    """
    buyer = buyer_mask(snapshot)
    fully_refunded = int((~buyer & _refunded_mask(snapshot)).sum())
    n_buyers = int(buyer.sum())
    return {
        BUYER: n_buyers,
        POTENTIAL: len(snapshot) - n_buyers - fully_refunded,
        FULLY_REFUNDED: fully_refunded,
    }


def state_name(state: str, *, config: Mapping[str, Any], lang: str) -> str:
    """The name of a state in ``lang``, from the config's ``customer_states.names``."""
    return str(config_section(config, "customer_states")["names"][state][lang])


def states_line(counts: Mapping[str, int], *, config: Mapping[str, Any], lang: str) -> str:
    """One line of the state counts, e.g. ``buyers 4,068 · potential (never bought) 890 ·
    fully refunded 42``.

    Parameters
    ----------
    counts : mapping
        :func:`state_counts`.
    config : mapping
        The config; names from ``customer_states.names``.
    lang : {"zh", "en"}

    Returns
    -------
    str
    """
    separator = " · "
    return separator.join(
        f"{state_name(state, config=config, lang=lang)} {counts[state]:,}"
        for state in CUSTOMER_STATES
    )
