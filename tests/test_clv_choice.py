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
