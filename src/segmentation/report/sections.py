"""What the report notebooks show of the month's analysis, one call per cell: headings, tables
and plots (the data-quality notebook's are in :mod:`segmentation.report.quality_sections`).

A function named for what it returns (``ranking_table``) gives one thing for the cell to
show, or None when the data cannot support it (a cell showing None shows nothing); a
``show_*`` function displays several in order. ``lang`` is the language of tables and text,
``plot_lang`` the one plots can draw (:func:`segmentation.fonts.configure_plot_fonts`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from IPython.display import HTML, Markdown, display
from matplotlib.figure import Figure

from segmentation.analysis import MonthAnalysis
from segmentation.clv import MODEL_NAMES, MODEL_TITLES, NO_DROPOUT, NOT_FINITE, CLVBacktest
from segmentation.config import load_config
from segmentation.evaluate import SHAPE_SCORES, crosstab, scores_table
from segmentation.plots.clustering import (
    plot_cluster_profiles,
    plot_cluster_projection,
    plot_k_selection,
)
from segmentation.plots.clv import (
    plot_conditional_expectations,
    plot_p_alive_matrix,
    plot_tracking,
)
from segmentation.plots.compare import plot_agreement, plot_lift_curves
from segmentation.plots.schemes import plot_migration, plot_segment_profile
from segmentation.report._numbers import count
from segmentation.report._rules import scheme_rules
from segmentation.report._tables import (
    agreement_table,
    backtest_metrics_table,
    cluster_medians_table,
    cluster_stability_table,
    clv_forecast_table,
    crosstab_table,
    fitted_parameters_table,
    k_choice_table,
    migration_table,
)
from segmentation.report.campaign_sections import measured_effects
from segmentation.report.playbook import (
    attribute_highlights,
    contact_plan,
    playbook_table,
    value_rule,
)
from segmentation.schemes.base import POTENTIAL_KEY, Segmentation
from segmentation.schemes.clv_tiers import CLV_SCHEMES
from segmentation.schemes.rules import RULE_SCHEMES

if TYPE_CHECKING:
    from pandas.io.formats.style import Styler

__all__ = [
    "agreement_ami_table",
    "agreement_plot",
    "as_of_heading",
    "backtest_heading",
    "cluster_heading",
    "cluster_migration",
    "cluster_projection",
    "cluster_stability",
    "clv_heading",
    "clv_summary",
    "lift_curves_plot",
    "p_alive_plot",
    "ranking_table",
    "scheme_shape_table",
    "show_attribute_cuts",
    "show_cluster_profiles",
    "show_clv_backtest",
    "show_clv_schemes",
    "show_k_choice",
    "show_lifecycle",
    "show_playbook",
    "show_rule_schemes",
    "show_scheme_section",
    "top_two_crosstab",
    "unavailable_schemes",
]

# Shown with its migration from last month, after the other rule-based schemes.
_LIFECYCLE = "lifecycle"
_CLUSTERS = "clusters"

# A scheme the data cannot support has no result to take its title from: its default title,
# and what a reader is told. Where the reason carries the data's own numbers (too few repeat
# buyers, too few buyers), the en report gives SchemeUnavailable's message.
_UNAVAILABLE: dict[str, tuple[dict[str, str], dict[str, str]]] = {
    "interaction_tier": (
        {"zh": "互动分层", "en": "Interaction tiers"},
        {
            "zh": "没有互动记录：导入互动表（客户ID、时间、类型）后可用。",
            "en": "no interaction log: load the interactions (customer id, time, kind) to use "
            "this scheme.",
        },
    ),
    "needs": (
        {"zh": "需求分类", "en": "Needs"},
        {
            "zh": "订单没有单价或品类：映射单价、品类列后可用。",
            "en": "the orders have no unit price or category: map those columns to use this "
            "scheme.",
        },
    ),
    "clv_tier": (
        {"zh": "CLV价值分层", "en": "CLV tiers"},
        {"zh": "CLV 模型不可用：复购客户太少，或模型无法拟合。"},
    ),
    "churn_risk": (
        {"zh": "流失风险分层", "en": "Churn risk"},
        {"zh": "CLV 模型不可用：复购客户太少，或模型无法拟合。"},
    ),
    "clusters": (
        {"zh": "聚类分群", "en": "Behavioural clusters"},
        {"zh": "购买客户太少，无法聚类。"},
    ),
}
_UNAVAILABLE_OTHER = {"zh": "数据不足以计算该方案。"}


def _unavailable(analysis: MonthAnalysis, scheme: str, lang: str) -> str:
    """Why the data could not support ``scheme``, in ``lang``, after the scheme's title."""
    default_title, reasons = _UNAVAILABLE.get(scheme, ({}, _UNAVAILABLE_OTHER))
    title = analysis.scheme_titles().get(scheme, default_title).get(lang, scheme)
    if lang in reasons:
        return f"{title}{'：' if lang == 'zh' else ': '}{reasons[lang]}"
    # SchemeUnavailable says "<scheme>: unavailable: <reason>"; the reader knows the title.
    message = analysis.current.unavailable.get(scheme, "")
    return f"{title}: {message.removeprefix(f'{scheme}: unavailable: ')}"


