"""The campaign section's sentences, each built from the numbers it states: one per campaign
and segment ("reaching 沉睡客户 by 企微私聊 added x percentage points of buyers in 30 days,
interval a-b: keep it"), the effect shown beside the playbook's actions, and how to start a
campaign log when there is none."""

from __future__ import annotations

from typing import Any

import pandas as pd

from segmentation.report._numbers import count, money

__all__ = ["effect_cell", "effect_sentence", "points", "start_a_log"]


def points(value: float) -> str:
    """A difference of rates in percentage points, signed, one decimal: ``+14.7``."""
    return f"{100 * value:+.1f}"


def _interval(row: pd.Series | dict[str, Any], lang: str) -> str:
    low, high = points(row["uplift_low"]), points(row["uplift_high"])
    return f"95% 区间 {low} 至 {high}" if lang == "zh" else f"95% interval {low} to {high}"


def effect_sentence(
    row: pd.Series | dict[str, Any],
    *,
    segment: str,
    channel: str,
    min_control: int,
    lang: str,
) -> str:
    """One plain sentence on a campaign's effect on one segment, from its row.

    Parameters
    ----------
    row : pandas.Series or dict
        A row of :func:`segmentation.campaigns.uplift_table` (its verdict window).
    segment, channel : str
        The segment's and the channel's names in ``lang``.
    min_control : int
        The config's ``campaigns.min_control``, named when the control group is too small.
    lang : {"zh", "en"}
    """
    days = int(row["window_days"])
    verdict = str(row["verdict"])
    if verdict == "too_small":
        n = count(row["n_control"])
        if lang == "zh":
            return (
                f"通过{channel}触达{segment}：对照组只有 {n} 人（至少需要 {min_control} 人），"
                "无法判断效果。"
            )
        noun = "customer" if int(row["n_control"]) == 1 else "customers"
        return (
            f"Reaching {segment} by {channel}: the control group has {n} {noun} (at least "
            f"{min_control} needed), too small to tell."
        )
    uplift, interval = points(row["uplift"]), _interval(row, lang)
    revenue = money(row["incremental_revenue"])
    if lang == "zh":
        said = (
            f"通过{channel}触达{segment}，{days} 天内购买客户占比变化 {uplift} 个百分点"
            f"（{interval}），增量收入 {revenue}"
        )
        return said + ("：保持。" if verdict == "keep" else "：看不出效果，调整。")
    said = (
        f"Reaching {segment} by {channel} changed the share of buyers by {uplift} percentage "
        f"points in {days} days ({interval}), {revenue} of incremental revenue"
    )
    return said + (": keep it." if verdict == "keep" else ": no gain the data can show, change it.")


def effect_cell(row: pd.Series | dict[str, Any], *, channel: str, lang: str) -> str:
    """The effect shown beside an action in the playbook: ``+14.7 pp (6.6 to 20.9), 企微私聊:
    keep it``; or that the control group was too small."""
    if str(row["verdict"]) == "too_small":
        return (
            f"{channel}：对照组太小，无法判断"
            if lang == "zh"
            else f"{channel}: control group too small to tell"
        )
    low, high = points(row["uplift_low"]), points(row["uplift_high"])
    days = int(row["window_days"])
    if lang == "zh":
        word = "保持" if row["verdict"] == "keep" else "调整"
        return f"{channel}：{days} 天购买占比 {points(row['uplift'])} 个百分点（{low} 至 {high}），{word}"
    word = "keep it" if row["verdict"] == "keep" else "change it"
    return (
        f"{channel}: {points(row['uplift'])} pp of buyers in {days} days ({low} to {high}), {word}"
    )


def start_a_log(*, lang: str, control_share: float, windows: list[int]) -> str:
    """What to do when there is no campaign log: how to keep one, and the hold-out helper."""
    share = f"{control_share:.0%}"
    days = " / ".join(str(d) for d in windows)
    if lang == "zh":
        return (
            "本次数据中没有活动记录，无法衡量上月动作的效果。开始记录的方法：\n\n"
            "1. 下发本月动作前，用 `segmentation holdout 导出文件 --campaign 活动名称 --out 文件夹` "
            f"按分层随机留出 {share} 的客户作为对照组（可复现，固定随机种子），得到 "
            "`contact_list.csv`（触达名单）和 `control_list.csv`（对照名单，不触达）；\n"
            "2. 触达后在两份名单的「触达时间」列填入触达当天的时间（对照组填同一天）；\n"
            "3. 下月把两份名单和订单一起放进导出文件夹（列：客户ID、活动编号、触达时间、渠道、分组），"
            f"报告会按分层比较两组在触达后 {days} 天内的购买率、人均收入和退款。"
        )
    return (
        "This export has no campaign log, so last month's actions cannot be measured. To start "
        "one:\n\n"
        "1. Before sending this month's actions, run `segmentation holdout EXPORT --campaign "
        f"NAME --out DIR`: it holds out a random {share} of each segment as a control group "
        "(seeded, so it can be repeated) and writes `contact_list.csv` (to reach) and "
        "`control_list.csv` (not to reach);\n"
        "2. after reaching them, fill the 触达时间 (contacted at) column of both lists with the "
        "day of contact (the same day for the control list);\n"
        "3. next month, put both lists in the export folder beside the orders (columns 客户ID, "
        "活动编号, 触达时间, 渠道, 分组 or customer_id, campaign_id, contacted_at, channel, "
        f"group): the report compares both groups' buyers, revenue and refunds over the {days} "
        "days after contact, per segment."
    )
