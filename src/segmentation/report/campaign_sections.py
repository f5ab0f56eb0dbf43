"""What the campaigns notebook shows, one call per cell: did last month's actions work? Per
campaign and segment, treated against control (rates, uplift with its interval, incremental
revenue) and one sentence each; without a campaign log, how to start one. Also the measured
effect the playbook shows beside each action (feeding back, 实施与反馈)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
from IPython.display import HTML, Markdown, display

from segmentation.analysis import MonthAnalysis
from segmentation.config import load_config
from segmentation.report._campaign_text import effect_cell, effect_sentence, points, start_a_log
from segmentation.report._numbers import NO_NUMBER, count, money, percent

__all__ = [
    "campaign_heading",
    "campaign_rows",
    "campaign_sentences",
    "campaign_tables",
    "channel_name",
    "measured_effects",
    "segment_name",
]

_HEADERS = {
    "zh": ["分层", "天数", "触达组人数", "对照组人数", "触达组购买率", "对照组购买率",
           "提升（百分点）", "95% 区间", "触达组人均收入", "对照组人均收入", "人均收入提升区间",
           "人均退款（触达/对照）", "增量收入", "结论"],
    "en": ["Segment", "Days", "Treated", "Control", "Treated buy rate", "Control buy rate",
           "Uplift (pp)", "95% interval", "Treated revenue / customer",
           "Control revenue / customer", "Revenue uplift interval",
           "Refunds / customer (treated / control)", "Incremental revenue", "Verdict"],
}  # fmt: skip


def _settings(config: str | Path | Mapping[str, Any] | None) -> Mapping[str, Any]:
    return load_config(config or None)


def segment_name(analysis: MonthAnalysis, key: str, *, lang: str) -> str:
    """A segment's name in ``lang`` (its key when the scheme does not name it)."""
    assert analysis.campaigns is not None
    names = analysis.campaigns.segments.names
    return str(names.loc[key, f"name_{lang}"]) if key in names.index else key


def channel_name(channel: str, *, lang: str, settings: Mapping[str, Any]) -> str:
    """A channel's name in ``lang`` (as written when it is not a known channel)."""
    known = settings["campaigns"]["channels"]
    return str(known[channel][lang]) if channel in known else channel


def campaign_heading(
    analysis: MonthAnalysis, *, lang: str, config: str | Path | Mapping[str, Any] | None = None
) -> None:
    """How the campaigns were measured, or how to start a campaign log when there is none."""
    settings = _settings(config)
    section = settings["campaigns"]
    windows = [int(d) for d in section["windows_days"]]
    results = analysis.campaigns
    if results is None or results.table.empty:
        share = float(section["holdout"]["control_share"])
        display(Markdown(start_a_log(lang=lang, control_share=share, windows=windows)))
        return
    table = results.table
    n_campaigns = table["campaign_id"].nunique()
    contacts = len(results.outcomes)
    days = " / ".join(str(d) for d in windows)
    min_control = int(section["min_control"])
    scheme = results.segments.scheme
    measured_in = analysis.current.segmentations.get(scheme)
    title = measured_in.display_title(lang) if measured_in is not None else scheme
    if lang == "zh":
        text = (
            f"{n_campaigns} 个活动、{count(contacts)} 条触达记录。每位客户按活动前一天所在的分层"
            f"（{title}）归类；比较触达组与随机对照组在触达后 {days} 天内的购买率、"
            "人均收入和退款。购买率提升的 95% 区间用 Newcombe 混合得分法，人均收入用固定种子的"
            f"自助重抽样。对照组少于 {min_control} 人的分层不下结论；区间全部大于零为「保持」，否则为「调整」。"
        )
    else:
        text = (
            f"{n_campaigns} campaigns, {count(contacts)} contacts. Each customer is counted in "
            f"the segment ({title}) they were in the day before the "
            f"campaign; treated and random control customers are compared over the {days} days "
            "after contact on buyers, revenue and refunds per customer. The 95% interval of the "
            "uplift in buyers is Newcombe's hybrid score interval; revenue's is a seeded "
            f"bootstrap. With fewer than {min_control} control customers a segment gets no "
            "verdict; an interval wholly above zero says keep it, anything else change it."
        )
    if results.contacts_after_as_of:
        text += (
            f"（{count(results.contacts_after_as_of)} 条触达晚于本月截止日，留待下月。）"
            if lang == "zh"
            else f" ({count(results.contacts_after_as_of)} contacts after the as-of day are "
            "left for next month.)"
        )
    display(Markdown(text))


