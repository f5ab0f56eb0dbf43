"""Numbers as a reader sees them: one formatter per kind of value, and tables as pandas Stylers.

Every table the report shows goes through :func:`styled`, which formats each column (or each
row, for tables with one measure per row) by its kind and writes "—" for a missing value, so
no ``NaN``, no six-decimal float and no share as ``0.018`` reaches a reader. The values stay
numbers in the Styler's ``data``; only their display changes.

Kinds: ``count`` (``1,234``), ``money`` (``1,234.56``), ``percent`` (a share, ``18.6%``),
``days`` (``396``), ``decimal`` (``3.5``), ``score`` (``0.744``), ``parameter`` (``4.414``),
``flag`` (``✓``/``✗``), ``text``.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Hashable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from pandas.io.formats.style import Styler

__all__ = [
    "KINDS",
    "MISSING",
    "count",
    "days",
    "decimal",
    "flag",
    "money",
    "parameter",
    "percent",
    "score",
    "styled",
    "text",
]

#: What a reader sees where a value is missing or does not apply.
MISSING = "—"


def _missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float | np.floating) and math.isnan(value)


def count(value: Any) -> str:
    """A whole number with thousands separators: ``1,234``."""
    return MISSING if _missing(value) else f"{round(float(value)) + 0:,}"


def money(value: Any) -> str:
    """An amount with thousands separators and two decimals: ``1,234.56``."""
    # + 0.0 turns the -0.0 of a tiny refund into 0.0: "-0.00" reads as a loss.
    return MISSING if _missing(value) else f"{round(float(value), 2) + 0.0:,.2f}"


def percent(value: Any) -> str:
    """A share (0.186) as a percentage with one decimal: ``18.6%``."""
    return MISSING if _missing(value) else f"{100 * float(value):,.1f}%"


def days(value: Any) -> str:
    """A number of days, whole: ``396``."""
    return MISSING if _missing(value) else f"{float(value):,.0f}"


def decimal(value: Any) -> str:
    """A mean or ratio read at a glance, one decimal: ``3.5``."""
    return MISSING if _missing(value) else f"{float(value):,.1f}"


def score(value: Any) -> str:
    """A score between about 0 and 1 (eta², AUC, Jaccard, silhouette), three decimals."""
    return MISSING if _missing(value) else f"{float(value):.3f}"


def parameter(value: Any) -> str:
    """A fitted model parameter, four significant digits: ``0.2426``, ``4.414``, ``2.1e-05``."""
    return MISSING if _missing(value) else f"{float(value):.4g}"


def flag(value: Any) -> str:
    """True as ``✓``, False as ``✗``."""
    return MISSING if _missing(value) else ("✓" if bool(value) else "✗")


def text(value: Any) -> str:
    """Text as it is."""
    return MISSING if _missing(value) or value == "" else str(value)


#: The formatter of each kind of value.
KINDS: dict[str, Callable[[Any], str]] = {
    "count": count,
    "money": money,
    "percent": percent,
    "days": days,
    "decimal": decimal,
    "score": score,
    "parameter": parameter,
    "flag": flag,
    "text": text,
}


def _default_kind(values: pd.Series) -> str:
    """The kind of a column nobody named: integers are counts, other numbers decimals."""
    if pd.api.types.is_bool_dtype(values.dtype):
        return "flag"
    if pd.api.types.is_integer_dtype(values.dtype):
        return "count"
    if pd.api.types.is_float_dtype(values.dtype):
        return "decimal"
    return "text"


def styled(
    table: pd.DataFrame,
    columns: Mapping[Any, str] | None = None,
    *,
    rows: Mapping[Any, str] | None = None,
    index: bool = True,
) -> Styler:
    """``table`` for display: every cell formatted by its kind, missing values as "—".

    Parameters
    ----------
    table : pandas.DataFrame
        Headers already in the report's language.
    columns : mapping, optional
        Column label to kind (:data:`KINDS`); a column not named is formatted by its dtype
        (integers as counts, floats with one decimal, text as it is).
    rows : mapping, optional
        Row label to kind, for tables with one measure per row; it formats the row's cells
        in the columns ``columns`` does not name.
    index : bool, default True
        Show the index as the first column, headed by its name (one header row); False
        hides it (a meaningless index).

    Returns
    -------
    pandas.io.formats.style.Styler
        Its ``data`` keeps the numbers; its id is derived from the content, so the same
        table renders to the same HTML in every run.
    """
    kinds = {c: (columns or {}).get(c) or _default_kind(table[c]) for c in table.columns}
    if index:
        # The index's name heads its column; without one pandas would write "index".
        frame = table.rename_axis(str(table.index.name or "")).reset_index()
    else:
        frame = table.reset_index(drop=True)
    styler = frame.style.hide(axis="index")
    for column, kind in kinds.items():
        styler = styler.format(KINDS[kind], subset=[column], na_rep=MISSING)
    by_row = [c for c in table.columns if c not in (columns or {})]
    for label, kind in (rows or {}).items():
        positions = [i for i, row in enumerate(table.index) if row == label]
        if positions and by_row:
            styler = styler.format(
                KINDS[kind], subset=pd.IndexSlice[positions, by_row], na_rep=MISSING
            )
    if index:
        styler = styler.format(text, subset=[frame.columns[0]], na_rep=MISSING)
    # Words read from the left; numbers line up on the right (the page's default). A table
    # formatted by rows holds numbers in every column.
    words: list[Hashable] = [frame.columns[0]] if index else []
    words += [
        c for c, kind in kinds.items() if kind == "text" and (c in (columns or {}) or not rows)
    ]
    if words:
        positions = [i for i, c in enumerate(frame.columns) if c in words]
        styler = styler.set_properties(subset=words, **{"text-align": "left"})
        styler = styler.set_table_styles(
            [{"selector": f"th.col{i}", "props": "text-align: left;"} for i in positions],
            overwrite=False,
        )
    digest = hashlib.sha1(frame.to_csv().encode("utf-8"), usedforsecurity=False)
    return styler.set_uuid(digest.hexdigest()[:10])
