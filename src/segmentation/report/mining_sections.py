"""What the association and drivers notebook shows, one call per cell: what each segment buys
together (FP-growth rules and affinity), and what relates to next-period value (the drivers
models' sentences, coefficients and held-out check). Text comes from
:mod:`segmentation.report._mining_text`; tables go through :func:`segmentation.formatting.styled`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from IPython.display import Markdown, display

from segmentation.analysis import MonthAnalysis
from segmentation.association import AssociationResult, SegmentRules
from segmentation.config import load_config
from segmentation.formatting import count, percent, score, styled
from segmentation.report._mining_text import (
    CAUTION,
    held_out_sentences,
    model_sentences,
    predictor_name,
)
from segmentation.schemes.rules import ATTRIBUTE_NAMES

if TYPE_CHECKING:
    from pandas.io.formats.style import Styler

__all__ = [
    "association_heading",
    "coefficients_table",
    "drivers_heading",
    "drivers_sentences",
    "held_out_sentences_markdown",
    "held_out_table",
    "importance_table",
    "largest_segment",
    "rules_table",
    "show_association",
]

_LEVELS = {
    "product": {"zh": "商品", "en": "Products"},
    "category": {"zh": "品类", "en": "Categories"},
}
_RULE_HEADERS = {
    "zh": ["买了", "也买", "篮数", "支持度", "置信度", "提升度", "杠杆度", "确信度"],
    "en": ["If bought", "Also bought", "Baskets", "Support", "Confidence", "Lift", "Leverage",
           "Conviction"],
}  # fmt: skip
_AFFINITY_HEADERS = {
    "zh": ["商品或品类", "本层篮数", "本层占比", "全店占比", "偏好指数"],
    "en": ["Item", "Baskets", "Segment share", "Shop share", "Affinity"],
}
_COEFFICIENT_HEADERS = {
    "purchase": {
        "zh": ["因素", "购买概率变化（百分点）", "95% 下限", "95% 上限", "对数几率系数", "p 值"],
        "en": ["Predictor", "Chance of buying (points)", "95% low", "95% high",
               "Log-odds coefficient", "p-value"],
    },
    "spend": {
        "zh": ["因素", "消费变化", "95% 下限", "95% 上限", "log1p 系数", "p 值"],
        "en": ["Predictor", "Spend change", "95% low", "95% high", "log1p coefficient",
               "p-value"],
    },
}  # fmt: skip


def _settings(config: str | Path | Mapping[str, Any] | None) -> Mapping[str, Any]:
    return load_config(config or None)


def _names(result: AssociationResult, items: tuple[str, ...]) -> str:
    return " + ".join(result.item_names.get(item, item) for item in items)


def association_heading(
    analysis: MonthAnalysis,
    *,
    lang: str = "zh",
    config: str | Path | Mapping[str, Any] | None = None,
) -> Markdown | None:
    """What the baskets are, how the minimum support is chosen, and what the measures mean."""
    if not analysis.association:
        return Markdown(
            "订单没有商品或品类列，无法做关联分析。"
            if lang == "zh"
            else "The orders have no product or category column: no association analysis."
        )
    settings = _settings(config)["association"]
    first = next(iter(analysis.association.values()))
    first_day = first.start.date() + pd.Timedelta(days=1)
    days = (
        f"{first_day} 至 {first.end.date()}"
        if lang == "zh"
        else f"{first_day} to {first.end.date()}"
    )
    sampled = first.sample_size is not None
    if lang == "zh":
        sample = (
            f"规则挖掘使用按固定随机种子抽取的 {count(first.sample_size)} 个篮子；"
            if sampled
            else ""
        )
        text = (
            f"篮子即订单：{days} 的 {count(first.n_baskets)} 个订单（全店规则含游客订单，分层规则不含）。"
            f"{sample}全额退款的商品不算购买。规则 A → B 需 A 与 B 同时出现在至少 "
            f"{settings['min_baskets']} 个篮子、且至少占该组篮子的 {percent(settings['min_support'])}"
            f"（篮子少的分层按篮数门槛，篮子多的按占比门槛），置信度至少 "
            f"{percent(settings['min_confidence'])}；按提升度列出前 {settings['top_rules']} 条。"
            "支持度：同时含 A 和 B 的篮子占比；置信度：含 A 的篮子中含 B 的比例；"
            "提升度：置信度除以 B 的占比（1 表示无关联）。偏好指数：该层篮子中含此商品的比例除以全店比例。"
        )
    else:
        sample = (
            f" FP-growth ran on a seeded random sample of {count(first.sample_size)} baskets."
            if sampled
            else ""
        )
        text = (
            f"Baskets are orders: {count(first.n_baskets)} orders dated {days} (guests' orders count "
            f"for the whole shop's rules, not for a segment's).{sample} Fully refunded lines are not "
            f"bought. A rule A → B needs A and B together in at least {settings['min_baskets']} "
            f"baskets and in at least {percent(settings['min_support'])} of the group's baskets "
            "(the count decides for a segment with few baskets, the share for a large one), and a "
            f"confidence of at least {percent(settings['min_confidence'])}; the top "
            f"{settings['top_rules']} by lift are shown. Support: the share of baskets holding A "
            "and B; confidence: the share of A's baskets that hold B; lift: confidence over B's "
            "share (1: unrelated). Affinity: the segment's share of baskets with the item over "
            "the shop's."
        )
    return Markdown(text)


def rules_table(
    result: AssociationResult, rules: SegmentRules, *, lang: str = "zh"
) -> Styler | None:
    """A group's rules for display; None without any."""
    if not len(rules.rules):
        return None
    table = rules.rules
    headers = _RULE_HEADERS[lang]
    shown = pd.DataFrame(
        {
            headers[0]: [_names(result, items) for items in table["antecedents"]],
            headers[1]: [_names(result, items) for items in table["consequents"]],
            headers[2]: table["baskets"].to_numpy(),
            headers[3]: table["support"].to_numpy(),
            headers[4]: table["confidence"].to_numpy(),
            headers[5]: table["lift"].to_numpy(),
            headers[6]: table["leverage"].to_numpy(),
            # Confidence 100% makes conviction infinite.
            headers[7]: [score(v) if np.isfinite(v) else "∞" for v in table["conviction"]],
        }
    )
    kinds = dict(
        zip(
            headers,
            ["text", "text", "count", "percent", "percent", "score", "score", "text"],
            strict=True,
        )
    )
    return styled(shown, kinds, index=False)


