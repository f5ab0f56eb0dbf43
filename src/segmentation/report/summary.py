"""The report's first screen: the month in numbers, the recommended scheme and what to do first.

:func:`first_screen` renders three parts inside ``<div id="kit-summary">``, each marked with a
``data-kit`` attribute: ``kpis`` (customers, buyers, revenue and its change on last month,
new and lost customers, :func:`month_kpis`), ``recommendation`` (the recommended scheme in
one sentence, :func:`recommendation_sentence`, with its segments' sizes and their change on
last month) and ``actions`` (the segments with the most value at stake,
:func:`segmentation.report.playbook.contact_plan`). Every sentence is generated from the
numbers it states; the page carries its own small style sheet, so it reads the same without
the report's.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from IPython.display import HTML

from segmentation.analysis import MonthAnalysis
from segmentation.config import load_config
from segmentation.features import FULLY_REFUNDED, POTENTIAL, state_counts
from segmentation.i18n import check_lang, localized
from segmentation.report._numbers import count, money, percent, signed_percent
from segmentation.report.playbook import contact_plan, size_change, value_rule

__all__ = ["MonthKPIs", "first_screen", "month_kpis", "recommendation_sentence"]

_LIFECYCLE = "lifecycle"
_CHURNED = "churned"


@dataclass(frozen=True)
class MonthKPIs:
    """The month in numbers.

    Attributes
    ----------
    as_of, previous_as_of : pandas.Timestamp
        The report's as-of day and last month's.
    partial : bool
        The data ends inside the month: ``as_of`` is before the month's last day.
    customers : int
        Customers known on ``as_of``, those who never bought included.
    never_bought : int
        Of them, those who have never bought (potential customers).
    fully_refunded : int
        Of them, those who bought but refunded every purchase
        (:func:`segmentation.features.customer_states`).
    buyers : int
        Customers with at least one purchase this month (an order not refunded in full).
    revenue, previous_revenue : float
        Net amount of every order row dated this month (up to ``as_of``) and last month:
        guest orders included, refunds booked in the month subtracted.
    new_customers : int
        Customers whose first purchase ever is this month.
    lost_customers : int or None
        Customers who moved into the lifecycle's churned stage this month (churned on
        ``as_of``, not on ``previous_as_of``); None without the lifecycle scheme.
    """

    as_of: pd.Timestamp
    previous_as_of: pd.Timestamp
    partial: bool
    customers: int
    never_bought: int
    fully_refunded: int
    buyers: int
    revenue: float
    previous_revenue: float
    new_customers: int
    lost_customers: int | None

    @property
    def revenue_change(self) -> float:
        """This month's revenue against last month's, as a fraction; NaN when last month had
        none."""
        if self.previous_revenue <= 0:
            return float("nan")
        return (self.revenue - self.previous_revenue) / self.previous_revenue


def month_kpis(orders: pd.DataFrame, analysis: MonthAnalysis) -> MonthKPIs:
    """The month's KPIs from the orders and the month's analysis.

    Parameters
    ----------
    orders : pandas.DataFrame
        The canonical orders the analysis was computed from.
    analysis : MonthAnalysis

    Returns
    -------
    MonthKPIs
    """
    as_of, previous_as_of = analysis.as_of, analysis.previous_as_of
    start, end = _month_window(as_of)
    previous_start, previous_end = _month_window(previous_as_of)
    timestamps = orders["order_ts"]
    amounts = orders["amount"].to_numpy(dtype=float)
    snapshot = analysis.snapshot
    states = state_counts(snapshot)

    def revenue(since: pd.Timestamp, until: pd.Timestamp) -> float:
        return float(np.nansum(amounts[((timestamps >= since) & (timestamps < until)).to_numpy()]))

    def within_month(column: str) -> int:
        return int(((snapshot[column] >= start) & (snapshot[column] < end)).sum())

    return MonthKPIs(
        as_of=as_of,
        previous_as_of=previous_as_of,
        partial=as_of < as_of.to_period("M").end_time.normalize(),
        customers=len(snapshot),
        never_bought=states[POTENTIAL],
        fully_refunded=states[FULLY_REFUNDED],
        buyers=within_month("last_purchase"),
        revenue=revenue(start, end),
        previous_revenue=revenue(previous_start, previous_end),
        new_customers=within_month("first_purchase"),
        lost_customers=_lost_customers(analysis),
    )


def _month_window(as_of: pd.Timestamp) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The first instant of ``as_of``'s month and the first instant after ``as_of``."""
    return as_of.to_period("M").start_time, as_of.normalize() + pd.Timedelta(days=1)