# --- any section ------------------------------------------------------------------------------


def show_scheme_section(
    analysis: MonthAnalysis,
    scheme: str,
    *,
    lang: str,
    plot_lang: str | None = None,
    with_note: bool = False,
    with_rules: bool = False,
    say_if_unavailable: bool = False,
) -> None:
    """Show one scheme of this month: its title and profile, and its rule, plot and note if
    asked.

    Parameters
    ----------
    analysis : MonthAnalysis
    scheme : str
        Registry name of the scheme.
    lang : {"zh", "en"}
    plot_lang : {"zh", "en"}, optional
        Draw the profile plot in this language; no plot when omitted.
    with_note : bool, default False
        Show the scheme's note on how to read it, when it has one (ties of the RFM scores,
        the churn risk of BG/NBD's one-time buyers).
    with_rules : bool, default False
        Show the rule, thresholds and fitted parameters the scheme used.
    say_if_unavailable : bool, default False
        When the data could not support the scheme, show why (else show nothing).
    """
    segmentation = analysis.current.segmentations.get(scheme)
    if segmentation is None:
        if say_if_unavailable:
            display(Markdown(f"- {_unavailable(analysis, scheme, lang)}"))
        return
    display(Markdown(f"#### {segmentation.display_title(lang)}"))
    if with_rules:
        display(Markdown(scheme_rules(segmentation, lang)))
    display(segmentation.profile_table(lang))
    if plot_lang is not None:
        display(plot_segment_profile(segmentation, lang=plot_lang))
    if with_note and f"note_{lang}" in segmentation.details:
        display(Markdown(f"> ⚠ {segmentation.details[f'note_{lang}']}"))


def unavailable_schemes(analysis: MonthAnalysis, *, lang: str) -> Markdown:
    """The schemes the data could not support, each with the reason, as a list."""
    reasons = [_unavailable(analysis, scheme, lang) for scheme in analysis.current.unavailable]
    none = {"zh": "无：数据支持全部方案。", "en": "None: the data supports every scheme."}
    return Markdown("\n".join(f"- {reason}" for reason in reasons) or none[lang])


_AS_OF = {
    "zh": "截至 **{as_of}** · {customers:,} 名客户",
    "en": "As of **{as_of}** · {customers:,} customers",
}


def as_of_heading(analysis: MonthAnalysis, *, lang: str) -> Markdown:
    """The as-of day and the number of customers."""
    return Markdown(
        _AS_OF[lang].format(as_of=f"{analysis.as_of:%Y-%m-%d}", customers=len(analysis.snapshot))
    )


# --- 02 rule-based schemes --------------------------------------------------------------------


def show_rule_schemes(analysis: MonthAnalysis, *, lang: str, plot_lang: str) -> None:
    """Show every rule-based scheme the data supports but the lifecycle, in report order,
    each with its rule and thresholds."""
    for scheme in RULE_SCHEMES:
        if scheme != _LIFECYCLE:
            show_scheme_section(
                analysis, scheme, lang=lang, plot_lang=plot_lang, with_note=True, with_rules=True
            )


_MIGRATION_LINE = {
    "zh": "留在原阶段 **{stayed}** · 上升 **{up}** · 下降 **{down}** · 本月新增客户 {new:,}",
    "en": "Stayed **{stayed}** · moved up **{up}** · moved down **{down}** · new customers {new:,}",
}


