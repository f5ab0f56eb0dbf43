"""Data-quality and overview tables computed from ingest's canonical tables.

These feed the first section of the report: where every input row went (reconciliation and
quarantine reasons), guests, and customers, orders and revenue by month.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from segmentation.arrays import factorized

__all__ = ["data_overview", "label", "monthly_overview", "reconciliation_table"]

_TEXT: dict[str, dict[str, str]] = {
    "rows_in": {"zh": "输入行数", "en": "Rows in"},
    "rows_kept": {"zh": "保留", "en": "Kept"},
    "rows_duplicate": {"zh": "完全重复（已去重）", "en": "Exact duplicates (dropped)"},
    "quarantined": {"zh": "隔离", "en": "Quarantined"},
    "accounted": {"zh": "合计（应等于输入行数）", "en": "Accounted for (must equal rows in)"},
    "rows": {"zh": "行数", "en": "Rows"},
    "share": {"zh": "占输入比例 %", "en": "% of rows in"},
    "month": {"zh": "月份", "en": "Month"},
    "orders": {"zh": "订单数", "en": "Orders"},
    "buyers": {"zh": "购买客户数", "en": "Buying customers"},
    "new_buyers": {"zh": "首购客户数", "en": "First-time buyers"},
    "revenue": {"zh": "净收入", "en": "Net revenue"},
    "member_revenue": {"zh": "会员净收入", "en": "Member net revenue"},
    "guest_revenue": {"zh": "游客净收入", "en": "Guest net revenue"},
    "refunds": {"zh": "退款金额", "en": "Refunds"},
    "metric": {"zh": "指标", "en": "Metric"},
    "value": {"zh": "数值", "en": "Value"},
    "customers_known": {"zh": "已知客户（含潜在）", "en": "Known customers (incl. potential)"},
    "potential": {"zh": "潜在客户（从未购买）", "en": "Potential customers (never bought)"},
    "guest_rows": {"zh": "游客订单行", "en": "Guest order rows"},
    "guest_revenue_share": {"zh": "游客收入占比", "en": "Guest share of revenue"},
    "date_range": {"zh": "数据时间范围", "en": "Date range"},
    "interactions": {"zh": "互动记录", "en": "Interaction records"},
}


def label(key: str, lang: str) -> str:
    """The display text of ``key`` in ``lang`` (English when missing): the row and column
    labels of these tables, e.g. ``label("buyers", "en")`` heads a column of
    :func:`monthly_overview`."""
    return _TEXT[key].get(lang, _TEXT[key]["en"])


def reconciliation_table(quality: Mapping[str, Any], *, lang: str = "zh") -> pd.DataFrame:
    """Where every input row went: kept, duplicate, or quarantined by reason.

    Parameters
    ----------
    quality : mapping
        Ingest's ``quality`` (``rows_in``, ``rows_kept``, ``rows_duplicate``,
        ``rows_quarantined``).
    lang : {"zh", "en"}

    Returns
    -------
    pandas.DataFrame
        Indexed by destination, with the row count and its percentage of the rows in; the
        first row is ``rows_in`` and the last the total accounted for, which equals it
        (ingest asserts it).
    """
    rows_in = int(quality["rows_in"])
    entries: list[tuple[str, int]] = [
        (label("rows_kept", lang), int(quality["rows_kept"])),
        (label("rows_duplicate", lang), int(quality["rows_duplicate"])),
    ]
    for reason, count in sorted(quality["rows_quarantined"].items()):
        entries.append((f"{label('quarantined', lang)}: {reason}", int(count)))
    entries.append((label("accounted", lang), sum(count for _, count in entries)))
    table = pd.DataFrame(
        [(label("rows_in", lang), rows_in), *entries],
        columns=[label("metric", lang), label("rows", lang)],
    ).set_index(label("metric", lang))
    rows = table[label("rows", lang)]
    table[label("share", lang)] = (100 * rows / rows_in).round(3) if rows_in else np.nan
    return table


def monthly_overview(orders: pd.DataFrame, *, lang: str = "zh") -> pd.DataFrame:
    """Orders, buyers, first-time buyers, revenue and refunds per calendar month.

    Parameters
    ----------
    orders : pandas.DataFrame
        Canonical orders, guests included (their revenue is shown apart).
    lang : {"zh", "en"}

    Returns
    -------
    pandas.DataFrame
        Indexed by month (``YYYY-MM``); revenue is net of refunds in the month they happen.
    """
    month = _month_number(orders["order_ts"])
    is_guest = orders["customer_id"].isna()
    amount = orders["amount"]
    # Ids are counted by integer code, never by text: a categorical's codes (as ingest writes
    # the ids) or a factorisation.
    month_number = month.to_numpy()
    sale = (amount > 0).to_numpy()
    customer_code = _codes(orders["customer_id"])
    member_sale = sale & (customer_code >= 0)
    first_month = pd.Series(month_number[member_sale]).groupby(customer_code[member_sale]).min()
    table = pd.DataFrame(
        {
            label("orders", lang): _distinct_per_month(
                month_number, _codes(orders["order_id"]), sale
            ),
            label("buyers", lang): _distinct_per_month(month_number, customer_code, sale),
            label("new_buyers", lang): first_month.value_counts(),
            label("member_revenue", lang): amount[~is_guest].groupby(month[~is_guest]).sum(),
            label("guest_revenue", lang): amount[is_guest].groupby(month[is_guest]).sum(),
            label("refunds", lang): -amount[amount < 0].groupby(month[amount < 0]).sum(),
        }
    ).fillna(0)
    table[label("revenue", lang)] = (
        table[label("member_revenue", lang)] + table[label("guest_revenue", lang)]
    )
    counts = [label("orders", lang), label("buyers", lang), label("new_buyers", lang)]
    table[counts] = table[counts].astype("int64")
    table = table.sort_index()
    # Months are counted as integers and named once per month, not once per order row.
    table.index = pd.Index(
        [f"{number // 12:04d}-{number % 12 + 1:02d}" for number in table.index.astype(int)],
        name=label("month", lang),
    )
    return table


def _buyers_and_known(orders: pd.DataFrame, customers: pd.DataFrame | None) -> tuple[int, int]:
    """How many customers have orders, and how many are known from orders or the list."""
    bought = orders["customer_id"]
    listed = customers["customer_id"] if customers is not None else bought.iloc[:0]
    if (
        isinstance(bought.dtype, pd.CategoricalDtype)
        and isinstance(listed.dtype, pd.CategoricalDtype)
        and listed.cat.categories.equals(bought.cat.categories)
    ):
        # One set of categories for both tables (as ingest writes them): count codes.
        buyer_codes = np.unique(_codes(bought))
        buyer_codes = buyer_codes[buyer_codes >= 0]
        listed_codes = _codes(listed)
        known = np.union1d(buyer_codes, listed_codes[listed_codes >= 0])
        return len(buyer_codes), len(known)
    buyers = set(bought.dropna())
    return len(buyers), len(buyers | set(listed.dropna()))


def _codes(values: pd.Series) -> np.ndarray:
    """Integer code of each value as int64, -1 where missing (:func:`factorized`)."""
    return factorized(values)[0].astype(np.int64)


def _distinct_per_month(month: np.ndarray, code: np.ndarray, rows: np.ndarray) -> pd.Series:
    """How many distinct codes (missing left out) each month has among ``rows``."""
    keep = rows & (code >= 0)
    if not keep.any():
        return pd.Series(dtype=np.int64)
    kept_month, kept_code = month[keep].astype(np.int64), code[keep]
    # One int64 per (month, code) pair: hashing integers is many times faster than a
    # two-column drop_duplicates.
    earliest, width = int(kept_month.min()), int(kept_code.max()) + 1
    pairs = pd.unique((kept_month - earliest) * width + kept_code)
    return pd.Series(pairs // width + earliest).value_counts()


def _month_number(timestamps: pd.Series) -> pd.Series:
    """Calendar month of each timestamp as one integer (year * 12 + month - 1)."""
    return timestamps.dt.year * 12 + timestamps.dt.month - 1


def data_overview(
    orders: pd.DataFrame,
    customers: pd.DataFrame | None,
    interactions: pd.DataFrame | None,
    quality: Mapping[str, Any],
    *,
    lang: str = "zh",
) -> pd.DataFrame:
    """The headline counts of an export, as a two-column table.

    Parameters
    ----------
    orders, customers, interactions : pandas.DataFrame or None
        Canonical tables from ingest.
    quality : mapping
        Ingest's quality summary (for the guest counts).
    lang : {"zh", "en"}

    Returns
    -------
    pandas.DataFrame
        Indexed by metric, one column of values formatted as text for display.
    """
    n_buyers, n_known = _buyers_and_known(orders, customers)
    revenue = float(orders["amount"].sum())
    guests = quality.get("guests", {})
    rows = [
        (label("customers_known", lang), f"{n_known:,}"),
        (label("buyers", lang), f"{n_buyers:,}"),
        (label("potential", lang), f"{n_known - n_buyers:,}"),
        (label("orders", lang), f"{orders.loc[orders['amount'] > 0, 'order_id'].nunique():,}"),
        (label("revenue", lang), f"{revenue:,.2f}"),
        (label("guest_rows", lang), f"{int(guests.get('rows', 0)):,}"),
        (label("guest_revenue_share", lang), f"{float(guests.get('revenue_share', 0.0)):.2%}"),
        (
            label("date_range", lang),
            f"{orders['order_ts'].min():%Y-%m-%d} — {orders['order_ts'].max():%Y-%m-%d}",
        ),
    ]
    if interactions is not None:
        rows.append((label("interactions", lang), f"{len(interactions):,}"))
    return pd.DataFrame(rows, columns=[label("metric", lang), label("value", lang)]).set_index(
        label("metric", lang)
    )
