"""What the report notebooks show of the month's analysis, one call per cell: headings, tables
and plots (the data-quality notebook's are in :mod:`segmentation.report.quality_sections`).

A function named for what it returns (``ranking_table``) gives one thing for the cell to
show, or None when the data cannot support it (a cell showing None shows nothing); a
``show_*`` function displays several in order. ``lang`` is the language of tables and text,
``plot_lang`` the one plots can draw (:func:`segmentation.fonts.configure_plot_fonts`).
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from IPython.display import Markdown, display
from matplotlib.figure import Figure

from segmentation.analysis import MonthAnalysis
from segmentation.evaluate import crosstab, scores_table
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
from segmentation.schemes.base import Segmentation
from segmentation.schemes.clusters import POTENTIAL_KEY
from segmentation.schemes.clv_tiers import CLV_SCHEMES
from segmentation.schemes.migration import migration_between
from segmentation.schemes.rules import ATTRIBUTE_NAMES, RULE_SCHEMES, attribute_cut

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


# --- any section ------------------------------------------------------------------------------


def show_scheme_section(
    analysis: MonthAnalysis,
    scheme: str,
    *,
    lang: str,
    plot_lang: str | None = None,
    with_note: bool = False,
    say_if_unavailable: bool = False,
) -> None:
    """Show one scheme of this month: its title and profile, and its plot and note if asked.

    Parameters
    ----------
    analysis : MonthAnalysis
    scheme : str
        Registry name of the scheme.
    lang : {"zh", "en"}
    plot_lang : {"zh", "en"}, optional
        Draw the profile plot in this language; no plot when omitted.
    with_note : bool, default False
        Show the scheme's note on how to read it, when it has one (the CLV schemes do).
    say_if_unavailable : bool, default False
        When the data could not support the scheme, show why (else show nothing).
    """
    segmentation = analysis.current.segmentations.get(scheme)
    if segmentation is None:
        if say_if_unavailable:
            display(Markdown(f"- {analysis.current.unavailable.get(scheme, scheme)}"))
        return
    display(Markdown(f"#### {segmentation.display_title(lang)}"))
    display(segmentation.profile_table(lang))
    if plot_lang is not None:
        display(plot_segment_profile(segmentation, lang=plot_lang))
    if with_note and f"note_{lang}" in segmentation.details:
        display(Markdown(f"**{segmentation.details[f'note_{lang}']}**"))


def unavailable_schemes(analysis: MonthAnalysis) -> Markdown:
    """The schemes the data could not support, each with the reason, as a list."""
    reasons = analysis.current.unavailable.values()
    return Markdown("\n".join(f"- {reason}" for reason in reasons) or "—")


def as_of_heading(analysis: MonthAnalysis) -> Markdown:
    """The as-of day and the number of customers."""
    return Markdown(
        f"截至 / as of **{analysis.as_of:%Y-%m-%d}** · {len(analysis.snapshot):,} customers"
    )


# --- 02 rule-based schemes --------------------------------------------------------------------


def show_rule_schemes(analysis: MonthAnalysis, *, lang: str, plot_lang: str) -> None:
    """Show every rule-based scheme the data supports but the lifecycle, in report order."""
    for scheme in RULE_SCHEMES:
        if scheme != _LIFECYCLE:
            show_scheme_section(analysis, scheme, lang=lang, plot_lang=plot_lang)


def show_lifecycle(analysis: MonthAnalysis, *, lang: str, plot_lang: str) -> None:
    """Show the lifecycle's profile and how customers moved between stages since last month:
    the shares that stayed, moved up and down, the migration plot and its counts."""
    lifecycle = analysis.current.segmentations[_LIFECYCLE]
    display(lifecycle.profile_table(lang))
    migration = migration_between(analysis.previous.segmentations[_LIFECYCLE], lifecycle)
    display(
        Markdown(
            f"留存原阶段 / stayed **{migration.stayed:.1%}** · 上升 / moved up "
            f"**{migration.moved_up:.1%}** · 下降 / moved down **{migration.moved_down:.1%}** "
            f"· 新增 / new {migration.n_new:,}"
        )
    )
    display(plot_migration(migration, lang=plot_lang))
    display(migration.named("counts", lang))


# --- 03 clusters ------------------------------------------------------------------------------


def _clusters(analysis: MonthAnalysis) -> Segmentation | None:
    return analysis.current.segmentations.get(_CLUSTERS)


def cluster_heading(analysis: MonthAnalysis, *, lang: str) -> Markdown:
    """The chosen k and the rule that chose it, or why there are no clusters."""
    clusters = _clusters(analysis)
    if clusters is None:
        reason = analysis.current.unavailable.get(_CLUSTERS, "clusters unavailable")
        return Markdown(f"**{reason}**")
    return Markdown(f"k = **{clusters.details['k']}** · {clusters.details['k_rule'][lang]}")


def show_k_choice(analysis: MonthAnalysis, *, plot_lang: str) -> None:
    """Show the scores of every k tried, as a table and as a plot."""
    clusters = _clusters(analysis)
    if clusters is None:
        return
    display(clusters.details["k_table"])
    display(plot_k_selection(clusters.details["k_table"], lang=plot_lang))


def show_cluster_profiles(analysis: MonthAnalysis, *, lang: str, plot_lang: str) -> None:
    """Show the clusters' profile, the heatmap of their features and the feature medians."""
    clusters = _clusters(analysis)
    if clusters is None:
        return
    display(clusters.profile_table(lang))
    display(plot_cluster_profiles(clusters, lang=plot_lang))
    display(clusters.details["feature_profile"])