def show_lifecycle(analysis: MonthAnalysis, *, lang: str, plot_lang: str) -> None:
    """Show the lifecycle's rules and profile, and how customers moved between stages since
    last month: the shares that stayed, moved up and down, the migration plot and counts."""
    lifecycle = analysis.current.segmentations[_LIFECYCLE]
    display(Markdown(scheme_rules(lifecycle, lang)))
    display(lifecycle.profile_table(lang))
    migration = analysis.migration(_LIFECYCLE)
    display(
        Markdown(
            _MIGRATION_LINE[lang].format(
                stayed=f"{migration.stayed:.1%}",
                up=f"{migration.moved_up:.1%}",
                down=f"{migration.moved_down:.1%}",
                new=migration.n_new,
            )
        )
    )
    display(plot_migration(migration, lang=plot_lang))
    display(migration_table(migration, lang=lang))


# --- 03 clusters ------------------------------------------------------------------------------


def _clusters(analysis: MonthAnalysis) -> Segmentation | None:
    return analysis.current.segmentations.get(_CLUSTERS)


def cluster_heading(analysis: MonthAnalysis, *, lang: str) -> Markdown:
    """The algorithm, features and chosen k and the rule that chose it, or why there are no
    clusters."""
    clusters = _clusters(analysis)
    if clusters is None:
        return Markdown(f"**{_unavailable(analysis, _CLUSTERS, lang)}**")
    return Markdown(
        f"k = **{clusters.details['k']}** · {clusters.details['k_rule'][lang]}\n\n"
        f"{scheme_rules(clusters, lang)}"
    )


def show_k_choice(analysis: MonthAnalysis, *, lang: str, plot_lang: str) -> None:
    """Show the scores of every k tried, as a table and as a plot."""
    clusters = _clusters(analysis)
    if clusters is None:
        return
    display(k_choice_table(clusters, lang=lang))
    display(plot_k_selection(clusters.details["k_table"], lang=plot_lang))


def show_cluster_profiles(analysis: MonthAnalysis, *, lang: str, plot_lang: str) -> None:
    """Show the clusters' profile, the heatmap of their features and the feature medians."""
    clusters = _clusters(analysis)
    if clusters is None:
        return
    display(clusters.profile_table(lang))
    display(plot_cluster_profiles(clusters, lang=plot_lang))
    display(cluster_medians_table(clusters, lang=lang))


def cluster_stability(analysis: MonthAnalysis, *, lang: str) -> Styler | None:
    """Each cluster's mean bootstrap Jaccard and its stability verdict."""
    clusters = _clusters(analysis)
    if clusters is None:
        return None
    return cluster_stability_table(clusters, lang=lang)


def cluster_projection(analysis: MonthAnalysis, *, plot_lang: str) -> Figure | None:
    """The clustered customers on their first two principal components."""
    clusters = _clusters(analysis)
    if clusters is None:
        return None
    return plot_cluster_projection(clusters, analysis.snapshot, lang=plot_lang)


_NO_CLUSTER_MIGRATION = {
    "zh": "上月 {n_before} 个聚类（{before}），本月 {n_now} 个（{now}），不能一一对应，因此不展示迁移。",
    "en": "Last month had {n_before} clusters ({before}) and this month {n_now} ({now}): they "
    "do not match one to one, so no migration is shown.",
}


def cluster_migration(analysis: MonthAnalysis, *, lang: str) -> Styler | Markdown | None:
    """Customers by last month's cluster and this month's, when both months have the same
    clusters; a line saying why not when this month's clusters are not last month's."""
    clusters = _clusters(analysis)
    previous = analysis.previous.segmentations.get(_CLUSTERS)
    if clusters is None or previous is None:
        return None
    before = [str(c) for c in previous.labels.cat.categories if c != POTENTIAL_KEY]
    now = [str(c) for c in clusters.labels.cat.categories if c != POTENTIAL_KEY]
    if before != now:
        names = {"zh": "、", "en": ", "}[lang]
        return Markdown(
            _NO_CLUSTER_MIGRATION[lang].format(
                n_before=len(before),
                before=names.join(previous.profile.loc[before, f"name_{lang}"]),
                n_now=len(now),
                now=names.join(clusters.profile.loc[now, f"name_{lang}"]),
            )
        )
    return migration_table(analysis.migration(_CLUSTERS), lang=lang)


