"""A file once read: its cells as columns, where each row was in the file, and bad lines."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from segmentation.privacy import holds_personal_text

__all__ = [
    "BadRow",
    "Source",
    "drop_blank_rows",
    "physical_row_starts",
    "shown_header",
    "unique_names",
]


@dataclass
class BadRow:
    """A line that could not be aligned to the header's fields.

    Its text is not kept: only the SHA-256 of its bytes, which the quarantine turns into a
    keyed digest (:func:`segmentation.privacy.line_digest`), so no value of it, shifted under
    whatever column, can reach an output.
    """

    line: int
    reason: str
    sha256: bytes
    # Fields the line split into, when it could be split at all.
    fields: int | None = None
    # Input rows it stands for: 1, or every non-blank line an unterminated quote swallowed.
    rows: int = 1

    @classmethod
    def of_text(
        cls, line: int, reason: str, text: str | bytes, *, fields: int | None = None, rows: int = 1
    ) -> BadRow:
        """A bad row from its raw text (bytes as in the file, or text as read)."""
        raw = text.encode("utf-8", errors="surrogatepass") if isinstance(text, str) else text
        return cls(line, reason, hashlib.sha256(raw).digest(), fields=fields, rows=rows)


@dataclass
class Source:
    """One input file, read into string (or, for Parquet, typed) columns."""

    path: Path
    sha256: str
    size: int
    file_format: str
    header: list[str]
    # Emptied by release_source once the file is parsed: lines() and has_multiline_values()
    # read it, so they are called before then (the quarantine keeps what they gave).
    table: pa.Table
    # Index of each table row among the file's records (blank lines removed from the table).
    records: np.ndarray
    bad_rows: list[BadRow] = field(default_factory=list)
    encoding: str | None = None
    delimiter: str | None = None
    headerless_layout: str | None = None
    blank_rows: int = 0
    notes: list[str] = field(default_factory=list)
    # Line number of each record, when the reader knows them exactly (whitespace, XLSX).
    record_lines: np.ndarray | None = None
    # For CSV: line of the first data record, and row numbers pyarrow skipped as invalid.
    first_data_row: int = 2
    skipped_rows: np.ndarray = field(default_factory=lambda: np.array([], dtype=np.int64))
    multiline: bool | None = None

    @property
    def display(self) -> str:
        return str(self.path)

    def lines(self, records: np.ndarray) -> np.ndarray:
        """1-based line numbers (header = 1) of the given record indices."""
        records = np.asarray(records, dtype=np.int64)
        if self.record_lines is not None:
            return self.record_lines[records]
        skipped = self.skipped_rows
        # A skipped row k would have been record (k - first - j) had it not been skipped.
        shifted = skipped - self.first_data_row - np.arange(len(skipped))
        rows = self.first_data_row + records + np.searchsorted(shifted, records, side="right")
        if self.file_format in {"csv", "csv.gz"} and self.has_multiline_values():
            # Quoted values with line breaks: a record's row number is not its line number.
            starts = physical_row_starts(self)
            return starts[np.minimum(rows, len(starts) - 1)]
        return rows

    def has_multiline_values(self) -> bool:
        """Whether a quoted value holds a line break (then rows and lines differ)."""
        if self.multiline is None:
            # Search the raw text buffers (memchr speed) rather than every value.
            self.multiline = any(
                re.search(b"\n", memoryview(chunk.buffers()[2])) is not None
                for column in self.table.columns
                if pa.types.is_string(column.type)
                for chunk in column.chunks
                if chunk.buffers()[2] is not None
            )
        return self.multiline


def unique_names(header: Sequence[str]) -> list[str]:
    """Header cells as column names: trimmed, blanks named, repeats numbered (``a.1``)."""
    names: list[str] = []
    for position, raw in enumerate(header):
        name = raw.strip().lstrip("\ufeff") or f"column_{position + 1}"
        candidate, k = name, 1
        while candidate in names:
            candidate = f"{name}.{k}"
            k += 1
        names.append(candidate)
    return names


def shown_header(header: Sequence[str]) -> str:
    """Header cells for a message. A cell that looks like a phone number, WeChat id or
    e-mail (a data line taken for the header) is not shown."""
    return ", ".join("<personal data?>" if holds_personal_text(c) else c for c in header)


def drop_blank_rows(table: pa.Table) -> tuple[pa.Table, np.ndarray, int]:
    """The rows with a value, the record index of each, and how many blank rows there were."""
    n = table.num_rows
    if n == 0 or table.num_columns == 0:
        return table, np.arange(n, dtype=np.int64), 0
    blank = pc.is_null(table.column(0))
    for column in table.columns[1:]:
        blank = pc.and_(blank, pc.is_null(column))
    blank_np = blank.to_numpy(zero_copy_only=False)
    if not blank_np.any():
        return table, np.arange(n, dtype=np.int64), 0
    keep = ~blank_np
    return table.filter(pa.array(keep)), np.flatnonzero(keep), int(blank_np.sum())


def physical_row_starts(source: Source) -> np.ndarray:
    """Line on which each CSV row (1-based, as pyarrow counts rows) starts."""
    raw = source.path.read_bytes()
    if source.file_format == "csv.gz":
        raw = gzip.decompress(raw)
    # NUL bytes and undecodable lines were set aside as bad lines; here they only need to
    # keep their place.
    text = raw.decode(source.encoding or "utf-8", errors="replace").replace("\x00", " ")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=source.delimiter or ",")
    starts = [0]
    previous_end = 0
    # A field of any length was read (a 20 MB cell): the csv module's limit (128 KiB) must
    # not refuse it here. The limit is the process's, so it is put back.
    limit = csv.field_size_limit(len(text) + 1)
    try:
        for _ in reader:
            starts.append(previous_end + 1)
            previous_end = reader.line_num
    finally:
        csv.field_size_limit(limit)
    return np.array(starts, dtype=np.int64)
