"""What the over-time notebook shows, one call per cell: cohorts by first-purchase month, the
segment sizes at each month-end with the migration of the recommended scheme, and who moved
up or down in member grade and value tier this month (grade_moves.csv), and every
customer's grades over the last month-ends (grade_history.csv).

Every sentence is built from the numbers it states by a pure function (``*_sentence``) that
a test checks against the table it summarises; the display functions wrap them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from IPython.display import Markdown

from segmentation.analysis import MonthAnalysis
from segmentation.export import GRADE_HISTORY_FILE, GRADE_MOVES_FILE, SEGMENTS_FILE
from segmentation.features import CohortMatrix
from segmentation.formatting import styled
from segmentation.plots.over_time import plot_cohort_retention, plot_segment_sizes
from segmentation.report._tables import migration_table
from segmentation.schemes.history import SegmentHistory

if TYPE_CHECKING:
    from matplotlib.figure import Figure
    from pandas.io.formats.style import Styler

__all__ = [
    "cohort_heading",
    "cohort_plot",
    "cohort_revenue_table",
    "cohort_sentence",
    "cohort_table",
    "last_migration_table",
    "migration_heading",
    "migration_sentence",
    "moves_heading",
    "moves_sentence",
    "moves_table",
    "sizes_heading",
    "sizes_plot",
    "sizes_sentence",
    "sizes_table",
    "transitions_table",
]

_NONE = {
    "cohorts": {"zh": "没有首购客户，无法计算同期群。", "en": "No first purchases: no cohorts."},
    "history": {
        "zh": "没有可按月计算的规则分层。",
        "en": "No rule scheme could be computed month by month.",
    },
}


def _title(history: SegmentHistory, scheme: str, lang: str) -> str:
    return history.titles[scheme].get(lang) or history.titles[scheme]["en"]


# --- cohorts ----------------------------------------------------------------------------------


def cohort_sentence(cohorts: CohortMatrix, *, lang: str) -> str:
    """How many first bought in the cohorts shown, how many came back the month after, and
    how many of the oldest cohort still buy.

    Parameters
    ----------
    cohorts : CohortMatrix
        :func:`segmentation.features.cohort_matrix`.
    lang : {"zh", "en"}

    Returns
    -------
    str
        Markdown; the one-month return rate is the cohorts' buyers at offset 1 over their
        sizes (cohorts with offset 1 observed), i.e. weighted by cohort size.
    """
    sizes = cohorts.sizes
    filled = sizes.loc[sizes > 0]
    if filled.empty:
        return _NONE["cohorts"][lang]
    months, first_buyers = len(sizes), int(filled.sum())
    head = {
        "zh": f"近 {months} 个月共有 **{first_buyers:,}** 位客户首次购买，分属 "
        f"{len(filled)} 个首购月份。",
        "en": f"In the last {months} months **{first_buyers:,}** customers made their first "
        f"purchase, in {len(filled)} monthly cohorts.",
    }[lang]
    next_month = cohorts.buyers[1].loc[filled.index].dropna() if months > 1 else pd.Series()
    if next_month.empty:
        return head
    rate = float(next_month.sum() / filled.loc[next_month.index].sum())
    # The largest cohort (the earliest of equals), followed to its last observed month.
    largest = int(np.argmax(cohorts.sizes.to_numpy()))
    row = cohorts.retention.to_numpy()[largest]
    observed = row[~np.isnan(row)]
    month, size = cohorts.sizes.index[largest], int(cohorts.sizes.iloc[largest])
    if len(observed) < 2:
        tail = {"zh": "", "en": ""}
    else:
        tail = {
            "zh": f"最大的首购月份 {month}（{size:,} 人）在首购后第 {len(observed) - 1} 个月"
            f"仍有 {float(observed[-1]):.1%} 购买。",
            "en": f" Of the largest cohort, {month} ({size:,} customers), "
            f"{float(observed[-1]):.1%} bought in month {len(observed) - 1} after their first.",
        }
    return (
        head
        + {
            "zh": f"首购次月仍有购买的比例平均为 **{rate:.1%}**（按人数加权）。",
            "en": f" On average **{rate:.1%}** of a cohort bought again in the month after "
            "its first (weighted by size).",
        }[lang]
        + tail[lang]
    )


def cohort_heading(analysis: MonthAnalysis, *, lang: str) -> Markdown:
    """:func:`cohort_sentence` of the month's cohorts."""
    if analysis.cohorts is None:
        return Markdown(_NONE["cohorts"][lang])
    return Markdown(cohort_sentence(analysis.cohorts, lang=lang))


