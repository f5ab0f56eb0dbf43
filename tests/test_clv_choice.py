"""The CLV backtest never chooses a model whose holdout metrics are not finite."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from segmentation.cli import main
from segmentation.clv._choice import _usable_fits
from segmentation.errors import CLVFitError


def test_a_model_with_a_nan_error_is_left_out_with_its_reason() -> None:
    fits = {"bgnbd": object(), "pareto": object()}
    metrics = pd.DataFrame({"mae": [np.nan, 1.468]}, index=["bgnbd", "pareto"])
    customers = pd.DataFrame({"predicted_bgnbd": [np.nan, 1.0], "predicted_pareto": [0.5, 1.0]})
    usable, failed = _usable_fits(fits, {}, metrics, customers)  # type: ignore[arg-type]
    assert list(usable) == ["pareto"]
    assert "BG/NBD: holdout predictions are not finite (MAE nan)" in failed["bgnbd"]
    with pytest.raises(CLVFitError, match="no purchase model gave finite holdout predictions"):
        _usable_fits({"bgnbd": object()}, {}, metrics.loc[["bgnbd"]], customers)  # type: ignore[dict-item]


@pytest.mark.parametrize("period", [None, "1"])
def test_online_retail_never_chooses_a_failed_model(
    online_retail_path: Path, period: str | None, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["clv", str(online_retail_path), "--json"]
    if period:
        argv += ["--period-days", period]
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    chosen = result["chosen_model"]
    assert math.isfinite(result["models"][chosen]["metrics"]["mae"]), result["reason"]
    assert "nan" not in result["reason"].lower()
    # BG/NBD gives NaN holdout predictions here: it is listed as a failure, never chosen
    if "bgnbd" in result["failures"]:
        assert chosen != "bgnbd" and "not finite" in result["failures"]["bgnbd"]


def test_auto_passes_the_backtests_other_models_on_as_fallbacks_best_first() -> None:
    from types import SimpleNamespace

    from segmentation.clv import scheme_model_overrides
    from segmentation.config import load_config, merge_config

    backtest = SimpleNamespace(chosen="bgnbd", ranked=["bgnbd", "mbgnbd", "pareto"])
    overrides, reason = scheme_model_overrides(load_config(), backtest)  # type: ignore[arg-type]
    assert overrides == {"clv": {"model": "bgnbd", "fallback_models": ["mbgnbd", "pareto"]}}
    assert reason == "BG/NBD: chosen by the backtest"
    # A pinned model is the user's word: no fallback behind it.
    pinned = merge_config(load_config(), {"clv": {"model": "pareto"}})
    overrides, reason = scheme_model_overrides(pinned, backtest)  # type: ignore[arg-type]
    assert overrides == {"clv": {"model": "pareto", "fallback_models": []}}
    assert "pinned" in reason


@pytest.fixture(scope="module")
def online_retail_snapshot(online_retail_path: Path) -> pd.DataFrame:
    from segmentation.features import customer_snapshot
    from segmentation.ingest import ingest

    data = ingest(online_retail_path)
    return customer_snapshot(data.orders, data.customers, as_of="2011-11-30")


def test_online_retail_falls_back_when_the_chosen_model_fails_on_purchase_days(
    online_retail_snapshot: pd.DataFrame,
) -> None:
    # As of 2011-11-30 the three models tie in the backtest (MAE 1.407 each on purchase
    # weeks) and BG/NBD, first in a tie, gives non-finite predictions for 1,126 of the
    # 4,287 buyers on purchase days: the CLV schemes use the next best, and say why.
    from segmentation.config import load_config, merge_config
    from segmentation.schemes.registry import run_schemes

    config = load_config()
    wanted = ["clv_tier", "churn_risk"]
    fallback = merge_config(config, {"clv": {"model": "bgnbd", "fallback_models": ["mbgnbd"]}})
    run = run_schemes(online_retail_snapshot, as_of="2011-11-30", config=fallback, schemes=wanted)
    assert run.unavailable == {}
    details = run.segmentations["clv_tier"].details
    assert details["purchase_model"]["model"] == "mbgnbd"
    assert list(details["passed_over"]) == ["bgnbd"]
    assert (
        "predictions are not finite for 1,126 of 4,287 customers" in details["passed_over"]["bgnbd"]
    )
    assert run.segmentations["churn_risk"].details["model"] == "mbgnbd"
    # Pinned with no fallback, the schemes are unavailable with the same reason.
    pinned = merge_config(config, {"clv": {"model": "bgnbd", "fallback_models": []}})
    run = run_schemes(online_retail_snapshot, as_of="2011-11-30", config=pinned, schemes=wanted)
    assert set(run.unavailable) == set(wanted)
    assert "not finite for 1,126 of 4,287" in run.unavailable["clv_tier"]


def test_online_retail_segment_export_has_the_clv_schemes(
    online_retail_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["segment", str(online_retail_path), "--as-of", "2011-11-30", "--out", str(tmp_path)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "as of 2011-11-30, 9 schemes; unavailable: interaction_tier, needs\n" in out
