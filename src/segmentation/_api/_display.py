"""What the results share when they show themselves: a displayed table back as a DataFrame,
and the list of schemes the data cannot support."""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from pandas.io.formats.style import Styler

__all__ = ["displayed_frame", "unavailable_html"]

_UNAVAILABLE = {"zh": "数据不支持的方案", "en": "Schemes the data cannot support"}


def displayed_frame(table: Styler) -> pd.DataFrame:
    """The numbers behind a table the report shows (:func:`segmentation.formatting.styled`),
    indexed by its first column as displayed (a segment's or a scheme's name)."""
    data: pd.DataFrame = table.data  # type: ignore[attr-defined]  # pandas-stubs lacks it
    return data.set_index(data.columns[0])


def unavailable_html(unavailable: Mapping[str, str], *, lang: str) -> str:
    """The schemes the data cannot support, each with the reason, as an HTML list; "" when
    there is none."""
    if not unavailable:
        return ""
    items = "".join(
        f"<li><code>{html.escape(name)}</code>: {html.escape(reason)}</li>"
        for name, reason in unavailable.items()
    )
    return f"<p>{_UNAVAILABLE[lang]}:</p><ul>{items}</ul>"