def cohort_plot(analysis: MonthAnalysis, *, plot_lang: str) -> Figure | None:
    """The retention heatmap (:func:`segmentation.plots.over_time.plot_cohort_retention`)."""
    if analysis.cohorts is None or not (analysis.cohorts.sizes > 0).any():
        return None
    return plot_cohort_retention(analysis.cohorts, lang=plot_lang)


_COHORT_HEADERS = {
    "zh": {"cohort": "首购月份", "size": "人数", "offset": "第{k}月"},
    "en": {"cohort": "first purchase", "size": "customers", "offset": "month {k}"},
}


def _cohort_frame(cohorts: CohortMatrix, values: pd.DataFrame, lang: str) -> pd.DataFrame:
    headers = _COHORT_HEADERS[lang]
    filled = cohorts.sizes.gt(0).to_numpy()
    table = values.loc[filled].copy()
    table.columns = [headers["offset"].format(k=k) for k in table.columns]
    table.insert(0, headers["size"], cohorts.sizes.loc[filled].to_numpy())
    table.index = pd.Index([str(p) for p in table.index], name=headers["cohort"])
    return table


def cohort_table(analysis: MonthAnalysis, *, lang: str) -> Styler | None:
    """The retention matrix: cohort size, then the share buying in each month after."""
    if analysis.cohorts is None:
        return None
    table = _cohort_frame(analysis.cohorts, analysis.cohorts.retention, lang)
    return styled(table, {column: "percent" for column in table.columns[1:]})


def cohort_revenue_table(analysis: MonthAnalysis, *, lang: str) -> Styler | None:
    """Net revenue per cohort member in each month after the first purchase."""
    if analysis.cohorts is None:
        return None
    table = _cohort_frame(analysis.cohorts, analysis.cohorts.revenue_per_member, lang)
    return styled(table, {column: "money" for column in table.columns[1:]})


# --- segment sizes and migration --------------------------------------------------------------


def sizes_sentence(history: SegmentHistory, scheme: str, *, lang: str) -> str:
    """The scheme's largest segment at the last month-end, the customers known at the first
    and last month-ends, and the segment whose size changed most between them.

    Parameters
    ----------
    history : SegmentHistory
    scheme : str
        A scheme of ``history.sizes``.
    lang : {"zh", "en"}

    Returns
    -------
    str
        Markdown.
    """
    sizes = history.sizes[scheme]
    names = history.segments[scheme][f"name_{lang}"].to_dict()
    keys = [str(key) for key in sizes.columns]
    counts = sizes.to_numpy(dtype=np.int64)
    first, last = sizes.index[0], sizes.index[-1]
    largest = int(np.argmax(counts[-1]))  # the first of equals, in the scheme's order
    moved = int(np.argmax(np.abs(counts[-1] - counts[0])))
    known = history.customers.to_numpy(dtype=np.int64)
    share = counts[-1, largest] / known[-1] if known[-1] else float("nan")
    title = _title(history, scheme, lang)
    big, most = names[keys[largest]], names[keys[moved]]
    was, now = int(counts[0, moved]), int(counts[-1, moved])
    return {
        "zh": f"{title}：{last:%Y-%m} 月末最大的分层是 **{big}**，{counts[-1, largest]:,} 人"
        f"（{share:.1%}）。已知客户从 {first:%Y-%m} 月末的 {known[0]:,} 人变为 {known[-1]:,} "
        f"人；人数变化最大的是 {most}：{was:,} → {now:,}。",
        "en": f"{title}: at the end of {last:%Y-%m} the largest segment is **{big}**, "
        f"{counts[-1, largest]:,} customers ({share:.1%}). Customers known went from "
        f"{known[0]:,} at the end of {first:%Y-%m} to {known[-1]:,}; the segment that changed "
        f"most is {most}: {was:,} → {now:,}.",
    }[lang]


