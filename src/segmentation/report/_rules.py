"""What each scheme's section says about the rule it applied: its thresholds and parameters,
read from the scheme's :attr:`~segmentation.schemes.Segmentation.details`, in the report's
language, so every number of a profile can be traced to the rule that made it.

Money is in the export's currency, shown as :func:`segmentation.formatting.money` shows it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd

from segmentation.clv import MODEL_TITLES
from segmentation.formatting import money, parameter
from segmentation.schemes.base import Segmentation

__all__ = ["FEATURE_NAMES", "PARAMETER_SYMBOLS", "scheme_rules"]

#: Snapshot and forecast columns as the report names them.
FEATURE_NAMES: dict[str, dict[str, str]] = {
    "recency_days": {"zh": "距上次购买天数", "en": "days since last purchase"},
    "frequency": {"zh": "复购次数", "en": "repeat purchases"},
    "n_orders": {"zh": "购买次数", "en": "purchases"},
    "monetary_total": {"zh": "累计消费", "en": "total spend"},
    "monetary_avg": {"zh": "平均订单金额", "en": "mean order value"},
    "interactions_30d": {"zh": "近30天互动次数", "en": "interactions in 30 days"},
    "interactions_90d": {"zh": "近90天互动次数", "en": "interactions in 90 days"},
    "clv": {"zh": "预测CLV", "en": "predicted CLV"},
    "expected_purchases": {"zh": "预测购买次数", "en": "expected purchases"},
    "p_alive": {"zh": "P(存活)", "en": "P(alive)"},
    "expected_avg_spend": {"zh": "预测客单价", "en": "expected spend per purchase"},
}

#: Fitted parameters of the purchase and spend models, as the papers write them.
PARAMETER_SYMBOLS = {"alpha": "α", "beta": "β", "gamma": "γ"}

_RULE = {"zh": "规则：", "en": "Rule: "}
_ALGORITHMS = {"kmeans": "k-means", "gmm": "Gaussian mixture", "ward": "Ward"}
_PERIOD = {7: {"zh": "周", "en": "weeks"}, 1: {"zh": "天", "en": "days"}}


def _number(value: float) -> str:
    """A threshold as written in the config: whole numbers (to float error, as a quantile
    of whole numbers can be) without decimals."""
    whole = round(float(value))
    return f"{whole:,}" if abs(value - whole) < 1e-9 * max(1.0, abs(value)) else f"{value:,.2f}"


def _feature(column: str, lang: str) -> str:
    return FEATURE_NAMES.get(column, {}).get(lang, column)


def _names(segmentation: Segmentation, lang: str) -> pd.Series:
    return segmentation.profile[f"name_{lang}"]


def _rfm_named(seg: Segmentation, lang: str) -> str:
    edges = seg.details["quintile_edges"]
    listed = {letter: " / ".join(_number(e) for e in values) for letter, values in edges.items()}
    if lang == "zh":
        return (
            "R、F、M 各按买家的 20%/40%/60%/80% 分位点打 1–5 分，得分 = 1 + 低于该客户取值的"
            f"分位点个数。本月分位点：R 距上次购买天数 {listed['R']} 天（天数越少分越高）；"
            f"F 购买次数 {listed['F']}；M 累计消费 {listed['M']}。FM = (F + M) / 2 四舍五入，"
            f"按 R × FM 网格命名分群；{_non_buyers(seg, lang)}。"
        )
    return (
        "R, F and M are scored 1–5 against the buyers' 20/40/60/80% quantile edges: the score "
        f"is 1 + the edges below the customer's value. This month's edges: R days since the "
        f"last purchase {listed['R']} (fewer days, higher score); F purchases {listed['F']}; "
        f"M total spend {listed['M']}. FM = (F + M) / 2 rounded half up; an R × FM grid names "
        f"the segments; {_non_buyers(seg, lang)}."
    )


def _rfm_8class(seg: Segmentation, lang: str) -> str:
    centers = seg.details["centers"]
    if lang == "zh":
        center = "平均值" if seg.details["center"] == "mean" else "中位数"
        return (
            f"每位买家的 R、F、M 与全体买家的{center}比较（R 距上次购买 {centers['R']:,.1f} 天；"
            f"F 购买 {centers['F']:,.1f} 次；M 累计消费 {money(centers['M'])}）：天数少于它 R 为高，"
            "次数、消费高于它 F、M 为高；三项高低组合成八类。"
        )
    center = "mean" if seg.details["center"] == "mean" else "median"
    return (
        f"Each buyer's R, F and M against the buyers' {center} (R {centers['R']:,.1f} days "
        f"since the last purchase; F {centers['F']:,.1f} purchases; M {money(centers['M'])} "
        "spent): fewer days is a high R, more purchases or spend a high F or M; the three "
        "highs and lows make the eight classes."
    )


def _value_tier(seg: Segmentation, lang: str) -> str:
    high, mid, _ = seg.details["cumulative_shares"]
    floor = seg.details["min_spend"]
    names = _names(seg, lang)
    if lang == "zh":
        return (
            f"买家按累计净消费从高到低排序，贡献前 {high:.0%} 收入的为{names['high']}"
            f"（本月门槛：累计消费 ≥ {money(floor['high'])}），其后 {mid:.0%} 为{names['mid']}"
            f"（≥ {money(floor['mid'])}），其余为{names['low']}；{_non_buyers(seg, lang)}。"
        )
    return (
        f"Buyers ranked by net spend, highest first: those making the first {high:.0%} of "
        f"revenue are {names['high']} (this month: spend ≥ {money(floor['high'])}), the next "
        f"{mid:.0%} {names['mid']} (≥ {money(floor['mid'])}), the rest {names['low']}; "
        f"{_non_buyers(seg, lang)}."
    )


def _non_buyers(seg: Segmentation, lang: str) -> str:
    """Who the potential and the fully refunded segments hold, as one clause."""
    names = _names(seg, lang)
    if lang == "zh":
        return (
            f"从未购买的为{names['potential']}，购买均已全额退款（净消费不为正）的为"
            f"{names['fully_refunded']}"
        )
    return (
        f"customers who never bought are {names['potential']}, those whose every purchase was "
        f"refunded in full (net spend not positive) {names['fully_refunded']}"
    )


def _ladder(seg: Segmentation, lang: str, measure: str, keys: tuple[str, ...], lowest: str) -> str:
    """ "<measure> ≥ x: <name>, ≥ y: <name>, else <lowest name>", highest first."""
    thresholds = seg.details["thresholds"]
    names = _names(seg, lang)
    if lang == "zh":
        steps = "，".join(f"≥ {_number(thresholds[k])} 为{names[k]}" for k in keys)
        return f"{measure} {steps}，其余为{names[lowest]}"
    steps = ", ".join(f"≥ {_number(thresholds[k])} {names[k]}" for k in keys)
    return f"{measure} {steps}, otherwise {names[lowest]}"


def _member_grade(seg: Segmentation, lang: str) -> str:
    measure = {"zh": "累计净消费", "en": "Net spend"}[lang]
    ladder = _ladder(seg, lang, measure, ("diamond", "gold", "silver"), "regular")
    return ladder + (
        "（含从未购买与全额退款的客户）。"
        if lang == "zh"
        else " (never bought and fully refunded included)."
    )


def _frequency_tier(seg: Segmentation, lang: str) -> str:
    per_month = seg.details["basis"] == "orders_per_month"
    measure = {
        "zh": "每月购买次数（按客户时长折算）" if per_month else "购买次数",
        "en": "Purchases per month of tenure" if per_month else "Purchases",
    }[lang]
    ladder = _ladder(seg, lang, measure, ("high", "mid"), "low")
    if lang == "zh":
        return f"{ladder}；{_non_buyers(seg, lang)}。"
    return f"{ladder}; {_non_buyers(seg, lang)}."


def _interaction_tier(seg: Segmentation, lang: str) -> str:
    window = seg.details["window_days"]
    measure = {"zh": f"近 {window} 天互动次数", "en": f"Interactions in the last {window} days"}
    ladder = _ladder(seg, lang, measure[lang], ("high", "mid"), "low")
    return ladder + ("（未购买的客户同样分层）。" if lang == "zh" else " (never-bought included).")


def _lifecycle(seg: Segmentation, lang: str) -> str:
    d = seg.details
    names = _names(seg, lang)
    sleeping, churned = d["sleeping"], d["churned"]
    if lang == "zh":
        steps = [
            f"{names['potential']}：从未购买",
            f"{names['fully_refunded']}：买过，但每笔购买都已全额退款（净消费不为正）",
            f"{names['churned']}：距上次购买天数超过流失上限",
            f"{names['sleeping']}：距上次购买天数超过沉睡上限",
            f"{names['new']}：首次购买在 {d['new_days']:.0f} 天内",
            f"{names['loyal']}：购买 ≥ {d['loyal_min_orders']:.0f} 次",
            f"{names['active']}：其余买家",
        ]
        limits = (
            "上限 = 该客户自己的平均购买间隔 × 系数，并限制在区间内："
            f"沉睡 ×{sleeping['gap_factor']:g}，[{sleeping['min_days']:.0f}, "
            f"{sleeping['max_days']:.0f}] 天；流失 ×{churned['gap_factor']:g}，"
            f"[{churned['min_days']:.0f}, {churned['max_days']:.0f}] 天；只买过一次的客户直接用 "
            f"{sleeping['max_days']:.0f} / {churned['max_days']:.0f} 天。"
        )
        title = "规则（按顺序取第一条符合的）："
    else:
        steps = [
            f"{names['potential']}: never bought",
            f"{names['fully_refunded']}: bought, but every purchase was refunded in full "
            "(net spend not positive)",
            f"{names['churned']}: days since the last purchase beyond the churn limit",
            f"{names['sleeping']}: days since the last purchase beyond the sleep limit",
            f"{names['new']}: first purchase within {d['new_days']:.0f} days",
            f"{names['loyal']}: at least {d['loyal_min_orders']:.0f} purchases",
            f"{names['active']}: every other buyer",
        ]
        limits = (
            "A limit is the customer's own mean gap between purchases times a factor, clipped: "
            f"sleeping {sleeping['gap_factor']:g}×, within [{sleeping['min_days']:.0f}, "
            f"{sleeping['max_days']:.0f}] days; churned {churned['gap_factor']:g}×, within "
            f"[{churned['min_days']:.0f}, {churned['max_days']:.0f}] days; one-time buyers use "
            f"{sleeping['max_days']:.0f} / {churned['max_days']:.0f} days."
        )
        title = "Rules (the first that applies wins):"
    listed = "\n".join(f"{i}. {step}" for i, step in enumerate(steps, start=1))
    return f"{title}\n\n{listed}\n\n{limits}"


def _needs(seg: Segmentation, lang: str) -> str:
    d = seg.details
    names = _names(seg, lang)
    ratio, breadth = d["premium_min_price_ratio"], d["personalised_min_categories"]
    if lang == "zh":
        return (
            f"平均单价 ≥ 品类中位数的 {ratio:g} 倍为{names['premium']}；否则购买过 ≥ "
            f"{breadth:.0f} 个品类为{names['personalised']}；其余为{names['basic']}；"
            f"没有带单价和品类的购买记录的为{names['no_products']}。"
        )
    return (
        f"Mean unit price ≥ {ratio:g}× the category median: {names['premium']}; otherwise "
        f"≥ {breadth:.0f} categories: {names['personalised']}; the rest {names['basic']}; "
        f"no priced, categorised purchase: {names['no_products']}."
    )


def fitted_parameters(summary: Mapping[str, Any]) -> str:
    """A model's fitted parameters as the papers write them: ``r = 0.2426, α = 4.414``."""
    return ", ".join(
        f"{PARAMETER_SYMBOLS.get(name, name)} = {parameter(value)}"
        for name, value in summary["params"].items()
    )


