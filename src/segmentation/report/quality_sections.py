"""What the data-quality notebook shows of the month's tables, one call per cell, in the
report's language.

Apart from :mod:`segmentation.report.sections`, so the notebook imports no model library
(scipy, scikit-learn, seaborn) it does not use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from IPython.display import Markdown, display

from segmentation.features import customer_snapshot, state_counts
from segmentation.formatting import styled
from segmentation.plots.quality import plot_monthly_revenue
from segmentation.quality import (
    data_overview,
    label,
    monthly_overview,
    quarantine_reason,
    reconciliation_table,
)
from segmentation.report._data import MonthData, cut_month_note, source_label

if TYPE_CHECKING:
    from pandas.io.formats.style import Styler

__all__ = [
    "month_heading",
    "overview_table",
    "quarantine_sample",
    "reconciliation",
    "show_monthly_overview",
]

_MONTH_LINE = {
    "zh": "**{source}** · {month}（截至 {as_of}）",
    "en": "**{source}** · {month} (as of {as_of})",
}
_NO_QUARANTINE = {"zh": "没有隔离行。", "en": "No row was quarantined."}
_MONEY = ("member_revenue", "guest_revenue", "refunds", "revenue")


def month_heading(data: MonthData, *, lang: str) -> Markdown:
    """The data's name, the report month and its as-of day, and a note when the data ends
    inside the month."""
    note = cut_month_note(data.month, data.as_of, lang=lang)
    line = _MONTH_LINE[lang].format(
        source=source_label(data.source, lang), month=data.month, as_of=f"{data.as_of:%Y-%m-%d}"
    )
    return Markdown(line + (f"\n\n> ⚠ {note}" if note else ""))


def overview_table(data: MonthData, *, lang: str) -> Styler:
    """The export's headline counts: customers, buyers, orders, revenue, guests, dates.

    Customers are counted by state as of the report's day (buyers, potential, fully
    refunded), by the definition every scheme uses, so the counts agree with theirs.
    """
    snapshot = customer_snapshot(data.orders, data.customers, as_of=data.as_of)
    return styled(
        data_overview(
            data.orders,
            data.customers,
            data.interactions,
            data.quality,
            lang=lang,
            states=state_counts(snapshot),
        )
    )


def reconciliation(data: MonthData, *, lang: str) -> Styler:
    """Where every input row went, as counts and shares of the rows in."""
    table = reconciliation_table(data.quality, lang=lang)
    return styled(table, {label("rows", lang): "count", label("share", lang): "percent"})


def quarantine_sample(data: MonthData, *, lang: str, rows: int = 20) -> Styler | Markdown:
    """The first quarantined rows (file, row, table and reason; no original values), or a
    line saying none was quarantined."""
    if not len(data.quarantine):
        return Markdown(_NO_QUARANTINE[lang])
    sample = data.quarantine[["file", "row", "table", "reason"]].head(rows).copy()
    sample["table"] = [label(f"{table}_table", lang) for table in sample["table"]]
    sample["reason"] = [quarantine_reason(reason, lang) for reason in sample["reason"]]
    sample.columns = [label(column, lang) for column in sample.columns]
    return styled(sample, {label("row", lang): "count"}, index=False)


def show_monthly_overview(data: MonthData, *, lang: str, plot_lang: str) -> None:
    """Show net revenue and buyers by month as a plot, then the monthly table."""
    monthly = monthly_overview(data.orders, lang=lang)
    plotted = monthly if plot_lang == lang else monthly_overview(data.orders, lang=plot_lang)
    # The data may end inside its last month: that month is drawn as partial, not as a fall.
    data_end = data.orders["order_ts"].max()
    display(plot_monthly_revenue(plotted, lang=plot_lang, data_end=data_end))
    display(styled(monthly, {label(key, lang): "money" for key in _MONEY}))
