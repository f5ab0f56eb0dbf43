"""The canonical tables every step after ingest reads: one definition, documented in README.

Each table is a :class:`TableSpec`: its required and optional columns and their pandas dtypes.
Ingest produces frames that satisfy these specs; features and later steps may rely on them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

__all__ = [
    "CAMPAIGNS",
    "CAMPAIGN_CHANNELS",
    "CAMPAIGN_GROUPS",
    "CONTROL_FLAG_HEADERS",
    "CUSTOMERS",
    "INTERACTIONS",
    "INTERACTION_KINDS",
    "ORDERS",
    "PII_COLUMNS",
    "TABLES",
    "TAG_SEPARATOR",
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
    dictionary : tuple of str
        Text columns that ingest hands on dictionary-encoded, as pandas categoricals whose
        categories are that text: ids repeat on many rows, and integer codes let every step
        after ingest group and look up customers without hashing text again.
        ``orders.customer_id`` and ``customers.customer_id`` share one set of categories,
        the sorted ids of every customer in either table.
    """

    name: str
    required: dict[str, str]
    optional: dict[str, str]
    dictionary: tuple[str, ...] = ()

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
    dictionary=("customer_id", "order_id", "category"),
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
    dictionary=("customer_id",),
)

INTERACTIONS = TableSpec(
    name="interactions",
    required={"customer_id": "string", "ts": "datetime64[ns]", "kind": "string"},
    optional={},
)

# The campaign log: who was reached, when, how, and whether they were held out as control.
CAMPAIGNS = TableSpec(
    name="campaigns",
    required={
        "customer_id": "string",
        "campaign_id": "string",
        "contacted_at": "datetime64[ns]",
        # A key of CAMPAIGN_CHANNELS, or the channel as written when it is not one of them.
        "channel": "string",
        # "treated" (reached) or "control" (held out, not reached).
        "group": "string",
    },
    optional={},
)

TABLES: dict[str, TableSpec] = {t.name: t for t in (ORDERS, CUSTOMERS, INTERACTIONS, CAMPAIGNS)}

PII_COLUMNS: tuple[str, ...] = ("name", "phone", "wechat_id")

# customers.tags holds several tags in one cell, joined with this.
TAG_SEPARATOR = ";"

# interactions.kind: the Chinese kinds a WeCom/CRM export writes, mapped to canonical names.
# A kind not listed here is kept as given, so nothing is lost; a mapping file can add kinds.
INTERACTION_KINDS: dict[str, str] = {
    "私聊消息": "message",
    "朋友圈点赞": "like",
    "群聊发言": "group_chat",
    "领取优惠券": "coupon",
    "访问": "visit",
    "浏览": "visit",
}


# campaigns.channel: the channels a private-domain shop reaches customers by, as exports
# write them, mapped to canonical keys (labels in both languages: config campaigns.channels).
CAMPAIGN_CHANNELS: dict[str, str] = {
    "企微私聊": "wecom_private",
    "企业微信私聊": "wecom_private",
    "私聊": "wecom_private",
    "社群": "community",
    "企微社群": "community",
    "社群群发": "community",
    "朋友圈": "moments",
    "短信": "sms",
    "优惠券": "coupon",
    "wecom_private": "wecom_private",
    "community": "community",
    "moments": "moments",
    "sms": "sms",
    "coupon": "coupon",
}

# campaigns.group: what exports write for the reached group and the held-out one. Any other
# value is quarantined (``unknown_group``): a row of unknown group cannot be counted.
CAMPAIGN_GROUPS: dict[str, str] = {
    "treated": "treated",
    "treatment": "treated",
    "test": "treated",
    "实验组": "treated",
    "干预组": "treated",
    "触达组": "treated",
    "触达": "treated",
    "control": "control",
    "holdout": "control",
    "对照组": "control",
    "对照": "control",
    "控制组": "control",
    "留出组": "control",
}

# Headers of a yes/no column that says whether a row is held out (对照组: 是/否).
CONTROL_FLAG_HEADERS: tuple[str, ...] = ("对照组", "是否对照组", "is_control", "holdout")


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
    columns: dict[str, Any] = {}
    for column, name in spec.dtypes.items():
        dtype = pd.api.types.pandas_dtype(name)
        if column in frame.columns:
            values = frame[column]
            # astype copies even to the same dtype, which is slow for long text columns.
            columns[column] = values if values.dtype == dtype else values.astype(dtype)
        else:
            columns[column] = _all_missing(dtype, len(frame))
    # One construction, not one insertion per column.
    return pd.DataFrame(columns, index=frame.index)


def _all_missing(dtype: Any, n: int) -> Any:
    """A column of ``n`` missing values, built without converting ``n`` Python objects."""
    if isinstance(dtype, pd.StringDtype):
        return pd.array(pa.nulls(n, pa.string()), dtype=dtype)
    if dtype.kind == "M":
        return np.full(n, np.datetime64("NaT"), dtype=dtype)
    if dtype.kind == "f":
        return np.full(n, np.nan, dtype=dtype)
    return pd.Series([None] * n).astype(dtype).to_numpy()