def _lost_customers(analysis: MonthAnalysis) -> int | None:
    """Customers churned on the as-of day who were not churned a month before."""
    if _LIFECYCLE not in analysis.current.segmentations or (
        _LIFECYCLE not in analysis.previous.segmentations
    ):
        return None
    into_churned = analysis.migration(_LIFECYCLE).counts[_CHURNED]
    return int(into_churned.sum() - into_churned.get(_CHURNED, 0))


def recommendation_sentence(analysis: MonthAnalysis, *, lang: str) -> str:
    """The recommended scheme in one plain sentence, from the verdict and the ranked scores.

    States the scheme, how many schemes were ranked, the share of future revenue its best
    20% of customers brought in the backtest and its bootstrap support; when the top two
    cannot be told apart, says so with the runner-up's support.
    """
    verdict, scores = analysis.verdict, analysis.scores
    if verdict.scheme is None:
        return verdict.sentence[lang]
    titles = analysis.scheme_titles()
    title = localized(titles[verdict.scheme], lang)
    n_ranked = int(scores["rank"].notna().sum())
    top = percent(scores.loc[verdict.scheme, "top20_revenue_share"])
    support = percent(verdict.support, digits=0)
    runner = localized(titles[verdict.runner_up], lang) if verdict.runner_up else ""
    runner_support = (
        percent(scores.loc[verdict.runner_up, "support"], digits=0) if verdict.runner_up else ""
    )
    if lang == "zh":
        text = (
            f"本月按「{title}」给客户分层：在 {n_ranked} 个参与比较的方案中，它的回测表现最好，"
            f"分层最高的 20% 客户带来了 {top} 的未来收入（随机为 20%），"
            f"自助重抽样中 {support} 的次数排第一。"
        )
        if runner and not verdict.clear:
            text += f"但它与「{runner}」（{runner_support}）难以区分，两者都可以用。"
        return text
    text = (
        f"Segment customers by {title} this month: of {n_ranked} schemes compared it did best "
        f"in the backtest, its top 20% of customers brought {top} of future revenue (20% by "
        f"chance), and it ranked first in {support} of bootstrap replicates."
    )
    if runner and not verdict.clear:
        text += f" It cannot be told apart from {runner} ({runner_support}), so either will do."
    return text


def first_screen(
    orders: pd.DataFrame,
    analysis: MonthAnalysis,
    *,
    lang: str,
    config: str | Path | Mapping[str, Any] | None = None,
) -> HTML:
    """The report's first screen: KPIs, the recommendation and the actions that matter most.

    Parameters
    ----------
    orders : pandas.DataFrame
        The canonical orders the analysis was computed from.
    analysis : MonthAnalysis
    lang : {"zh", "en"}
    config : path or mapping, optional
        A config override (its ``playbook`` and ``contact``); the defaults when omitted or "".

    Returns
    -------
    IPython.display.HTML
        ``<div id="kit-summary">`` with the parts ``data-kit="kpis"``,
        ``data-kit="recommendation"`` and ``data-kit="actions"``.
    """
    check_lang(lang)
    settings = load_config(config or None)
    kpis = month_kpis(orders, analysis)
    scheme = analysis.verdict.scheme
    plan = contact_plan(analysis, scheme, settings=settings) if scheme else None
    n_actions = int(settings["contact"]["first_screen_actions"])
    words = _WORDS[lang]
    heading = words["as_of"].format(
        as_of=f"{kpis.as_of:%Y-%m-%d}", previous=f"{kpis.previous_as_of:%Y-%m}"
    )
    if kpis.partial:
        heading += f' <b class="ks-warn">{words["partial"]}</b>'
    parts = [
        f'<div id="kit-summary" lang="{lang}">',
        _STYLE,
        f'<p class="ks-head">{heading}</p>',
        _kpi_strip(kpis, lang=lang),
        '<div class="ks-row">',
        _recommendation(analysis, plan, lang=lang),
        _actions(analysis, plan, n_actions=n_actions, lang=lang),
        "</div></div>",
    ]
    return HTML("\n".join(parts))


