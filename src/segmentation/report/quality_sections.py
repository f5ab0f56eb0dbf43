"""What the data-quality notebook shows of the month's tables, one call per cell.

Apart from :mod:`segmentation.report.sections`, so the notebook imports no model library
(scipy, scikit-learn, seaborn) it does not use.
"""

from __future__ import annotations

import pandas as pd
from IPython.display import Markdown, display

from segmentation.plots.quality import plot_monthly_revenue
from segmentation.quality import monthly_overview
from segmentation.report._data import MonthData

__all__ = ["month_heading", "quarantine_sample", "show_monthly_overview"]


def month_heading(data: MonthData) -> Markdown:
    """The data's label, the report month and its as-of day."""
    notes = "".join(f"\n\n> ⚠ {note}" for note in data.notes)
    return Markdown(f"**{data.source}** · {data.month} (as of / 截至 {data.as_of:%Y-%m-%d}){notes}")


def quarantine_sample(data: MonthData, *, rows: int = 20) -> pd.DataFrame | Markdown:
    """The first quarantined rows (file, row, table and reason; no original values), or a
    line saying none was quarantined."""
    if not len(data.quarantine):
        return Markdown("没有隔离行 / no row was quarantined")
    return data.quarantine[["file", "row", "table", "reason"]].head(rows)


def show_monthly_overview(data: MonthData, *, lang: str, plot_lang: str) -> None:
    """Show net revenue and buyers by month as a plot, then the monthly table."""
    monthly = monthly_overview(data.orders, lang=lang)
    plotted = monthly if plot_lang == lang else monthly_overview(data.orders, lang=plot_lang)
    display(plot_monthly_revenue(plotted, lang=plot_lang))
    display(monthly)
