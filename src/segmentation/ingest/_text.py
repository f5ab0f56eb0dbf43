"""Delimited and whitespace-separated text: CSV, TSV, gzip, GBK, UTF-16 and CDNOW's files.

The encoding and delimiter are told from the first 64 KiB, then pyarrow reads every column as
text on threads; lines that do not split into the header's fields are set aside with their
line numbers for the quarantine.
"""

from __future__ import annotations

import codecs
import csv
import functools
import gzip
import io
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from segmentation.errors import EmptyInputError, UnknownLayoutError, UnreadableFileError
from segmentation.ingest._presets import CDNOW_MASTER_NAMES, CDNOW_SAMPLE_NAMES
from segmentation.ingest._source import (
    BadRow,
    Source,
    drop_blank_rows,
    physical_row_starts,
    unique_names,
)

__all__ = ["read_text"]

# Cells that mean "no value"; "NA" is not among them because it can be a real code.
_NULL_TEXT = ["", "NULL", "null", "None", "NaN", "nan", "#N/A", "N/A"]


@dataclass(frozen=True)
class _TextPlan:
    """How pyarrow is to read one text file."""

    names: list[str]
    opener: Callable[[], pa.NativeFile]
    encoding: str  # pyarrow's name for it
    delimiter: str  # between fields in what pyarrow reads
    quoting: bool
    file_format: str
    # Rows before the data: blank lines and the header, unless the file has none.
    skip_rows: int
    headerless_layout: str | None = None
    # Whether the text ends with a line break, when known without reading the file again.
    ends_with_newline: bool | None = None


def read_text(path: Path, head: bytes, *, compressed: bool, size: int, sha256: str) -> Source:
    """Read a text export (``head``: its first bytes, decompressed) into a :class:`Source`."""
    encoding = _detect_encoding(head, path)
    header_index, header_line = _header_line(head, encoding, path)
    delimiter = _sniff_delimiter(header_line, path)
    if delimiter is None:
        plan = _whitespace_plan(path, encoding, header_line, header_index, compressed=compressed)
    else:
        plan = _delimited_plan(
            path, encoding, header_line, header_index, delimiter, compressed=compressed
        )
    table, skipped, bad_text, arrow_encoding = _read_csv_arrow(path, plan)
    if arrow_encoding == "gb18030" and encoding != "gb18030":
        encoding = "gb18030"
    first_data_row = plan.skip_rows + 1
    table, records, blank_rows = drop_blank_rows(table)
    source = Source(
        path=path,
        sha256=sha256,
        size=size,
        file_format=plan.file_format,
        header=plan.names,
        table=table,
        records=records,
        encoding=encoding,
        delimiter=delimiter or "whitespace",
        headerless_layout=plan.headerless_layout,
        first_data_row=first_data_row,
        blank_rows=blank_rows,
    )
    last_row = first_data_row + len(records) + blank_rows + len(skipped) - 1
    bad_rows = _bad_rows(
        source,
        skipped,
        bad_text,
        delimiter=delimiter,
        last_row=last_row,
        cut_off=_cut_off(path, plan, compressed=compressed),
    )
    source.skipped_rows = np.array(sorted(skipped), dtype=np.int64)
    if bad_rows and source.has_multiline_values():
        _number_by_line(source, bad_rows)
    source.bad_rows = bad_rows
    if table.num_rows == 0 and not bad_rows:
        names = plan.names
        shown = ", ".join(names[:6]) + (", ..." if len(names) > 6 else "")
        raise EmptyInputError(
            f"{path}: holds a header ({shown}) but no data rows; export it again with the rows"
        )
    return source


def _detect_encoding(head: bytes, path: Path) -> str:
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if b"\x00" in head:
        raise UnreadableFileError(
            f"{path}: binary data, not text, CSV, XLSX or Parquet; export the data as CSV or XLSX"
        )
    for encoding in ("utf-8", "gb18030"):
        try:
            # Incremental: the sample may end inside a multi-byte character.
            codecs.getincrementaldecoder(encoding)().decode(head, final=False)
        except UnicodeDecodeError:
            continue
        return encoding
    raise UnreadableFileError(
        f"{path}: text in an unknown encoding (neither UTF-8 nor GB18030/GBK); save it as "
        f"CSV UTF-8 from Excel or WPS"
    )