def _kpi_strip(kpis: MonthKPIs, *, lang: str) -> str:
    words = _WORDS[lang]
    change = kpis.revenue_change
    trend = "ks-up" if change > 0 else "ks-down" if change < 0 else ""
    tiles = [
        _tile(
            "customers",
            count(kpis.customers),
            words["customers"],
            words["customers_tip"].format(
                never=count(kpis.never_bought), refunded=count(kpis.fully_refunded)
            ),
        ),
        _tile("buyers", count(kpis.buyers), words["buyers"], words["buyers_tip"]),
        _tile(
            "revenue",
            money(kpis.revenue),
            words["revenue"],
            words["revenue_tip"].format(previous=money(kpis.previous_revenue)),
            extra=words["vs_last_month"].format(
                change=f'<span class="ks-change {trend}" data-kpi="revenue_change">'
                f"{signed_percent(change)}</span>"
            ),
        ),
        _tile("new_customers", count(kpis.new_customers), words["new"], words["new_tip"]),
        _tile("lost_customers", count(kpis.lost_customers), words["lost"] + "*", words["lost_tip"]),
    ]
    footnote = f'<p class="ks-note">* {html.escape(words["lost_tip"])}</p>'
    return f'<section data-kit="kpis">{"".join(tiles)}</section>{footnote}'


def _tile(key: str, value: str, label: str, tip: str, *, extra: str = "") -> str:
    return (
        f'<div class="ks-kpi" title="{html.escape(tip)}"><div class="ks-label">'
        f'{html.escape(label)}</div><div class="ks-value" data-kpi="{key}">{value}</div>'
        + (f'<div class="ks-sub">{extra}</div>' if extra else "")
        + "</div>"
    )


def _recommendation(analysis: MonthAnalysis, plan: pd.DataFrame | None, *, lang: str) -> str:
    words = _WORDS[lang]
    sentence = html.escape(recommendation_sentence(analysis, lang=lang))
    scheme = analysis.verdict.scheme
    if scheme is None or plan is None:
        return f'<section data-kit="recommendation"><p class="ks-sentence">{sentence}</p></section>'
    title = html.escape(localized(analysis.scheme_titles()[scheme], lang))
    segments = plan.loc[list(analysis.current.segmentations[scheme].labels.cat.categories)]
    # A segment empty in both months (no never-bought customers in CDNOW) is left out.
    segments = segments.loc[(segments["size"] > 0) | (segments["previous_size"] > 0)]
    total = max(float(segments["size"].sum()), 1.0)
    # Bars are drawn in pixels, the largest 64 px, so the share beside them never runs into
    # the next column however narrow the page (a phone) makes the cell.
    widest = max(float(segments["size"].max()), 1.0) / 64
    rows = "".join(
        f'<tr data-segment="{html.escape(str(key))}"><td class="ks-name">'
        f"{html.escape(row[f'name_{lang}'])}</td>"
        f'<td class="ks-count">{count(row["size"])}</td>'
        f'<td class="ks-barcell"><span class="ks-bar" style="width:{row["size"] / widest:.0f}px">'
        f'</span><span class="ks-share">{percent(row["size"] / total)}</span></td>'
        f'<td class="ks-delta">{html.escape(size_change(row["size"], row["previous_size"], lang=lang))}</td></tr>'
        for key, row in segments[::-1].iterrows()
    )
    header = "".join(
        f'<th class="{css}">{html.escape(h)}</th>'
        for h, css in zip(words["segment_headers"], _SEGMENT_COLUMNS, strict=True)
    )
    return (
        f'<section data-kit="recommendation" data-scheme="{html.escape(scheme)}">'
        f'<h3>{words["recommended"]}{title}</h3><p class="ks-sentence">{sentence}</p>'
        f'<table class="ks-table"><thead><tr>{header}</tr></thead><tbody>{rows}</tbody></table>'
        "</section>"
    )


