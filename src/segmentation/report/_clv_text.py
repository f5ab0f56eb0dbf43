"""The CLV uncertainty section's sentences, each built from the numbers it states: the shop's
expected revenue with its intervals, the backtest's holdout total against its interval (and
whether it covered what happened), and the Brier scores of the model and the schemes."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from segmentation.clv import MODEL_TITLES, HoldoutCheck, ProbabilityCalibration
from segmentation.clv import interval_columns as columns_of
from segmentation.report._numbers import count, money

__all__ = ["brier_sentence", "holdout_sentence", "level_name", "shop_sentence", "source_title"]

_PERIOD = {1: {"zh": "天", "en": "days"}, 7: {"zh": "周", "en": "weeks"}}


def level_name(level: float) -> str:
    """``0.95`` -> ``95%``."""
    return f"{round(100 * level):d}%"


def _range(low: float, high: float, lang: str, *, as_money: bool) -> str:
    show = money if as_money else count
    return f"{show(low)}–{show(high)}" if lang == "zh" else f"{show(low)} to {show(high)}"


def shop_sentence(
    shop: pd.Series, *, levels: tuple[float, ...], horizon_days: float, resamples: int, lang: str
) -> str:
    """The shop's expected revenue over the horizon with each interval."""
    parts = []
    for level in levels:
        low, high = columns_of("revenue", level)
        span = _range(shop[low], shop[high], lang, as_money=True)
        parts.append(
            f"{level_name(level)} 区间 {span}" if lang == "zh" else f"{level_name(level)}: {span}"
        )
    days = f"{horizon_days:.0f}"
    if lang == "zh":
        return (
            f"未来 {days} 天全店预期收入 **{money(shop['revenue'])}**（{'；'.join(parts)}），"
            f"区间来自 {resamples} 次按客户自助重抽样后重新拟合的模型参数。"
        )
    return (
        f"Expected revenue over the next {days} days: **{money(shop['revenue'])}** "
        f"({'; '.join(parts)}), the intervals from {resamples} customer bootstrap refits of "
        "the models."
    )


def holdout_sentence(check: HoldoutCheck, *, lang: str) -> str:
    """The holdout's total against the forecast's widest interval, and what that says."""
    row = check.widest
    level = level_name(float(check.intervals.index[-1]))
    low, high = float(row["low"]), float(row["high"])
    unit = _PERIOD.get(check.period_days, {"zh": "期", "en": "periods"})[lang]
    title = MODEL_TITLES.get(check.model, check.model)
    expected, actual = count(check.expected), count(check.actual)
    span = _range(low, high, lang, as_money=False)
    if lang == "zh":
        said = (
            f"回测预测期 {check.holdout_days} 天：{title} 预测复购{unit}数 {expected}"
            f"（{level} 区间 {span}），实际 {actual}"
        )
        if bool(row["covered"]):
            return said + "，落在区间内。"
        verdict = (
            "高于区间上限：模型低估了预测期"
            if check.actual > high
            else "低于区间下限：模型高估了预测期"
        )
        return said + f"，{verdict}。"
    said = (
        f"Backtest holdout of {check.holdout_days} days: {title} expected {expected} repeat "
        f"purchase {unit} ({level} interval {span}); {actual} happened"
    )
    if bool(row["covered"]):
        return said + ", inside the interval."
    if check.actual > high:
        return said + ", above the interval: the model under-forecast the holdout."
    return said + ", below the interval: the model over-forecast the holdout."


def source_title(
    source: str, calibration: ProbabilityCalibration, titles: Mapping[str, str]
) -> str:
    """``"model"`` as the model's name (e.g. ``BG/NBD``), a scheme as its title."""
    if source == "model":
        return MODEL_TITLES.get(calibration.model, calibration.model)
    return titles.get(source, source)


def brier_sentence(
    calibration: ProbabilityCalibration, *, titles: Mapping[str, str], lang: str
) -> str:
    """The model's Brier score against the best and worst scheme's."""
    brier = calibration.brier["brier"]
    schemes = brier.drop("model", errors="ignore")
    days = calibration.horizon_days
    share = f"{calibration.bought_share:.1%}"
    if "model" not in brier.index or schemes.empty:
        return (
            f"{days} 天内是否购买：无法比较模型与分层方案的 Brier 分数。"
            if lang == "zh"
            else f"Buying in {days} days: the model and the schemes cannot be compared."
        )
    model = float(brier["model"])
    best, worst = str(schemes.idxmin()), str(schemes.idxmax())
    name = source_title("model", calibration, titles)
    best_title, worst_title = titles.get(best, best), titles.get(worst, worst)
    beats = model < float(schemes.min())
    if lang == "zh":
        verdict = "优于所有分层方案" if beats else f"不如{best_title}"
        return (
            f"{days} 天内是否购买（实际购买占比 {share}）：{name} 概率的 Brier 分数 {model:.3f}"
            f"（越低越好），{verdict}；分层方案中最好的是{best_title}（{float(schemes[best]):.3f}），"
            f"最差的是{worst_title}（{float(schemes[worst]):.3f}）。"
        )
    verdict = "better than every scheme" if beats else f"not as good as {best_title}"
    return (
        f"Buying in {days} days ({share} of customers did): the Brier score of {name}'s "
        f"probability is {model:.3f} (lower is better), {verdict}; the best scheme is "
        f"{best_title} ({float(schemes[best]):.3f}), the worst {worst_title} "
        f"({float(schemes[worst]):.3f})."
    )
