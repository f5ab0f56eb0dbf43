"""Where a plot draws (on axes the caller gives, or on a new figure built without pyplot), and
what every plot's axes share: money with thousands separators and two decimals, counts as
whole numbers, and a legend that never covers the data."""

from __future__ import annotations

from collections.abc import Sequence

from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.axis import Axis
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.ticker import FuncFormatter, MaxNLocator, StrMethodFormatter

__all__ = [
    "MONEY_UNIT",
    "count_axis",
    "figure_and_axes",
    "figure_of",
    "format_count",
    "format_money",
    "legend_above",
    "money_axis",
]

#: The unit of money in axis labels: the kit never converts, so amounts are in the currency
#: of the export (yuan for the demo, dollars for CDNOW, pounds for Online Retail).
MONEY_UNIT = {"zh": "导出币种", "en": "export currency"}
# Points between a legend drawn above the axes and the title above it.
_TITLE_GAP = 6.0


def figure_and_axes(ax: Axes | None, *, figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    """``ax`` and its figure; a new ``figsize`` figure (constrained layout) with one axes when
    ``ax`` is None."""
    if ax is not None:
        return figure_of(ax), ax
    fig = Figure(figsize=figsize, layout="constrained")
    return fig, fig.subplots()


def figure_of(ax: Axes) -> Figure:
    """The figure ``ax`` is drawn on (the top one, when ``ax`` sits in a subfigure)."""
    figure = ax.get_figure(root=True)
    if figure is None:
        raise ValueError("the axes given to draw on belong to no figure")
    return figure


def format_money(value: float) -> str:
    """An amount as people read it: thousands separators, two decimals (``1,234.50``)."""
    return f"{value:,.2f}"


def format_count(value: float) -> str:
    """A count, or a median of counts: ``1,234``, or ``2.5`` when it falls between two."""
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def money_axis(axis: Axis) -> None:
    """Tick labels of ``axis`` as money (``1,500,000.00``), never a ``1e6`` offset."""
    axis.set_major_formatter(FuncFormatter(lambda value, _: format_money(value)))


def count_axis(axis: Axis) -> None:
    """Ticks of ``axis`` on whole numbers only, with thousands separators."""
    axis.set_major_locator(MaxNLocator(integer=True))
    axis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))


def legend_above(
    ax: Axes,
    title: str,
    *,
    handles: Sequence[Artist] | None = None,
    labels: Sequence[str] | None = None,
) -> None:
    """``title`` over a one-row legend over ``ax``: outside the data area, so no bar, line
    or label is ever covered, and the title moved up to make room for it."""
    if handles is None or labels is None:
        handles, labels = ax.get_legend_handles_labels()
    size = FontProperties(size="small").get_size_in_points()
    ax.legend(
        handles,
        labels,
        loc="lower left",
        bbox_to_anchor=(0.0, 1.0),
        ncols=max(len(labels), 1),
        frameon=False,
        fontsize="small",
        borderaxespad=0.3,
        handlelength=1.5,
    )
    # One row of small text and its padding, then a gap, between the axes and the title.
    ax.set_title(title, pad=2.0 * size + _TITLE_GAP)