def _actions(
    analysis: MonthAnalysis, plan: pd.DataFrame | None, *, n_actions: int, lang: str
) -> str:
    words = _WORDS[lang]
    if plan is None:
        return f'<section data-kit="actions"><h3>{words["actions"]}</h3><p>—</p></section>'
    chosen = plan.loc[plan["size"] > 0].head(n_actions)
    items = "".join(_action(key, row, lang=lang) for key, row in chosen.iterrows())
    title = words["actions"].format(n=len(chosen))
    return (
        f'<section data-kit="actions"><h3>{html.escape(title)}</h3><ol class="ks-actions">'
        f'{items}</ol><p class="ks-note">{html.escape(value_rule(analysis, lang=lang))}</p>'
        "</section>"
    )


def _action(key: Any, row: pd.Series, *, lang: str) -> str:
    words = _WORDS[lang]
    return (
        f'<li data-segment="{html.escape(str(key))}"><div class="ks-act-head"><b>'
        f"{html.escape(row[f'name_{lang}'])}</b> · "
        f'<span data-action="customers">{count(row["size"])}</span> {words["people"]}</div>'
        f'<div class="ks-act-what">{html.escape(row[f"action_{lang}"] or "—")}</div>'
        f'<div class="ks-act-how">{html.escape(row[f"channel_{lang}"])} · '
        f"{html.escape(row[f'cadence_{lang}'])} · {words['value']} "
        f'<span data-action="value">{money(row["value_at_stake"])}</span></div></li>'
    )


# The classes of the recommended scheme's columns: name, customers, share bar, change.
_SEGMENT_COLUMNS = ("ks-name", "ks-count", "ks-barcell", "ks-delta")

_WORDS: dict[str, dict[str, Any]] = {
    "zh": {
        "as_of": "本月概览 · 截至 {as_of}，与上月（{previous}）相比",
        "partial": "数据在本月中途截止，本月不完整",
        "customers": "客户数",
        "customers_tip": "截至月末已知的客户，含从未购买的 {never} 人、购买均已全额退款的 {refunded} 人",
        "buyers": "本月购买客户",
        "buyers_tip": "本月至少有一笔未全额退款的订单的客户",
        "revenue": "本月收入",
        "revenue_tip": "本月全部订单行净额（含游客订单，扣除本月登记的退款）；上月 {previous}",
        "vs_last_month": "较上月 {change}",
        "new": "本月新客",
        "new_tip": "首次购买发生在本月的客户",
        "lost": "本月流失",
        "lost_tip": "流失客户：按生命周期方案，本月末处于「流失客户」阶段、上月末不在该阶段的客户。",
        "recommended": "推荐方案：",
        "segment_headers": ["分层", "人数", "占比", "较上月"],
        "actions": "本月最该做的 {n} 件事",
        "people": "人",
        "value": "预期价值",
    },
    "en": {
        "as_of": "This month · as of {as_of}, against last month ({previous})",
        "partial": "the data ends inside this month: the month is incomplete",
        "customers": "Customers",
        "customers_tip": (
            "Customers known at the month's end, {never} who never bought and {refunded} "
            "who refunded every purchase included"
        ),
        "buyers": "Buyers this month",
        "buyers_tip": "Customers with at least one order this month not refunded in full",
        "revenue": "Revenue this month",
        "revenue_tip": "Net amount of every order row this month (guest orders included, "
        "refunds booked this month subtracted); last month {previous}",
        "vs_last_month": "{change} vs last month",
        "new": "New customers",
        "new_tip": "Customers whose first purchase ever is this month",
        "lost": "Lost customers",
        "lost_tip": "Lost: customers in the lifecycle's Churned stage at this month's end who "
        "were not at last month's end.",
        "recommended": "Recommended: ",
        "segment_headers": ["segment", "customers", "share", "vs last month"],
        "actions": "The {n} things to do this month",
        "people": "customers",
        "value": "value at stake",
    },
}