_RECOMMENDED_ELSEWHERE = {
    "zh": "推荐方案（{recommended}）依赖模型拟合，不逐月重算；此处展示排名最高的规则分层"
    "“{shown}”。",
    "en": "The recommended scheme ({recommended}) is fitted, not recomputed each month; shown "
    "instead: the best-ranked rule scheme, {shown}.",
}


def sizes_heading(analysis: MonthAnalysis, *, lang: str) -> Markdown:
    """:func:`sizes_sentence` of the scheme whose history is shown, and why it is that one
    when the recommended scheme is not a rule scheme."""
    history, scheme = analysis.history, analysis.history_scheme
    if history is None or scheme not in history.sizes:
        return Markdown(_NONE["history"][lang])
    text = sizes_sentence(history, scheme, lang=lang)
    recommended = analysis.verdict.scheme
    if recommended and recommended != scheme:
        title = analysis.scheme_titles().get(recommended, {}).get(lang, recommended)
        note = _RECOMMENDED_ELSEWHERE[lang].format(
            recommended=title, shown=_title(history, scheme, lang)
        )
        text = f"{note}\n\n{text}"
    return Markdown(text)


def sizes_plot(analysis: MonthAnalysis, *, plot_lang: str) -> Figure | None:
    """The stacked segment sizes of the scheme whose history is shown."""
    history, scheme = analysis.history, analysis.history_scheme
    if history is None or scheme not in history.sizes:
        return None
    return plot_segment_sizes(
        history.sizes[scheme],
        history.segments[scheme][f"name_{plot_lang}"],
        title=_title(history, scheme, plot_lang),
        lang=plot_lang,
    )


_SIZES_HEADERS = {"zh": ("分层方案", "分层"), "en": ("scheme", "segment")}


def sizes_table(analysis: MonthAnalysis, *, lang: str) -> Styler | None:
    """Every scheme's segment sizes at each month-end: one row per (scheme, segment)."""
    history = analysis.history
    if history is None or not history.sizes:
        return None
    frames = []
    for scheme, sizes in history.sizes.items():
        names = history.segments[scheme][f"name_{lang}"]
        frame = sizes.T.copy()
        frame.columns = [f"{day:%Y-%m}" for day in sizes.index]
        frame.index = pd.MultiIndex.from_arrays(
            [[_title(history, scheme, lang)] * len(frame), [names[k] for k in frame.index]]
        )
        frames.append(frame)
    table = pd.concat(frames)
    scheme_header, segment_header = _SIZES_HEADERS[lang]
    table.index = pd.Index(
        [f"{scheme} · {segment}" for scheme, segment in table.index],
        name=f"{scheme_header} · {segment_header}",
    )
    return styled(table, dict.fromkeys(table.columns, "count"))


