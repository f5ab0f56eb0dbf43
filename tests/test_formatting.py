"""Numbers as a reader sees them: each kind's formatter, and tables as Stylers."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from segmentation.formatting import (
    MISSING,
    count,
    days,
    decimal,
    flag,
    money,
    parameter,
    percent,
    score,
    styled,
    text,
)


def test_each_kind_by_hand() -> None:
    assert count(1234567) == "1,234,567"
    assert count(12.0) == "12"  # a count stored as a float is still a whole number
    assert money(1234.5) == "1,234.50"
    assert money(-0.004) == "0.00"  # not "-0.00"
    assert percent(0.018) == "1.8%"
    assert percent(1.0) == "100.0%"
    assert days(395.9) == "396"
    assert decimal(3.14159) == "3.1"
    assert score(0.74412) == "0.744"
    assert (parameter(0.242593), parameter(4.41359), parameter(2.1e-5)) == (
        "0.2426",
        "4.414",
        "2.1e-05",
    )
    assert (flag(True), flag(False)) == ("✓", "✗")
    assert text("专属服务") == "专属服务"


@pytest.mark.parametrize("missing", [None, np.nan, float("nan"), pd.NA, pd.NaT])
def test_a_missing_value_is_a_dash_in_every_kind(missing: object) -> None:
    for formatter in (count, money, percent, days, decimal, score, parameter, flag, text):
        assert formatter(missing) == MISSING


@given(st.floats(min_value=-1e12, max_value=1e12, allow_nan=False))
def test_money_always_has_two_decimals_and_separators(value: float) -> None:
    assert re.fullmatch(r"-?\d{1,3}(,\d{3})*\.\d{2}", money(value))
    assert float(money(value).replace(",", "")) == pytest.approx(value, abs=0.0051)


def _body(styler: object) -> str:
    html = styler.to_html()  # type: ignore[attr-defined]
    return re.sub(r"<style.*?</style>", "", html, flags=re.S)


def test_styled_formats_by_column_keeps_the_numbers_and_shows_the_index_as_a_column() -> None:
    table = pd.DataFrame(
        {
            "人数": [1234, 5],
            "占比": [0.186, np.nan],
            "金额": [1234.5, 3.14159],
            "动作": ["a" * 80, "b"],
        },
        index=pd.Index(["高价值", "低价值"], name="分层"),
    )
    styler = styled(table, {"占比": "percent", "金额": "money"})
    body = _body(styler)
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", body)
    assert cells == ["高价值", "1,234", "18.6%", "1,234.50", "a" * 80,
                     "低价值", "5", "—", "3.14", "b"]  # fmt: skip
    headers = re.findall(r"<th[^>]*>([^<]*)</th>", body)
    assert headers == ["分层", "人数", "占比", "金额", "动作"]  # one header row, no "index"
    assert styler.data["金额"].tolist() == [1234.5, 3.14159]  # the data stays numbers
    assert "NaN" not in body and "nan" not in body
    # The same table renders to the same HTML: its id comes from its content.
    assert styler.to_html() == styled(table, {"占比": "percent", "金额": "money"}).to_html()


def test_styled_formats_by_row_for_tables_with_one_measure_per_row() -> None:
    table = pd.DataFrame(
        {"BG/NBD": [1574.0, 0.13275, 1.0], "MBG/NBD": [1574.0, 0.11172, 0.0]},
        index=pd.Index(["客户数", "相对误差", "优于基线"], name="指标"),
    ).astype(object)
    body = _body(styled(table, rows={"客户数": "count", "相对误差": "percent", "优于基线": "flag"}))
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", body)
    assert cells == ["客户数", "1,574", "1,574", "相对误差", "13.3%", "11.2%", "优于基线", "✓", "✗"]


def test_an_unnamed_index_gets_no_english_header() -> None:
    table = pd.DataFrame({"a": [1]}, index=pd.Index(["x"]))
    assert re.findall(r"<th[^>]*>([^<]*)</th>", _body(styled(table))) == ["", "a"]
    assert re.findall(r"<th[^>]*>([^<]*)</th>", _body(styled(table, index=False))) == ["a"]
