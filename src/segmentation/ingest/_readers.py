"""Which files to read, and each file read into a ``Source`` by the reader its first bytes
call for: XLSX and Parquet here, delimited and whitespace-separated text in ``_text``."""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from segmentation.errors import EmptyInputError, UnreadableFileError
from segmentation.ingest._source import BadRow, Source, drop_blank_rows, unique_names
from segmentation.ingest._text import read_text

__all__ = ["expand_inputs", "read_source"]

_DATA_SUFFIXES = {".csv", ".tsv", ".txt", ".gz", ".xlsx", ".xlsm", ".xls", ".parquet", ".pq"}
_HEAD_BYTES = 1 << 16


def expand_inputs(inputs: str | Path | Sequence[str | Path]) -> tuple[list[Path], list[str]]:
    """The files to read, in order, each once; and the files given more than once."""
    given = [inputs] if isinstance(inputs, str | Path) else list(inputs)
    if not given:
        raise EmptyInputError("no input given; pass an export file or a folder of exports")
    paths: list[Path] = []
    seen: set[Path] = set()
    repeated: list[str] = []
    for item in given:
        path = Path(item)
        if not path.exists():
            raise UnreadableFileError(
                f"{path}: no such file or folder; check the path (relative paths start from "
                f"{Path.cwd()})"
            )
        if path.is_dir():
            found = sorted(
                (p for p in path.rglob("*") if p.is_file() and _is_data_file(p.relative_to(path))),
                key=lambda p: p.relative_to(path).as_posix(),
            )
            if not found:
                raise EmptyInputError(
                    f"{path}: the folder holds no data files ({', '.join(sorted(_DATA_SUFFIXES))}); "
                    f"put the exports there or give the files themselves"
                )
        else:
            found = [path]
        for file in found:
            resolved = file.resolve()
            if resolved in seen:
                repeated.append(str(file))
                continue
            seen.add(resolved)
            paths.append(file)
    return paths, repeated


def _is_data_file(relative: Path) -> bool:
    if any(part.startswith((".", "~$")) for part in relative.parts):
        return False
    if relative.name.lower().startswith("readme") or relative.name == "quarantine.csv":
        return False
    return relative.suffix.lower() in _DATA_SUFFIXES


def read_source(path: Path) -> Source:
    """One file, whatever its format, with its size and SHA-256."""
    try:
        raw_head, size, sha256 = _head_and_digest(path)
    except OSError as error:
        raise UnreadableFileError(
            f"{path}: cannot be read ({error.strerror}); check that it exists and you may read it"
        ) from error
    if size == 0:
        raise EmptyInputError(f"{path}: the file is empty (0 bytes); export it again")
    if raw_head.startswith(b"PK\x03\x04"):
        return _read_xlsx(path, size=size, sha256=sha256)
    if raw_head.startswith(b"PAR1"):
        return _read_parquet(path, size=size, sha256=sha256)
    if raw_head.startswith(b"\xd0\xcf\x11\xe0"):
        raise UnreadableFileError(
            f"{path}: an old Excel .xls workbook, which is not supported; open it in Excel or "
            f"WPS and save it as .xlsx or CSV"
        )
    compressed = raw_head.startswith(b"\x1f\x8b")
    if compressed:
        try:
            with gzip.open(path, "rb") as handle:
                head = handle.read(_HEAD_BYTES)
        except (OSError, EOFError) as error:
            raise UnreadableFileError(
                f"{path}: looks gzip-compressed but cannot be decompressed ({error}); download "
                f"it again"
            ) from error
    else:
        head = raw_head
    return read_text(path, head, compressed=compressed, size=size, sha256=sha256)


def _head_and_digest(path: Path) -> tuple[bytes, int, str]:
    digest = hashlib.sha256()
    size = 0
    head = b""
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            if not head:
                head = chunk[:_HEAD_BYTES]
            digest.update(chunk)
            size += len(chunk)
    return head, size, digest.hexdigest()


