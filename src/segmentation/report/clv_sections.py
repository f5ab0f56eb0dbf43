"""The CLV notebook's uncertainty cells, one call per cell: the shop's expected revenue and the
per-segment CLV with their bootstrap intervals, the backtest's holdout total against its
interval, and the probability of buying scored (Brier, reliability curve) against the schemes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd
from IPython.display import Markdown, display

from segmentation.analysis import MonthAnalysis
from segmentation.clv import interval_columns
from segmentation.formatting import styled
from segmentation.plots.clv import plot_reliability
from segmentation.report._clv_text import (
    brier_sentence,
    holdout_sentence,
    level_name,
    shop_sentence,
    source_title,
)

if TYPE_CHECKING:
    from pandas.io.formats.style import Styler

__all__ = [
    "brier_table",
    "clv_interval_summary",
    "show_clv_calibration",
    "show_clv_segment_intervals",
]

_UNAVAILABLE = {
    "zh": "CLV 预测不可用，因此没有区间：{reason}",
    "en": "The CLV forecast is unavailable, so there are no intervals: {reason}",
}
_SEGMENT_HEADERS = {
    "zh": {
        "segment": "分层",
        "customers": "买家数",
        "clv_mean": "人均 CLV",
        "clv_total": "CLV 合计",
        "interval": "{name} {level} 区间",
    },
    "en": {
        "segment": "Segment",
        "customers": "Buyers",
        "clv_mean": "Mean CLV",
        "clv_total": "Total CLV",
        "interval": "{name} {level} interval",
    },
}
_SEGMENT_NOTE = {
    "zh": "按{scheme}分层（本月推荐方案）；每位客户的区间在 {sampled:,} 名客户的分层抽样上计算，"
    "分层与全店合计按样本的比例放大到全部 {n:,} 名买家。",
    "en": "Segments of {scheme} (this month's recommended scheme); the draws run on a "
    "stratified sample of {sampled:,} customers and segment and shop totals are scaled from it "
    "to all {n:,} buyers.",
}


def clv_interval_summary(analysis: MonthAnalysis, *, lang: str) -> Markdown:
    """The shop's expected revenue with its intervals, and the backtest's holdout total
    against its interval (or why either is missing)."""
    lines = []
    intervals = analysis.clv_intervals
    if intervals is None:
        reason = analysis.clv_unavailable or "—"
        lines.append(_UNAVAILABLE[lang].format(reason=reason))
    else:
        lines.append(
            shop_sentence(
                intervals.shop,
                levels=intervals.levels,
                horizon_days=intervals.horizon_days,
                resamples=intervals.resamples,
                lang=lang,
            )
        )
    if analysis.clv_holdout is not None:
        lines.append(holdout_sentence(analysis.clv_holdout, lang=lang))
    return Markdown("\n\n".join(lines))


def show_clv_segment_intervals(analysis: MonthAnalysis, *, lang: str) -> None:
    """Which segments and sample, then each segment's mean and total CLV with their
    intervals, in the scheme's order."""
    intervals = analysis.clv_intervals
    if intervals is None:
        return
    headers = _SEGMENT_HEADERS[lang]
    segmentation = analysis.current.segmentations[intervals.scheme]
    names = segmentation.profile[f"name_{lang}"]
    frame = intervals.segments.reindex([k for k in names.index if k in intervals.segments.index])
    table = pd.DataFrame(
        {headers["customers"]: frame["customers"].to_numpy()},
        index=pd.Index(names.reindex(frame.index).to_numpy(), name=headers["segment"]),
    )
    kinds = {headers["customers"]: "count"}
    for measure in ("clv_mean", "clv_total"):
        table[headers[measure]] = frame[measure].to_numpy()
        kinds[headers[measure]] = "money"
        for level in intervals.levels:
            low, high = interval_columns(measure, level)
            header = headers["interval"].format(name=headers[measure], level=level_name(level))
            table[header] = [
                f"{a:,.2f}–{b:,.2f}" for a, b in zip(frame[low], frame[high], strict=True)
            ]
            kinds[header] = "text"
    display(
        Markdown(
            _SEGMENT_NOTE[lang].format(
                scheme=segmentation.display_title(lang),
                sampled=intervals.sampled,
                n=intervals.n_customers,
            )
        )
    )
    display(styled(table, kinds))


def brier_table(analysis: MonthAnalysis, *, lang: str) -> Styler | None:
    """The Brier score of the model and of each scheme, best first."""
    calibration = analysis.clv_calibration
    if calibration is None or calibration.brier.empty:
        return None
    titles = {name: t[lang] for name, t in analysis.scheme_titles().items()}
    header = "预测来源" if lang == "zh" else "Forecast from"
    table = pd.DataFrame(
        {"Brier": calibration.brier["brier"].to_numpy()},
        index=pd.Index(
            [source_title(s, calibration, titles) for s in calibration.brier.index], name=header
        ),
    )
    return styled(table, {"Brier": "score"})


def show_clv_calibration(analysis: MonthAnalysis, *, lang: str, plot_lang: str) -> None:
    """The Brier sentence, the Brier table and the model's reliability curve."""
    calibration = analysis.clv_calibration
    if calibration is None:
        return
    titles = {name: t[lang] for name, t in analysis.scheme_titles().items()}
    display(Markdown(brier_sentence(calibration, titles=titles, lang=lang)))
    table = brier_table(analysis, lang=lang)
    if table is not None:
        display(table)
    if "model" in calibration.brier.index and not calibration.reliability.empty:
        display(
            plot_reliability(
                calibration.reliability,
                model_title=source_title("model", calibration, titles),
                horizon_days=calibration.horizon_days,
                brier=float(calibration.brier["brier"].to_dict()["model"]),
                lang=plot_lang,
            )
        )