def _header_line(head: bytes, encoding: str, path: Path) -> tuple[int, str]:
    """The first line that is not blank (the header, or CDNOW's first row) and its index."""
    text = codecs.getincrementaldecoder(encoding)(errors="replace").decode(head, final=False)
    lines = text.lstrip("\ufeff").splitlines()
    header_index = next((i for i, line in enumerate(lines) if line.strip()), None)
    if header_index is None:
        raise EmptyInputError(f"{path}: the file holds no text, only blank lines; export it again")
    return header_index, lines[header_index]


def _sniff_delimiter(line: str, path: Path) -> str | None:
    """The header's delimiter; ``None`` for whitespace-separated text such as CDNOW."""
    counts = {d: line.count(d) for d in (",", "\t", ";", "|")}
    if path.suffix.lower() == ".tsv" and counts["\t"]:
        return "\t"
    best = max(counts, key=lambda d: counts[d])
    if counts[best]:
        return best
    return None if len(line.split()) > 1 else ","


def _whitespace_plan(
    path: Path, encoding: str, header_line: str, header_index: int, *, compressed: bool
) -> _TextPlan:
    """Whitespace-separated text (CDNOW), rewritten as tab-separated text for the CSV reader."""
    try:
        raw = gzip.decompress(path.read_bytes()) if compressed else path.read_bytes()
        full = raw.decode(encoding).lstrip("\ufeff")
    except (UnicodeDecodeError, OSError, EOFError) as error:
        raise UnreadableFileError(
            f"{path}: cannot be decoded as {encoding} ({error}); save it as UTF-8 text"
        ) from error
    tabbed = re.sub(r"[ \t]+", "\t", re.sub(r"(?m)^[ \t]+|[ \t]+$", "", full))
    header = header_line.split()
    headerless_layout = None
    if _looks_like_data(header):
        names, headerless_layout = _headerless_layout(header, path, header_index)
    else:
        names = unique_names(header)
    return _TextPlan(
        names=names,
        opener=functools.partial(pa.BufferReader, tabbed.encode("utf-8")),
        encoding="utf8",
        delimiter="\t",
        quoting=False,
        file_format="whitespace" + (".gz" if compressed else ""),
        skip_rows=header_index + (0 if headerless_layout else 1),
        headerless_layout=headerless_layout,
        ends_with_newline=full.endswith("\n"),
    )


def _delimited_plan(
    path: Path,
    encoding: str,
    header_line: str,
    header_index: int,
    delimiter: str,
    *,
    compressed: bool,
) -> _TextPlan:
    """CSV or TSV, gzip-compressed or not, read from the file as it is."""
    header = next(csv.reader([header_line], delimiter=delimiter))
    if _looks_like_data(header):
        raise _data_not_header(
            path, header_index, header, "order_id, customer_id, order_ts, amount"
        )

    def opener() -> pa.NativeFile:
        stream = pa.OSFile(str(path))
        return pa.CompressedInputStream(stream, "gzip") if compressed else stream

    return _TextPlan(
        names=unique_names(header),
        opener=opener,
        encoding="utf8" if encoding in {"utf-8", "utf-8-sig"} else encoding,
        delimiter=delimiter,
        quoting=True,
        file_format="csv.gz" if compressed else "csv",
        skip_rows=header_index + 1,
    )


def _looks_like_data(fields: Sequence[str]) -> bool:
    # A header has at least one name that is not a number or a date.
    return all(re.fullmatch(r"\s*[-+]?[\d.:/ -]+\s*", f or "0") for f in fields)


def _headerless_layout(first: list[str], path: Path, index: int) -> tuple[list[str], str]:
    """Column names for a whitespace file without a header: only CDNOW's are known."""
    if len(first) == 5 and re.fullmatch(r"\d{8}", first[2]):
        return list(CDNOW_SAMPLE_NAMES), "cdnow_sample"
    if len(first) == 4 and re.fullmatch(r"\d{8}", first[1]):
        return list(CDNOW_MASTER_NAMES), "cdnow"
    raise _data_not_header(path, index, first, "customer_id date amount")


def _data_not_header(
    path: Path, index: int, fields: Sequence[str], example: str
) -> UnknownLayoutError:
    return UnknownLayoutError(
        f"{path}: line {index + 1} looks like data, not a header (its {len(fields)} fields are "
        f"all numbers or dates); add a header line naming the columns (e.g. {example})"
    )


