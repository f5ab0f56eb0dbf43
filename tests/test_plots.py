"""What a reader sees on the plots' axes: legends that never cover a bar, money with thousands
separators and two decimals, whole-number counts, and a partial last month drawn as such."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pandas as pd
import pytest
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from segmentation.config import load_config
from segmentation.plots.quality import PARTIAL_HATCH, plot_monthly_revenue
from segmentation.quality import monthly_overview

from canonical_frames import DEMO_AS_OF, cdnow_orders, demo_frames

MONEY = re.compile(r"^-?\d{1,3}(,\d{3})*\.\d{2}$")
COUNT = re.compile(r"^\d{1,3}(,\d{3})*$")


@pytest.fixture(autouse=True)
def cjk_font() -> Iterator[None]:
    """Chinese labels drawn with the CJK font the report uses, for this test only."""
    import matplotlib as mpl

    from segmentation.fonts import configure_plot_fonts

    with mpl.rc_context():
        configure_plot_fonts("zh")
        yield


def _drawn(figure: Figure) -> Figure:
    FigureCanvasAgg(figure)
    figure.canvas.draw()
    return figure


def _legend_clear_of_bars(ax: Axes) -> None:
    legend = ax.get_legend()
    assert legend is not None
    box = legend.get_window_extent()
    bars = [patch for patch in ax.patches if patch.get_height() and patch.get_width()]
    assert bars
    for bar in bars:
        assert not box.overlaps(bar.get_window_extent()), bar
    assert not box.overlaps(ax.title.get_window_extent())


def _tick_texts(axis_labels: list) -> list[str]:
    return [label.get_text() for label in axis_labels if label.get_text()]


@pytest.fixture
def ends_inside_december() -> pd.DataFrame:
    """Three months of orders, the last ending on 2011-12-09 (as Online Retail does)."""
    rows = [
        ("c1", "o1", "2011-10-03", 1200.5),
        ("c2", "o2", "2011-10-20", 800.25),
        (None, "o3", "2011-10-21", 99.0),
        ("c1", "o4", "2011-11-02", 2500.0),
        ("c3", "o5", "2011-11-15", 1500.0),
        ("c2", "o6", "2011-11-28", 1000.0),
        (None, "o7", "2011-11-29", 50.0),
        ("c3", "o8", "2011-12-09", 300.0),
    ]
    return pd.DataFrame(
        {
            "customer_id": pd.array([r[0] for r in rows], dtype="string"),
            "order_id": pd.array([r[1] for r in rows], dtype="string"),
            "order_ts": pd.to_datetime([r[2] for r in rows]),
            "amount": [r[3] for r in rows],
        }
    )


@pytest.mark.parametrize(("lang", "mark"), [("en", "partial"), ("zh", "不完整月")])
def test_a_month_the_data_ends_inside_is_hatched_and_labelled_partial(
    ends_inside_december: pd.DataFrame, lang: str, mark: str
) -> None:
    monthly = monthly_overview(ends_inside_december, lang=lang)
    figure = _drawn(plot_monthly_revenue(monthly, lang=lang, data_end="2011-12-09"))
    ax = figure.axes[0]
    # Member bars then guest bars, one per month; only December's are hatched and lighter.
    hatches = [patch.get_hatch() for patch in ax.patches]
    assert hatches == [None, None, PARTIAL_HATCH] * 2
    assert [patch.get_alpha() for patch in ax.patches][2::3] == [0.45, 0.45]
    assert _tick_texts(ax.get_xticklabels()) == ["2011-10", "2011-11", f"2011-12 {mark}"]
    legend = [text.get_text() for text in ax.get_legend().get_texts()]
    assert any("2011-12-09" in text for text in legend)
    _legend_clear_of_bars(ax)
    # Drawn as complete months, nothing is hatched and no month is called partial.
    whole = _drawn(plot_monthly_revenue(monthly, lang=lang)).axes[0]
    assert {patch.get_hatch() for patch in whole.patches} == {None}
    assert _tick_texts(whole.get_xticklabels())[-1] == "2011-12"


def test_money_has_thousands_separators_and_two_decimals_and_counts_are_whole(
    ends_inside_december: pd.DataFrame,
) -> None:
    monthly = monthly_overview(ends_inside_december, lang="en")
    figure = _drawn(plot_monthly_revenue(monthly, lang="en", data_end="2011-12-09"))
    revenue, buyers = figure.axes
    assert revenue.yaxis.get_major_formatter()(1234567.891, 0) == "1,234,567.89"
    assert revenue.yaxis.get_major_formatter()(0.5, 0) == "0.50"
    assert all(MONEY.match(text) for text in _tick_texts(revenue.get_yticklabels()))
    assert revenue.yaxis.get_offset_text().get_text() == ""  # no "1e6" above the axis
    assert "export currency" in revenue.get_ylabel()
    # Three buyers at most: ticks on 0, 1, 2, 3, never on 0.5.
    ticks = [t for t in buyers.get_yticks() if buyers.get_ylim()[0] <= t <= buyers.get_ylim()[1]]
    assert ticks and all(float(t).is_integer() for t in ticks)
    assert all(COUNT.match(text) for text in _tick_texts(buyers.get_yticklabels()))
    assert buyers.yaxis.get_major_formatter()(12345, 0) == "12,345"


def test_cdnow_revenue_legend_is_above_its_tallest_bars_and_has_no_guests() -> None:
    orders = cdnow_orders()
    monthly = monthly_overview(orders, lang="en")
    figure = _drawn(plot_monthly_revenue(monthly, lang="en", data_end="1998-06-30"))
    ax = figure.axes[0]
    assert len(ax.patches) == 18  # member bars only: CDNOW has no guest orders
    legend = [text.get_text() for text in ax.get_legend().get_texts()]
    assert legend == ["Member net revenue", "Buying customers"]
    assert {patch.get_hatch() for patch in ax.patches} == {None}  # 1998-06 is complete
    _legend_clear_of_bars(ax)
    # 1997-03, CDNOW's highest month (393,155.27), stands below the top of the axis.
    assert monthly["Net revenue"].max() == pytest.approx(393155.27)
    assert ax.get_ylim()[1] > monthly["Net revenue"].max() * 1.02


def test_member_grade_legend_never_covers_a_bar() -> None:
    from segmentation.features import customer_snapshot
    from segmentation.plots.schemes import plot_segment_profile
    from segmentation.schemes.rules import member_grade

    frames = demo_frames()
    snapshot = customer_snapshot(
        frames.orders, frames.customers, frames.interactions, as_of=DEMO_AS_OF
    )
    grades = member_grade(snapshot, config=load_config())
    for lang in ("zh", "en"):
        ax = _drawn(plot_segment_profile(grades, lang=lang)).axes[0]
        assert len(ax.patches) == 2 * len(grades.profile)
        _legend_clear_of_bars(ax)
    assert ax.get_xlabel() == "share (%)"


@pytest.mark.parametrize(
    ("column", "value", "shown"),
    [
        ("monetary_total", 546.7312, "546.73"),
        ("clv", 2107.4, "2,107.40"),
        ("monetary_total", 12000.0, "12,000.00"),
        ("frequency", 5.0, "5"),
        ("recency_days", 24.5, "24.5"),
        ("interactions_90d", 1234.0, "1,234"),
    ],
)
def test_cluster_medians_show_money_with_two_decimals_and_counts_whole(
    column: str, value: float, shown: str
) -> None:
    from segmentation.plots.clustering import _median_text

    assert _median_text(column, value) == shown