def _affinity_table(result: AssociationResult, rules: SegmentRules, *, lang: str) -> Styler | None:
    if not len(rules.affinity):
        return None
    headers = _AFFINITY_HEADERS[lang]
    table = rules.affinity
    shown = pd.DataFrame(
        {
            headers[0]: [result.item_names.get(str(i), str(i)) for i in table.index],
            headers[1]: table["baskets"].to_numpy(),
            headers[2]: table["segment_share"].to_numpy(),
            headers[3]: table["shop_share"].to_numpy(),
            headers[4]: table["affinity"].to_numpy(),
        }
    )
    kinds = dict(zip(headers, ["text", "count", "percent", "percent", "score"], strict=True))
    return styled(shown, kinds, index=False)


def largest_segment(analysis: MonthAnalysis, scheme: str) -> str:
    """The key of ``scheme``'s segment with the most customers this month (ties: the first)."""
    counts = analysis.current.segmentations[scheme].labels.value_counts(sort=False)
    return str(counts.index[int(np.argmax(counts.to_numpy()))])


def show_association(analysis: MonthAnalysis, *, lang: str = "zh") -> None:
    """Per mined scheme and level: the whole shop's rules, then each segment's rules and
    affinity (its baskets and minimum support in the heading)."""
    for (scheme, level), result in analysis.association.items():
        segmentation = analysis.current.segmentations[scheme]
        names = segmentation.profile[f"name_{lang}"]
        title = segmentation.display_title(lang)
        display(Markdown(f"### {title} · {_LEVELS[level][lang]}"))
        groups = [("__shop__", result.shop), *result.segments.items()]
        for key, rules in groups:
            name = ("全店" if lang == "zh" else "Whole shop") if key == "__shop__" else names[key]
            support = percent(rules.min_support) if np.isfinite(rules.min_support) else "—"
            display(
                Markdown(
                    f"#### {name}：{count(rules.n_baskets)} 个篮子，最低支持度 {support}"
                    if lang == "zh"
                    else f"#### {name}: {count(rules.n_baskets)} baskets, minimum support {support}"
                )
            )
            table = rules_table(result, rules, lang=lang)
            display(
                table
                if table is not None
                else Markdown(
                    "没有达到门槛的规则。" if lang == "zh" else "No rule reaches the thresholds."
                )
            )
            affinity = _affinity_table(result, rules, lang=lang)
            if affinity is not None:
                display(affinity)