def _clv_tier(seg: Segmentation, lang: str) -> str:
    d = seg.details
    purchase, spend = d["purchase_model"], d["spend_model"]
    names = _names(seg, lang)
    unit = _PERIOD.get(round(purchase["time_unit_days"]), {"zh": "期", "en": "periods"})[lang]
    if d["method"] == "quantile":
        (q_low, q_high), (low, high) = d["quantiles"], d["clv_cuts"]
        tiers = {
            "zh": f"CLV 低于第 {q_low:.0%} 分位（{money(low)}）为{names['low']}，第 {q_high:.0%} 分位"
            f"（{money(high)}）及以上为{names['high']}，其间为{names['mid']}",
            "en": f"CLV below its {q_low:.0%} quantile ({money(low)}) is {names['low']}, from "
            f"its {q_high:.0%} quantile ({money(high)}) {names['high']}, between "
            f"{names['mid']}",
        }[lang]
    else:
        high_share, mid_share, _ = d["cumulative_shares"]
        tiers = {
            "zh": f"按预测 CLV 从高到低，占 CLV 总额前 {high_share:.0%} 的为{names['high']}，其后 "
            f"{mid_share:.0%} 为{names['mid']}，其余为{names['low']}",
            "en": f"customers by predicted CLV, highest first: the first {high_share:.0%} of "
            f"total CLV {names['high']}, the next {mid_share:.0%} {names['mid']}, the rest "
            f"{names['low']}",
        }[lang]
    if lang == "zh":
        return (
            f"模型：{purchase['title']}（购买次数）+ Gamma-Gamma（客单价），预测期 "
            f"{d['horizon_days']:.0f} 天，月折现率 {d['monthly_discount_rate']:.1%}；{tiers}。"
            f"拟合参数：{purchase['title']} {fitted_parameters(purchase)}（时间单位：{unit}）；"
            f"Gamma-Gamma {fitted_parameters(spend)}。"
        )
    return (
        f"Model: {purchase['title']} (purchases) + Gamma-Gamma (spend per purchase), "
        f"{d['horizon_days']:.0f}-day horizon, {d['monthly_discount_rate']:.1%} discount a "
        f"month; {tiers}. Fitted: {purchase['title']} {fitted_parameters(purchase)} (time "
        f"unit: {unit}); Gamma-Gamma {fitted_parameters(spend)}."
    )


