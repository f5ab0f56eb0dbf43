"""Score segmentation schemes: agreement, a backtest on held-out months, stability, shape,
and the ranking and one-line recommendation computed from them.

The backtest asks of every scheme the question an analyst cares about: if I had segmented my
customers ``horizon_days`` ago, how well would the segments have told apart who went on to
buy and how much? Schemes are computed as of the calibration date (the report's as-of date
minus the horizon) and scored on what each customer did in the horizon that followed:

- **eta²** — the share of the variance in future revenue that lies between segments
  (the correlation ratio; 1 when segments explain all of it);
- **top-20% revenue share** — customers ranked by their segment's mean future revenue, the
  share of future revenue held by the top 20% (0.2 for a scheme that knows nothing); customers
  of the segment straddling the 20% line count in proportion, as under random tie-breaking;
- **AUC** — of the segment's purchase rate as a predictor of who buys (0.5 knows nothing);
- **Spearman monotonicity** — for ordered schemes, the rank correlation between segment order
  and segment mean future revenue (1: every step up the order is worth more).

All of these are computed, never written by hand, and so is the ranking and its one-line
recommendation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from segmentation.features import as_of_cutoff, as_text, buyer_mask, order_purchases
from segmentation.formatting import styled
from segmentation.ranking import RANKED_SCORES as RANKING_SCORES
from segmentation.ranking import (
    bootstrap_scores,
    collapsed_reason,
    rank_schemes,
    segment_scores,
)
from segmentation.schemes.base import Segmentation, common_positions
from segmentation.schemes.registry import SchemeRun

if TYPE_CHECKING:
    from pandas.io.formats.style import Styler

__all__ = [
    "AMI_MAX_CUSTOMERS",
    "RANKED_SCORES",
    "SCORE_COLUMNS",
    "SHAPE_SCORES",
    "adjusted_rand_from_codes",
    "agreement_matrix",
    "backtest_scores",
    "crosstab",
    "future_outcomes",
    "lift_curve",
    "scheme_scores",
    "scores_table",
    "segment_shape",
    "shape_of_shares",
    "stability_ari",
]

#: The month's AMI matrix scores a seeded sample of this many customers when there are more
#: (see :func:`agreement_matrix`); ARI is cheap and always scores everyone.
AMI_MAX_CUSTOMERS = 200_000

SCORE_COLUMNS = [
    "eta_squared",
    "top20_revenue_share",
    "auc_purchase",
    "spearman_monotonicity",
    "n_segments",
    "smallest_share",
    "entropy_bits",
]


def future_outcomes(
    orders: pd.DataFrame,
    customer_ids: pd.Index,
    *,
    calibration_end: str | pd.Timestamp,
    horizon_days: int,
) -> pd.DataFrame:
    """What each customer did in the ``horizon_days`` after ``calibration_end``.

    Parameters
    ----------
    orders : pandas.DataFrame
        Canonical orders (guests are ignored).
    customer_ids : pandas.Index
        The customers scored (the calibration snapshot's index); customers without orders in
        the window get 0 revenue and ``bought`` False.
    calibration_end : str or pandas.Timestamp
        The calibration as-of day (inclusive); the window starts the next day.
    horizon_days : int
        Length of the window in days.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``customer_ids``: ``revenue`` (net of refunds dated in the window) and
        ``bought`` (at least one purchase, i.e. an order that is not fully refunded).
    """
    start = as_of_cutoff(calibration_end)
    end_day = pd.Timestamp(calibration_end).normalize() + pd.Timedelta(days=horizon_days)
    in_window = orders.loc[
        orders["customer_id"].notna()
        & (orders["order_ts"] >= start)
        & (orders["order_ts"] < as_of_cutoff(end_day))
    ]
    # Ids as text: grouping or looking up a categorical hashes all of its categories (every
    # customer), where text is hashed only for the window's rows.
    in_window = in_window.assign(customer_id=as_text(in_window["customer_id"]))
    revenue = in_window.groupby("customer_id")["amount"].sum()
    per_order = order_purchases(in_window, as_of=end_day)
    buyers = pd.Index(per_order.loc[per_order["is_purchase"], "customer_id"].unique())
    out = pd.DataFrame(index=customer_ids)
    out["revenue"] = revenue.reindex(customer_ids, fill_value=0.0).to_numpy(dtype=float)
    # A hash lookup of the customers among the buyers: pandas' isin on Arrow-backed text
    # turns every buyer into a Python object first (2.4 s for 437,000 buyers against 0.3 s).
    out["bought"] = buyers.get_indexer(customer_ids) >= 0
    return out


def _segment_means(labels: pd.Series, values: pd.Series) -> pd.Series:
    return values.groupby(labels, observed=True).mean()


def lift_curve(labels: pd.Series, revenue: pd.Series) -> pd.DataFrame:
    """Cumulative share of future revenue against share of customers, best segment first.

    Parameters
    ----------
    labels : pandas.Series
        Segment labels, indexed by customer.
    revenue : pandas.Series
        Future revenue, aligned with ``labels``.

    Returns
    -------
    pandas.DataFrame
        One row per segment in descending order of mean future revenue, plus a leading
        (0, 0) row: ``customer_share`` and ``revenue_share`` (both cumulative), ``segment``.
    """
    # Grouped by the labels' values: given a named Series, pandas first looks its name up
    # among the customer ids, which builds their hash table (a second at a million ids).
    grouped = revenue.groupby(_aligned(labels, revenue.index).array, observed=True)
    table = pd.DataFrame({"mean": grouped.mean(), "size": grouped.size(), "sum": grouped.sum()})
    # Ties in the mean are broken by segment name so the curve is deterministic.
    table = table.rename_axis("segment").reset_index()
    table["segment"] = table["segment"].astype(str)
    table = table.sort_values(["mean", "segment"], ascending=[False, True], kind="stable")
    total = float(revenue.sum())
    curve = pd.DataFrame(
        {
            "segment": ["", *table["segment"]],
            "customer_share": np.r_[0.0, table["size"].cumsum() / len(revenue)],
            "revenue_share": np.r_[0.0, table["sum"].cumsum() / total] if total else np.nan,
        }
    )
    return curve


def segment_shape(labels: pd.Series) -> dict[str, float]:
    """Number of non-empty segments, the smallest one's share and the entropy of the shares.

    Parameters
    ----------
    labels : pandas.Series

    Returns
    -------
    dict
        ``n_segments``, ``smallest_share``, ``entropy_bits`` (log base 2; log2(k) when k
        segments are equal).
    """
    shares = labels.value_counts(normalize=True)
    return shape_of_shares(shares.to_numpy())


def shape_of_shares(shares: np.ndarray) -> dict[str, float]:
    """:func:`segment_shape` from each segment's share of the customers.

    Parameters
    ----------
    shares : numpy.ndarray
        Each segment's share, largest first (the order the entropy is summed in); empty
        segments are left out.

    Returns
    -------
    dict
        ``n_segments``, ``smallest_share``, ``entropy_bits``.
    """
    # Imported here, as in scheme_scores and agreement_matrix: scipy.stats and scikit-learn
    # take 0.8 s to import, and every notebook kernel imports this module to read the
    # month's analysis back.
    from scipy import stats

    shares = shares[shares > 0]
    return {
        "n_segments": float(len(shares)),
        "smallest_share": float(shares.min()) if len(shares) else float("nan"),
        "entropy_bits": float(stats.entropy(shares, base=2)),
    }


def scheme_scores(segmentation: Segmentation, outcomes: pd.DataFrame) -> dict[str, float]:
    """Backtest and shape scores of one scheme.

    eta², the top-20% share and the AUC are :func:`segmentation.ranking.segment_scores`, the
    same function every bootstrap replicate of the ranking runs.

    Parameters
    ----------
    segmentation : Segmentation
        Computed as of the calibration date.
    outcomes : pandas.DataFrame
        :func:`future_outcomes` for the same customers.

    Returns
    -------
    dict
        The keys of :data:`SCORE_COLUMNS`; ``spearman_monotonicity`` is NaN for nominal
        schemes, ``auc_purchase`` NaN when everyone (or no one) bought.
    """
    labels = _aligned(segmentation.labels, outcomes.index)
    if labels.isna().any():
        raise ValueError(f"{segmentation.scheme}: some scored customers have no label")
    revenue = outcomes["revenue"]
    ranked = segment_scores(
        labels.cat.codes.to_numpy().astype(np.int64),
        revenue.to_numpy(dtype=float),
        outcomes["bought"].to_numpy(dtype=float),
    )
    spearman = float("nan")
    if segmentation.ordered:
        means = _segment_means(labels, revenue)
        order = pd.Series(labels.cat.categories.get_indexer(means.index), index=means.index)
        if len(means) >= 3 and means.nunique() > 1:
            from scipy import stats  # imported here: see segment_shape

            spearman = float(stats.spearmanr(order, means).statistic)
    return {
        **dict(zip(RANKING_SCORES, ranked, strict=True)),
        "spearman_monotonicity": spearman,
        **segment_shape(labels),
    }


def stability_ari(
    previous: Segmentation,
    current: Segmentation,
    *,
    positions: tuple[np.ndarray, np.ndarray] | None = None,
) -> float:
    """Adjusted Rand index between last month's and this month's labels of a scheme.

    Computed on the customers present in both; 1 means nobody changed segment (up to
    renaming), 0 is what unrelated labellings give.

    Parameters
    ----------
    previous, current : Segmentation
        The same scheme, last month and this month.
    positions : tuple of two arrays, optional
        Where the customers in both months sit in ``previous.labels`` and in
        ``current.labels``, in the same order, when already known (every scheme of a month
        labels the same customers, so one lookup serves them all); looked up when omitted.

    Returns
    -------
    float
        NaN when fewer than two customers are in both months.
    """
    in_previous, in_current = positions or common_positions(
        previous.labels.index, current.labels.index
    )
    if len(in_previous) < 2:
        return float("nan")
    # Category codes, not label text: the score only needs which customers share a segment.
    return adjusted_rand_from_codes(
        previous.labels.cat.codes.to_numpy()[in_previous],
        current.labels.cat.codes.to_numpy()[in_current],
    )


def adjusted_rand_from_codes(a: np.ndarray, b: np.ndarray) -> float:
    """scikit-learn's ``adjusted_rand_score`` of two integer code arrays, from one bincount.

    The same pair counts in the same integer arithmetic and the same final formula, so the
    same float; without the label checks and the sparse contingency matrix that take ~70 ms
    per pair at a million customers (the 55 pairs of eleven schemes took 3.9 s, now ~0.15 s).

    Parameters
    ----------
    a, b : numpy.ndarray
        Integer codes of equal length (pandas category codes; -1 for a missing label, a
        label of its own as in scikit-learn).

    Returns
    -------
    float
    """
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    if len(a) != len(b):
        raise ValueError(f"label arrays differ in length: {len(a)} and {len(b)}")
    a = a - a.min(initial=0)
    b = b - b.min(initial=0)
    width = int(b.max(initial=-1)) + 1
    contingency = np.bincount(a * width + b, minlength=(int(a.max(initial=-1)) + 1) * width)
    contingency = contingency.reshape(-1, width) if width else contingency.reshape(0, 0)
    n_samples = len(a)
    n_c = contingency.sum(axis=1)
    n_k = contingency.sum(axis=0)
    sum_squares = int((contingency.astype(np.int64) ** 2).sum())
    tp = sum_squares - n_samples
    fp = int((contingency @ n_k).sum()) - sum_squares
    fn = int((contingency.T @ n_c).sum()) - sum_squares
    tn = n_samples**2 - fp - fn - sum_squares
    if fn == 0 and fp == 0:
        return 1.0
    return 2.0 * (tp * tn - fn * fp) / ((tp + fn) * (fn + tn) + (tp + fp) * (fp + tn))


def agreement_matrix(
    segmentations: Mapping[str, Segmentation],
    *,
    metric: str = "ari",
    max_customers: int | None = None,
    random_state: int = 0,
) -> pd.DataFrame:
    """Pairwise agreement between schemes: adjusted Rand (``"ari"``) or adjusted mutual
    information (``"ami"``), on the customers every scheme labels.

    Parameters
    ----------
    segmentations : mapping of str to Segmentation
        The schemes to compare, by name.
    metric : {"ari", "ami"}, default "ari"
    max_customers : int, optional
        Score on a seeded random sample of this many of the common customers when there
        are more (all of them when None). scikit-learn's expected mutual information, the
        correction that makes AMI adjusted, takes time proportional to the number of
        customers for every pair; at a million customers the 55 pairs of eleven schemes
        take half a minute, while a 200,000-customer sample moves AMI by less than 0.01.
    random_state : int, default 0
        Seed of the sample.

    Returns
    -------
    pandas.DataFrame
        Square, symmetric, 1 on the diagonal, indexed by scheme name. ``attrs["n_customers"]``
        holds how many customers were scored and ``attrs["sampled"]`` whether they were a
        sample.
    """
    from sklearn.metrics import adjusted_mutual_info_score  # imported here: see segment_shape

    score = {"ari": adjusted_rand_from_codes, "ami": adjusted_mutual_info_score}[metric]
    names = list(segmentations)
    if not names:
        return pd.DataFrame()
    common = segmentations[names[0]].labels.index
    for name in names[1:]:
        index = segmentations[name].labels.index
        if not index.equals(common):
            common = common.intersection(index)
    rows = np.arange(len(common))
    sampled = max_customers is not None and len(common) > max_customers
    if sampled:
        rng = np.random.default_rng(random_state)
        rows = np.sort(rng.choice(len(common), size=int(max_customers or 0), replace=False))
    codes = {n: _aligned(segmentations[n].labels, common).cat.codes.to_numpy()[rows] for n in names}
    matrix = pd.DataFrame(np.eye(len(names)), index=names, columns=names)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            matrix.loc[a, b] = matrix.loc[b, a] = float(score(codes[a], codes[b]))
    matrix.attrs.update({"n_customers": len(rows), "sampled": bool(sampled)})
    return matrix


def _aligned(labels: pd.Series, index: pd.Index) -> pd.Series:
    """``labels.reindex(index)``, without hashing the ids when they are already aligned."""
    return labels if labels.index.equals(index) else labels.reindex(index)


def crosstab(a: Segmentation, b: Segmentation, *, lang: str = "zh") -> pd.DataFrame:
    """Customers by segment of ``a`` (rows) and of ``b`` (columns), with display names; the
    axes are named by the schemes' titles."""
    common = a.labels.index.intersection(b.labels.index)
    table = pd.crosstab(
        a.named_labels(lang).reindex(common), b.named_labels(lang).reindex(common), dropna=False
    )
    return table.rename_axis(index=a.display_title(lang), columns=b.display_title(lang))


#: The scores every ranked scheme has, and the rank they give; then how each scheme is
#: shaped and how stable it is (:func:`scores_table` shows each group as its own table).
RANKED_SCORES = [
    "rank",
    "mean_rank",
    "support",
    "eta_squared",
    "top20_revenue_share",
    "auc_purchase",
    "spearman_monotonicity",
    "collapsed",
]
SHAPE_SCORES = [
    "stability_ari",
    "bootstrap_jaccard",
    "n_segments",
    "smallest_share",
    "entropy_bits",
]

_SCORE_HEADERS: dict[str, dict[str, str]] = {
    "zh": {
        "scheme": "方案",
        "rank": "排名",
        "mean_rank": "平均名次（三项指标）",
        "support": "自助重抽样中排第一的比例",
        "eta_squared": "eta²（收入方差解释度）",
        "top20_revenue_share": "前20%客户未来收入占比",
        "auc_purchase": "购买预测AUC",
        "spearman_monotonicity": "单调性（Spearman）",
        "collapsed": "未排名的原因",
        "stability_ari": "月度稳定性（ARI）",
        "bootstrap_jaccard": "自助法Jaccard",
        "n_segments": "分层数",
        "smallest_share": "最小分层占比",
        "entropy_bits": "熵（比特）",
    },
    "en": {
        "scheme": "scheme",
        "rank": "rank",
        "mean_rank": "mean rank (three scores)",
        "support": "first in bootstrap replicates",
        "eta_squared": "eta² (revenue variance explained)",
        "top20_revenue_share": "top-20% share of future revenue",
        "auc_purchase": "purchase AUC",
        "spearman_monotonicity": "monotonicity (Spearman)",
        "collapsed": "why not ranked",
        "stability_ari": "month-to-month stability (ARI)",
        "bootstrap_jaccard": "bootstrap Jaccard",
        "n_segments": "segments",
        "smallest_share": "smallest segment share",
        "entropy_bits": "entropy (bits)",
    },
}
_SCORE_KINDS = {
    "rank": "count",
    "mean_rank": "score",
    "support": "percent",
    "eta_squared": "score",
    "top20_revenue_share": "percent",
    "auc_purchase": "score",
    "spearman_monotonicity": "score",
    "collapsed": "text",
    "stability_ari": "score",
    "bootstrap_jaccard": "score",
    "n_segments": "count",
    "smallest_share": "percent",
    "entropy_bits": "decimal",
}


def scores_table(
    ranked: pd.DataFrame,
    titles: Mapping[str, Mapping[str, str]],
    *,
    lang: str = "zh",
    columns: Sequence[str] = RANKED_SCORES,
) -> Styler:
    """The ranked scores for display: scheme titles, headers and formats in ``lang``.

    Parameters
    ----------
    ranked : pandas.DataFrame
        :func:`rank_schemes`.
    titles : mapping
        Scheme name to bilingual title.
    lang : {"zh", "en"}
    columns : sequence of str, default :data:`RANKED_SCORES`
        The scores shown (:data:`SHAPE_SCORES` for the other table). ``collapsed`` (why a
        scheme is not ranked) is shown only when some scheme is not ranked.

    Returns
    -------
    pandas.io.formats.style.Styler
        Shares as percentages, scores with three decimals, counts whole, "—" where a score
        does not apply (monotonicity of an unordered scheme, Jaccard of a rule scheme).
    """
    headers = _SCORE_HEADERS[lang]
    table = ranked.copy()
    # The reason a scheme is not ranked is written in each language.
    table["collapsed"] = ranked["collapsed_zh" if lang == "zh" else "collapsed"]
    shown = [
        c
        for c in columns
        if c in table.columns and (c != "collapsed" or table[c].fillna("").astype(str).ne("").any())
    ]
    table = table[shown].rename(columns=headers)
    table.index = pd.Index(
        [titles.get(n, {}).get(lang) or titles.get(n, {}).get("en") or n for n in ranked.index],
        name=headers["scheme"],
    )
    return styled(table, {headers[c]: _SCORE_KINDS[c] for c in shown})


def backtest_scores(
    calibration: SchemeRun,
    outcomes: pd.DataFrame,
    *,
    previous: SchemeRun,
    current: SchemeRun,
    settings: Mapping[str, Any],
    random_state: int = 0,
    positions: tuple[np.ndarray, np.ndarray] | None = None,
) -> pd.DataFrame:
    """Every scheme's backtest and shape scores, its stability and bootstrap Jaccard, ranked.

    Parameters
    ----------
    calibration : SchemeRun
        The schemes as of the calibration day; each is scored on ``outcomes``.
    outcomes : pandas.DataFrame
        :func:`future_outcomes` of the calibration snapshot's customers.
    previous, current : SchemeRun
        The schemes last month and this month: ``stability_ari`` compares the two (NaN
        for a scheme missing from either), ``bootstrap_jaccard`` is this month's mean
        cluster-wise Jaccard (NaN for schemes that have none).
    settings : mapping
        The config's ``ranking`` section.
    random_state : int, default 0
        Seed of the bootstrap.
    positions : tuple of two arrays, optional
        :func:`~segmentation.schemes.base.common_positions` of ``previous.snapshot.index``
        and ``current.snapshot.index`` when already known; looked up when omitted.

    Returns
    -------
    pandas.DataFrame
        :func:`segmentation.ranking.rank_schemes` of one row per calibration scheme, with
        each ranked score's bootstrap interval and each scheme's ``support``.
    """
    # Every scheme labels its month's snapshot: one lookup of last month's customers in this
    # month's serves them all.
    if positions is None:
        positions = common_positions(previous.snapshot.index, current.snapshot.index)
    rows = {}
    for name, segmentation in calibration.segmentations.items():
        row = scheme_scores(segmentation, outcomes)
        if name in previous.segmentations and name in current.segmentations:
            before, now = previous.segmentations[name], current.segmentations[name]
            shared = (
                before.labels.index is previous.snapshot.index
                and now.labels.index is current.snapshot.index
            )
            row["stability_ari"] = stability_ari(
                before, now, positions=positions if shared else None
            )
        jaccard = current.segmentations.get(name, segmentation).details.get("jaccard")
        row["bootstrap_jaccard"] = (
            float(jaccard.mean()) if isinstance(jaccard, pd.Series) else float("nan")
        )
        row.update(_collapse(segmentation, calibration, row, settings))
        rows[name] = row
    ranked = rank_schemes(pd.DataFrame.from_dict(rows, orient="index"))
    return _with_bootstrap(ranked, calibration, outcomes, settings, random_state)


def _collapse(
    segmentation: Segmentation,
    calibration: SchemeRun,
    scores: Mapping[str, float],
    settings: Mapping[str, Any],
) -> dict[str, Any]:
    """The share of buyers in the largest segment, and why the scheme cannot be ranked."""
    buyers = buyer_mask(calibration.snapshot)
    labels = _aligned(segmentation.labels, calibration.snapshot.index)
    counts = np.bincount(labels.cat.codes.to_numpy()[buyers], minlength=1)
    largest = float(counts.max() / buyers.sum()) if buyers.any() else 1.0
    limit = float(settings["max_segment_share"])
    return {
        "largest_buyer_share": largest,
        "collapsed": collapsed_reason(largest, scores, max_share=limit, lang="en"),
        "collapsed_zh": collapsed_reason(largest, scores, max_share=limit, lang="zh"),
    }


def _with_bootstrap(
    ranked: pd.DataFrame,
    calibration: SchemeRun,
    outcomes: pd.DataFrame,
    settings: Mapping[str, Any],
    random_state: int,
) -> pd.DataFrame:
    """``ranked`` with each ranked score's 95% interval and each scheme's support."""
    names = [name for name in ranked.index if pd.notna(ranked.loc[name, "rank"])]
    codes = {
        name: _aligned(calibration.segmentations[name].labels, outcomes.index)
        .cat.codes.to_numpy()
        .astype(np.int64)
        for name in names
    }
    intervals, support = bootstrap_scores(
        codes,
        outcomes["revenue"].to_numpy(dtype=float),
        outcomes["bought"].to_numpy(dtype=float),
        replicates=int(settings["bootstrap_replicates"]),
        max_customers=int(settings["bootstrap_max_customers"]),
        random_state=random_state,
    )
    out = ranked.join(intervals).join(support)
    out["support"] = out["support"].fillna(0.0)
    return out