def cluster_stability(analysis: MonthAnalysis) -> pd.DataFrame | None:
    """Each cluster's mean bootstrap Jaccard and its stability verdict."""
    clusters = _clusters(analysis)
    if clusters is None:
        return None
    return clusters.details["jaccard"].to_frame().join(clusters.details["stability"])


def cluster_projection(analysis: MonthAnalysis, *, plot_lang: str) -> Figure | None:
    """The clustered customers on their first two principal components."""
    clusters = _clusters(analysis)
    if clusters is None:
        return None
    return plot_cluster_projection(clusters, analysis.snapshot, lang=plot_lang)


def cluster_migration(analysis: MonthAnalysis, *, lang: str) -> pd.DataFrame | Markdown | None:
    """Customers by last month's cluster and this month's, when both months have the same
    clusters; a line saying why not when this month's clusters are not last month's."""
    clusters = _clusters(analysis)
    previous = analysis.previous.segmentations.get(_CLUSTERS)
    if clusters is None or previous is None:
        return None
    before = [str(c) for c in previous.labels.cat.categories if c != POTENTIAL_KEY]
    now = [str(c) for c in clusters.labels.cat.categories if c != POTENTIAL_KEY]
    if before != now:
        return Markdown(
            f"上月 {len(before)} 个聚类（{', '.join(before)}），本月 {len(now)} 个"
            f"（{', '.join(now)}），不能一一对应，因此不展示迁移。 / Last month had "
            f"{len(before)} clusters and this month {len(now)}: they do not match one to one, "
            "so no migration is shown."
        )
    return migration_between(previous, clusters).named("counts", lang)


# --- 04 CLV -----------------------------------------------------------------------------------


def clv_heading(analysis: MonthAnalysis) -> Markdown:
    """Which purchase model the backtest chose and why, or why CLV is unavailable."""
    used = f"\n\nCLV 分层所用模型 / model of the CLV schemes: **{analysis.clv_model_reason}**"
    if analysis.clv_backtest is None:
        return Markdown(f"CLV 不可用 / unavailable: **{analysis.clv_unavailable}**{used}")
    return Markdown(f"**{analysis.clv_backtest.reason}**{used}")


def show_clv_backtest(analysis: MonthAnalysis, *, plot_lang: str) -> None:
    """Show the purchase models' holdout metrics, the cumulative tracking plot and the
    conditional expectations by calibration frequency."""
    backtest = analysis.clv_backtest
    if backtest is None:
        return
    display(backtest.metrics.T.round(3))
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
    """Show the CLV tiers and churn risk, or why the data could not support them."""
    for scheme in CLV_SCHEMES:
        show_scheme_section(
            analysis,
            scheme,
            lang=lang,
            plot_lang=plot_lang,
            with_note=True,
            say_if_unavailable=True,
        )


