"""The month's analysis with parts computed aside (issue #23): the CLV fits in one forked
child, the forecast's intervals and holdout checks in another, the history's earlier
month-ends in a third. Every number is the one computed in turn."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from segmentation.analysis import MonthAnalysis, analyse_month
from segmentation.clv import forecast_from_config, month_clv_fits
from segmentation.config import Settings, load_config, merge_config
from segmentation.features import customer_snapshot
from segmentation.forked import can_fork
from segmentation.report._progress import capture_warnings
from segmentation.schemes.registry import run_schemes

from canonical_frames import DEMO_AS_OF, demo_frames

DAYS = (pd.Timestamp("2026-09-30"), pd.Timestamp(DEMO_AS_OF))


@pytest.fixture(scope="module")
def demo_snapshots() -> dict[pd.Timestamp, pd.DataFrame]:
    frames = demo_frames()
    return {day: customer_snapshot(*frames, as_of=day) for day in DAYS}


def test_the_month_fits_are_the_forecasts_the_clv_tiers_fit(demo_snapshots) -> None:
    config = load_config()
    fits = month_clv_fits(
        demo_frames().orders, demo_snapshots, days=DAYS, config=config, holdout_end=DAYS[-1]
    )
    assert fits.backtest is not None and fits.unavailable == ""
    assert fits.model_overrides["clv"]["model"] == fits.backtest.chosen
    schemes_config = Settings(merge_config(config, fits.model_overrides))
    for day in DAYS:
        given = fits.forecasts[day]
        assert not isinstance(given, str)
        fitted = forecast_from_config(demo_snapshots[day], config=schemes_config)
        pd.testing.assert_frame_equal(given.table, fitted.table, check_exact=True)
        assert given.purchase_fit.summary() == fitted.purchase_fit.summary()
        assert given.spend_fit.summary() == fitted.spend_fit.summary()
        # Handed to the schemes, the forecast gives every label a fit there gives.
        with_given = run_schemes(
            demo_snapshots[day], as_of=day, config=schemes_config, clv_forecast=given
        )
        fitting = run_schemes(demo_snapshots[day], as_of=day, config=schemes_config)
        assert list(with_given.segmentations) == list(fitting.segmentations)
        for name, segmentation in fitting.segmentations.items():
            assert segmentation.labels.equals(with_given.segmentations[name].labels), name
        pd.testing.assert_frame_equal(with_given.snapshot, fitting.snapshot, check_exact=True)


def test_a_forecast_the_data_cannot_support_is_its_reason() -> None:
    """Two buyers, one of them repeat: no model would do. The reason reaches the CLV tiers'
    unavailable entry word for word, as when they fit it themselves."""
    orders = pd.DataFrame(
        {
            "customer_id": pd.array(["a", "a", "b"], dtype="string"),
            "order_id": pd.array(["1", "2", "3"], dtype="string"),
            "order_ts": pd.to_datetime(["2026-01-05", "2026-03-01", "2026-02-01"]),
            "amount": [10.0, 20.0, 5.0],
        }
    )
    day = pd.Timestamp("2026-06-30")
    snapshot = customer_snapshot(orders, as_of=day)
    config = load_config()
    fits = month_clv_fits(orders, {day: snapshot}, days=(day,), config=config, holdout_end=day)
    assert fits.backtest is None and fits.unavailable
    reason = fits.forecasts[day]
    assert isinstance(reason, str) and reason
    schemes_config = Settings(merge_config(config, fits.model_overrides))
    given = run_schemes(snapshot, as_of=day, config=schemes_config, clv_forecast=reason)
    fitting = run_schemes(snapshot, as_of=day, config=schemes_config)
    assert given.unavailable["clv_tier"] == fitting.unavailable["clv_tier"]
    assert given.unavailable["clv_tier"] == f"clv_tier: unavailable: {reason}"


def _analysed(fork: bool) -> tuple[MonthAnalysis, list[tuple[str, str]]]:
    config = Settings(merge_config(load_config(), {"runtime": {"fork_analysis": fork}}))
    with capture_warnings(default_section="compare") as caught:
        analysis = analyse_month(*demo_frames(), as_of=DEMO_AS_OF, config=config)
    return analysis, list(caught)


@pytest.mark.skipif(not can_fork(), reason="forks children only on Linux")
def test_the_analysis_is_the_same_with_its_parts_computed_aside_or_in_turn() -> None:
    aside, aside_warnings = _analysed(fork=True)
    in_turn, in_turn_warnings = _analysed(fork=False)
    assert aside_warnings == in_turn_warnings
    pd.testing.assert_frame_equal(aside.scores, in_turn.scores, check_exact=True)
    assert aside.verdict == in_turn.verdict
    assert (aside.clv_model, aside.clv_model_reason) == (
        in_turn.clv_model,
        in_turn.clv_model_reason,
    )
    for run in ("previous", "current", "calibration"):
        mine, theirs = getattr(aside, run), getattr(in_turn, run)
        assert list(mine.segmentations) == list(theirs.segmentations)
        assert mine.unavailable == theirs.unavailable
        for name, segmentation in theirs.segmentations.items():
            assert segmentation.labels.equals(mine.segmentations[name].labels), (run, name)
        pd.testing.assert_frame_equal(mine.snapshot, theirs.snapshot, check_exact=True)
    assert aside.clv_backtest is not None and in_turn.clv_backtest is not None
    assert aside.clv_backtest.chosen == in_turn.clv_backtest.chosen
    intervals, expected = aside.clv_intervals, in_turn.clv_intervals
    assert intervals is not None and expected is not None
    pd.testing.assert_frame_equal(intervals.customers, expected.customers, check_exact=True)
    pd.testing.assert_frame_equal(intervals.segments, expected.segments, check_exact=True)
    pd.testing.assert_series_equal(intervals.shop, expected.shop, check_exact=True)
    holdout, expected_holdout = aside.clv_holdout, in_turn.clv_holdout
    assert holdout is not None and expected_holdout is not None
    assert (holdout.actual, holdout.expected) == (
        expected_holdout.actual,
        expected_holdout.expected,
    )
    pd.testing.assert_frame_equal(holdout.intervals, expected_holdout.intervals, check_exact=True)
    pd.testing.assert_frame_equal(
        aside.clv_calibration.brier, in_turn.clv_calibration.brier, check_exact=True
    )
    pd.testing.assert_frame_equal(aside.outcomes, in_turn.outcomes, check_exact=True)
    assert aside.drivers is not None and in_turn.drivers is not None
    assert np.array_equal(aside.history.month_ends, in_turn.history.month_ends)


def test_the_drivers_keep_to_one_openmp_thread_when_they_load_scikit_learn() -> None:
    """threadpoolctl limits only the libraries loaded when its block starts: in a process
    that has not imported scikit-learn yet, the drivers' block loads it first."""
    code = (
        "from segmentation.drivers._threads import one_thread\n"
        "with one_thread():\n"
        "    from sklearn.utils._openmp_helpers import _openmp_effective_n_threads\n"
        "    print(_openmp_effective_n_threads())\n"
    )
    shown = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert shown.strip() == "1"