def _read_csv_arrow(path: Path, plan: _TextPlan) -> tuple[pa.Table, list[int], list[str], str]:
    """Read delimited text with pyarrow: every column as text, invalid rows set aside.

    Returns the table, the row numbers and text of the rows that did not split into the
    header's fields, and the encoding actually used.
    """
    encoding = plan.encoding
    try:
        try:
            table, invalid = _read_numbered(plan, encoding)
        except pa.ArrowInvalid as error:
            if encoding != "utf8" or "UTF8" not in str(error):
                raise
            # The sample was UTF-8 but a later part is not: a GBK export with ASCII at the top.
            encoding = "gb18030"
            table, invalid = _read_numbered(plan, encoding)
    except (pa.ArrowInvalid, UnicodeDecodeError, OSError, EOFError) as error:
        # The reader's message can end with the offending row: keep only its first two parts,
        # so no raw value (a phone number) reaches the terminal or a log.
        detail = ": ".join(" ".join(str(error).split()).split(": ")[:2])[:160]
        raise UnreadableFileError(
            f"{path}: cannot be parsed as {encoding} text with {plan.delimiter!r} between "
            f"fields ({detail}); open it in Excel or WPS and save it as CSV UTF-8"
        ) from error
    return table, [int(row.number) for row in invalid], [str(row.text) for row in invalid], encoding


def _read_numbered(plan: _TextPlan, encoding: str) -> tuple[pa.Table, list[Any]]:
    # Threads parse blocks in parallel (about half the time on two cores), but only a
    # single-threaded read knows the row number of a row that fails to split: a file
    # with such rows is read again that way, so the quarantine can name their lines.
    table, invalid = _read_arrow(plan, encoding, use_threads=True)
    if invalid:
        table, invalid = _read_arrow(plan, encoding, use_threads=False)
    return table, invalid


def _read_arrow(plan: _TextPlan, encoding: str, *, use_threads: bool) -> tuple[pa.Table, list[Any]]:
    invalid: list[Any] = []

    def on_invalid(row: Any) -> str:
        invalid.append(row)
        return "skip"

    source = plan.opener()
    try:
        table = pacsv.read_csv(
            source,
            read_options=pacsv.ReadOptions(
                column_names=plan.names,
                skip_rows=plan.skip_rows,
                encoding=encoding,
                use_threads=use_threads,
            ),
            parse_options=pacsv.ParseOptions(
                delimiter=plan.delimiter,
                quote_char='"' if plan.quoting else False,
                newlines_in_values=plan.quoting,
                ignore_empty_lines=False,
                invalid_row_handler=on_invalid,
            ),
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.string() for name in plan.names},
                null_values=_NULL_TEXT,
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
            ),
        )
    finally:
        source.close()
    return table, invalid


def _cut_off(path: Path, plan: _TextPlan, *, compressed: bool) -> bool:
    """Whether the text ends without a line break: then a short last row is cut off."""
    if plan.ends_with_newline is not None:
        return not plan.ends_with_newline
    if compressed:
        return True  # not known without decompressing again: a short last row is cut off
    with path.open("rb") as handle:
        handle.seek(-1, 2)
        return handle.read(1) not in (b"\n", b"\r")


def _bad_rows(
    source: Source,
    skipped: list[int],
    texts: list[str],
    *,
    delimiter: str | None,
    last_row: int,
    cut_off: bool,
) -> list[BadRow]:
    """The lines pyarrow set aside, split into fields, each with its reason.

    A set-aside line that holds only whitespace is counted among the source's blank rows.
    """
    bad_rows: list[BadRow] = []
    for row_number, row_text in zip(skipped, texts, strict=True):
        if delimiter is None:
            fields = row_text.split("\t") if row_text else []
        else:
            fields = next(csv.reader(io.StringIO(row_text), delimiter=delimiter), [])
        if not "".join(fields).strip():
            source.blank_rows += 1  # a whitespace-only line is blank, not a row
            continue
        short = len(fields) < len(source.header)
        truncated = short and cut_off and row_number == last_row
        reason = "truncated_row" if truncated else "wrong_field_count"
        bad_rows.append(BadRow(line=row_number, fields=fields, reason=reason))
    return bad_rows


def _number_by_line(source: Source, bad_rows: list[BadRow]) -> None:
    """Give each bad row the line it starts on: past a quoted line break, pyarrow's row
    numbers fall behind the lines an editor shows."""
    starts = physical_row_starts(source)
    for bad in bad_rows:
        bad.line = int(starts[min(bad.line, len(starts) - 1)])