def drivers_heading(analysis: MonthAnalysis, *, lang: str = "zh") -> Markdown:
    """Who is modelled, on what, and that the results are associations, not causes."""
    drivers = analysis.drivers
    if drivers is None:
        reason = analysis.drivers_unavailable
        return Markdown(f"无法建模：{reason}" if lang == "zh" else f"No model: {reason}")
    h, day = drivers.horizon_days, drivers.calibration_end.date()
    sampled = drivers.sample_size is not None
    separator = "；" if lang == "zh" else "; "
    pooled = separator.join(
        f"{ATTRIBUTE_NAMES[k][lang]}{'：' if lang == 'zh' else ': '}{', '.join(v)}"
        for k, v in drivers.pooled.items()
    )
    if lang == "zh":
        text = (
            f"以 {day}（报告日前 {h} 天）为观察点，对当时已购买过的 {count(drivers.n_customers)} 名客户"
            + (f"（按固定随机种子抽取 {count(drivers.sample_size)} 名）" if sampled else "")
            + f"建模：未来 {h} 天是否购买（逻辑回归，购买率 {percent(drivers.buy_rate)}）与消费额"
            "（log(1 + 收入) 的线性回归）。区间为稳健标准误（HC1）的 95% 区间。"
            + (f"客户少的取值合并为“其他”：{pooled}。" if pooled else "")
        )
    else:
        text = (
            f"As of {day} ({h} days before the report date), the {count(drivers.n_customers)} "
            "customers who had bought by then"
            + (f" (a seeded random sample of {count(drivers.sample_size)})" if sampled else "")
            + f" are modelled: whether they buy in the next {h} days (logistic regression; "
            f"{percent(drivers.buy_rate)} did) and how much they spend (a linear model of "
            "log(1 + revenue)). Intervals are 95% intervals from robust (HC1) standard errors."
            + (
                f" Levels held by few customers are pooled into “other”: {pooled}."
                if pooled
                else ""
            )
        )
    chance = (
        f"共 {len(drivers.terms)} 个因素：即使全都无关，也约有二十分之一的区间会因偶然不含 0。"
        if lang == "zh"
        else f"With {len(drivers.terms)} predictors, about one interval in twenty would exclude "
        "zero by chance alone, even if none mattered."
    )
    return Markdown(f"{text} {chance}\n\n**{CAUTION[lang]}**")


def drivers_sentences(
    analysis: MonthAnalysis,
    model: str = "purchase",
    *,
    lang: str = "zh",
    config: str | Path | Mapping[str, Any] | None = None,
) -> Markdown | None:
    """The ``purchase`` or ``spend`` model's sentences, as a list; None without the model."""
    drivers = analysis.drivers
    if drivers is None:
        return None
    if (drivers.purchase if model == "purchase" else drivers.spend) is None:
        return Markdown(drivers.unavailable.get(model, ""))
    sentences = model_sentences(drivers, model, lang=lang, settings=_settings(config)["drivers"])
    if not sentences:
        return Markdown(
            "没有哪个因素的 95% 区间不含 0。"
            if lang == "zh"
            else "No predictor's 95% interval excludes zero."
        )
    return Markdown("\n".join(f"- {s}" for s in sentences))


