"""The generated demo export (演示数据，程序生成) of a private-domain (私域) shop.

Customers buy by a BG/NBD process and spend by a Gamma-Gamma one (drawn by
:mod:`segmentation.datasets._simulate`), so CLV models have real signal. It looks like what a
Chinese shop SaaS exports: Chinese headers, one file per month, a customers file in GB18030,
refunds, a few exact duplicates and guest orders. Phone numbers, names and WeChat ids are fake
but shaped like real ones, so the masking downstream is exercised.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from segmentation.datasets._campaign import CAMPAIGN_HEADERS, plant_campaign
from segmentation.datasets._simulate import (
    CustomerLatents,
    draw_customer_latents,
    draw_order_values,
    simulate_bgnbd_purchases,
)

__all__ = [
    "CAMPAIGN_HEADERS",
    "CUSTOMER_HEADERS",
    "DEMO_LABEL",
    "INTERACTION_HEADERS",
    "ORDER_HEADERS",
    "DemoExport",
    "generate_demo",
    "write_demo_export",
]

DEMO_LABEL: dict[str, str] = {
    "zh": "演示数据（程序生成，非真实客户）",
    "en": "Generated demo data (not real customers)",
}

# The demo's calendar is fixed so the same seed gives the same bytes on any day.
DEMO_END = pd.Timestamp("2026-10-31 23:59:59")

ORDER_HEADERS = {
    "order_id": "订单号",
    "customer_id": "客户ID",
    "order_ts": "下单时间",
    "product_id": "商品编号",
    "product_name": "商品名称",
    "category": "品类",
    "quantity": "数量",
    "unit_price": "单价",
    "amount": "实付金额",
    "channel": "下单渠道",
    "store": "门店",
}
CUSTOMER_HEADERS = {
    "customer_id": "客户ID",
    "name": "姓名",
    "phone": "手机号",
    "wechat_id": "微信号",
    "first_seen_ts": "添加时间",
    "region": "省份",
    "city": "城市",
    "city_tier": "城市等级",
    "source_channel": "来源渠道",
    "industry": "行业",
    "tags": "标签",
}
INTERACTION_HEADERS = {"customer_id": "客户ID", "ts": "互动时间", "kind": "互动类型"}

# (province, city, city tier, weight)
_CITIES = [
    ("上海", "上海", "一线", 10),
    ("北京", "北京", "一线", 9),
    ("广东", "广州", "一线", 8),
    ("广东", "深圳", "一线", 8),
    ("浙江", "杭州", "新一线", 7),
    ("四川", "成都", "新一线", 7),
    ("江苏", "南京", "新一线", 5),
    ("湖北", "武汉", "新一线", 5),
    ("江苏", "苏州", "新一线", 4),
    ("陕西", "西安", "新一线", 4),
    ("福建", "厦门", "二线", 3),
    ("山东", "青岛", "二线", 3),
    ("浙江", "宁波", "二线", 3),
    ("湖南", "长沙", "新一线", 4),
    ("广西", "南宁", "二线", 2),
    ("江西", "赣州", "三线及以下", 2),
    ("河南", "洛阳", "三线及以下", 2),
    ("安徽", "芜湖", "三线及以下", 2),
]
_SOURCE_CHANNELS = [
    "企业微信扫码",
    "公众号",
    "小程序",
    "门店导购",
    "直播间",
    "老客推荐",
    "电商平台",
]
_SOURCE_WEIGHTS = [0.28, 0.14, 0.16, 0.14, 0.12, 0.10, 0.06]
_INDUSTRIES = ["互联网", "教育", "医疗", "金融", "制造", "零售", "自由职业"]
_TAGS = ["宝妈", "学生", "白领", "价格敏感", "品质优先", "爱美", "健身", "送礼", "养生", "数码控"]
_ORDER_CHANNELS = ["小程序商城", "企微私聊下单", "社群团购", "直播间", "门店"]
_ORDER_CHANNEL_WEIGHTS = [0.42, 0.2, 0.16, 0.12, 0.10]
_STORES = ["静安旗舰店", "天河店", "西湖店", "春熙路店"]
# (category, [(product name, base price)]) — a basic and a premium line in each category.
_CATALOGUE = [
    ("母婴", [("婴儿湿巾", 39.0), ("有机米粉", 89.0), ("进口纸尿裤", 199.0)]),
    ("美妆", [("保湿面霜", 129.0), ("精华液", 359.0), ("限定礼盒", 699.0)]),
    ("个护", [("洗发水", 59.0), ("电动牙刷", 229.0), ("香氛沐浴露", 119.0)]),
    ("食品", [("坚果礼包", 79.0), ("有机茶叶", 239.0), ("手工月饼", 168.0)]),
    ("家居", [("收纳盒", 49.0), ("乳胶枕", 299.0), ("香薰机", 189.0)]),
    ("保健", [("维生素", 99.0), ("益生菌", 268.0), ("燕窝", 888.0)]),
]
_INTERACTION_KINDS = ["私聊消息", "朋友圈点赞", "群聊发言", "领取优惠券"]
_INTERACTION_WEIGHTS = [0.35, 0.30, 0.25, 0.10]
_SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高")
_GIVEN = list("伟芳娜敏静丽强磊洋艳勇军杰娟涛明超秀霞平刚桂英华玉兰晨宇浩然子涵欣怡")


@dataclass(frozen=True)
class DemoExport:
    """A generated demo export: raw frames as a shop SaaS would export them.

    Attributes
    ----------
    orders : pandas.DataFrame
        Line items with Chinese headers (订单号, 客户ID, 下单时间, ...), refunds as negative
        rows, a few exact duplicate rows and guest rows with an empty 客户ID.
    customers : pandas.DataFrame
        Every contact, including potential customers who never ordered, with PII.
    interactions : pandas.DataFrame
        One row per message, moments like, group-chat message or coupon claim.
    truth : pandas.DataFrame
        The latent parameters per customer (purchase rate per day, dropout probability,
        mean spend, dropout time). Never written to the export; for tests and teaching.
    campaigns : pandas.DataFrame
        Last month's campaign log (活动编号, 触达时间, 渠道, 分组 ...), with random control
        groups (:mod:`segmentation.datasets._campaign`).
    campaign_orders : pandas.Index
        Order ids of the purchases the campaign caused (the planted effect). Never written
        to the export; for tests.
    """

    orders: pd.DataFrame
    customers: pd.DataFrame
    interactions: pd.DataFrame
    truth: pd.DataFrame
    campaigns: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=[*CAMPAIGN_HEADERS.values()])
    )
    campaign_orders: pd.Index = field(default_factory=lambda: pd.Index([], dtype=object))


def generate_demo(
    *,
    n_customers: int = 5000,
    months: int = 24,
    seed: int = 0,
    potential_share: float = 0.15,
    guest_order_share: float = 0.02,
    refund_share: float = 0.04,
    n_duplicate_rows: int = 25,
) -> DemoExport:
    """Generate the deterministic demo export of a private-domain shop.

    Purchases follow a BG/NBD process: each buyer has a Poisson purchase rate
    ``lambda ~ Gamma(r=0.75, alpha=34 days)`` while alive, and after every purchase drops out
    with probability ``p ~ Beta(a=0.6, b=3.5)``. Order values follow the Gamma-Gamma model:
    ``z ~ Gamma(6, nu)`` with ``nu ~ Gamma(3.5, 1/104)``, about ¥250 an order.

    Parameters
    ----------
    n_customers : int, default 5000
        Contacts in the customers table, including potential customers who never ordered.
    months : int, default 24
        Length of the history, ending on 2026-10-31.
    seed : int, default 0
        Seed of the only random generator used; the same seed gives identical frames.
    potential_share : float, default 0.15
        Share of contacts who never order (added on WeCom, never bought).
    guest_order_share : float, default 0.02
        Share of orders placed without a customer id.
    refund_share : float, default 0.04
        Share of orders with a refund row; a third of those are refunded in full.
    n_duplicate_rows : int, default 25
        Order rows exported twice, as happens when export windows overlap.

    Returns
    -------
    DemoExport
    """
    if n_customers < 10:
        raise ValueError(f"n_customers must be at least 10, got {n_customers}")
    if months < 2:
        raise ValueError(f"months must be at least 2, got {months}")
    rng = np.random.default_rng(seed)
    end = DEMO_END
    start = (end + pd.Timedelta(seconds=1)) - pd.DateOffset(months=months)
    span_days = (end - start) / pd.Timedelta(days=1)

    customer_ids = _customer_ids(rng, n_customers)
    # More contacts are added later in the period, as a growing private domain would.
    first_seen_days = span_days * np.sqrt(rng.uniform(0, 1, n_customers))
    will_buy = rng.uniform(0, 1, n_customers) >= potential_share
    first_purchase_days = first_seen_days + rng.exponential(12.0, n_customers)
    buyer = will_buy & (first_purchase_days < span_days)

    latents = draw_customer_latents(rng, n_customers)
    premium = rng.uniform(0, 1, n_customers) < 0.25  # prefers the premium line
    breadth = rng.integers(1, 4, n_customers)  # how many categories a customer shops in

    purchases = simulate_bgnbd_purchases(
        rng,
        first_day=np.where(buyer, first_purchase_days, np.inf),
        rate=latents.rate,
        dropout=latents.dropout,
        end_day=span_days,
    )
    by_time = np.lexsort((purchases.customer, purchases.day))
    orders = _orders_from_purchases(
        rng,
        start=start,
        customer_index=purchases.customer[by_time],
        purchase_day=purchases.day[by_time],
        spend_nu=latents.spend_nu,
        premium=premium,
        breadth=breadth,
        customer_ids=customer_ids,
        guest_order_share=guest_order_share,
        refund_share=refund_share,
        end=end,
    )
    orders = _add_duplicates(rng, orders, n_duplicate_rows)
    customers = _customers_table(rng, customer_ids, start + pd.to_timedelta(first_seen_days, "D"))
    interactions = _interactions(
        rng,
        start,
        span_days,
        first_seen_days,
        purchases.dropout_day,
        latents.rate,
        customer_ids,
    )
    truth = _truth(start, customer_ids, buyer, latents, purchases.dropout_day)
    orders, campaign_log, campaign_orders = _with_campaign(
        seed,
        orders,
        start=start,
        span_days=span_days,
        purchases=(purchases.customer, purchases.day),
        spend_nu=latents.spend_nu,
        premium=premium,
        breadth=breadth,
        customer_ids=customer_ids,
        guest_order_share=guest_order_share,
        refund_share=refund_share,
        end=end,
    )
    return DemoExport(
        orders=orders.rename(columns=ORDER_HEADERS),
        customers=customers.rename(columns=CUSTOMER_HEADERS),
        interactions=interactions.rename(columns=INTERACTION_HEADERS),
        truth=truth,
        campaigns=campaign_log.rename(columns=CAMPAIGN_HEADERS),
        campaign_orders=campaign_orders,
    )


def write_demo_export(out_dir: str | Path, *, seed: int = 0, **options: object) -> list[Path]:
    """Write the demo export to ``out_dir`` as a shop SaaS would: one CSV per month.

    Layout::

        out_dir/README.txt                 says, in both languages, that the data is generated
        out_dir/orders/orders_YYYY-MM.csv  UTF-8 with BOM (what Excel expects), by order month
        out_dir/customers.csv              GB18030, as Chinese CRM exports often are
        out_dir/interactions.csv           UTF-8
        out_dir/campaigns.csv              last month's campaign log, UTF-8 with BOM

    Parameters
    ----------
    out_dir : str or Path
        Folder to write; created if absent. Existing demo files are overwritten.
    seed : int, default 0
        Passed to :func:`generate_demo`.
    **options
        Other keyword options of :func:`generate_demo` (``n_customers``, ``months``, ...).

    Returns
    -------
    list of Path
        The data files written, sorted.
    """
    demo = generate_demo(seed=seed, **options)  # type: ignore[arg-type]
    out = Path(out_dir)
    (out / "orders").mkdir(parents=True, exist_ok=True)
    (out / "README.txt").write_text(
        f"{DEMO_LABEL['zh']}\n{DEMO_LABEL['en']}\n"
        f"segmentation demo-data, seed={seed}. Every name, phone number and WeChat id is fake.\n",
        encoding="utf-8",
    )
    written: list[Path] = []
    month = pd.to_datetime(demo.orders["下单时间"]).dt.strftime("%Y-%m")
    for label, part in demo.orders.groupby(month, sort=True):
        path = out / "orders" / f"orders_{label}.csv"
        _write_csv(part, path, encoding="utf-8-sig")
        written.append(path)
    _write_csv(demo.customers, out / "customers.csv", encoding="gb18030")
    _write_csv(demo.interactions, out / "interactions.csv", encoding="utf-8")
    written += [out / "customers.csv", out / "interactions.csv"]
    if len(demo.campaigns):
        _write_csv(demo.campaigns, out / "campaigns.csv", encoding="utf-8-sig")
        written.append(out / "campaigns.csv")
    return sorted(written)


# --- generation internals -------------------------------------------------------------------


def _customer_ids(rng: np.random.Generator, n: int) -> np.ndarray:
    numbers = rng.choice(np.arange(100000, 1000000), size=n, replace=False)
    return np.array([f"C{k}" for k in numbers], dtype=object)


def _truth(
    start: pd.Timestamp,
    customer_ids: np.ndarray,
    buyer: np.ndarray,
    latents: CustomerLatents,
    dropout_day: np.ndarray,
) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": customer_ids,
            "buyer": buyer,
            "rate_per_day": latents.rate,
            "dropout_p": latents.dropout,
            "mean_spend": latents.mean_spend,
            # NaT for non-buyers and for buyers still alive at the end of the history.
            "dropout_ts": start
            + pd.to_timedelta(np.where(np.isfinite(dropout_day), dropout_day, np.nan), "D"),
        }
    )


def _with_campaign(
    seed: int,
    orders: pd.DataFrame,
    *,
    start: pd.Timestamp,
    span_days: float,
    purchases: tuple[np.ndarray, np.ndarray],
    customer_ids: np.ndarray,
    **order_options: Any,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.Index]:
    """Last month's campaign log, and ``orders`` with the purchases it caused.

    The campaign draws from its own generators, so the organic history is the same with it.
    """
    campaign = plant_campaign(
        np.random.default_rng([seed, 22]),
        start=start,
        span_days=span_days,
        purchase_customer=purchases[0],
        purchase_day=purchases[1],
        customer_ids=customer_ids,
    )
    with_extra, extra_ids = _with_campaign_orders(
        np.random.default_rng([seed, 22, 1]),
        orders,
        start=start,
        customer_index=campaign.extra_customer,
        purchase_day=campaign.extra_day,
        customer_ids=customer_ids,
        **order_options,
    )
    return with_extra, campaign.log, extra_ids


def _with_campaign_orders(
    rng: np.random.Generator,
    orders: pd.DataFrame,
    *,
    customer_index: np.ndarray,
    purchase_day: np.ndarray,
    end: pd.Timestamp,
    **shared: Any,
) -> tuple[pd.DataFrame, pd.Index]:
    """``orders`` with the campaign's extra purchases (order ids ``SC...``) among them by time,
    and those order ids. ``shared``: the other options of :func:`_orders_from_purchases`."""
    if len(customer_index) == 0:
        return orders, pd.Index([], dtype=object)
    by_time = np.argsort(purchase_day, kind="stable")
    extra = _orders_from_purchases(
        rng,
        customer_index=customer_index[by_time],
        purchase_day=purchase_day[by_time],
        end=end,
        **shared,
    )
    extra = extra.loc[pd.to_datetime(extra["order_ts"]).to_numpy() <= end.to_datetime64()].copy()
    extra["order_id"] = "SC" + extra["order_id"].str.slice(2)
    merged = pd.concat([orders, extra], ignore_index=True)
    merged = merged.iloc[np.argsort(merged["order_ts"].to_numpy(dtype=str), kind="stable")]
    return merged.reset_index(drop=True), pd.Index(extra["order_id"].unique())


def _orders_from_purchases(
    rng: np.random.Generator,
    *,
    start: pd.Timestamp,
    customer_index: np.ndarray,
    purchase_day: np.ndarray,
    spend_nu: np.ndarray,
    premium: np.ndarray,
    breadth: np.ndarray,
    customer_ids: np.ndarray,
    guest_order_share: float,
    refund_share: float,
    end: pd.Timestamp,
) -> pd.DataFrame:
    n_orders = len(customer_index)
    order_value = draw_order_values(rng, spend_nu, customer_index)
    # Guest orders: people who paid without logging in; they have no customer id.
    is_guest = rng.uniform(0, 1, n_orders) < guest_order_share
    order_ts = start + pd.to_timedelta(np.round(purchase_day * 86400), "s")
    order_ids = np.array(
        [f"SO{ts:%y%m%d}{k:06d}" for k, ts in enumerate(order_ts, start=1)], dtype=object
    )
    channel = rng.choice(_ORDER_CHANNELS, size=n_orders, p=_ORDER_CHANNEL_WEIGHTS)
    n_items = rng.choice([1, 2, 3], size=n_orders, p=[0.6, 0.3, 0.1])

    rows_order = np.repeat(np.arange(n_orders), n_items)
    cust_of_row = customer_index[rows_order]
    lines = _order_lines(
        rng,
        order_value=order_value,
        n_items=n_items,
        rows_order=rows_order,
        cust_of_row=cust_of_row,
        premium=premium,
        breadth=breadth,
    )
    items = pd.DataFrame(
        {
            "order_id": order_ids[rows_order],
            "customer_id": np.where(is_guest[rows_order], "", customer_ids[cust_of_row]),
            "order_ts": order_ts[rows_order],
            **lines,
            "channel": channel[rows_order],
        }
    )
    items = _merge_repeated_lines(items)
    rows_order = pd.Index(order_ids).get_indexer(items["order_id"])
    items["store"] = ""
    in_store = items["channel"].eq("门店")
    items.loc[in_store, "store"] = rng.choice(_STORES, size=int(in_store.sum()))
    refunds = _refund_rows(
        rng, items, rows_order=rows_order, n_orders=n_orders, refund_share=refund_share, end=end
    )
    orders = pd.concat([items, refunds], ignore_index=True)
    orders = orders.sort_values(["order_ts", "order_id", "amount"], kind="stable")
    orders["order_ts"] = orders["order_ts"].dt.strftime("%Y-%m-%d %H:%M:%S")
    return orders.reset_index(drop=True)[list(ORDER_HEADERS)]


def _order_lines(
    rng: np.random.Generator,
    *,
    order_value: np.ndarray,
    n_items: np.ndarray,
    rows_order: np.ndarray,
    cust_of_row: np.ndarray,
    premium: np.ndarray,
    breadth: np.ndarray,
) -> dict[str, object]:
    """The product columns of every order line: which product, how many, at what price."""
    n_rows = len(rows_order)
    # Each customer shops in `breadth` favourite categories, fixed per customer.
    favourite = (cust_of_row * 7 + rng.integers(0, breadth[cust_of_row])) % len(_CATALOGUE)
    line = np.where(premium[cust_of_row], 2, rng.integers(0, 2, n_rows))
    share = rng.dirichlet(np.ones(3), size=len(n_items))
    item_share = np.concatenate([share[i, :k] / share[i, :k].sum() for i, k in enumerate(n_items)])
    item_value = order_value[rows_order] * item_share
    base_price = np.array([_CATALOGUE[c][1][ln][1] for c, ln in zip(favourite, line, strict=True)])
    # Shelf price less a member or coupon discount; the quantity carries the order's value.
    unit_price = np.round(base_price * rng.choice([0.8, 0.9, 0.95, 1.0], size=n_rows), 2)
    quantity = np.maximum(1, np.round(item_value / unit_price)).astype(int)
    return {
        "product_id": np.array(
            [f"P{c + 1:02d}{ln + 1}" for c, ln in zip(favourite, line, strict=True)], dtype=object
        ),
        "product_name": [_CATALOGUE[c][1][ln][0] for c, ln in zip(favourite, line, strict=True)],
        "category": [_CATALOGUE[c][0] for c in favourite],
        "quantity": quantity,
        "unit_price": unit_price,
        "amount": np.round(quantity * unit_price, 2),
    }


def _merge_repeated_lines(items: pd.DataFrame) -> pd.DataFrame:
    # Two lines of the same product in one order are one line with a larger quantity, as in a
    # real export; otherwise they would be indistinguishable from an exported-twice row.
    keys = ["order_id", "product_id", "unit_price"]
    return (
        items.groupby(keys, sort=False, as_index=False)
        .agg({**{c: "first" for c in items.columns if c not in keys}, "quantity": "sum"})
        .assign(amount=lambda f: np.round(f["quantity"] * f["unit_price"], 2))
    )


def _refund_rows(
    rng: np.random.Generator,
    items: pd.DataFrame,
    *,
    rows_order: np.ndarray,
    n_orders: int,
    refund_share: float,
    end: pd.Timestamp,
) -> pd.DataFrame:
    """A negative row for a refunded line, dated a few days after the order. A third of
    refunded orders are refunded in full (every line), so they are not purchases."""
    refunded_order = rng.uniform(0, 1, n_orders) < refund_share
    full_refund = refunded_order & (rng.uniform(0, 1, n_orders) < 1 / 3)
    first_line = ~pd.Series(rows_order).duplicated().to_numpy()
    refund_line = full_refund[rows_order] | (refunded_order[rows_order] & first_line)
    refunds = items.loc[refund_line].copy()
    refunds["order_ts"] = refunds["order_ts"] + pd.to_timedelta(
        rng.integers(1, 10 * 86400, len(refunds)), "s"
    )
    refunds["quantity"] = -refunds["quantity"]
    refunds["amount"] = -refunds["amount"]
    return refunds.loc[refunds["order_ts"] <= end]


def _add_duplicates(rng: np.random.Generator, orders: pd.DataFrame, n: int) -> pd.DataFrame:
    if n <= 0:
        return orders
    picks = np.sort(rng.choice(len(orders), size=min(n, len(orders)), replace=False))
    # A re-exported row lands right after its original, inside the same monthly file.
    position = np.concatenate([np.arange(len(orders)), picks + 0.5])
    doubled = pd.concat([orders, orders.iloc[picks]], ignore_index=True)
    return doubled.iloc[np.argsort(position, kind="stable")].reset_index(drop=True)


def _customers_table(
    rng: np.random.Generator, customer_ids: np.ndarray, first_seen: pd.DatetimeIndex
) -> pd.DataFrame:
    n = len(customer_ids)
    weights = np.array([c[3] for c in _CITIES], dtype=float)
    city = rng.choice(len(_CITIES), size=n, p=weights / weights.sum())
    n_tags = rng.integers(0, 4, n)
    tags = [
        ";".join(sorted(rng.choice(_TAGS, size=k, replace=False).tolist())) if k else ""
        for k in n_tags
    ]
    names = [
        rng.choice(_SURNAMES) + "".join(rng.choice(_GIVEN, size=rng.integers(1, 3)))
        for _ in range(n)
    ]
    phones = [
        f"1{d}{rest:09d}"
        for d, rest in zip(
            rng.choice([3, 5, 7, 8, 9], size=n), rng.integers(0, 10**9, n), strict=True
        )
    ]
    alphabet = np.array(list("abcdefghijklmnopqrstuvwxyz0123456789"))
    wechat = ["wxid_" + "".join(rng.choice(alphabet, size=10)) for _ in range(n)]
    has_industry = rng.uniform(0, 1, n) < 0.6
    frame = pd.DataFrame(
        {
            "customer_id": customer_ids,
            "name": names,
            "phone": phones,
            "wechat_id": wechat,
            "first_seen_ts": first_seen.strftime("%Y-%m-%d %H:%M:%S"),
            "region": [_CITIES[c][0] for c in city],
            "city": [_CITIES[c][1] for c in city],
            "city_tier": [_CITIES[c][2] for c in city],
            "source_channel": rng.choice(_SOURCE_CHANNELS, size=n, p=_SOURCE_WEIGHTS),
            "industry": np.where(has_industry, rng.choice(_INDUSTRIES, size=n), ""),
            "tags": tags,
        }
    )
    return frame.sort_values("first_seen_ts", kind="stable").reset_index(drop=True)


def _interactions(
    rng: np.random.Generator,
    start: pd.Timestamp,
    span_days: float,
    first_seen_days: np.ndarray,
    death_day: np.ndarray,
    rate: np.ndarray,
    customer_ids: np.ndarray,
) -> pd.DataFrame:
    # Engaged buyers interact more; after dropping out a customer goes quiet, with a short tail.
    active_until = np.where(np.isfinite(death_day), death_day + 20.0, span_days)
    active_until = np.where(death_day == -np.inf, first_seen_days + 30.0, active_until)
    active_until = np.clip(active_until, first_seen_days, span_days)
    weekly = 0.15 + 12.0 * rate
    counts = rng.poisson(weekly * (active_until - first_seen_days) / 7.0)
    who = np.repeat(np.arange(len(customer_ids)), counts)
    day = first_seen_days[who] + rng.uniform(0, 1, len(who)) * (
        active_until[who] - first_seen_days[who]
    )
    frame = pd.DataFrame(
        {
            "customer_id": customer_ids[who],
            "ts": (start + pd.to_timedelta(np.round(day * 86400), "s")).strftime(
                "%Y-%m-%d %H:%M:%S"
            ),
            "kind": rng.choice(_INTERACTION_KINDS, size=len(who), p=_INTERACTION_WEIGHTS),
        }
    )
    return frame.sort_values(["ts", "customer_id"], kind="stable").reset_index(drop=True)


def _write_csv(frame: pd.DataFrame, path: Path, *, encoding: str) -> None:
    frame.to_csv(path, index=False, encoding=encoding, lineterminator="\n", float_format="%.2f")
