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

__all__ = [
    "data_overview",
    "label",
    "monthly_overview",
    "quarantine_reason",
    "reconciliation_table",
]

_TEXT: dict[str, dict[str, str]] = {
    "rows_in": {"zh": "输入行数", "en": "Rows in"},
    "rows_kept": {"zh": "保留", "en": "Kept"},
    "rows_duplicate": {"zh": "完全重复（已去重）", "en": "Exact duplicates (dropped)"},
    "quarantined": {"zh": "隔离", "en": "Quarantined"},
    "accounted": {"zh": "合计（应等于输入行数）", "en": "Accounted for (must equal rows in)"},
    "rows": {"zh": "行数", "en": "Rows"},
    "share": {"zh": "占输入比例", "en": "share of rows in"},
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
    "fully_refunded": {
        "zh": "全额退款客户（购买均已退款）",
        "en": "Fully refunded (every purchase refunded)",
    },
    "guest_rows": {"zh": "游客订单行", "en": "Guest order rows"},
    "guest_revenue_share": {"zh": "游客收入占比", "en": "Guest share of revenue"},
    "date_range": {"zh": "数据时间范围", "en": "Date range"},
    "interactions": {"zh": "互动记录", "en": "Interaction records"},
    "file": {"zh": "文件", "en": "File"},
    "row": {"zh": "行号", "en": "Row"},
    "table": {"zh": "表", "en": "Table"},
    "reason": {"zh": "原因", "en": "Reason"},
    "orders_table": {"zh": "订单", "en": "orders"},
    "customers_table": {"zh": "客户", "en": "customers"},
    "interactions_table": {"zh": "互动", "en": "interactions"},
    "campaigns_table": {"zh": "活动记录", "en": "campaign log"},
}

# Each quarantine reason of ingest (segmentation.ingest.REASONS) as a reader names it.
_REASON_NAMES: dict[str, dict[str, str]] = {
    "wrong_field_count": {"zh": "字段数与表头不符", "en": "wrong number of fields"},
    "truncated_row": {"zh": "文件在此行中断", "en": "file cut off in this row"},
    "unterminated_quote": {"zh": "引号未闭合（截断）", "en": "unterminated quote (cut off)"},
    "undecodable_line": {"zh": "该行编码无法识别", "en": "line not in the file's encoding"},
    "nul_bytes": {"zh": "该行含空字符", "en": "line holds NUL bytes"},
    "missing_order_id": {"zh": "缺订单号", "en": "no order id"},
    "missing_customer_id": {"zh": "缺客户ID", "en": "no customer id"},
    "missing_date": {"zh": "缺日期", "en": "no date"},
    "unparsable_date": {"zh": "日期无法识别", "en": "date not recognised"},
    "unparsable_quantity": {"zh": "数量不是数字", "en": "quantity not a number"},
    "unparsable_unit_price": {"zh": "单价不是数字", "en": "unit price not a number"},
    "missing_amount": {"zh": "缺金额", "en": "no amount"},
    "unparsable_amount": {"zh": "金额不是数字", "en": "amount not a number"},
    "missing_kind": {"zh": "缺互动类型", "en": "no interaction kind"},
    "date_too_early": {"zh": "日期早于下限", "en": "dated before the earliest day"},
    "date_after_as_of": {"zh": "日期晚于截止日", "en": "dated after the as-of day"},
    "nonpositive_unit_price": {"zh": "非退款行单价 ≤ 0", "en": "unit price ≤ 0 on a sale"},
    "repeated_customer_id": {"zh": "客户ID重复", "en": "repeated customer id"},
    "missing_campaign_id": {"zh": "缺活动编号", "en": "no campaign id"},
    "unknown_group": {"zh": "分组既非实验组也非对照组", "en": "group neither treated nor control"},
    "unknown_customer": {"zh": "客户不在订单或客户表中", "en": "customer in no other table"},
}


def label(key: str, lang: str) -> str:
    """The display text of ``key`` in ``lang`` (English when missing): the row and column
    labels of these tables, e.g. ``label("buyers", "en")`` heads a column of
    :func:`monthly_overview`."""
    return _TEXT[key].get(lang, _TEXT[key]["en"])