def coefficients_table(
    analysis: MonthAnalysis, model: str = "purchase", *, lang: str = "zh"
) -> Styler | None:
    """Every predictor of the ``purchase`` or ``spend`` model with its effect and interval."""
    drivers = analysis.drivers
    table = (
        None if drivers is None else (drivers.purchase if model == "purchase" else drivers.spend)
    )
    if drivers is None or table is None:
        return None
    headers = _COEFFICIENT_HEADERS[model][lang]
    scale = 100.0 if model == "purchase" else 1.0
    shown = pd.DataFrame(
        {
            headers[0]: [
                predictor_name(
                    drivers.terms[str(c)], str(c), horizon_days=drivers.horizon_days, lang=lang
                )
                for c in table.index
            ],
            headers[1]: scale * table["effect"].to_numpy(),
            headers[2]: scale * table["effect_lower"].to_numpy(),
            headers[3]: scale * table["effect_upper"].to_numpy(),
            headers[4]: table["coef"].to_numpy(),
            headers[5]: table["p_value"].to_numpy(),
        }
    )
    effect_kind = "decimal" if model == "purchase" else "percent"
    kinds = dict(
        zip(headers, ["text", effect_kind, effect_kind, effect_kind, "score", "score"], strict=True)
    )
    return styled(shown, kinds, index=False)


def held_out_table(analysis: MonthAnalysis, *, lang: str = "zh") -> Styler | None:
    """Held-out AUC and R² of the naive baseline, the linear models and gradient boosting."""
    drivers = analysis.drivers
    if drivers is None or drivers.held_out is None:
        return None
    scores = drivers.held_out.scores
    columns = {
        "zh": ["朴素基线", "线性模型", "梯度提升"],
        "en": ["Naive baseline", "Linear", "Gradient boosting"],
    }[lang]
    rows = {"zh": ["购买 AUC", "消费 R²"], "en": ["Purchase AUC", "Spend R²"]}[lang]
    shown = pd.DataFrame(scores.to_numpy(), index=pd.Index(rows, name=""), columns=columns)
    return styled(shown, dict.fromkeys(columns, "score"))


def held_out_sentences_markdown(
    analysis: MonthAnalysis,
    *,
    lang: str = "zh",
    config: str | Path | Mapping[str, Any] | None = None,
) -> Markdown | None:
    """The held-out check in sentences."""
    drivers = analysis.drivers
    if drivers is None or drivers.held_out is None:
        return None
    return Markdown(
        " ".join(held_out_sentences(drivers, lang=lang, settings=_settings(config)["drivers"]))
    )


def importance_table(analysis: MonthAnalysis, *, lang: str = "zh") -> Styler | None:
    """The gradient-boosting models' permutation importance per predictor."""
    drivers = analysis.drivers
    if drivers is None or drivers.held_out is None:
        return None
    table = drivers.held_out.importance
    attributes = {t.feature for t in drivers.terms.values() if t.unit == "level"}
    names = [
        ATTRIBUTE_NAMES[p][lang] if p in attributes
        else predictor_name(drivers.terms[p], p, horizon_days=drivers.horizon_days, lang=lang)
        for p in table.index
    ]  # fmt: skip
    headers = {
        "zh": ["因素", "购买 AUC 下降", "标准差", "消费 R² 下降", "标准差 "],
        "en": ["Predictor", "Drop in purchase AUC", "sd", "Drop in spend R²", "sd "],
    }[lang]
    shown = pd.DataFrame(
        dict(
            zip(
                headers,
                [
                    names,
                    *(
                        table[c].to_numpy()
                        for c in ("purchase", "purchase_std", "spend", "spend_std")
                    ),
                ],
                strict=True,
            )
        )
    )
    return styled(
        shown,
        dict(zip(headers, ["text", "score", "score", "score", "score"], strict=True)),
        index=False,
    )
