"""The month's analysis on disk in parts: each part is read on first use, and what is read
back equals what was written."""

from __future__ import annotations

import dataclasses
import pickle
from pathlib import Path

import pandas as pd
import pytest

from segmentation.analysis import MonthAnalysis
from segmentation.errors import SegmentationInputError
from segmentation.report._analysis_file import ANALYSIS_PARTS, dump_analysis, load_analysis
from segmentation.report._prepared import dump_pickle

_FRAMES = ("snapshot", "outcomes", "scores", "agreement_ari")


@pytest.fixture(scope="module")
def written(demo_reports: dict) -> Path:
    """The analysis the English demo report wrote."""
    return demo_reports["en"].out_dir / "data" / "analysis.pkl"


def _unread(analysis: MonthAnalysis) -> set[str]:
    return set(analysis.__dict__["_parts_reader"]._offsets)


def _assert_same(got: MonthAnalysis, expected: MonthAnalysis) -> None:
    for name in _FRAMES:
        pd.testing.assert_frame_equal(getattr(got, name), getattr(expected, name))
    for run in ("current", "previous", "calibration"):
        got_run, expected_run = getattr(got, run), getattr(expected, run)
        assert got_run.as_of == expected_run.as_of
        assert list(got_run.segmentations) == list(expected_run.segmentations)
        for name, segmentation in expected_run.segmentations.items():
            pd.testing.assert_series_equal(got_run.segmentations[name].labels, segmentation.labels)
    assert got.verdict == expected.verdict
    assert got.history.month_ends == expected.history.month_ends
    assert got.timings == expected.timings and got.warnings == expected.warnings


def test_a_part_is_read_only_when_first_used(written: Path) -> None:
    analysis = load_analysis(written)
    assert isinstance(analysis, MonthAnalysis)
    assert _unread(analysis) == set(ANALYSIS_PARTS)
    # The small fields are in the head: reading them reads no part.
    assert analysis.verdict.scheme == analysis.scores.index[0]
    assert analysis.recommendation["en"] and analysis.cohorts is not None
    assert _unread(analysis) == set(ANALYSIS_PARTS)
    current = analysis.current
    assert _unread(analysis) == set(ANALYSIS_PARTS) - {"current"}
    # snapshot is current.snapshot itself, written once with it, read back as one object.
    assert analysis.snapshot is current.snapshot
    assert analysis.current is current  # read once, then kept
    analysis.lift_curves(top=2)  # uses the calibration run and the outcomes
    assert _unread(analysis) == {"previous", "history", "clv_backtest"}
    reader = analysis.__dict__["_parts_reader"]
    assert reader._handle is not None
    assert None not in (analysis.previous, analysis.history, analysis.clv_backtest)
    assert _unread(analysis) == set() and reader._handle is None  # closed after the last


def test_read_in_parts_equals_what_was_written(written: Path, tmp_path: Path) -> None:
    whole = pickle.loads(pickle.dumps(load_analysis(written)))
    # Pickled whole, a partly read analysis is the plain dataclass again, every part read.
    assert type(whole) is MonthAnalysis
    again = tmp_path / "analysis.pkl"
    dump_analysis(whole, again)
    _assert_same(load_analysis(again), whole)
    replaced = dataclasses.replace(load_analysis(again), horizon_days=7)
    assert replaced.horizon_days == 7
    _assert_same(replaced, whole)


def test_a_file_renamed_over_it_later_is_not_read(written: Path, tmp_path: Path) -> None:
    """A cache entry written again while a notebook holds the first: the notebook's parts
    still come from the file it opened."""
    path = tmp_path / "analysis.pkl"
    first = load_analysis(written)
    dump_analysis(first, path)
    held = load_analysis(path)
    other = dataclasses.replace(
        first, outcomes=first.outcomes.iloc[:3], history=None, horizon_days=1
    )
    dump_analysis(other, path)
    assert len(load_analysis(path).outcomes) == 3
    assert held.horizon_days == first.horizon_days
    pd.testing.assert_frame_equal(held.outcomes, first.outcomes)
    assert held.history is not None


def test_a_file_it_did_not_write_is_refused_with_what_to_do(written: Path, tmp_path: Path) -> None:
    """A report an older kit built held its analysis as one pickle: refused, not misread."""
    whole = pickle.loads(pickle.dumps(load_analysis(written)))
    older = tmp_path / "analysis.pkl"
    dump_pickle(whole, older)
    with pytest.raises(SegmentationInputError, match="build the report again"):
        load_analysis(older)