def clv_summary(analysis: MonthAnalysis) -> pd.DataFrame | None:
    """Count, mean, spread and quartiles of the customers' predicted CLV."""
    clv_tier = analysis.current.segmentations.get("clv_tier")
    if clv_tier is None:
        return None
    return clv_tier.details["customer_clv"].describe().T.round(2)


# --- 05 comparison ----------------------------------------------------------------------------


def backtest_heading(analysis: MonthAnalysis, *, lang: str) -> Markdown:
    """The backtest's window and the month's recommendation."""
    return Markdown(
        f"回测 / backtest: {analysis.calibration_end:%Y-%m-%d} → {analysis.outcomes_end:%Y-%m-%d}"
        f"\n\n**{analysis.recommendation[lang]}**\n\n{_RANKING_RULE[lang]}"
    )


# The rule of segmentation.ranking, in the words the report uses.
_RANKING_RULE = {
    "zh": "排名规则：按每个方案在三项回测指标（eta²、前20%客户未来收入占比、购买预测 AUC）上的平均"
    "名次排序；单调性只有有序方案才有，只展示不计入排名；最大分层超过买家 95% 或指标无法计算的方案"
    "不参与排名，并写明原因。",
    "en": "Ranking rule: schemes are ordered by their mean rank over the three backtest scores "
    "(eta², top-20% share of future revenue, purchase AUC); monotonicity exists only for ordered "
    "schemes, so it is shown but not ranked; a scheme whose largest segment holds over 95% of "
    "buyers, or whose scores cannot be computed, is not ranked, with the reason.",
}


def ranking_table(analysis: MonthAnalysis, *, lang: str) -> pd.DataFrame:
    """The schemes ranked by their backtest scores, for display."""
    return scores_table(analysis.scores, analysis.scheme_titles(), lang=lang).round(3)


def lift_curves_plot(analysis: MonthAnalysis, *, plot_lang: str, top: int = 5) -> Figure:
    """The lift curves of the ``top`` ranked schemes."""
    return plot_lift_curves(analysis.lift_curves(top=top), analysis.scheme_titles(), lang=plot_lang)


def agreement_plot(analysis: MonthAnalysis, *, plot_lang: str) -> Figure:
    """The adjusted Rand index between every two schemes, as a heatmap."""
    return plot_agreement(analysis.agreement_ari, analysis.scheme_titles(), lang=plot_lang)


def agreement_ami_table(analysis: MonthAnalysis, *, lang: str) -> pd.DataFrame:
    """The adjusted mutual information between every two schemes, by scheme title."""
    titles = analysis.scheme_titles()
    names = {name: titles[name].get(lang, name) for name in analysis.agreement_ami.index}
    return analysis.agreement_ami.rename(index=names, columns=names).round(2)


def top_two_crosstab(analysis: MonthAnalysis, *, lang: str) -> pd.DataFrame | None:
    """Customers by segment of the first-ranked scheme against the second's."""
    if len(analysis.scores) < 2:
        return None
    schemes = analysis.current.segmentations
    first, second = analysis.scores.index[:2]
    return crosstab(schemes[first], schemes[second], lang=lang)


def show_attribute_cuts(analysis: MonthAnalysis, *, lang: str) -> None:
    """Show the recommended scheme's segments by each customer attribute the data has."""
    best = analysis.best_scheme
    if best is None:
        return
    for attribute, names in ATTRIBUTE_NAMES.items():
        if attribute in analysis.snapshot and analysis.snapshot[attribute].notna().any():
            display(Markdown(f"#### {names[lang]}"))
            cut = attribute_cut(
                analysis.current.segmentations[best], analysis.snapshot, by=attribute, lang=lang
            )
            display(cut.row_shares.round(3))


def show_playbook(
    analysis: MonthAnalysis,
    *,
    lang: str,
    schemes: Sequence[str] = ("value_tier", _LIFECYCLE),
) -> None:
    """Show the recommended action of every segment: of the recommended scheme, then of
    ``schemes``."""
    for scheme in (analysis.best_scheme, *schemes):
        if scheme is not None:
            show_scheme_section(analysis, scheme, lang=lang)
