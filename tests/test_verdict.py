"""On the demo, CDNOW and Online Retail the headline names a scheme whose claims hold."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from segmentation.analysis import MonthAnalysis, analyse_month
from segmentation.config import load_config
from segmentation.ingest import ingest
from segmentation.ranking import RANKED_SCORES

from test_ranking import _claims_hold


def _analysis(path: Path, month_end: str) -> MonthAnalysis:
    data = ingest(path)
    return analyse_month(
        data.orders, data.customers, data.interactions, as_of=month_end, config=load_config()
    )


def _check(analysis: MonthAnalysis) -> None:
    scores = analysis.scores
    best = analysis.best_scheme
    assert best is not None and analysis.verdict is not None and analysis.verdict.scheme == best
    for lang in ("zh", "en"):
        _claims_hold(analysis.recommendation[lang], scores, best)
    ranked = scores.loc[scores["rank"].notna()]
    # a ranked scheme never has a segment over the limit, nor a missing ranked score
    assert (ranked["largest_buyer_share"] <= 0.95).all()
    assert ranked[list(RANKED_SCORES)].notna().all().all()
    # the intervals hold the point scores of the ranked schemes
    for score in RANKED_SCORES:
        assert (ranked[f"{score}_low"] <= ranked[score] + 1e-9).all()
        assert (ranked[score] <= ranked[f"{score}_high"] + 1e-9).all()
    assert ranked["support"].sum() == pytest.approx(1.0)
    # the CLV schemes use the model the backtest chose (clv.model: auto), or, when it fails on
    # the schemes' purchase days, the backtest's next best, and the reason says so
    if analysis.clv_backtest is not None:
        if analysis.clv_model == analysis.clv_backtest.chosen:
            assert analysis.clv_model_reason.endswith("chosen by the backtest")
        else:
            assert analysis.clv_model in analysis.clv_backtest.ranked
            assert "the backtest's next best" in analysis.clv_model_reason
        tier = analysis.current.segmentations.get("clv_tier")
        if tier is not None:
            assert tier.details["purchase_model"]["model"] == analysis.clv_model


def test_the_demo_verdict_holds(demo_dir: Path) -> None:
    analysis = _analysis(demo_dir, "2026-10-31")
    _check(analysis)


def test_the_cdnow_verdict_holds_and_member_grades_in_rmb_are_not_ranked() -> None:
    from segmentation.datasets import cdnow_file

    analysis = _analysis(cdnow_file(), "1998-06-30")
    _check(analysis)
    # RMB thresholds on dollar amounts put nearly every buyer in 普通: shown, not ranked
    grades = analysis.scores.loc["member_grade"]
    assert grades["largest_buyer_share"] > 0.95 and pd.isna(grades["rank"])
    assert "largest segment holds" in grades["collapsed"]


def test_the_online_retail_verdict_holds(online_retail_path: Path) -> None:
    analysis = _analysis(online_retail_path, "2011-11-30")
    _check(analysis)
    # the three models tie in the backtest; BG/NBD, first in the tie, finds no dropout on
    # purchase days, so Pareto/NBD, next in the tie, serves the CLV schemes and the reason
    # says why
    assert analysis.clv_backtest is not None and analysis.clv_backtest.chosen == "bgnbd"
    assert analysis.clv_backtest.ranked == ["bgnbd", "pareto", "mbgnbd"]
    assert analysis.clv_model == "pareto"
    assert analysis.clv_model_reason.startswith(
        "Pareto/NBD: the backtest's next best, as BG/NBD: dropout is not identified: "
    )
    assert analysis.clv_backtest.tied == ["bgnbd", "pareto", "mbgnbd"]
    assert "Pareto/NBD, MBG/NBD tie with it (MAE within 0.01%" in analysis.clv_backtest.reason
    from segmentation.report.sections import clv_heading

    zh = str(clv_heading(analysis, lang="zh").data)
    assert "Pareto/NBD、MBG/NBD 与之持平（MAE 相差不到 0.01%" in zh
    assert (
        "CLV 分层所用模型：**Pareto/NBD（回测的下一选择：BG/NBD 按购买天拟合时未识别出客户流失"
        in zh
    )
    # churn risk puts every buyer in one tier (P(alive) >= 0.99): not ranked
    assert pd.isna(analysis.scores.loc["churn_risk", "rank"])
