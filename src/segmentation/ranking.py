"""Which scheme to use: one ranking rule, its bootstrap support, and the sentence that says it.

The rule, in one sentence: **schemes are ranked by their mean rank over the three backtest
scores every scheme has (eta², the top-20% share of future revenue, purchase AUC); a scheme
whose largest segment holds more than** ``ranking.max_segment_share`` **of buyers, or whose
scores cannot be computed, is not ranked.** Spearman monotonicity exists only for ordered
schemes, so it is shown but never ranked: a missing score neither helps nor hurts.

A customer bootstrap (Poisson weights, seeded) recomputes the three scores and the ranking
in each replicate; a scheme's *support* is the share of replicates in which it ranks first,
and each score gets a 95% interval. :func:`ranking_rule` states the rule with the config's
numbers (``ranking.max_segment_share``, ``bootstrap_replicates``, ``clear_winner_support``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
import pandas as pd

from segmentation.i18n import localized

__all__ = [
    "RANKED_SCORES",
    "RevenueSpread",
    "Verdict",
    "bootstrap_scores",
    "collapsed_reason",
    "rank_schemes",
    "ranking_rule",
    "scores_from_sums",
    "segment_scores",
    "verdict",
]

RANKED_SCORES: tuple[str, ...] = ("eta_squared", "top20_revenue_share", "auc_purchase")


def segment_scores(
    codes: np.ndarray, revenue: np.ndarray, bought: np.ndarray, weights: np.ndarray | None = None
) -> tuple[float, float, float]:
    """eta², top-20% revenue share and purchase AUC of one labelling, from segment sums.

    The one definition of the three ranked scores: the backtest's own
    (:func:`segmentation.evaluate.scheme_scores`) and every bootstrap replicate's. With
    ``weights`` (a replicate's count of each customer) every customer counts that many
    times; without, once.

    - eta² is the between-segment sum of squares of future revenue over the total, both
      centred on the customers' mean (no cancellation of two large sums);
    - the top-20% share reads the lift curve (segments best first by mean future revenue) at
      20% of customers, the straddling segment counted pro rata;
    - the AUC counts, for every buyer and non-buyer, whether the buyer's segment buys at a
      higher rate (ties count half).

    The segments are summed in an order fixed by their own sums, not by their codes, so two
    labellings that group the customers alike score bit for bit alike, whatever their codes:
    a tie in the ranking stays a tie.

    Parameters
    ----------
    codes : numpy.ndarray
        Each customer's segment, 0..k-1.
    revenue : numpy.ndarray
        Each customer's future revenue.
    bought : numpy.ndarray
        Whether each customer bought in the horizon (0/1).
    weights : numpy.ndarray, optional

    Returns
    -------
    tuple of float
        NaN where a score is undefined (constant revenue; everyone or no one bought).
    """
    w = np.ones(len(codes)) if weights is None else weights.astype(float)
    weighted = _WeightedCustomers(w, w * revenue, w * bought, RevenueSpread.of(revenue, w))
    return weighted.scores(codes, n_segments=int(codes.max()) + 1 if len(codes) else 0)


@dataclass(frozen=True)
class _WeightedCustomers:
    """What :func:`segment_scores` needs of the customers beyond their segments: each one's
    weight, weighted revenue and purchase, and the revenue's spread. The same for every
    labelling, so a bootstrap replicate computes it once for all the schemes."""

    weight: np.ndarray
    revenue: np.ndarray
    bought: np.ndarray
    spread: RevenueSpread

    def scores(self, codes: np.ndarray, *, n_segments: int) -> tuple[float, float, float]:
        """The three ranked scores of the labelling ``codes`` (0..n_segments-1)."""
        size = np.bincount(codes, self.weight, minlength=n_segments)
        total = np.bincount(codes, self.revenue, minlength=n_segments)
        buyers = np.bincount(codes, self.bought, minlength=n_segments)
        return scores_from_sums(size, total, buyers, spread=self.spread)


@dataclass(frozen=True)
class RevenueSpread:
    """The customers' count, mean revenue, sum of squares about the mean, and sum of squares:
    what eta² needs beyond the segments' sums.

    Attributes
    ----------
    n, mean, spread, scale : float
        ``n`` customers (weighted), their ``mean`` revenue, ``spread`` the sum of squared
        deviations from it (centred: no cancellation of two large sums) and ``scale`` the
        sum of squared revenue, against which a spread that is only rounding is told apart.
    """

    n: float
    mean: float
    spread: float
    scale: float

    @classmethod
    def of(cls, revenue: np.ndarray, weights: np.ndarray) -> RevenueSpread:
        """From each customer's revenue and weight."""
        n = float(weights.sum())
        if n == 0:
            return cls(0.0, float("nan"), float("nan"), float("nan"))
        mean = float(np.sum(weights * revenue)) / n
        return cls(
            n=n,
            mean=mean,
            spread=float(np.sum(weights * (revenue - mean) ** 2)),
            scale=float(np.sum(weights * revenue * revenue)),
        )

    @classmethod
    def exact(cls, n: int, total: int, squares: int) -> RevenueSpread:
        """From whole-number sums (an engine's count, sum and sum of squares of revenue in
        cents), in exact rational arithmetic, rounded once."""
        if n == 0:
            return cls(0.0, float("nan"), float("nan"), float("nan"))
        spread = Fraction(squares) - Fraction(total) ** 2 / n
        return cls(float(n), float(Fraction(total, n)), float(spread), float(squares))


def scores_from_sums(
    size: np.ndarray, total: np.ndarray, buyers: np.ndarray, *, spread: RevenueSpread
) -> tuple[float, float, float]:
    """eta², top-20% revenue share and purchase AUC from each segment's customers, revenue
    and buyers (:func:`segment_scores` computes them from the customers; an engine sums
    them where the customers are).

    Parameters
    ----------
    size, total, buyers : numpy.ndarray
        Per segment: customers, future revenue and customers who bought (weighted counts).
    spread : RevenueSpread
        Of the same customers' revenue.

    Returns
    -------
    tuple of float
        As :func:`segment_scores`. Revenue may be in any unit (cents on an engine): every
        score is a ratio.
    """
    size, total, buyers = (np.asarray(a, dtype=float) for a in (size, total, buyers))
    present = size > 0
    size, total, buyers = size[present], total[present], buyers[present]
    canonical = np.lexsort((buyers, total, size))
    size, total, buyers = size[canonical], total[canonical], buyers[canonical]
    return _eta_squared(size, total, spread), _top_share(size, total), _auc(size, buyers)


def _eta_squared(size: np.ndarray, total: np.ndarray, spread: RevenueSpread) -> float:
    """Between-segment over total sum of squares; the customers' sums do not depend on codes."""
    if spread.n == 0:
        return float("nan")
    between = float(np.sum(size * (total / size - spread.mean) ** 2))
    # Constant revenue leaves only rounding in the spread: eta² is undefined, not 0 or 1.
    if spread.spread > 1e-12 * max(spread.scale, 1.0):
        return between / spread.spread
    return float("nan")


def _top_share(size: np.ndarray, total: np.ndarray, top: float = 0.2) -> float:
    grand = total.sum()
    if grand == 0:
        return float("nan")
    # Best segment first by mean future revenue (ties by position: segment_scores' order).
    order = np.lexsort((np.arange(len(size)), -(total / size)))
    customers = np.r_[0.0, np.cumsum(size[order]) / size.sum()]
    revenue = np.r_[0.0, np.cumsum(total[order]) / grand]
    return float(np.interp(top, customers, revenue))


def _auc(size: np.ndarray, buyers: np.ndarray) -> float:
    positives, negatives = buyers, size - buyers
    if positives.sum() <= 0 or negatives.sum() <= 0:
        return float("nan")
    rate = buyers / size
    # Each buyer beats each non-buyer of a segment with a lower purchase rate; ties count half.
    wins = np.sum(positives[:, None] * negatives[None, :] * (rate[:, None] > rate[None, :]))
    ties = np.sum(positives[:, None] * negatives[None, :] * (rate[:, None] == rate[None, :]))
    return float((wins + 0.5 * ties) / (positives.sum() * negatives.sum()))


def collapsed_reason(
    largest_buyer_share: float, scores: Mapping[str, float], *, max_share: float, lang: str
) -> str:
    """Why a scheme cannot be ranked, in ``lang``; "" when it can.

    Parameters
    ----------
    largest_buyer_share : float
        The share of buyers in the scheme's largest segment.
    scores : mapping
        The scheme's :data:`RANKED_SCORES`.
    max_share : float
        ``ranking.max_segment_share``.
    lang : {"zh", "en"}
    """
    if largest_buyer_share > max_share:
        return localized(
            {
                "zh": f"最大的分层占买家的 {largest_buyer_share:.1%}（上限 {_percent(max_share)}），"
                "分层已失去区分度；可在配置中调整阈值（例如换算成数据所用的货币）或改用分位数分层",
                "en": f"its largest segment holds {largest_buyer_share:.1%} of buyers "
                f"(limit {_percent(max_share)}), so it no longer tells customers apart; adjust its "
                "thresholds in a config override (e.g. to the data's currency) or use a "
                "quantile-based scheme",
            },
            lang,
        )
    missing = [name for name in RANKED_SCORES if not np.isfinite(scores[name])]
    if missing:
        return localized(
            {
                "zh": f"无法计算 {', '.join(missing)}（未来收入或购买在各客户间没有差异）",
                "en": f"{', '.join(missing)} cannot be computed (future revenue or purchase "
                "does not vary across its customers)",
            },
            lang,
        )
    return ""


def _percent(share: float) -> str:
    """A share as a percentage with the digits it has: 0.95 -> "95%", 0.975 -> "97.5%"."""
    return f"{round(float(share) * 100, 6):g}%"


def ranking_rule(settings: Mapping[str, Any]) -> dict[str, str]:
    """The ranking rule in one paragraph, zh and en, with the config's numbers.

    Parameters
    ----------
    settings : mapping
        The config's ``ranking`` section: ``max_segment_share``, ``bootstrap_replicates``
        and ``clear_winner_support`` are stated as they are set.

    Returns
    -------
    dict
        ``{"zh": ..., "en": ...}``.
    """
    max_share = _percent(settings["max_segment_share"])
    replicates = int(settings["bootstrap_replicates"])
    clear = _percent(settings["clear_winner_support"])
    return {
        "zh": "排名规则：按每个方案在三项回测指标（eta²、前20%客户未来收入占比、购买预测 AUC）上"
        "的平均名次排序（并列时分层少者在前）；单调性只有有序方案才有，只展示不计入排名；最大分层"
        f"超过买家 {max_share} 或指标无法计算的方案不参与排名，并写明原因。各指标的 95% 区间和"
        f"“自助重抽样中排第一的比例”来自 {replicates:,} 次按客户的自助重抽样；该比例达到 "
        f"{clear} 才算明确胜出，否则与第二名难以区分。",
        "en": "Ranking rule: schemes are ordered by their mean rank over the three backtest "
        "scores (eta², top-20% share of future revenue, purchase AUC; ties: fewer segments "
        "first); monotonicity exists only for ordered schemes, so it is shown but not ranked; "
        f"a scheme whose largest segment holds over {max_share} of buyers, or whose scores "
        "cannot be computed, is not ranked, with the reason. Each score's 95% interval and each "
        f"scheme's share of first places come from {replicates:,} customer bootstrap "
        f"replicates; the winner is clear when it ranks first in at least {clear} of them, "
        "otherwise it cannot be told apart from the runner-up.",
    }


def rank_schemes(scores: pd.DataFrame) -> pd.DataFrame:
    """Rank the schemes that can be ranked by their mean rank over :data:`RANKED_SCORES`.

    Parameters
    ----------
    scores : pandas.DataFrame
        Indexed by scheme, with the :data:`RANKED_SCORES`, ``n_segments`` and
        ``collapsed`` (a reason, "" for a scheme that can be ranked).

    Returns
    -------
    pandas.DataFrame
        ``scores`` with ``mean_rank`` and ``rank`` (1 = best; NaN for a collapsed scheme),
        ranked schemes first (ties to fewer segments, easier to act on), then collapsed ones.
    """
    out = scores.copy()
    ranked = out["collapsed"] == ""
    ranks = out.loc[ranked, list(RANKED_SCORES)].rank(ascending=False, method="average")
    out["mean_rank"] = ranks.mean(axis=1)
    out = pd.concat(
        [
            out.loc[ranked].sort_values(["mean_rank", "n_segments"], kind="stable"),
            out.loc[~ranked],
        ]
    )
    out["rank"] = np.r_[np.arange(1, int(ranked.sum()) + 1), np.full(int((~ranked).sum()), np.nan)]
    return out


def bootstrap_scores(
    labellings: Mapping[str, np.ndarray],
    revenue: np.ndarray,
    bought: np.ndarray,
    *,
    replicates: int,
    max_customers: int,
    random_state: int,
) -> tuple[pd.DataFrame, pd.Series]:
    """95% intervals of each scheme's ranked scores and its bootstrap support.

    Parameters
    ----------
    labellings : mapping
        Scheme name to each customer's segment code (the rankable schemes only).
    revenue, bought : numpy.ndarray
        Future revenue and purchase (0/1) per customer, aligned with the codes.
    replicates : int
        Bootstrap replicates.
    max_customers : int
        Above this many customers a seeded sample of this size is resampled.
    random_state : int

    Returns
    -------
    intervals : pandas.DataFrame
        Indexed by scheme: ``<score>_low`` and ``<score>_high`` for each ranked score.
    support : pandas.Series
        Per scheme, the share of replicates in which it ranks first.
    """
    names = list(labellings)
    rng = np.random.default_rng(random_state)
    rows = np.arange(len(revenue))
    if len(rows) > max_customers:
        rows = np.sort(rng.choice(rows, size=max_customers, replace=False))
    # The sampled customers' codes, revenue and purchases taken once, and each replicate's
    # weighted sums once for every scheme: the same sums segment_scores makes, to the bit.
    codes = [np.asarray(labellings[name])[rows] for name in names]
    n_segments = [int(c.max()) + 1 if len(c) else 0 for c in codes]
    revenue, bought = revenue[rows], bought[rows]
    draws = np.empty((replicates, len(names), len(RANKED_SCORES)))
    for r in range(replicates):
        w = rng.poisson(1.0, len(rows)).astype(float)
        weighted = _WeightedCustomers(w, w * revenue, w * bought, RevenueSpread.of(revenue, w))
        for s in range(len(names)):
            draws[r, s] = weighted.scores(codes[s], n_segments=n_segments[s])
    intervals = pd.DataFrame(index=pd.Index(names, name="scheme"))
    for j, score in enumerate(RANKED_SCORES):
        intervals[f"{score}_low"] = np.nanpercentile(draws[:, :, j], 2.5, axis=0)
        intervals[f"{score}_high"] = np.nanpercentile(draws[:, :, j], 97.5, axis=0)
    firsts = np.zeros(len(names))
    for r in range(replicates if names else 0):  # no rankable scheme: nothing ranks first
        mean_rank = pd.DataFrame(draws[r], index=names).rank(ascending=False).mean(axis=1)
        firsts[int(np.argmin(mean_rank.to_numpy()))] += 1
    return intervals, pd.Series(firsts / replicates, index=names, name="support")


@dataclass(frozen=True)
class Verdict:
    """The recommendation: which scheme, how clearly, and the sentence that says so.

    Attributes
    ----------
    scheme : str or None
        The recommended scheme; None when no scheme could be ranked.
    runner_up : str or None
    support : float
        Share of bootstrap replicates in which ``scheme`` ranks first.
    clear : bool
        ``support`` reaches ``ranking.clear_winner_support``.
    sentence : dict
        ``{"zh": ..., "en": ...}``.
    rule : dict
        The ranking rule the sentence follows (:func:`ranking_rule`), ``{"zh": ..., "en": ...}``.
    """

    scheme: str | None
    runner_up: str | None
    support: float
    clear: bool
    sentence: dict[str, str]
    rule: dict[str, str]


def verdict(
    ranked: pd.DataFrame,
    titles: Mapping[str, Mapping[str, str]],
    *,
    settings: Mapping[str, Any],
) -> Verdict:
    """The recommendation generated from the ranked table and nothing else.

    Every number the sentence states is a cell of ``ranked``: the scheme's mean rank and its
    rank and value on each ranked score, its bootstrap support, and the runner-up's.

    Parameters
    ----------
    ranked : pandas.DataFrame
        :func:`rank_schemes` with ``support`` (and the collapsed reasons).
    titles : mapping
        Scheme name to bilingual title.
    settings : mapping
        The config's ``ranking`` section: ``clear_winner_support``, ``bootstrap_replicates``
        (for the sentence) and what :func:`ranking_rule` states.
    """
    clear_support = float(settings["clear_winner_support"])
    replicates = int(settings["bootstrap_replicates"])
    rule = ranking_rule(settings)
    rankable = ranked.loc[ranked["rank"].notna()]
    if rankable.empty:
        text = {"zh": "没有可排名的分层方案。", "en": "No scheme could be ranked."}
        return Verdict(None, None, float("nan"), False, text, rule)
    best, row = rankable.index[0], rankable.iloc[0]
    runner = rankable.index[1] if len(rankable) > 1 else None
    score_ranks = rankable[list(RANKED_SCORES)].rank(ascending=False, method="min").loc[best]
    support = float(row["support"])
    clear = runner is None or support >= clear_support
    sentence = {
        lang: _sentence(
            lang,
            title=localized(titles[best], lang),
            row=row,
            score_ranks=score_ranks,
            n_ranked=len(rankable),
            runner=localized(titles[runner], lang) if runner else None,
            runner_support=float(rankable.loc[runner, "support"]) if runner else 0.0,
            clear=clear,
            replicates=replicates,
        )
        for lang in ("zh", "en")
    }
    return Verdict(best, runner, support, clear, sentence, rule)


def _sentence(
    lang: str,
    *,
    title: str,
    row: pd.Series,
    score_ranks: pd.Series,
    n_ranked: int,
    runner: str | None,
    runner_support: float,
    clear: bool,
    replicates: int,
) -> str:
    eta, top, auc = (row[s] for s in RANKED_SCORES)
    r_eta, r_top, r_auc = (int(score_ranks[s]) for s in RANKED_SCORES)
    if lang == "zh":
        text = (
            f"本月推荐「{title}」：在 {n_ranked} 个可排名方案中，三项回测指标的平均名次最好"
            f"（{row['mean_rank']:.1f}）——eta² {eta:.3f}（第 {r_eta}），"
            f"前20%客户占未来收入 {top:.1%}（第 {r_top}），购买预测 AUC {auc:.3f}（第 {r_auc}）。"
            f"在 {replicates} 次自助重抽样中，它有 {row['support']:.0%} 排第一"
        )
        if runner is None:
            return text + "。"
        if clear:
            return text + f"；其次是「{runner}」。"
        return text + f"，与「{runner}」（{runner_support:.0%}）难以区分，两者都值得一试。"
    text = (
        f"Use {title} this month: of {n_ranked} rankable schemes it has the best mean rank "
        f"over the three backtest scores ({row['mean_rank']:.1f}): eta² {eta:.3f} "
        f"(rank {r_eta}), top 20% hold {top:.1%} of future revenue (rank {r_top}), "
        f"purchase AUC {auc:.3f} (rank {r_auc}). It ranks first in {row['support']:.0%} of "
        f"{replicates} bootstrap replicates"
    )
    if runner is None:
        return text + "."
    if clear:
        return text + f"; runner-up: {runner}."
    return text + (
        f", so it cannot be told apart from {runner} ({runner_support:.0%}); both are worth a try."
    )