# --- 04 CLV -----------------------------------------------------------------------------------


def _clv_choice_zh(backtest: CLVBacktest) -> str:
    """Why the backtest chose its model, in Chinese (the English is the backtest's reason)."""
    mae = backtest.metrics["mae"].astype(float)
    period = {7: "周", 1: "天"}.get(backtest.period_days, "期")
    others = "、".join(
        f"{MODEL_TITLES[str(name)]} {value:.3f}"
        for name, value in mae.items()
        if name != backtest.chosen
    )
    baseline = float(backtest.metrics["baseline_mae"].iloc[0])
    chosen = float(mae[backtest.chosen])
    text = (
        f"回测选出 {MODEL_TITLES[backtest.chosen]}：预测期 {backtest.holdout_days} 天内，每位客户复购"
        f"{period}数的平均绝对误差（MAE）为 {chosen:.3f}"
        + (f"，其他模型 {others}" if others else "（唯一拟合成功的模型）")
        + f"（越低越好）；{'优于' if chosen < baseline else '不如'}朴素基线（每位客户过去的购买频率 × 预测期）"
        f"的 MAE {baseline:.3f}"
    )
    tied = backtest.tied[1:]
    if tied:
        text += (
            f"；{'、'.join(MODEL_TITLES[name] for name in tied)} 与之持平（MAE 相差不到 "
            f"{backtest.mae_tie_tolerance:.2%}，clv.backtest.mae_tie_tolerance），按 "
            + "、".join(MODEL_TITLES[name] for name in MODEL_NAMES)
            + " 的顺序取第一个"
        )
    if backtest.failures:
        text += "；未能拟合：" + "、".join(MODEL_TITLES[name] for name in backtest.failures)
    return text + "。"


#: Why a model was passed over for the CLV schemes, in Chinese, by the words of its reason.
_PASSED_OVER_ZH = {
    NO_DROPOUT: (
        "按购买天拟合时未识别出客户流失（平均流失概率 a/(a+b) 低于 "
        "clv.min_dropout_probability），参数 b 无从确定，预测随之而变"
    ),
    NOT_FINITE: "按购买天拟合时预测值不是有限数",
}


def _passed_over_zh(message: str) -> str:
    """Why a model was passed over, in Chinese, from the English reason's words."""
    for words, zh in _PASSED_OVER_ZH.items():
        if words in message:
            return zh
    return "按购买天拟合失败"


def _clv_model_zh(analysis: MonthAnalysis) -> str:
    """Which model the CLV schemes used and on what grounds, in Chinese."""
    title = MODEL_TITLES.get(analysis.clv_model, analysis.clv_model)
    backtest = analysis.clv_backtest
    if backtest is not None and backtest.chosen == analysis.clv_model:
        return f"{title}（回测选出的模型）"
    clv_tier = analysis.current.segmentations.get("clv_tier")
    passed_over = clv_tier.details.get("passed_over", {}) if clv_tier is not None else {}
    if backtest is not None and passed_over:
        why = "；".join(
            f"{MODEL_TITLES.get(name, name)} {_passed_over_zh(str(message))}"
            for name, message in passed_over.items()
        )
        return f"{title}（回测的下一选择：{why}）"
    if backtest is not None:
        return f"{title}（配置 clv.model 指定，未采用回测的选择）"
    return f"{title}（没有可用的回测，使用配置中的模型）"


def clv_heading(analysis: MonthAnalysis, *, lang: str) -> Markdown:
    """Which purchase model the backtest chose and why, and the model of the CLV schemes, or
    why CLV is unavailable."""
    if lang == "zh":
        used = f"\n\nCLV 分层所用模型：**{_clv_model_zh(analysis)}**"
        if analysis.clv_backtest is None:
            return Markdown(f"CLV 回测不可用：**复购客户太少或历史太短，模型无法回测。**{used}")
        return Markdown(f"**{_clv_choice_zh(analysis.clv_backtest)}**{used}")
    used = f"\n\nModel of the CLV schemes: **{analysis.clv_model_reason}**"
    if analysis.clv_backtest is None:
        return Markdown(f"CLV backtest unavailable: **{analysis.clv_unavailable}**{used}")
    return Markdown(f"**{analysis.clv_backtest.reason}**{used}")


