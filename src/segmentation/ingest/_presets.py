"""The header names each canonical column goes by, and the headers of known exports.

Add a column name here when an export names a column in a way ingest does not know yet.
"""

from __future__ import annotations

__all__ = [
    "ALIASES",
    "CAMPAIGN_MARKERS",
    "CDNOW_HEADER",
    "CDNOW_MASTER_NAMES",
    "CDNOW_SAMPLE_NAMES",
    "INTERACTION_MARKERS",
    "ONLINE_RETAIL_HEADER",
    "ORDER_CUSTOMER_ALIASES",
    "ORDER_MARKERS",
]

# Canonical column -> header names that mean it, most preferred first. Headers are compared
# after normalisation (case, spaces, underscores and full-width forms do not matter).
# fmt: off
ALIASES: dict[str, dict[str, tuple[str, ...]]] = {
    "orders": {
        "order_id": ("order_id", "订单号", "订单编号", "订单id", "主订单号", "order_no",
                     "InvoiceNo", "invoice"),
        "customer_id": ("customer_id", "客户ID", "客户编号", "买家ID", "会员ID", "会员编号",
                        "用户ID", "buyer_id", "member_id", "user_id"),
        "order_ts": ("order_ts", "下单时间", "付款时间", "支付时间", "订单时间", "成交时间",
                     "创建时间", "order_time", "order_date", "InvoiceDate", "date", "datetime"),
        "amount": ("amount", "实付金额", "支付金额", "订单金额", "实付款", "实收金额", "成交金额",
                   "付款金额", "金额", "paid_amount", "order_amount", "dollar_value", "revenue",
                   "sales"),
        "quantity": ("quantity", "数量", "购买数量", "商品数量", "件数", "qty", "number_of_cds"),
        "unit_price": ("unit_price", "单价", "商品单价", "成交单价", "UnitPrice", "price"),
        "product_id": ("product_id", "商品编号", "商品编码", "商品ID", "货号", "sku", "sku_id",
                       "StockCode"),
        "product_name": ("product_name", "商品名称", "商品名", "商品标题", "商品", "item_name",
                         "Description"),
        "category": ("category", "品类", "类目", "商品类目", "商品分类", "分类"),
        "channel": ("channel", "下单渠道", "销售渠道", "订单来源", "渠道"),
        "store": ("store", "门店", "门店名称", "店铺", "店铺名称", "shop"),
    },
    "customers": {
        "customer_id": ("customer_id", "客户ID", "客户编号", "买家ID", "会员ID", "会员编号",
                        "用户ID", "buyer_id", "member_id", "user_id"),
        "first_seen_ts": ("first_seen_ts", "添加时间", "添加好友时间", "首次添加时间", "注册时间",
                          "入会时间", "创建时间", "first_seen", "created_at", "signup_date"),
        "region": ("region", "省份", "省", "地区", "所在地区", "province", "country"),
        "city": ("city", "城市", "所在城市"),
        "city_tier": ("city_tier", "城市等级", "城市线级", "城市级别"),
        "source_channel": ("source_channel", "来源渠道", "来源", "渠道来源", "添加渠道", "source"),
        "industry": ("industry", "行业"),
        "tags": ("tags", "标签", "客户标签", "企微标签"),
        "name": ("name", "姓名", "客户姓名", "真实姓名", "昵称"),
        "phone": ("phone", "手机号", "手机号码", "手机", "联系电话", "电话", "mobile"),
        "wechat_id": ("wechat_id", "微信号", "微信", "wechat", "wxid"),
    },
    "interactions": {
        "customer_id": ("customer_id", "客户ID", "客户编号", "买家ID", "会员ID", "会员编号",
                        "用户ID", "buyer_id", "member_id", "user_id"),
        "ts": ("ts", "互动时间", "发生时间", "行为时间", "时间", "event_time", "timestamp", "time",
               "date"),
        "kind": ("kind", "互动类型", "行为类型", "事件类型", "类型", "event_type", "event",
                 "type"),
    },
    "campaigns": {
        "customer_id": ("customer_id", "客户ID", "客户编号", "买家ID", "会员ID", "会员编号",
                        "用户ID", "buyer_id", "member_id", "user_id"),
        "campaign_id": ("campaign_id", "活动编号", "活动ID", "活动名称", "活动", "营销活动",
                        "campaign"),
        "contacted_at": ("contacted_at", "触达时间", "发送时间", "推送时间", "触达日期",
                         "contact_time", "sent_at"),
        "channel": ("channel", "渠道", "触达渠道", "发送渠道"),
        "group": ("group", "分组", "实验分组", "组别", "对照组", "是否对照组", "is_control",
                  "holdout", "arm"),
    },
}
# Customer attributes that order exports often carry; they go to the customers table (the
# latest non-missing value per customer), never to orders, and PII among them is hashed.
ORDER_CUSTOMER_ALIASES: dict[str, tuple[str, ...]] = {
    "region": ("region", "Country", "省份", "收货省份", "province"),
    "city": ("city", "城市", "收货城市"),
    "phone": ("phone", "手机号", "买家手机号", "手机号码"),
    "name": ("买家姓名", "客户姓名"),
    "wechat_id": ("wechat_id", "微信号"),
}
# fmt: on

# A file belongs to a table when one of these canonical columns is found in its header.
ORDER_MARKERS = ("order_id", "amount", "unit_price", "quantity")
INTERACTION_MARKERS = ("kind",)
CAMPAIGN_MARKERS = ("campaign_id", "contacted_at")

# Normalised headers of known public exports.
ONLINE_RETAIL_HEADER = {"invoiceno", "stockcode", "invoicedate", "unitprice", "customerid"}
CDNOW_HEADER = {"customerid", "date", "numberofcds", "dollarvalue"}
# CDNOW's text files have no header: its columns, in the master and the sample file.
CDNOW_MASTER_NAMES = ("customer_id", "date", "number_of_cds", "dollar_value")
CDNOW_SAMPLE_NAMES = ("customer_id", "customer_index", "date", "number_of_cds", "dollar_value")