def migration_sentence(history: SegmentHistory, scheme: str, *, lang: str) -> str:
    """How the scheme's customers moved from the last month-end but one to the last, and
    how many stayed on average each month.

    Parameters
    ----------
    history : SegmentHistory
    scheme : str
        A tracked scheme (a key of ``history.grades``).
    lang : {"zh", "en"}

    Returns
    -------
    str
        Markdown; shares are of the customers known at both month-ends.
    """
    transitions = history.transitions(scheme)
    if transitions.empty:
        return ""
    last = transitions.iloc[-1]
    both = int(last["known_both"])
    share = {k: (float(last[k] / both) if both else float("nan")) for k in last.index}
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_stayed = float((transitions["stayed"] / transitions["known_both"]).mean())
    before, after = history.month_ends[-2], history.month_ends[-1]
    title = _title(history, scheme, lang)
    if history.ordered[scheme]:
        moved = {
            "zh": f"上升 {share['moved_up']:.1%}，下降 {share['moved_down']:.1%}",
            "en": f"{share['moved_up']:.1%} moved up and {share['moved_down']:.1%} down",
        }[lang]
    else:
        moved = {
            "zh": f"换到其他分层 {share['changed']:.1%}",
            "en": f"{share['changed']:.1%} changed segment",
        }[lang]
    return {
        "zh": f"{title}：从 {before:%Y-%m} 到 {after:%Y-%m} 月末，两个月末都在的 {both:,} 位"
        f"客户中 **{share['stayed']:.1%}** 留在原分层，{moved}；新增客户 {int(last['new']):,} "
        f"人。近 {len(transitions)} 个月平均每月留在原分层的比例为 {mean_stayed:.1%}。",
        "en": f"{title}: from the end of {before:%Y-%m} to the end of {after:%Y-%m}, of the "
        f"{both:,} customers known at both, **{share['stayed']:.1%}** stayed in their "
        f"segment, {moved}; {int(last['new']):,} were new. Over the last "
        f"{len(transitions)} months, {mean_stayed:.1%} stayed each month on average.",
    }[lang]


def migration_heading(analysis: MonthAnalysis, *, lang: str) -> Markdown:
    """:func:`migration_sentence` of the scheme whose history is shown."""
    history, scheme = analysis.history, analysis.history_scheme
    if history is None or scheme not in history.grades:
        return Markdown(_NONE["history"][lang])
    return Markdown(migration_sentence(history, scheme, lang=lang))


_TRANSITION_HEADERS = {
    "zh": {
        "month_end": "月末",
        "known_both": "两月末都在",
        "stayed": "留在原分层",
        "moved_up": "上升",
        "moved_down": "下降",
        "changed": "变动",
        "new": "新增客户",
    },
    "en": {
        "month_end": "month-end",
        "known_both": "known at both",
        "stayed": "stayed",
        "moved_up": "moved up",
        "moved_down": "moved down",
        "changed": "changed",
        "new": "new customers",
    },
}


def transitions_table(analysis: MonthAnalysis, *, lang: str) -> Styler | None:
    """Each month's moves of the scheme whose history is shown (counts)."""
    history, scheme = analysis.history, analysis.history_scheme
    if history is None or scheme not in history.grades:
        return None
    table = history.transitions(scheme)
    if history.ordered[scheme]:
        table = table.drop(columns="changed")
    else:
        table = table.drop(columns=["moved_up", "moved_down"])
    headers = _TRANSITION_HEADERS[lang]
    table.index = pd.Index([f"{day:%Y-%m}" for day in table.index], name=headers["month_end"])
    return styled(table.rename(columns=headers))


def last_migration_table(analysis: MonthAnalysis, *, lang: str) -> Styler | None:
    """Customers by last month's segment (rows) and this month's (columns)."""
    scheme = analysis.history_scheme
    if scheme not in analysis.current.segmentations or scheme not in (
        analysis.previous.segmentations
    ):
        return None
    return migration_table(analysis.migration(scheme), lang=lang)


# --- re-grading -------------------------------------------------------------------------------