def campaign_rows(
    analysis: MonthAnalysis, *, lang: str, config: str | Path | Mapping[str, Any] | None = None
) -> dict[str, pd.DataFrame]:
    """Per campaign (titled with its channel), the table of treated against control."""
    settings = _settings(config)
    results = analysis.campaigns
    if results is None:
        return {}
    verdicts = settings["campaigns"]["verdicts"]
    shown: dict[str, pd.DataFrame] = {}
    for campaign_id, rows in results.table.groupby("campaign_id", sort=True):
        channel = channel_name(str(rows["channel"].iloc[0]), lang=lang, settings=settings)
        cells = [
            [
                segment_name(analysis, str(r["segment"]), lang=lang),
                str(int(r["window_days"])),
                count(r["n_treated"]),
                count(r["n_control"]),
                percent(r["rate_treated"]),
                percent(r["rate_control"]),
                points(r["uplift"]) if pd.notna(r["uplift"]) else NO_NUMBER,
                _range(r["uplift_low"], r["uplift_high"], points),
                money(r["revenue_treated"]),
                money(r["revenue_control"]),
                _range(r["revenue_uplift_low"], r["revenue_uplift_high"], money),
                f"{money(r['refunds_treated'])} / {money(r['refunds_control'])}",
                money(r["incremental_revenue"]),
                str(verdicts[r["verdict"]][lang]),
            ]
            for _, r in rows.iterrows()
        ]
        shown[f"{campaign_id} · {channel}"] = pd.DataFrame(cells, columns=_HEADERS[lang])
    return shown


def _range(low: float, high: float, shown: Any) -> str:
    if pd.isna(low) or pd.isna(high):
        return NO_NUMBER
    return f"{shown(low)} – {shown(high)}"


def campaign_tables(
    analysis: MonthAnalysis, *, lang: str, config: str | Path | Mapping[str, Any] | None = None
) -> None:
    """Each campaign's table (:func:`campaign_rows`), under its name and channel."""
    for title, table in campaign_rows(analysis, lang=lang, config=config).items():
        display(Markdown(f"#### {title}"))
        display(HTML(table.to_html(index=False, border=0, escape=True)))


def campaign_sentences(
    analysis: MonthAnalysis, *, lang: str, config: str | Path | Mapping[str, Any] | None = None
) -> list[str]:
    """One sentence per campaign and segment, from its verdict window's row, in ``lang``;
    displayed as a list."""
    settings = _settings(config)
    results = analysis.campaigns
    if results is None or results.table.empty:
        return []
    section = settings["campaigns"]
    table = _verdict_rows(results.table, int(section["verdict_window_days"]))
    sentences = [
        effect_sentence(
            row,
            segment=segment_name(analysis, str(row["segment"]), lang=lang),
            channel=channel_name(str(row["channel"]), lang=lang, settings=settings),
            min_control=int(section["min_control"]),
            lang=lang,
        )
        for _, row in table.iterrows()
    ]
    display(Markdown("\n".join(f"- {s}" for s in sentences)))
    return sentences


def _verdict_rows(table: pd.DataFrame, days: int) -> pd.DataFrame:
    """Each campaign and segment's row of the verdict window (else its longest window)."""
    ranked = table.assign(_wanted=table["window_days"] == days).sort_values(
        ["_wanted", "window_days"], ascending=False, kind="stable"
    )
    first = ranked.drop_duplicates(["campaign_id", "segment"])
    return table.loc[table.index.isin(first.index)]


def measured_effects(
    analysis: MonthAnalysis, scheme: str, *, lang: str, settings: Mapping[str, Any]
) -> pd.Series | None:
    """Last month's measured effect of each segment's action, for the playbook.

    Only for the scheme campaigns are measured in (``campaigns.scheme``); None for another
    scheme or without a campaign log. A segment reached by several campaigns shows each.

    Returns
    -------
    pandas.Series or None
        Indexed by segment key; "—" for a segment no campaign reached.
    """
    results = analysis.campaigns
    if results is None or results.table.empty or results.segments.scheme != scheme:
        return None
    keys = [str(k) for k in analysis.current.segmentations[scheme].profile.index]
    table = _verdict_rows(results.table, int(settings["campaigns"]["verdict_window_days"]))
    cells: dict[str, list[str]] = {}
    for _, row in table.iterrows():
        channel = channel_name(str(row["channel"]), lang=lang, settings=settings)
        cells.setdefault(str(row["segment"]), []).append(
            effect_cell(row, channel=channel, lang=lang)
        )
    joiner = "；" if lang == "zh" else "; "
    return pd.Series(
        [joiner.join(cells[k]) if k in cells else NO_NUMBER for k in keys], index=pd.Index(keys)
    )
