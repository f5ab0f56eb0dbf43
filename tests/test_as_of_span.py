"""An as-of day outside the orders' days is an error, in ``segment`` as in ``report`` (#18).

Before the first order every customer would be a prospect with a first-order coupon; after
the last one every customer would drift towards lapsed. Both commands share one check,
:func:`segmentation.features.check_within_data`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segmentation.cli import main
from segmentation.errors import AsOfOutsideDataError, SegmentationInputError
from segmentation.export import export_segments
from segmentation.features import check_within_data
from segmentation.report._data import month_as_of

FIRST, LAST = pd.Timestamp("2023-01-03"), pd.Timestamp("2024-11-29")


@pytest.fixture(scope="module")
def export_2023_2024(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """400 orders of 60 customers from 2023-01-03 09:15 to 2024-11-29 18:40 (seeded)."""
    rng = np.random.default_rng(7)
    days = rng.integers(1, (LAST - FIRST).days, size=398)
    stamps = [FIRST + pd.Timedelta(hours=9, minutes=15)]
    stamps += [FIRST + pd.Timedelta(days=int(d), hours=12) for d in days]
    stamps += [LAST + pd.Timedelta(hours=18, minutes=40)]
    lines = ["订单号,客户ID,下单时间,实付金额"] + [
        f"SO{i},C{i % 60},{stamp:%Y-%m-%d %H:%M:%S},{10 + i % 90}" for i, stamp in enumerate(stamps)
    ]
    folder = tmp_path_factory.mktemp("export")
    (folder / "orders.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def test_segment_before_the_first_order_exits_2_naming_it(
    export_2023_2024: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "crm"
    code = main(["segment", str(export_2023_2024), "--as-of", "1999-01-01", "--out", str(out)])
    assert code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        "segmentation segment: error: --as-of 1999-01-01: the data starts on 2023-01-03, after "
        "that day; pick a day from 2023-01-03 to 2024-11-29.\n"
    )
    assert not out.exists()  # nothing written


def test_segment_after_the_last_order_exits_2(
    export_2023_2024: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["segment", str(export_2023_2024), "--as-of", "2024-11-30", "--out", str(tmp_path)])
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "--as-of 2024-11-30: the data ends on 2024-11-29, before that day" in err
    assert "leave out --as-of" in err


@pytest.mark.filterwarnings("ignore:rfm. . has too many tied values:UserWarning")
def test_segment_on_the_first_and_last_order_day_works(
    export_2023_2024: Path, tmp_path: Path
) -> None:
    for day in ("2023-01-03", "2024-11-29"):
        result = export_segments(export_2023_2024, out_dir=tmp_path / day, as_of=day)
        assert result.as_of == pd.Timestamp(day)
    default = export_segments(export_2023_2024, out_dir=tmp_path / "default")
    assert default.as_of == LAST


def test_the_python_function_raises_the_typed_error(export_2023_2024: Path, tmp_path: Path) -> None:
    with pytest.raises(AsOfOutsideDataError, match=r"the data starts on 2023-01-03") as caught:
        export_segments(export_2023_2024, out_dir=tmp_path, as_of="2023-01-02")
    assert isinstance(caught.value, SegmentationInputError)  # the CLI's exit 2


def test_report_months_use_the_same_check() -> None:
    order_ts = pd.Series(pd.to_datetime(["2023-01-03 09:15", "2024-11-29 18:40"]))
    with pytest.raises(
        AsOfOutsideDataError, match=r"^MONTH=2022-12: the data starts on 2023-01-03"
    ):
        month_as_of("2022-12", order_ts)
    with pytest.raises(AsOfOutsideDataError, match=r"^MONTH=2024-12: the data ends on 2024-11-29"):
        month_as_of("2024-12", order_ts)
    assert month_as_of("2023-01", order_ts) == (pd.Timestamp("2023-01-31"), ())
    as_of, notes = month_as_of("2024-11", order_ts)  # the data ends inside: cut, with a note
    assert as_of == pd.Timestamp("2024-11-29") and len(notes) == 1


@settings(max_examples=300, deadline=None)
@given(
    first=st.dates(
        min_value=pd.Timestamp("1995-01-01").date(), max_value=pd.Timestamp("2030-01-01").date()
    ),
    span=st.integers(min_value=0, max_value=1500),
    shift=st.integers(min_value=-4000, max_value=4000),
    hour=st.integers(min_value=0, max_value=23),
)
def test_an_as_of_day_is_accepted_exactly_within_the_order_days(
    first: object, span: int, shift: int, hour: int
) -> None:
    start = pd.Timestamp(first)  # type: ignore[arg-type]
    order_ts = pd.Series(
        [start + pd.Timedelta(hours=hour), start + pd.Timedelta(days=span, hours=hour)]
    )
    day = start + pd.Timedelta(days=shift)
    inside = 0 <= shift <= span
    if inside:
        assert check_within_data(order_ts, start=day, end=day, option="--as-of", period="day") == (
            start,
            start + pd.Timedelta(days=span),
        )
    else:
        with pytest.raises(AsOfOutsideDataError) as caught:
            check_within_data(order_ts, start=day, end=day, option="--as-of", period="day")
        named = start if shift < 0 else start + pd.Timedelta(days=span)
        assert f"{named:%Y-%m-%d}" in str(caught.value)
