"""Delimited and whitespace-separated text: CSV, TSV, gzip, GBK, UTF-16 and CDNOW's files.

The encoding and delimiter are told from the first 64 KiB, then pyarrow reads every column as
text on threads; lines that do not split into the header's fields are set aside with their
line numbers for the quarantine.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import functools
import gzip
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from segmentation.errors import EmptyInputError, UnknownLayoutError, UnreadableFileError
from segmentation.ingest._lines import (
    encoding_by_weight,
    looks_binary,
    nonblank_lines,
    open_quote_at_end,
    set_aside_faulty_lines,
)
from segmentation.ingest._presets import CDNOW_MASTER_NAMES, CDNOW_SAMPLE_NAMES
from segmentation.ingest._source import (
    BadRow,
    Source,
    drop_blank_rows,
    physical_row_starts,
    shown_header,
    unique_names,
)

__all__ = ["read_text"]

# Cells that mean "no value"; "NA" is not among them because it can be a real code.
_NULL_TEXT = ["", "NULL", "null", "None", "NaN", "nan", "#N/A", "N/A"]
# pyarrow reads text in blocks of 1 MiB; a row longer than a block (one 20 MB field) is read
# again with larger blocks, up to the largest block pyarrow takes.
_FIRST_BLOCK = 1 << 20
_LARGEST_BLOCK = (1 << 31) - 1
# Reasons of the lines emptied before the reader saw the text.
_SET_ASIDE = frozenset({"undecodable_line", "nul_bytes"})


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
    # Share of faulty lines (NUL bytes, undecodable) past which the file is refused whole.
    binary_line_share: float
    headerless_layout: str | None = None
    # Whether the text ends with a line break, when known without reading the file again.
    ends_with_newline: bool | None = None
    # Lines set aside before pyarrow reads the text (whitespace files are decoded first).
    faults: tuple[BadRow, ...] = ()
    blank_faults: tuple[int, ...] = ()
    # The text's first data line (1-based), where faulty lines are looked for.
    first_line: int = 2


def read_text(
    path: Path,
    head: bytes,
    *,
    compressed: bool,
    size: int,
    sha256: Callable[[], str],
    binary_line_share: float,
    holds_nul: Callable[[], bool] | None,
) -> Source:
    """Read a text export (``head``: its first bytes, decompressed) into a :class:`Source`.

    Lines that cannot be read (undecodable, NUL bytes, an unterminated quote to the end of
    the file) become bad rows with their line numbers; the rest of the file is read.
    ``sha256`` gives the file's digest, and ``holds_nul`` whether the file has a NUL byte
    when that is known from its bytes (``None``: look in the text read, which costs a pass
    over it); both are asked only once the text is read, so they may be worked out meanwhile.
    """
    encoding = _detect_encoding(head, path, binary_line_share=binary_line_share)
    header_index, header_line = _header_line(head, encoding, path)
    delimiter = _sniff_delimiter(header_line, path)
    if delimiter is None:
        plan = _whitespace_plan(
            path,
            encoding,
            header_line,
            header_index,
            compressed=compressed,
            binary_line_share=binary_line_share,
        )
    else:
        plan = _delimited_plan(
            path,
            encoding,
            header_line,
            header_index,
            delimiter,
            compressed=compressed,
            binary_line_share=binary_line_share,
        )
    if encoding == "utf-16":
        holds_nul = None  # every ASCII character of UTF-16 has a NUL byte
    read = _read_csv_arrow(path, plan, compressed=compressed, holds_nul=holds_nul)
    if read.encoding == "gb18030" and encoding != "gb18030":
        encoding = "gb18030"
    first_data_row = plan.skip_rows + 1
    table, records, blank_rows = drop_blank_rows(read.table)
    source = Source(
        path=path,
        sha256=sha256(),
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
    last_row = first_data_row + len(records) + blank_rows + len(read.skipped) - 1
    bad_rows = _bad_rows(
        source,
        read.skipped,
        read.texts,
        delimiter=delimiter,
        last_row=last_row,
        cut_off=_cut_off(path, plan, compressed=compressed),
    )
    source.skipped_rows = np.array(sorted(read.skipped), dtype=np.int64)
    if bad_rows and source.has_multiline_values():
        _number_by_line(source, bad_rows)
    bad_rows += _quote_open_at_end(
        source, plan, compressed=compressed, bad_rows=[*read.faults, *bad_rows]
    )
    # Emptied faulty lines were counted as blank lines by the reader (but for those inside
    # an unterminated quote, which it read as part of a field): they are bad rows.
    cut = min((bad.line for bad in bad_rows if bad.reason == "unterminated_quote"), default=None)
    source.blank_rows -= sum(cut is None or line < cut for line in read.blank_faults)
    source.bad_rows = sorted([*read.faults, *bad_rows], key=lambda bad: bad.line)
    if source.table.num_rows == 0 and not source.bad_rows:
        names = plan.names
        shown = shown_header(names[:6]) + (", ..." if len(names) > 6 else "")
        raise EmptyInputError(
            f"{path}: holds a header ({shown}) but no data rows; export it again with the rows"
        )
    return source


def _detect_encoding(head: bytes, path: Path, *, binary_line_share: float) -> str:
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if looks_binary(head, binary_line_share=binary_line_share):
        raise UnreadableFileError(
            f"{path}: binary data, not text, CSV, XLSX or Parquet; export the data as CSV or XLSX"
        )
    try:
        # Incremental: the sample may end inside a multi-byte character.
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        # Not all UTF-8: a GBK/GB18030 export, or a UTF-8 one with a few bad lines (each is
        # quarantined later), told by where the non-ASCII bytes are. Decoding as GB18030
        # first would take UTF-8 Chinese for GB18030 text and garble every line.
        sample = head[: head.rfind(b"\n") + 1] or head
        return encoding_by_weight(sample, 0)
    return "utf-8"


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
    path: Path,
    encoding: str,
    header_line: str,
    header_index: int,
    *,
    compressed: bool,
    binary_line_share: float,
) -> _TextPlan:
    """Whitespace-separated text (CDNOW), rewritten as tab-separated text for the CSV reader.

    Lines that do not decode or hold NUL bytes are emptied first and kept as bad rows.
    """
    header = header_line.split()
    headerless_layout = None
    if _looks_like_data(header):
        names, headerless_layout = _headerless_layout(header, path, header_index)
    else:
        names = unique_names(header)
    # 1-based line of the first data row: CDNOW's first line is data.
    first_line = header_index + (1 if headerless_layout else 2)
    raw = _raw_text(path, compressed=compressed)
    faults = set_aside_faulty_lines(
        raw, encoding, first_line=first_line, path=path, binary_line_share=binary_line_share
    )
    full = faults.text.decode(encoding, errors="replace").lstrip("\ufeff")
    tabbed = re.sub(r"[ \t]+", "\t", re.sub(r"(?m)^[ \t]+|[ \t]+$", "", full))
    return _TextPlan(
        names=names,
        opener=functools.partial(pa.BufferReader, tabbed.encode("utf-8")),
        encoding="utf8",
        delimiter="\t",
        quoting=False,
        file_format="whitespace" + (".gz" if compressed else ""),
        skip_rows=header_index + (0 if headerless_layout else 1),
        binary_line_share=binary_line_share,
        headerless_layout=headerless_layout,
        ends_with_newline=raw.endswith(b"\n"),
        faults=tuple(faults.bad_rows),
        blank_faults=faults.blank_lines,
        first_line=first_line,
    )


def _raw_text(path: Path, *, compressed: bool) -> bytes:
    """A text file's bytes, decompressed."""
    try:
        return gzip.decompress(path.read_bytes()) if compressed else path.read_bytes()
    except (OSError, EOFError) as error:
        raise UnreadableFileError(
            f"{path}: cannot be read ({error}); check the file, or download it again"
        ) from error


