"""Canonical frames of the real and demo data, built with plain pandas for the scheme tests.

These stand in for :func:`segmentation.ingest.ingest` so the snapshot and scheme tests do not
depend on it: CDNOW rows become orders of their own, Online Retail is read as the issue says
(amount = Quantity * UnitPrice, rows without CustomerID dropped, order_id = InvoiceNo), and the
demo's Chinese headers are mapped back to the canonical names.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from segmentation.datasets import (
    CUSTOMER_HEADERS,
    INTERACTION_HEADERS,
    ORDER_HEADERS,
    generate_demo,
    load_cdnow,
)

CDNOW_AS_OF = "1998-06-30"
ONLINE_RETAIL_AS_OF = "2011-12-09"
DEMO_AS_OF = "2026-10-31"


class Canonical(NamedTuple):
    orders: pd.DataFrame
    customers: pd.DataFrame | None
    interactions: pd.DataFrame | None


@functools.cache
def cdnow_orders(*, sample: bool = False) -> pd.DataFrame:
    """CDNOW master (or its 1/10th sample): one order per row (order_id = row number),
    amount = dollar_value. Cached: callers must not modify the frame."""
    raw = load_cdnow(sample=sample)
    return pd.DataFrame(
        {
            "customer_id": raw["customer_id"].astype("string"),
            "order_id": pd.Series(np.arange(len(raw)).astype(str), dtype="string"),
            "order_ts": raw["date"],
            "amount": raw["dollar_value"].astype(float),
        }
    )


@functools.cache
def online_retail_orders(path: Path) -> pd.DataFrame:
    """UCI Online Retail as canonical orders (no category: product data is incomplete)."""
    raw = pd.read_csv(
        path,
        dtype={
            "InvoiceNo": "string",
            "StockCode": "string",
            "Description": "string",
            "CustomerID": "string",
            "Country": "string",
        },
    )
    raw = raw.loc[raw["CustomerID"].notna()]
    return pd.DataFrame(
        {
            # CustomerID is written as a float ("17850.0").
            "customer_id": raw["CustomerID"].str.replace(r"\.0$", "", regex=True),
            "order_id": raw["InvoiceNo"],
            "order_ts": pd.to_datetime(raw["InvoiceDate"], format="%Y-%m-%d %H:%M:%S"),
            "amount": raw["Quantity"] * raw["UnitPrice"],
            "quantity": raw["Quantity"].astype(float),
            "unit_price": raw["UnitPrice"].astype(float),
            "product_id": raw["StockCode"],
        }
    ).reset_index(drop=True)


def _text(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    for column in columns:
        text = frame[column].astype("string").str.strip()
        frame[column] = text.mask(text == "")
    return frame


@functools.cache
def demo_frames(seed: int = 0) -> Canonical:
    """The generated demo export (5,000 contacts) with its headers mapped to canonical names."""
    demo = generate_demo(seed=seed)
    orders = demo.orders.rename(columns={v: k for k, v in ORDER_HEADERS.items()})
    orders = _text(
        orders, ["customer_id", "order_id", "product_id", "product_name", "category", "channel"]
    )
    orders["order_ts"] = pd.to_datetime(orders["order_ts"])
    orders["amount"] = orders["amount"].astype(float)
    orders["unit_price"] = orders["unit_price"].astype(float)
    customers = demo.customers.rename(columns={v: k for k, v in CUSTOMER_HEADERS.items()})
    customers = _text(
        customers,
        ["customer_id", "region", "city", "city_tier", "source_channel", "industry", "tags"],
    )
    customers["first_seen_ts"] = pd.to_datetime(customers["first_seen_ts"])
    interactions = demo.interactions.rename(columns={v: k for k, v in INTERACTION_HEADERS.items()})
    interactions = _text(interactions, ["customer_id", "kind"])
    interactions["ts"] = pd.to_datetime(interactions["ts"])
    return Canonical(orders=orders, customers=customers, interactions=interactions)
