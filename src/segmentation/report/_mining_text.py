"""The words of the association and drivers section, in zh and en, built from the numbers:
names of predictors, the sentences of the drivers models and of the held-out check."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from segmentation.drivers import DriversResult, Term
from segmentation.formatting import count
from segmentation.schema import INTERACTION_KINDS
from segmentation.schemes.rules import ATTRIBUTE_NAMES

__all__ = [
    "CAUTION",
    "held_out_sentences",
    "model_sentences",
    "predictor_name",
    "predictor_phrase",
]

#: Interaction kinds (canonical names) as a sentence says them.
_KINDS: dict[str, dict[str, str]] = {
    "message": {"zh": "私聊消息", "en": "private message"},
    "like": {"zh": "朋友圈点赞", "en": "Moments like"},
    "group_chat": {"zh": "群聊发言", "en": "group-chat message"},
    "coupon": {"zh": "领取优惠券", "en": "coupon claimed"},
    "visit": {"zh": "访问", "en": "visit"},
}

#: A number's subject, by its unit: ``{h}`` is the horizon in days.
_NUMBERS: dict[str, dict[str, str]] = {
    "recency_days": {
        "zh": "距上次购买每多 30 天",
        "en": "Each extra 30 days since the last purchase",
    },
    "n_orders": {"zh": "历史订单每多 1 笔", "en": "Each extra order to date"},
    "monetary_total": {"zh": "累计消费每翻一倍", "en": "Each doubling of spend to date"},
    "tenure_days": {"zh": "成为客户每多 1 年", "en": "Each extra year as a customer"},
    "refund_share": {
        "zh": "退款占比每高 10 个百分点",
        "en": "Each 10 points more of sales refunded",
    },
}

#: Short names of the numbers, for tables.
_SHORT: dict[str, dict[str, str]] = {
    "recency_days": {"zh": "距上次购买（每 30 天）", "en": "Recency (per 30 days)"},
    "n_orders": {"zh": "历史订单数（每笔）", "en": "Orders to date (per order)"},
    "monetary_total": {"zh": "累计消费（每翻一倍）", "en": "Spend to date (per doubling)"},
    "tenure_days": {"zh": "客户时长（每年）", "en": "Tenure (per year)"},
    "refund_share": {"zh": "退款占比（每 10 个百分点）", "en": "Refund share (per 10 points)"},
}

#: The statement every drivers result carries.
CAUTION: dict[str, str] = {
    "zh": "以上都是历史数据中的相关关系，不是因果：互动多的客户买得多，可能是因为他们本来就更有兴趣；"
    "多发消息不一定会让人购买。要知道一个动作的效果，请做对照实验（随机留出一组客户不做该动作）。",
    "en": "These are associations in past data, not causes: customers who interact more may buy "
    "more because they were already interested, and sending more messages need not make anyone "
    "buy. To learn what an action does, run a test with a randomly held-back control group.",
}


def _kind(kind: str, lang: str) -> str:
    # An export's own Chinese kinds (私聊消息) read as the canonical ones ingest maps them to.
    canonical = INTERACTION_KINDS.get(kind, kind)
    return _KINDS.get(canonical, {}).get(lang, kind)


def predictor_name(term: Term, column: str, *, horizon_days: int, lang: str) -> str:
    """A design column's short name in ``lang``, for tables."""
    if term.unit == "per_interaction":
        return (
            f"{_kind(term.level, 'zh')}（近 {horizon_days} 天，每次）"
            if lang == "zh"
            else f"{_kind(term.level, 'en').capitalize()}s (last {horizon_days} days, each)"
        )
    if term.unit == "level":
        attribute = ATTRIBUTE_NAMES[term.feature][lang]
        return (
            f"{attribute}：{term.level}（对比 {term.baseline}）"
            if lang == "zh"
            else f"{attribute}: {term.level} (against {term.baseline})"
        )
    if term.unit == "tag":
        return f"标签：{term.level}" if lang == "zh" else f"Tag: {term.level}"
    return _SHORT.get(column, {}).get(lang, column)


def predictor_phrase(term: Term, column: str, *, horizon_days: int, lang: str) -> str:
    """The subject of a sentence about a design column, in ``lang``."""
    if term.unit == "per_interaction":
        return (
            f"近 {horizon_days} 天每多 1 次{_kind(term.level, 'zh')}"
            if lang == "zh"
            else f"Each extra {_kind(term.level, 'en')} in the last {horizon_days} days"
        )
    if term.unit == "level":
        attribute = ATTRIBUTE_NAMES[term.feature]
        return (
            f"{attribute['zh']}为“{term.level}”（对比“{term.baseline}”）"
            if lang == "zh"
            else f"{attribute['en']} {term.level} (against {term.baseline})"
        )
    if term.unit == "tag":
        return f"带“{term.level}”标签" if lang == "zh" else f"The tag {term.level}"
    return _NUMBERS.get(column, {}).get(lang, column)