_PARAMETERS_HEADING = {
    "zh": "#### 拟合参数（校准期，时间单位：{unit}）",
    "en": "#### Fitted parameters (calibration, time unit: {unit})",
}
_UNITS = {7: {"zh": "周", "en": "weeks"}, 1: {"zh": "天", "en": "days"}}


def show_clv_backtest(analysis: MonthAnalysis, *, lang: str, plot_lang: str) -> None:
    """Show the purchase models' holdout metrics and fitted parameters, the cumulative
    tracking plot and the conditional expectations by calibration frequency."""
    backtest = analysis.clv_backtest
    if backtest is None:
        return
    display(backtest_metrics_table(backtest, lang=lang))
    unit = _UNITS.get(round(backtest.time_unit_days), {"zh": "期", "en": "periods"})[lang]
    display(Markdown(_PARAMETERS_HEADING[lang].format(unit=unit)))
    display(fitted_parameters_table(backtest, lang=lang))
    display(plot_tracking(backtest, lang=plot_lang))
    display(plot_conditional_expectations(backtest, lang=plot_lang))


def p_alive_plot(analysis: MonthAnalysis, *, plot_lang: str) -> Figure | None:
    """P(alive) of the chosen model by repeat purchases and recency, over the longest
    observation of the calibration's customers."""
    backtest = analysis.clv_backtest
    if backtest is None:
        return None
    return plot_p_alive_matrix(
        backtest.fits[backtest.chosen],
        observed_days=float(backtest.customers["T"].max()),
        lang=plot_lang,
    )


def show_clv_schemes(analysis: MonthAnalysis, *, lang: str, plot_lang: str) -> None:
    """Show the CLV tiers and churn risk with their model, parameters and cut values, or why
    the data could not support them."""
    for scheme in CLV_SCHEMES:
        show_scheme_section(
            analysis,
            scheme,
            lang=lang,
            plot_lang=plot_lang,
            with_note=True,
            with_rules=True,
            say_if_unavailable=True,
        )


def clv_summary(analysis: MonthAnalysis, *, lang: str) -> Styler | None:
    """The buyers' predicted CLV, purchases, spend per purchase and P(alive): mean,
    quartiles and highest."""
    clv_tier = analysis.current.segmentations.get("clv_tier")
    if clv_tier is None:
        return None
    return clv_forecast_table(clv_tier, lang=lang)


# --- 05 comparison ----------------------------------------------------------------------------


_BACKTEST = {"zh": "回测：{start} → {end}", "en": "Backtest: {start} → {end}"}


def backtest_heading(analysis: MonthAnalysis, *, lang: str) -> Markdown:
    """The backtest's window and the month's recommendation."""
    window = _BACKTEST[lang].format(
        start=f"{analysis.calibration_end:%Y-%m-%d}", end=f"{analysis.outcomes_end:%Y-%m-%d}"
    )
    return Markdown(
        f"{window}\n\n**{analysis.recommendation[lang]}**\n\n{analysis.verdict.rule[lang]}"
    )


def ranking_table(analysis: MonthAnalysis, *, lang: str) -> Styler:
    """The schemes ranked by their backtest scores ("—": monotonicity of an unordered
    scheme)."""
    return scores_table(analysis.scores, analysis.scheme_titles(), lang=lang)


def scheme_shape_table(analysis: MonthAnalysis, *, lang: str) -> Styler:
    """Each ranked scheme's month-to-month stability, bootstrap Jaccard (clusters only; "—"
    elsewhere), number of segments, smallest segment and entropy."""
    return scores_table(analysis.scores, analysis.scheme_titles(), lang=lang, columns=SHAPE_SCORES)


def lift_curves_plot(analysis: MonthAnalysis, *, plot_lang: str, top: int = 5) -> Figure:
    """The lift curves of the ``top`` ranked schemes."""
    return plot_lift_curves(analysis.lift_curves(top=top), analysis.scheme_titles(), lang=plot_lang)


def agreement_plot(analysis: MonthAnalysis, *, plot_lang: str) -> Figure:
    """The adjusted Rand index between every two schemes, as a heatmap."""
    return plot_agreement(analysis.agreement_ari, analysis.scheme_titles(), lang=plot_lang)