def _read_xlsx(path: Path, *, size: int, sha256: str) -> Source:
    """The first worksheet; row numbers are Excel's, so the quarantine points at real cells."""
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises many types for a damaged workbook
        raise UnreadableFileError(
            f"{path}: not a readable XLSX workbook ({type(error).__name__}: {error}); open and "
            f"save it again in Excel or WPS, or export CSV"
        ) from error
    try:
        notes = []
        if len(workbook.sheetnames) > 1:
            notes.append(f"sheets not read: {', '.join(workbook.sheetnames[1:])}")
        header, values, lines, bad_rows = _sheet_rows(workbook.worksheets[0])
    finally:
        workbook.close()
    if header is None:
        raise EmptyInputError(f"{path}: the first worksheet is empty; export it again")
    if not values and not bad_rows:
        raise EmptyInputError(
            f"{path}: the first worksheet holds a header ({', '.join(header[:6])}) but no data "
            f"rows; export it again with the rows"
        )
    columns = list(zip(*values, strict=True)) if values else [() for _ in header]
    table = pa.table(
        {
            name: pa.array(list(col), type=pa.string())
            for name, col in zip(header, columns, strict=True)
        }
    )
    return Source(
        path=path,
        sha256=sha256,
        size=size,
        file_format="xlsx",
        header=header,
        table=table,
        records=np.arange(len(values), dtype=np.int64),
        bad_rows=bad_rows,
        record_lines=np.array(lines, dtype=np.int64),
        notes=notes,
    )


def _sheet_rows(
    sheet: Any,
) -> tuple[list[str] | None, list[list[str | None]], list[int], list[BadRow]]:
    """A worksheet's header, its rows as text with their row numbers, and the rows with
    values beyond the header's columns. Empty rows are skipped."""
    header: list[str] | None = None
    values: list[list[str | None]] = []
    lines: list[int] = []
    bad_rows: list[BadRow] = []
    for row_number, row in enumerate(sheet.iter_rows(values_only=True), start=1):
        cells = [_cell_text(v) for v in row]
        if not any(c is not None for c in cells):
            continue
        if header is None:
            while cells and cells[-1] is None:
                cells.pop()  # trailing empty header cells
            header = unique_names([c or "" for c in cells])
            continue
        extra = cells[len(header) :]
        cells = cells[: len(header)] + [None] * (len(header) - len(cells))
        if any(c is not None for c in extra):
            fields = [c or "" for c in cells + extra]
            bad_rows.append(BadRow(row_number, fields, "wrong_field_count"))
            continue
        values.append(cells)
        lines.append(row_number)
    return header, values, lines, bad_rows


def _cell_text(value: object) -> str | None:
    """An Excel cell as the text a CSV export would hold."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        # Whole numbers without ".0": ids stored as numbers and Excel serial dates.
        return str(int(value)) if value.is_integer() else repr(value)
    text = str(value).strip()
    return text or None


def _read_parquet(path: Path, *, size: int, sha256: str) -> Source:
    """A Parquet file's columns as they are typed (ids and dates are parsed later)."""
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as error:
        raise UnreadableFileError(
            f"{path}: not a readable Parquet file ({error}); write it again"
        ) from error
    if table.num_rows == 0:
        raise EmptyInputError(
            f"{path}: holds columns ({', '.join(table.column_names[:6])}) but no rows"
        )
    table = table.rename_columns(unique_names([str(c) for c in table.column_names]))
    table, records, blank_rows = drop_blank_rows(table)
    return Source(
        path=path,
        sha256=sha256,
        size=size,
        file_format="parquet",
        header=list(table.column_names),
        table=table,
        records=records,
        blank_rows=blank_rows,
        # No lines in Parquet: record k (0-based) is reported as row k + 2, where it would be
        # in a CSV or Excel export with a header.
        record_lines=np.arange(table.num_rows + blank_rows, dtype=np.int64) + 2,
    )
