"""segments.xlsx: the export's table as an Excel workbook whose ids are text cells.

Excel opening a CSV turns ``00123`` into 123 and an 18-digit id into ``1.10101E+17`` (15
significant digits); in this workbook every id is a string cell formatted as text (number
format ``@``), so it is shown and kept exactly, and a value that starts with ``=`` is a
string, never a formula.

The workbook is written as its Office Open XML parts directly, column by column from the
category codes (the few distinct names go to the shared-string table), because writing it
cell by cell with openpyxl takes about ten minutes at a million customers (here: 31 s of CPU
for the four files). Cells carry no reference (``r`` is optional in ECMA-376: a cell follows
the one before it; a missing value is an empty ``<c/>``), which keeps the XML a third smaller.
openpyxl reads it back in the tests. A sheet holds at most 1,048,576 rows (Excel's limit); beyond that the
rows continue on a second sheet with the same header.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from segmentation.export._csv import ROWS_PER_BLOCK, arrow_bytes, arrow_text, value_positions
from segmentation.export._table import Column

__all__ = ["EXCEL_MAX_ROWS", "write_xlsx"]

EXCEL_MAX_ROWS = 1_048_576  # rows of one sheet, the header included
_MAX_SHEET_NAME = 31
_MAX_WIDTH = 60
# Characters XML 1.0 cannot hold; shown as U+FFFD.
_XML_ILLEGAL = "[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]"
# Excel reads _xHHHH_ in a string as an escaped character; a literal one is escaped itself.
_EXCEL_ESCAPE = r"(_x[0-9A-Fa-f]{4}_)"
_SHEET_NAME_ILLEGAL = r"[\[\]:*?/\\]"
# Cell styles (cellXfs): 0 general, 1 text ("@", builtin format 49), 2 bold header.
_TEXT_STYLE, _HEADER_STYLE = 1, 2
_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PACKAGE_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
_XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
# A fixed timestamp, so the same table gives the same bytes.
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_STYLES = (
    f'{_XML_DECLARATION}<styleSheet xmlns="{_MAIN}">'
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="3"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="49" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)


def write_xlsx(
    path: Path,
    *,
    id_header: str,
    ids: pd.Series,
    columns: Sequence[Column],
    order: np.ndarray,
    sheet: str,
    max_rows: int = EXCEL_MAX_ROWS,
) -> int:
    """Write the table to ``path`` as an XLSX workbook; the number of sheets.

    Parameters
    ----------
    path : Path
        The workbook to write.
    id_header : str
        Header of the id column (column A).
    ids : pandas.Series
        The ids as text, one per customer.
    columns : sequence of Column
        The other columns, as codes per customer.
    order : numpy.ndarray
        Customer positions in row order.
    sheet : str
        The sheet's name; characters Excel forbids are replaced and it is cut to 31.
    max_rows : int, default 1,048,576
        Rows per sheet, the header included (Excel's limit).

    Returns
    -------
    int
        Sheets written (more than one only beyond ``max_rows - 1`` customers).
    """
    strings = _SharedStrings()
    header_cells = [
        strings.cell(text, style=_HEADER_STYLE)
        for text in [id_header, *(c.header for c in columns)]
    ]
    cells = [strings.cells(column.values) for column in columns]
    positions = [value_positions(column.codes, len(column.values)) for column in columns]
    id_text = _xml_text_column(ids.take(order).reset_index(drop=True))
    widths = _column_widths(id_header, ids, columns)
    per_sheet = max_rows - 1
    starts = range(0, max(len(order), 1), per_sheet)
    names = _sheet_names(sheet, len(starts))
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as book:
        for number, start in enumerate(starts, start=1):
            stop = min(start + per_sheet, len(order))
            with book.open(_entry(f"xl/worksheets/sheet{number}.xml"), "w", force_zip64=True) as f:
                f.write(_sheet_head(widths, n_rows=stop - start + 1).encode("utf-8"))
                f.write(f'<row r="1">{"".join(header_cells)}</row>'.encode())
                rows = _sheet_rows(id_text, cells, positions, order, start=start, stop=stop)
                for block in rows:
                    f.write(block)
                f.write(b"</sheetData></worksheet>")
        for name, text in _package_parts(names, strings).items():
            book.writestr(_entry(name), text.encode("utf-8"))
    return len(names)


class _SharedStrings:
    """The shared-string table: each distinct text once, cells refer to it by index."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}

    def add(self, text: str) -> int:
        return self.index.setdefault(text, len(self.index))

    def cell(self, text: str, *, style: int) -> str:
        return f'<c t="s" s="{style}"><v>{self.add(text)}</v></c>'

    def cells(self, values: pd.Series) -> Any:
        """Per value, its cell; an empty cell for a missing value, so the next cells keep
        their columns."""
        return arrow_text(
            ["<c/>" if pd.isna(v) else f'<c t="s"><v>{self.add(str(v))}</v></c>' for v in values]
        )

    def xml(self) -> str:
        items = "".join(
            f'<si><t xml:space="preserve">{_xml_text(text)}</t></si>' for text in self.index
        )
        n = len(self.index)
        return f'{_XML_DECLARATION}<sst xmlns="{_MAIN}" count="{n}" uniqueCount="{n}">{items}</sst>'


def _sheet_rows(
    id_text: Any,
    cells: Sequence[Any],
    positions: Sequence[np.ndarray],
    order: np.ndarray,
    *,
    start: int,
    stop: int,
) -> Iterator[memoryview]:
    """The ``<row>`` elements of customers ``start`` to ``stop`` (in row order), by block."""
    import pyarrow as pa
    import pyarrow.compute as pc

    def joined(*parts: Any) -> Any:
        texts = [pa.scalar(p, pa.large_string()) if isinstance(p, str) else p for p in parts]
        return pc.binary_join_element_wise(*texts, pa.scalar("", pa.large_string()))

    for first in range(start, stop, ROWS_PER_BLOCK):
        last = min(first + ROWS_PER_BLOCK, stop)
        # Row 1 is the header: a sheet's customers start on row 2.
        row = pa.array(np.arange(first - start + 2, last - start + 2)).cast(pa.large_string())
        row_cells = [
            pc.fill_null(
                joined(
                    '<c t="inlineStr" s="1"><is><t xml:space="preserve">',
                    id_text[first:last],
                    "</t></is></c>",
                ),
                "<c/>",
            )
        ]
        for column, position in zip(cells, positions, strict=True):
            row_cells.append(column.take(pa.array(position[order[first:last]])))
        yield arrow_bytes(joined('<row r="', row, '">', *row_cells, "</row>"))


def _sheet_head(widths: Sequence[float], *, n_rows: int) -> str:
    """The worksheet up to ``<sheetData>``: the frozen header row and the column widths; the
    id column is formatted as text, so an id typed into it stays text too."""
    columns = "".join(
        f'<col min="{k}" max="{k}" width="{width:.1f}" customWidth="1"'
        + (f' style="{_TEXT_STYLE}"' if k == 1 else "")
        + "/>"
        for k, width in enumerate(widths, start=1)
    )
    return (
        f'{_XML_DECLARATION}<worksheet xmlns="{_MAIN}" xmlns:r="{_REL}">'
        f'<dimension ref="A1:{_letters(len(widths) - 1)}{n_rows}"/>'
        '<sheetViews><sheetView workbookViewId="0">'
        '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
        "</sheetView></sheetViews>"
        f'<sheetFormatPr defaultRowHeight="15"/><cols>{columns}</cols><sheetData>'
    )


def _package_parts(names: Sequence[str], strings: _SharedStrings) -> dict[str, str]:
    """Every part of the package but the worksheets: content types, relations, workbook."""
    sheet_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
    sheet_rel = f"{_REL}/worksheet"
    overrides = "".join(
        f'<Override PartName="/xl/worksheets/sheet{k}.xml" ContentType="{sheet_type}"/>'
        for k in range(1, len(names) + 1)
    )
    office = "application/vnd.openxmlformats-officedocument.spreadsheetml"
    n = len(names)
    return {
        "[Content_Types].xml": (
            f"{_XML_DECLARATION}<Types "
            'xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" '
            'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            f'<Override PartName="/xl/workbook.xml" ContentType="{office}.sheet.main+xml"/>'
            f'<Override PartName="/xl/styles.xml" ContentType="{office}.styles+xml"/>'
            f'<Override PartName="/xl/sharedStrings.xml" '
            f'ContentType="{office}.sharedStrings+xml"/>{overrides}</Types>'
        ),
        "_rels/.rels": (
            f'{_XML_DECLARATION}<Relationships xmlns="{_PACKAGE_REL}">'
            f'<Relationship Id="rId1" Type="{_REL}/officeDocument" Target="xl/workbook.xml"/>'
            "</Relationships>"
        ),
        "xl/workbook.xml": (
            f'{_XML_DECLARATION}<workbook xmlns="{_MAIN}" xmlns:r="{_REL}"><sheets>'
            + "".join(
                f'<sheet name="{_xml_text(name)}" sheetId="{k}" r:id="rId{k}"/>'
                for k, name in enumerate(names, start=1)
            )
            + "</sheets></workbook>"
        ),
        "xl/_rels/workbook.xml.rels": (
            f'{_XML_DECLARATION}<Relationships xmlns="{_PACKAGE_REL}">'
            + "".join(
                f'<Relationship Id="rId{k}" Type="{sheet_rel}" Target="worksheets/sheet{k}.xml"/>'
                for k in range(1, n + 1)
            )
            + f'<Relationship Id="rId{n + 1}" Type="{_REL}/styles" Target="styles.xml"/>'
            + f'<Relationship Id="rId{n + 2}" Type="{_REL}/sharedStrings" '
            'Target="sharedStrings.xml"/></Relationships>'
        ),
        "xl/styles.xml": _STYLES,
        "xl/sharedStrings.xml": strings.xml(),
    }


def _entry(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def _xml_text(text: str) -> str:
    """``text`` escaped for an XML text node or attribute, as Excel reads it back."""
    text = re.sub(_XML_ILLEGAL, "\ufffd", text)
    text = re.sub(_EXCEL_ESCAPE, r"_x005F\1", text)
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )


def _xml_text_column(text: pd.Series) -> Any:
    """:func:`_xml_text` for a long column of ids, as a pyarrow array."""
    import pyarrow as pa
    import pyarrow.compute as pc

    cells = pa.array(text.array, type=pa.large_string())
    if isinstance(cells, pa.ChunkedArray):
        cells = cells.combine_chunks()
    cells = pc.replace_substring_regex(cells, _XML_ILLEGAL, "\ufffd")
    cells = pc.replace_substring_regex(cells, _EXCEL_ESCAPE, r"_x005F\1")
    for raw, escaped in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;")):
        cells = pc.replace_substring(cells, raw, escaped)
    return cells


def _column_widths(id_header: str, ids: pd.Series, columns: Sequence[Column]) -> list[float]:
    """A width per column that fits its header and longest value, CJK counted double."""
    import pyarrow as pa
    import pyarrow.compute as pc

    id_lengths = pc.utf8_length(pa.array(ids.array, type=pa.large_string()))
    longest_id = int(pc.max(id_lengths).as_py() or 0)
    widths = [max(_display_width(id_header), longest_id)]
    for column in columns:
        shown = [_display_width(column.header)]
        shown += [_display_width(str(v)) for v in column.values if not pd.isna(v)]
        widths.append(max(shown))
    return [min(width + 2.0, _MAX_WIDTH) for width in widths]


def _display_width(text: str) -> int:
    return sum(2 if ord(char) > 0x2E7F else 1 for char in text)


def _sheet_names(name: str, count: int) -> list[str]:
    """``count`` distinct sheet names from ``name``, as Excel allows them."""
    base = re.sub(_SHEET_NAME_ILLEGAL, "_", name).strip("'") or "Sheet"
    names = [base[:_MAX_SHEET_NAME]]
    for number in range(2, count + 1):
        suffix = f" {number}"
        names.append(base[: _MAX_SHEET_NAME - len(suffix)] + suffix)
    return names


def _letters(column: int) -> str:
    """Excel's name of the 0-based ``column``: 0 -> A, 25 -> Z, 26 -> AA."""
    name = ""
    column += 1
    while column:
        column, rest = divmod(column - 1, 26)
        name = chr(ord("A") + rest) + name
    return name