# Scoped to the first screen and complete on its own: the report's style sheet may add to it.
_STYLE = """<style>
#kit-summary{font-family:-apple-system,"Segoe UI","PingFang SC","Hiragino Sans GB",
"Microsoft YaHei","Noto Sans CJK SC","WenQuanYi Micro Hei",sans-serif;font-size:14px;
line-height:1.4;color:#1f2328;max-width:1360px}
#kit-summary p{margin:0}
#kit-summary .ks-head{font-size:13px;color:#57606a;margin:0 0 6px}
#kit-summary .ks-warn{color:#9a6700}
#kit-summary section[data-kit=kpis]{display:flex;flex-wrap:wrap;gap:8px}
#kit-summary .ks-kpi{flex:1 1 140px;box-sizing:border-box;border:1px solid #d0d7de;border-radius:6px;
padding:6px 12px;background:#f6f8fa}
#kit-summary .ks-label{font-size:12px;color:#57606a}
#kit-summary .ks-value{font-size:22px;font-weight:600;font-variant-numeric:tabular-nums}
#kit-summary .ks-sub{font-size:12px;color:#57606a}
#kit-summary .ks-up{color:#1a7f37;font-weight:600}
#kit-summary .ks-down{color:#cf222e;font-weight:600}
#kit-summary .ks-note{font-size:12px;color:#57606a;margin:4px 0 10px}
#kit-summary .ks-row{display:flex;flex-wrap:wrap;gap:20px;align-items:flex-start}
#kit-summary section[data-kit=recommendation]{flex:1 1 560px;min-width:0}
#kit-summary section[data-kit=actions]{flex:1 1 460px;min-width:0}
#kit-summary h3{font-size:16px;margin:0 0 4px;padding:0}
#kit-summary .ks-sentence{margin:0 0 6px}
#kit-summary table.ks-table{border-collapse:collapse;width:100%;font-size:13px;
table-layout:auto;margin:0}
#kit-summary .ks-table th,#kit-summary .ks-table td{padding:2px 6px;border:0;
border-bottom:1px solid #eaeef2;text-align:right;white-space:nowrap;background:none}
#kit-summary .ks-table th{color:#57606a;font-weight:600}
#kit-summary .ks-table .ks-name{text-align:left;
white-space:normal}
#kit-summary td.ks-barcell,#kit-summary th.ks-barcell{min-width:120px;text-align:left;
white-space:nowrap}
#kit-summary .ks-bar{display:inline-block;height:10px;background:#54aeff;border-radius:2px;
vertical-align:middle;margin-right:6px}
#kit-summary .ks-share{font-size:12px;color:#57606a;vertical-align:middle}
#kit-summary ol.ks-actions{margin:0;padding-left:22px}
#kit-summary ol.ks-actions li{margin:0 0 8px}
#kit-summary .ks-act-what{margin:1px 0}
#kit-summary .ks-act-how{font-size:12px;color:#57606a}
#kit-summary .ks-act-how span{color:#1f2328;font-weight:600}
</style>"""