def _churn_risk(seg: Segmentation, lang: str) -> str:
    low, high = seg.details["p_alive_thresholds"]
    names = _names(seg, lang)
    title = MODEL_TITLES[seg.details["model"]]
    if lang == "zh":
        return (
            f"P(存活) < {low:g} 为{names['high_risk']}，< {high:g} 为{names['mid_risk']}，"
            f"其余为{names['low_risk']}；P(存活) 来自 {title} 模型（与 CLV 分层同一次拟合）。"
        )
    return (
        f"P(alive) < {low:g}: {names['high_risk']}, < {high:g}: {names['mid_risk']}, "
        f"otherwise {names['low_risk']}; P(alive) from the {title} model (the CLV tiers' fit)."
    )


def _skipped_reason(reason: str, lang: str) -> str:
    """Why a clustering feature was left out (segmentation.clustering.cluster_features)."""
    if lang == "en":
        return reason
    missing = re.fullmatch(r"missing for (\d+) buyers", reason)
    if missing:
        return f"{int(missing.group(1)):,} 名买家缺失"
    return {"not in the snapshot": "数据中没有", "constant among buyers": "所有买家取值相同"}.get(
        reason, reason
    )


def _clusters(seg: Segmentation, lang: str) -> str:
    d = seg.details
    comma = "、" if lang == "zh" else ", "
    listed = comma.join(
        _feature(column, lang) + (" (log1p)" if transform == "log1p" else "")
        for column, transform in d["features"].items()
    )
    skipped = comma.join(
        f"{_feature(column, lang)}（{_skipped_reason(reason, lang)}）"
        if lang == "zh"
        else f"{_feature(column, lang)} ({reason})"
        for column, reason in d["features_skipped"].items()
    )
    algorithm = _ALGORITHMS.get(d["algorithm"], d["algorithm"])
    if lang == "zh":
        return (
            f"{algorithm} 聚类，特征：{listed}，标准化后聚类；k = {d['k']}；"
            f"{d['n_clustered']:,} 名买家（拟合样本 {d['sample_size']:,} 名），"
            f"稳定性用 {d['n_bootstrap']} 次自助重抽样检验。"
            + (f"未纳入的特征：{skipped}。" if skipped else "")
        )
    return (
        f"{algorithm} on {listed}, standardised; k = {d['k']}; "
        f"{d['n_clustered']:,} buyers (fitted on a sample of {d['sample_size']:,}), stability "
        f"from {d['n_bootstrap']} bootstrap resamples."
        + (f" Features left out: {skipped}." if skipped else "")
    )


# Rule schemes are introduced as rules; these say it their own way (model-based ones name
# their model first).
_OWN_INTRODUCTION = ("clv_tier", "clusters", "lifecycle")
_RULES: dict[str, Callable[[Segmentation, str], str]] = {
    "rfm_named": _rfm_named,
    "rfm_8class": _rfm_8class,
    "value_tier": _value_tier,
    "member_grade": _member_grade,
    "frequency_tier": _frequency_tier,
    "interaction_tier": _interaction_tier,
    "lifecycle": _lifecycle,
    "needs": _needs,
    "clv_tier": _clv_tier,
    "churn_risk": _churn_risk,
    "clusters": _clusters,
}


def scheme_rules(segmentation: Segmentation, lang: str) -> str:
    """The rule, thresholds and parameters ``segmentation`` used, as one paragraph in
    ``lang``; "" for a scheme without a description here."""
    describe = _RULES.get(segmentation.scheme)
    if describe is None:
        return ""
    prefix = "" if segmentation.scheme in _OWN_INTRODUCTION else _RULE[lang]
    return prefix + describe(segmentation, lang)
