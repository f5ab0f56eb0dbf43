"""Which scheme to use, decided where the orders are: the report's backtest on an engine.

:func:`segmentation.evaluate.backtest_scores` segments the customers as of a calibration
day (the as-of day less the horizon) and scores every scheme on what they did in the
horizon after. :func:`backtest_on_engine` does the same on DuckDB or Spark: the snapshot,
every rule scheme (and the clusters, when asked) and each customer's outcome are computed
there, and only each segment's whole-number sums come back (customers, future revenue in
cents, future buyers). The scores are :func:`segmentation.ranking.scores_from_sums` of them
with the exact spread of everyone's revenue, so every engine gives the same bits; they equal
the pandas backtest's within rounding (tests/test_engine_backtest.py), and the schemes are
ranked by the report's rule (:func:`segmentation.ranking.rank_schemes`).

What the report adds and this leaves out: the bootstrap intervals and support (a customer
resample each replicate), the month-to-month stability, and Spearman monotonicity, which
needs each scheme's segment order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from segmentation.config import load_config
from segmentation.evaluate import shape_of_shares
from segmentation.features import as_of_day
from segmentation.ranking import (
    RANKED_SCORES,
    RevenueSpread,
    collapsed_reason,
    rank_schemes,
    scores_from_sums,
)

if TYPE_CHECKING:
    from segmentation.engine import ClusterFitter, EngineTables

__all__ = ["EngineBacktest", "backtest_on_engine"]


@dataclass(frozen=True)
class EngineBacktest:
    """The backtest an engine ran.

    Attributes
    ----------
    calibration_end : pandas.Timestamp
        The day the schemes were computed as of.
    horizon_days : int
        The days after it the customers were scored on.
    scores : pandas.DataFrame
        Indexed by scheme, ranked (:func:`segmentation.ranking.rank_schemes`): the three
        ranked scores, ``n_segments``, ``smallest_share``, ``entropy_bits``,
        ``largest_buyer_share``, ``collapsed`` (why a scheme is not ranked, "" else),
        ``mean_rank`` and ``rank``.
    sums : pandas.DataFrame
        What came back from the engine: per scheme and segment, ``customers``,
        ``revenue_cents``, ``buyers`` and ``calibration_buyers``.
    totals : tuple of int
        The customers scored, and the sum and sum of squares of their revenue in cents.
    unavailable : dict of str to str
        Schemes left out, with the reason.
    """

    calibration_end: pd.Timestamp
    horizon_days: int
    scores: pd.DataFrame
    sums: pd.DataFrame
    totals: tuple[int, int, int]
    unavailable: dict[str, str]


def backtest_on_engine(
    tables: EngineTables,
    *,
    as_of: str | pd.Timestamp | None = None,
    horizon_days: int | None = None,
    config: Mapping[str, Any] | None = None,
    clusters: ClusterFitter | None = None,
) -> EngineBacktest:
    """Score and rank every rule scheme (and the clusters) on ``tables``' engine.

    Parameters
    ----------
    tables : EngineTables
        From :func:`segmentation.engine.tables_on_engine` or
        :func:`segmentation.engine.load_tables`.
    as_of : str or pandas.Timestamp, optional
        The month's as-of day; the last order day when omitted. The schemes are computed as
        of ``horizon_days`` before it.
    horizon_days : int, optional
        The backtest's horizon; config ``report.horizon_days`` (90) when omitted.
    config : mapping, optional
        The merged config; the built-in one when omitted.
    clusters : segmentation.engine.ClusterFitter, optional
        Fits the clusters too (:func:`segmentation.schemes.clusters.clusters_on_engine`).

    Returns
    -------
    EngineBacktest
    """
    from segmentation.engine import (  # imports ibis: only when asked for
        future_outcomes_expr,
        labels_on_engine,
        last_order_day,
        outcome_sums_expr,
        outcome_totals,
    )

    settings = config if config is not None else load_config()
    horizon = int(horizon_days if horizon_days is not None else settings["report"]["horizon_days"])
    end = as_of_day(as_of) if as_of is not None else last_order_day(tables)
    calibration_end = end - pd.Timedelta(days=horizon)
    labelled = labels_on_engine(tables, as_of=calibration_end, config=settings, clusters=clusters)
    snapshot, labels = labelled.snapshot, labelled.labels
    outcomes = future_outcomes_expr(
        tables, snapshot, calibration_end=calibration_end, horizon_days=horizon
    ).cache()
    schemes = [c for c in labels.columns if c != "customer_id"]
    sums = outcome_sums_expr(labels, outcomes, schemes, snapshot=snapshot).to_pandas()
    sums = sums.sort_values(["scheme", "segment"], kind="stable").reset_index(drop=True)
    totals = outcome_totals(outcomes)
    spread = RevenueSpread.exact(*totals)
    max_share = float(settings["ranking"]["max_segment_share"])
    rows = {
        scheme: _scheme_row(sums[sums["scheme"] == scheme], spread, max_share=max_share)
        for scheme in schemes
    }
    return EngineBacktest(
        calibration_end=calibration_end,
        horizon_days=horizon,
        scores=rank_schemes(pd.DataFrame.from_dict(rows, orient="index")),
        sums=sums,
        totals=totals,
        unavailable=labelled.unavailable,
    )


def _scheme_row(per: pd.DataFrame, spread: RevenueSpread, *, max_share: float) -> dict[str, Any]:
    """One scheme's scores from its segments' sums."""
    size = per["customers"].to_numpy(dtype=np.int64)
    ranked = scores_from_sums(
        size, per["revenue_cents"].to_numpy(), per["buyers"].to_numpy(), spread=spread
    )
    # Largest first, ties by key: the order the entropy is summed in, the same on every engine.
    by_size = per.assign(size=size).sort_values(
        ["size", "segment"], ascending=[False, True], kind="stable"
    )
    shares = by_size["size"].to_numpy() / max(int(size.sum()), 1)
    had_bought = per["calibration_buyers"].to_numpy(dtype=np.int64)
    largest = float(had_bought.max() / had_bought.sum()) if had_bought.sum() > 0 else 1.0
    scores = dict(zip(RANKED_SCORES, ranked, strict=True))
    return {
        **scores,
        **shape_of_shares(shares),
        "largest_buyer_share": largest,
        "collapsed": collapsed_reason(largest, scores, max_share=max_share, lang="en"),
        "collapsed_zh": collapsed_reason(largest, scores, max_share=max_share, lang="zh"),
    }
