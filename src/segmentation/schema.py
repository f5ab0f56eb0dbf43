"""The canonical tables every step after ingest reads: one definition, documented in README.

Each table is a :class:`TableSpec`: its required and optional columns and their pandas dtypes.
Ingest produces frames that satisfy these specs; features and later steps may rely on them.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

__all__ = [
    "CUSTOMERS",
    "INTERACTIONS",
    "ORDERS",
    "PII_COLUMNS",
    "TABLES",
    "TableSpec",
    "conform",
]


@dataclass(frozen=True)
class TableSpec:
    """Columns of one canonical table.

    Attributes
    ----------
    name : str
        Table name, also the stem of its parquet file (``orders.parquet``).
    required : dict of str to str
        Column name to pandas dtype; a file missing any of these is rejected.
    optional : dict of str to str
        Column name to pandas dtype; filled with missing values when absent.
    """

    name: str
    required: dict[str, str]
    optional: dict[str, str]

    @property
    def columns(self) -> list[str]:
        """All columns, required first, in canonical order."""
        return [*self.required, *self.optional]

    @property
    def dtypes(self) -> dict[str, str]:
        """Column name to dtype for every column."""
        return {**self.required, **self.optional}


ORDERS = TableSpec(
    name="orders",
    required={
        # Missing for guest orders, which stay in the orders table but never reach customers.
        "customer_id": "string",
        "order_id": "string",
        "order_ts": "datetime64[ns]",
        # Currency units; refunds and cancellations are negative.
        "amount": "float64",
    },
    optional={
        "quantity": "float64",
        "unit_price": "float64",
        "product_id": "string",
        "product_name": "string",
        "category": "string",
        "channel": "string",
        "store": "string",
    },
)

CUSTOMERS = TableSpec(
    name="customers",
    required={"customer_id": "string"},
    optional={
        # When the person was added as a WeCom contact or registered; potential customers
        # (never ordered) are known from this alone.
        "first_seen_ts": "datetime64[ns]",
        "region": "string",
        "city": "string",
        "city_tier": "string",
        "source_channel": "string",
        "industry": "string",
        # Several tags per customer, joined with ";" in one cell.
        "tags": "string",
        # PII: replaced by a keyed hash on ingest; raw values never leave ingest.
        "name": "string",
        "phone": "string",
        "wechat_id": "string",
    },
)

INTERACTIONS = TableSpec(
    name="interactions",
    required={"customer_id": "string", "ts": "datetime64[ns]", "kind": "string"},
    optional={},
)

TABLES: dict[str, TableSpec] = {t.name: t for t in (ORDERS, CUSTOMERS, INTERACTIONS)}

PII_COLUMNS: tuple[str, ...] = ("name", "phone", "wechat_id")


def conform(frame: pd.DataFrame, spec: TableSpec) -> pd.DataFrame:
    """Return ``frame`` with exactly ``spec``'s columns, in order, with their dtypes.

    Optional columns that are absent are added as all-missing. Extra columns are dropped.

    Parameters
    ----------
    frame : pandas.DataFrame
        A frame that already has every required column under its canonical name.
    spec : TableSpec
        The table to conform to.

    Returns
    -------
    pandas.DataFrame
        A new frame; ``frame`` is not modified.
    """
    missing = [c for c in spec.required if c not in frame.columns]
    if missing:
        raise KeyError(f"{spec.name}: missing required columns {missing}")
    out = pd.DataFrame(index=frame.index)
    for column, dtype in spec.dtypes.items():
        if column in frame.columns:
            out[column] = frame[column].astype(dtype)
        else:
            out[column] = pd.Series(pd.NA if dtype == "string" else None, index=frame.index).astype(
                dtype
            )
    return out