def moves_sentence(history: SegmentHistory, schemes: Sequence[str], *, lang: str) -> str:
    """How many moved up and down this month in each scheme, and where the list is.

    Parameters
    ----------
    history : SegmentHistory
    schemes : sequence of str
        Tracked ordered schemes (config ``over_time.moved_schemes``).
    lang : {"zh", "en"}

    Returns
    -------
    str
        Markdown.
    """
    parts = []
    for scheme in schemes:
        if scheme not in history.grades or not history.ordered[scheme]:
            continue
        direction = history.moves(scheme)["direction"]
        up, down = int((direction == "up").sum()), int((direction == "down").sum())
        title = _title(history, scheme, lang)
        parts.append(
            {
                "zh": f"{title}升级 **{up:,}** 人、降级 **{down:,}** 人",
                "en": f"{title}: **{up:,}** moved up, **{down:,}** moved down",
            }[lang]
        )
    if not parts or len(history.month_ends) < 2:
        return ""
    before, after = history.month_ends[-2], history.month_ends[-1]
    return {
        "zh": f"从 {before:%Y-%m} 到 {after:%Y-%m} 月末：" + "；".join(parts) + "。名单（客户ID、"
        f"上月与本月分层、新分层的推荐动作）见报告目录中 `{SEGMENTS_FILE}` 旁的 "
        f"`{GRADE_MOVES_FILE}`；每位客户近 {len(history.month_ends)} 个月末的分层见 "
        f"`{GRADE_HISTORY_FILE}`。",
        "en": f"From the end of {before:%Y-%m} to the end of {after:%Y-%m}: "
        + "; ".join(parts)
        + f". The list (customer id, last month's and this month's segment, the action for "
        f"the new one) is `{GRADE_MOVES_FILE}`, beside `{SEGMENTS_FILE}` in the report folder; "
        f"every customer's segment at each of the last {len(history.month_ends)} month-ends "
        f"is in `{GRADE_HISTORY_FILE}`.",
    }[lang]


def moves_heading(
    analysis: MonthAnalysis, *, lang: str, config: str | Path | Mapping[str, Any] | None = None
) -> Markdown:
    """:func:`moves_sentence` for the config's ``over_time.moved_schemes``."""
    from segmentation.config import load_config

    history = analysis.history
    if history is None:
        return Markdown(_NONE["history"][lang])
    settings = load_config(config or None)  # a notebook passes "" for none
    schemes = list(settings["over_time"]["moved_schemes"])
    return Markdown(moves_sentence(history, schemes, lang=lang))


_MOVES_HEADERS = {
    "zh": ("分层方案", "上月分层", "本月分层", "人数"),
    "en": ("scheme", "last month", "this month", "customers"),
}


def moves_table(
    analysis: MonthAnalysis, *, lang: str, config: str | Path | Mapping[str, Any] | None = None
) -> Styler | None:
    """The moves counted by scheme and (last month's, this month's) segment, ups first."""
    from segmentation.config import load_config

    history = analysis.history
    if history is None:
        return None
    settings = load_config(config or None)  # a notebook passes "" for none
    scheme_h, before_h, after_h, count_h = _MOVES_HEADERS[lang]
    rows = []
    for scheme in settings["over_time"]["moved_schemes"]:
        if scheme not in history.grades or not history.ordered[scheme]:
            continue
        names = history.segments[scheme][f"name_{lang}"].to_dict()
        order = {str(key): i for i, key in enumerate(history.sizes[scheme].columns)}
        moves = history.moves(scheme)
        pairs = list(zip(moves["before"].astype(str), moves["after"].astype(str), strict=True))
        # Moves up first, then by last month's and this month's segment, in the scheme's order.
        counted: dict[tuple[str, str], int] = {}
        for pair in pairs:
            counted[pair] = counted.get(pair, 0) + 1
        for before, after in sorted(
            counted,
            key=lambda pair: (order[pair[1]] < order[pair[0]], order[pair[0]], order[pair[1]]),
        ):
            rows.append(
                {
                    scheme_h: _title(history, scheme, lang),
                    before_h: names[before],
                    after_h: names[after],
                    count_h: int(counted[(before, after)]),
                }
            )
    if not rows:
        return None
    return styled(pd.DataFrame(rows), index=False)