def quarantine_reason(reason: str, lang: str) -> str:
    """A quarantine reason code of ingest (``unparsable_date``) as a reader names it."""
    names = _REASON_NAMES.get(reason)
    return names[lang] if names else reason


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
        Indexed by destination, with the row count and its share of the rows in; the
        first row is ``rows_in`` and the last the total accounted for, which equals it
        (ingest asserts it).
    """
    rows_in = int(quality["rows_in"])
    entries: list[tuple[str, int]] = [
        (label("rows_kept", lang), int(quality["rows_kept"])),
        (label("rows_duplicate", lang), int(quality["rows_duplicate"])),
    ]
    colon = "：" if lang == "zh" else ": "
    for reason, count in sorted(quality["rows_quarantined"].items()):
        entries.append(
            (f"{label('quarantined', lang)}{colon}{quarantine_reason(reason, lang)}", int(count))
        )
    entries.append((label("accounted", lang), sum(count for _, count in entries)))
    table = pd.DataFrame(
        [(label("rows_in", lang), rows_in), *entries],
        columns=[label("metric", lang), label("rows", lang)],
    ).set_index(label("metric", lang))
    rows = table[label("rows", lang)]
    table[label("share", lang)] = rows / rows_in if rows_in else np.nan
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


# The most (month, code) pairs _distinct_per_month marks in a table (one byte each).
_PAIR_TABLE_LIMIT = 200_000_000


def _distinct_per_month(month: np.ndarray, code: np.ndarray, rows: np.ndarray) -> pd.Series:
    """How many distinct codes (missing left out) each month has among ``rows``."""
    keep = rows & (code >= 0)
    if not keep.any():
        return pd.Series(dtype=np.int64)
    kept_month, kept_code = month[keep].astype(np.int64), code[keep]
    # One int64 per (month, code) pair, marked in a table of every pair: no hashing (pandas'
    # unique took 0.8 s of the 3.5M order rows at a million customers). Past the table's
    # bound (e.g. decades of orders), the distinct pairs are hashed.
    earliest, width = int(kept_month.min()), int(kept_code.max()) + 1
    n_months = int(kept_month.max()) - earliest + 1
    pairs = (kept_month - earliest) * width + kept_code
    if n_months * width > _PAIR_TABLE_LIMIT:
        return pd.Series(pd.unique(pairs) // width + earliest).value_counts()
    seen = np.zeros(n_months * width, dtype=bool)
    seen[pairs] = True
    counts = np.count_nonzero(seen.reshape(n_months, width), axis=1)
    months = np.flatnonzero(counts)
    return pd.Series(counts[months].astype(np.int64), index=months + earliest)


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
    states: Mapping[str, int] | None = None,
) -> pd.DataFrame:
    """The headline counts of an export, as a two-column table.

    Parameters
    ----------
    orders, customers, interactions : pandas.DataFrame or None
        Canonical tables from ingest.
    quality : mapping
        Ingest's quality summary (for the guest counts).
    lang : {"zh", "en"}
    states : mapping, optional
        Customers by state as of the report's day (``buyer``, ``potential``,
        ``fully_refunded``: :func:`segmentation.features.state_counts`), the counts every
        scheme has. Without it, customers with an order row count as buyers.

    Returns
    -------
    pandas.DataFrame
        Indexed by metric, one column of values formatted as text for display.
    """
    if states is None:
        n_buyers, n_known = _buyers_and_known(orders, customers)
        by_state = [("potential", n_known - n_buyers)]
    else:
        n_buyers, n_known = int(states["buyer"]), int(sum(states.values()))
        by_state = [(state, int(states[state])) for state in ("potential", "fully_refunded")]
    revenue = float(orders["amount"].sum())
    guests = quality.get("guests", {})
    rows = [
        (label("customers_known", lang), f"{n_known:,}"),
        (label("buyers", lang), f"{n_buyers:,}"),
        *((label(state, lang), f"{n:,}") for state, n in by_state),
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