def agreement_ami_table(analysis: MonthAnalysis, *, lang: str) -> Styler:
    """The adjusted mutual information between every two schemes: rows by number and title,
    columns by number."""
    titles = analysis.scheme_titles()
    names = {name: titles[name].get(lang, name) for name in analysis.agreement_ami.index}
    return agreement_table(analysis.agreement_ami, names)


def top_two_crosstab(analysis: MonthAnalysis, *, lang: str) -> Styler | None:
    """Customers by segment of the first-ranked scheme against the second's."""
    if len(analysis.scores) < 2:
        return None
    schemes = analysis.current.segmentations
    first, second = analysis.scores.index[:2]
    return crosstab_table(crosstab(schemes[first], schemes[second], lang=lang), lang=lang)


def show_attribute_cuts(
    analysis: MonthAnalysis, *, lang: str, config: str | Path | Mapping[str, Any] | None = None
) -> None:
    """Show, per customer attribute, the recommended scheme's cells that differ most from the
    base (:func:`segmentation.report.playbook.attribute_highlights`), with counts.

    Parameters
    ----------
    analysis : MonthAnalysis
    lang : {"zh", "en"}
    config : path or mapping, optional
        A config override (its ``contact.attribute_cuts``); the defaults when omitted.
    """
    best = analysis.best_scheme
    if best is None:
        return
    settings = load_config(config or None)
    highlights = attribute_highlights(analysis, best, settings=settings, lang=lang)
    cuts = settings["contact"]["attribute_cuts"]
    top, least = int(cuts["top"]), count(cuts["min_customers"])
    title = analysis.current.segmentations[best].display_title(lang)
    if lang == "zh":
        intro = (
            f"「{title}」各分层在某一属性取值内的占比，与该分层在全体客户中的占比相差最大的 {top} 格"
            f"（只看至少 {least} 名客户的取值）。差异为百分点：正数表示该取值里这一分层更多。"
        )
    else:
        intro = (
            f"The {top} cells of {title} whose share within an attribute value differs most from "
            f"the segment's share overall (values with at least {least} customers). The "
            "difference is in percentage points: positive means more of that segment there."
        )
    display(Markdown(intro if highlights else f"{intro}\n\n—"))
    for attribute, cells in highlights.items():
        display(Markdown(f"#### {attribute}"))
        display(HTML(cells.to_html(index=False, border=0, escape=True)))


def show_playbook(
    analysis: MonthAnalysis,
    *,
    lang: str,
    config: str | Path | Mapping[str, Any] | None = None,
    schemes: Sequence[str] = (),
) -> None:
    """Show who to contact first: the recommended scheme's segments by value at stake, each
    with its action, channel, cadence and expected value
    (:func:`segmentation.report.playbook.contact_plan`); the runner-up's too when the two
    cannot be told apart, then those of ``schemes``, and the scheme last month's campaigns
    were measured in (config ``campaigns.scheme``), with each action's measured effect.

    Parameters
    ----------
    analysis : MonthAnalysis
    lang : {"zh", "en"}
    config : path or mapping, optional
        A config override (its ``playbook`` and ``contact``); the defaults when omitted.
    schemes : sequence of str, default ()
        More schemes to show a playbook for, when the data supports them.
    """
    verdict = analysis.verdict
    if verdict.scheme is None:
        display(Markdown(verdict.sentence[lang]))
        return
    settings = load_config(config or None)
    shown = [verdict.scheme]
    if verdict.runner_up is not None and not verdict.clear:
        shown.append(verdict.runner_up)
    shown += [s for s in schemes if s not in shown and s in analysis.current.segmentations]
    # The scheme last month's campaigns were measured in, so its actions show their effect.
    measured = analysis.campaigns.segments.scheme if analysis.campaigns is not None else None
    if measured in analysis.current.segmentations and measured not in shown:
        shown.append(str(measured))
    display(Markdown(value_rule(analysis, lang=lang)))
    for scheme in shown:
        display(Markdown(f"#### {analysis.current.segmentations[scheme].display_title(lang)}"))
        plan = contact_plan(analysis, scheme, settings=settings)
        effects = measured_effects(analysis, scheme, lang=lang, settings=settings)
        table = playbook_table(plan, lang=lang, effects=effects)
        display(HTML(table.to_html(index=False, border=0, escape=True)))