def _delimited_plan(
    path: Path,
    encoding: str,
    header_line: str,
    header_index: int,
    delimiter: str,
    *,
    compressed: bool,
    binary_line_share: float,
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
        binary_line_share=binary_line_share,
        first_line=header_index + 2,
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


@dataclass(frozen=True)
class _Read:
    """What pyarrow read of a text file, and the lines set aside before and while it read."""

    table: pa.Table
    # Row numbers and text of the rows that did not split into the header's fields.
    skipped: list[int]
    texts: list[str]
    encoding: str  # pyarrow's name for the encoding actually used
    faults: tuple[BadRow, ...]
    blank_faults: tuple[int, ...]


def _read_csv_arrow(
    path: Path, plan: _TextPlan, *, compressed: bool, holds_nul: Callable[[], bool] | None
) -> _Read:
    """Read delimited text with pyarrow: every column as text, invalid rows set aside.

    A text with lines that do not decode (one GB18030 line in a UTF-8 file) or that hold NUL
    bytes is read again with those lines emptied: each is a bad row, the rest is read.
    """
    encoding = plan.encoding
    try:
        try:
            table, invalid = _read_numbered(plan, encoding)
            # Whitespace text was rewritten (and cleaned of NUL lines) before it was read:
            # the raw bytes say nothing of it.
            if holds_nul is None or not plan.quoting:
                any_nul = _holds_nul(table) or any("\x00" in str(row.text) for row in invalid)
            else:
                any_nul = holds_nul()
            # Lines of UTF-16 cannot be found by their bytes: its NULs stay in the values.
            faulty = any_nul and not encoding.startswith("utf-16")
        except (pa.ArrowInvalid, UnicodeDecodeError):
            if encoding.startswith("utf-16") or plan.faults:
                raise  # lines of UTF-16 cannot be found by their bytes
            # Undecodable bytes fail the reader as a conversion error, or as a parse error
            # when they sit in a row that does not split (its text cannot be handed over).
            plan, encoding = _without_faulty_lines(path, plan, compressed=compressed)
            if not plan.faults:
                raise
            table, invalid = _read_numbered(plan, encoding)
            faulty = False
        if faulty:
            plan, encoding = _without_faulty_lines(path, plan, compressed=compressed)
            table, invalid = _read_numbered(plan, encoding)
    except (pa.ArrowInvalid, UnicodeDecodeError, OSError, EOFError) as error:
        # The reader's message can end with the offending row: keep only its first two parts,
        # so no raw value (a phone number) reaches the terminal or a log.
        detail = ": ".join(" ".join(str(error).split()).split(": ")[:2])[:160]
        raise UnreadableFileError(
            f"{path}: cannot be parsed as {encoding} text with {plan.delimiter!r} between "
            f"fields ({detail}); open it in Excel or WPS and save it as CSV UTF-8"
        ) from error
    return _Read(
        table=table,
        skipped=[int(row.number) for row in invalid],
        texts=[str(row.text) for row in invalid],
        encoding=encoding,
        faults=plan.faults,
        blank_faults=plan.blank_faults,
    )


def _without_faulty_lines(
    path: Path, plan: _TextPlan, *, compressed: bool
) -> tuple[_TextPlan, str]:
    """The plan to read the file with its faulty lines emptied, and the encoding to use.

    A UTF-8 guess from the first 64 KiB is checked against the whole file: a GBK export with
    ASCII at the top fails on every Chinese line and is read as GB18030 instead.
    """
    raw = _raw_text(path, compressed=compressed)
    encoding = plan.encoding
    if encoding == "utf8" and not raw.startswith(codecs.BOM_UTF8):
        encoding = "utf8" if encoding_by_weight(raw, 0) == "utf-8" else "gb18030"
    faults = set_aside_faulty_lines(
        raw,
        encoding,
        first_line=plan.first_line,
        path=path,
        binary_line_share=plan.binary_line_share,
    )
    text = faults.text
    plan = replace(
        plan,
        opener=functools.partial(pa.BufferReader, text),
        faults=(*plan.faults, *faults.bad_rows),
        blank_faults=(*plan.blank_faults, *faults.blank_lines),
    )
    return plan, encoding


def _holds_nul(table: pa.Table) -> bool:
    """Whether any text value holds a NUL byte (searched in the raw buffers, memchr speed)."""
    return any(
        re.search(b"\x00", memoryview(chunk.buffers()[2])) is not None
        for column in table.columns
        if pa.types.is_string(column.type)
        for chunk in column.chunks
        if chunk.buffers()[2] is not None
    )


def _read_numbered(plan: _TextPlan, encoding: str) -> tuple[pa.Table, list[Any]]:
    # Threads parse blocks in parallel (about half the time on two cores), but only a
    # single-threaded read knows the row number of a row that fails to split: a file
    # with such rows is read again that way, so the quarantine can name their lines.
    block = _FIRST_BLOCK
    while True:
        try:
            table, invalid = _read_arrow(plan, encoding, use_threads=True, block_size=block)
            if invalid:
                table, invalid = _read_arrow(plan, encoding, use_threads=False, block_size=block)
            return table, invalid
        except pa.ArrowInvalid as error:
            # A row longer than a block (a 20 MB field): read it with larger blocks.
            if "straddl" not in str(error) or block >= _LARGEST_BLOCK:
                raise
            block = min(_LARGEST_BLOCK, block * 16)


def _read_arrow(
    plan: _TextPlan, encoding: str, *, use_threads: bool, block_size: int
) -> tuple[pa.Table, list[Any]]:
    invalid: list[Any] = []

    def on_invalid(row: Any) -> str:
        invalid.append(row)
        return "skip"

    source = plan.opener()
    try:
        with _undecodable_rows_unreported(on_invalid):
            table = pacsv.read_csv(
                source,
                read_options=pacsv.ReadOptions(
                    column_names=plan.names,
                    skip_rows=plan.skip_rows,
                    encoding=encoding,
                    use_threads=use_threads,
                    block_size=block_size,
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


@contextlib.contextmanager
def _undecodable_rows_unreported(handler: Callable[[Any], str]) -> Iterator[None]:
    """Within the block, pyarrow's report of a row it could not hand to ``handler`` is not
    printed.

    pyarrow decodes a row that does not split before it calls the invalid-row handler; when
    the row's bytes are not UTF-8 that fails, pyarrow prints "Exception ignored in" and a
    traceback on stderr, then raises ``ArrowInvalid``, on which the file is read again with
    its undecodable lines set aside (each quarantined as ``undecodable_line``). The user
    sees the quarantine, not a traceback: exactly that report is dropped, and every other
    goes to the hook installed before.
    """
    previous = sys.unraisablehook

    def hook(unraisable: sys.UnraisableHookArgs) -> None:
        if unraisable.object is handler and isinstance(unraisable.exc_value, UnicodeDecodeError):
            return
        previous(unraisable)

    sys.unraisablehook = hook
    try:
        yield
    finally:
        sys.unraisablehook = previous


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
    """The lines pyarrow set aside, each with its reason and the number of its fields.

    A set-aside line that holds only whitespace (and delimiters) is counted among the
    source's blank rows. The last row, when a quote opened in it is still open at the end
    of the file, is an unterminated quote: it stands for every non-blank line it swallowed.
    """
    separator = delimiter or "\t"
    bad_rows: list[BadRow] = []
    for row_number, row_text in zip(skipped, texts, strict=True):
        if not row_text.replace(separator, "").replace('"', "").strip():
            source.blank_rows += 1  # a whitespace-only line is blank, not a row
            continue
        fields = _field_count(row_text, delimiter)
        last = row_number == last_row
        if last and delimiter is not None and open_quote_at_end(row_text, delimiter):
            rows = nonblank_lines(row_text)
            reason = "unterminated_quote"
        else:
            rows = 1
            short = fields < len(source.header)
            reason = "truncated_row" if short and cut_off and last else "wrong_field_count"
        bad_rows.append(BadRow.of_text(row_number, reason, row_text, fields=fields, rows=rows))
    return bad_rows


def _field_count(text: str, delimiter: str | None) -> int:
    """Fields of a line pyarrow could not align (quotes followed as a CSV reader does)."""
    if delimiter is None:
        return len(text.split("\t"))
    # Quoted fields removed first, so a delimiter inside quotes does not count.
    unquoted = re.sub(r"(?:^|(?<=[" + re.escape(delimiter) + r'\n]))"(?:[^"]|"")*(?:"|$)', "", text)
    return unquoted.count(delimiter) + 1


def _quote_open_at_end(
    source: Source, plan: _TextPlan, *, compressed: bool, bad_rows: list[BadRow]
) -> list[BadRow]:
    """The last record as an unterminated quote, when its quote is still open at the end.

    A quote opened in the last field of a row swallows the rest of the file into that
    field and the row still has the header's fields, so pyarrow keeps it: it is taken out
    of the table here. Only a last record that holds a line break, or that ends a file
    without a final line break, is looked at (a cheap test), and only then is the end of
    the file read again.
    """
    table = source.table
    if not plan.quoting or table.num_rows == 0:
        return []
    last = table.slice(table.num_rows - 1)
    spans_lines = any(
        value is not None and "\n" in value
        for column in last.columns
        if pa.types.is_string(column.type)
        for value in column.to_pylist()
    )
    if not spans_lines and not _cut_off(source.path, plan, compressed=compressed):
        return []
    line = int(source.lines(source.records[-1:])[0])
    if any(bad.line > line and bad.reason not in _SET_ASIDE for bad in bad_rows):
        return []  # a later line was read: the quote closed
    raw = _tail_from_line(source.path, line, compressed=compressed, whole=spans_lines)
    tail = raw.decode(source.encoding or "utf-8", errors="replace")
    if not open_quote_at_end(tail, plan.delimiter):
        return []
    source.table = table.slice(0, table.num_rows - 1)
    source.records = source.records[:-1]
    fields = _field_count(tail, plan.delimiter)
    # Faulty lines in the swallowed text were set aside before it was read: rows of their own.
    rows = nonblank_lines(tail) - sum(bad.line > line for bad in bad_rows)
    return [BadRow.of_text(line, "unterminated_quote", raw, fields=fields, rows=rows)]


def _tail_from_line(path: Path, line: int, *, compressed: bool, whole: bool) -> bytes:
    """The bytes of a text file from line ``line`` (1-based) to its end. ``whole=False``:
    the record is the file's last line, found from the end without reading the rest."""
    if not whole and not compressed:
        with path.open("rb") as handle:
            size = handle.seek(0, 2)
            handle.seek(max(0, size - _FIRST_BLOCK))
            end = handle.read()
        if b"\n" in end or size <= _FIRST_BLOCK:
            return end[end.rfind(b"\n") + 1 :]
    raw = _raw_text(path, compressed=compressed)
    start = 0
    for _ in range(line - 1):
        start = raw.find(b"\n", start) + 1
    return raw[start:]


def _number_by_line(source: Source, bad_rows: list[BadRow]) -> None:
    """Give each bad row the line it starts on: past a quoted line break, pyarrow's row
    numbers fall behind the lines an editor shows."""
    starts = physical_row_starts(source)
    for bad in bad_rows:
        bad.line = int(starts[min(bad.line, len(starts) - 1)])
