"""The campaign log's one check across tables: every customer reached or held out must be a
customer the orders or the customers table knows, or the row cannot be measured."""

from __future__ import annotations

import numpy as np
import pandas as pd

from segmentation.ingest._assemble import Assembled
from segmentation.ingest._quarantine import release_source
from segmentation.ingest._reasons import REASON_CODE
from segmentation.ingest._tables import Part

__all__ = ["flag_unknown_customers"]


def flag_unknown_customers(
    parts: list[Part], orders: Assembled, customers: pd.DataFrame | None
) -> None:
    """Flag campaign rows whose customer is in no other table, then release their files.

    A customer is known when a kept order row or the customers table has their id. Rows
    already quarantined for another reason keep it (one reason per row).

    Parameters
    ----------
    parts : list of Part
        The campaign log's files, not yet released (their raw values are still held).
    orders : Assembled
        The assembled orders.
    customers : pandas.DataFrame or None
        The customers table, before its ids are encoded.
    """
    kept_codes = orders.customer_codes[orders.kept]
    used = np.unique(kept_codes[kept_codes >= 0])
    known = pd.Index(orders.customer_ids.take(used).astype(str))
    if customers is not None:
        known = known.union(pd.Index(customers["customer_id"].dropna().astype(str)))
    for part in parts:
        ids = part.frame["customer_id"]
        unknown = ids.notna().to_numpy() & ~ids.astype(str).isin(known).to_numpy()
        part.reason[(part.reason == 0) & unknown] = REASON_CODE["unknown_customer"]
        release_source(part, part.reason)