def _chosen(table: pd.DataFrame, *, size: pd.Series, limit: int) -> pd.DataFrame:
    """Terms whose 95% interval excludes zero, the largest ``size`` first (at most ``limit``)."""
    clear = table.loc[(table["lower"] > 0) | (table["upper"] < 0)]
    order = np.lexsort((np.arange(len(clear)), -size.reindex(clear.index).abs().to_numpy()))
    return clear.iloc[order].head(limit)


def model_sentences(
    drivers: DriversResult, model: str, *, lang: str, settings: Mapping[str, Any]
) -> list[str]:
    """One sentence per predictor whose 95% interval excludes zero (``drivers.max_sentences``
    at most, the largest effect first), from the ``purchase`` or ``spend`` table.

    The purchase sentences state the average change in the chance of buying in percentage
    points; the spend sentences the relative change in 1 + revenue.
    """
    table = drivers.purchase if model == "purchase" else drivers.spend
    if table is None:
        return []
    h = drivers.horizon_days
    chosen = _chosen(table, size=table["effect"], limit=int(settings["max_sentences"]))
    sentences = []
    for column, row in chosen.iterrows():
        subject = predictor_phrase(
            drivers.terms[str(column)], str(column), horizon_days=h, lang=lang
        )
        if model == "purchase":
            effect, low, high = (100 * row[c] for c in ("effect", "effect_lower", "effect_upper"))
            sentences.append(
                f"{subject}，未来 {h} 天购买的概率相差 {effect:+.1f} 个百分点"
                f"（95% 区间 {low:+.1f} 至 {high:+.1f}）。"
                if lang == "zh"
                else f"{subject} goes with {effect:+.1f} percentage points in the chance of "
                f"buying in the next {h} days (95% interval {low:+.1f} to {high:+.1f})."
            )
        else:
            effect, low, high = (100 * row[c] for c in ("effect", "effect_lower", "effect_upper"))
            sentences.append(
                f"{subject}，未来 {h} 天的消费（1 + 收入）相差 {effect:+.0f}%"
                f"（95% 区间 {low:+.0f}% 至 {high:+.0f}%）。"
                if lang == "zh"
                else f"{subject} goes with {effect:+.0f}% in next-{h}-day spend (1 + revenue; "
                f"95% interval {low:+.0f}% to {high:+.0f}%)."
            )
    return sentences


def held_out_sentences(
    drivers: DriversResult, *, lang: str, settings: Mapping[str, Any]
) -> list[str]:
    """What the held-out check says: the models' AUC and R² against the naive baseline, and
    whether gradient boosting finds what the linear reading misses."""
    check = drivers.held_out
    if check is None:
        return []
    scores, h = check.scores, drivers.horizon_days
    auc, r2 = scores.loc["purchase_auc"], scores.loc["spend_r2"]
    margin = float(settings["material_difference"])
    misses = (auc["gradient_boosting"] - auc["linear"] > margin) or (
        r2["gradient_boosting"] - r2["linear"] > margin
    )
    if lang == "zh":
        return [
            f"在 {count(check.n_test)} 名留出客户上，购买模型的 AUC 为 {auc['linear']:.3f}，"
            f"朴素基线（每位客户重复前 {h} 天的行为）为 {auc['naive']:.3f}，"
            f"梯度提升模型为 {auc['gradient_boosting']:.3f}。",
            f"消费模型的 R² 为 {r2['linear']:.3f}，朴素基线为 {r2['naive']:.3f}，"
            f"梯度提升模型为 {r2['gradient_boosting']:.3f}（常数预测为 0）。",
            "梯度提升明显更好：线性解读漏掉了一些关系（非线性或交互作用），系数只是大致方向。"
            if misses
            else f"梯度提升没有明显更好（差距不超过 {margin:.2f}）：线性解读没有漏掉太多。",
        ]
    return [
        f"On {count(check.n_test)} held-out customers, the purchase model's AUC is "
        f"{auc['linear']:.3f}, against {auc['naive']:.3f} for the naive baseline (each customer "
        f"does again what they did in the previous {h} days) and "
        f"{auc['gradient_boosting']:.3f} for gradient boosting.",
        f"The spend model's R² is {r2['linear']:.3f}, against {r2['naive']:.3f} for the naive "
        f"baseline and {r2['gradient_boosting']:.3f} for gradient boosting (a constant scores 0).",
        "Gradient boosting does clearly better: the linear reading misses something (curves or "
        "interactions), so read the coefficients as rough directions."
        if misses
        else f"Gradient boosting does not do clearly better (by at most {margin:.2f}): the "
        "linear reading misses little.",
    ]
