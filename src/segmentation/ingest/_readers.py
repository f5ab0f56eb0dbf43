"""Which files to read, and each file read into a ``Source`` by the reader its first bytes
call for: XLSX and Parquet here, delimited and whitespace-separated text in ``_text``."""

from __future__ import annotations

import functools
import gzip
import hashlib
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from segmentation.errors import EmptyInputError, UnreadableFileError
from segmentation.ingest._source import BadRow, Source, drop_blank_rows, unique_names
from segmentation.ingest._text import read_text

__all__ = ["InputFiles", "expand_inputs", "find_inputs", "read_source"]

_DATA_SUFFIXES = {".csv", ".tsv", ".txt", ".gz", ".xlsx", ".xlsm", ".xls", ".parquet", ".pq"}
_HEAD_BYTES = 1 << 16


@dataclass(frozen=True)
class InputFiles:
    """The files to read, and what a folder held that is not read."""

    paths: list[Path]
    # Files given more than once (read once).
    repeated: list[str]
    # Files found in a folder and not read, each with why: {"path": ..., "reason": ...}.
    skipped: list[dict[str, str]]
    # The files found by reading a folder (not named by the user): one that turns out not
    # to be a table (notes.txt) is skipped rather than refused.
    from_folder: frozenset[Path]


def expand_inputs(inputs: str | Path | Sequence[str | Path]) -> tuple[list[Path], list[str]]:
    """The files to read, in order, each once; and the files given more than once."""
    found = find_inputs(inputs)
    return found.paths, found.repeated


def find_inputs(inputs: str | Path | Sequence[str | Path]) -> InputFiles:
    """The files to read, in order, each once, and the files of a folder that are not read.

    A folder is read recursively, sorted by path. Hidden files and folders, Excel lock files
    (``~$...``), ``README*``, an earlier ingest's ``quarantine.csv`` and files whose suffix
    is not a data format (``Thumbs.db``) are skipped and listed with the reason.
    """
    given = [inputs] if isinstance(inputs, str | Path) else list(inputs)
    if not given:
        raise EmptyInputError("no input given; pass an export file or a folder of exports")
    paths: list[Path] = []
    seen: set[Path] = set()
    repeated: list[str] = []
    skipped: list[dict[str, str]] = []
    from_folder: set[Path] = set()
    for item in given:
        path = Path(item)
        if not path.exists():
            raise UnreadableFileError(
                f"{path}: no such file or folder; check the path (relative paths start from "
                f"{Path.cwd()})"
            )
        if path.is_dir():
            found = _folder_files(path, skipped)
            from_folder.update(found)
        else:
            found = [path]
        for file in found:
            resolved = file.resolve()
            if resolved in seen:
                repeated.append(str(file))
                continue
            seen.add(resolved)
            paths.append(file)
    return InputFiles(paths, repeated, skipped, frozenset(from_folder))


def _folder_files(folder: Path, skipped: list[dict[str, str]]) -> list[Path]:
    """A folder's data files sorted by path; the files it skips go to ``skipped``."""
    found: list[Path] = []
    for file in sorted(
        (p for p in folder.rglob("*") if p.is_file()),
        key=lambda p: p.relative_to(folder).as_posix(),
    ):
        relative = file.relative_to(folder)
        reason = _skip_reason(relative)
        if reason is None:
            found.append(file)
        elif not any(part.startswith(".") for part in relative.parts[:-1]):
            # Files inside a hidden folder (.git) are not listed one by one.
            skipped.append({"path": str(file), "reason": reason})
    if not found:
        raise EmptyInputError(
            f"{folder}: the folder holds no data files ({', '.join(sorted(_DATA_SUFFIXES))}); "
            f"put the exports there or give the files themselves"
        )
    return found


def _skip_reason(relative: Path) -> str | None:
    """Why a file found in a folder is not read; ``None`` when it is read."""
    name = relative.name
    if any(part.startswith(".") for part in relative.parts):
        return "hidden file"
    if name.startswith("~$"):
        return "Excel lock file"
    if name.lower().startswith("readme"):
        return "README"
    if name == "quarantine.csv":
        return "the quarantine of an earlier ingest"
    if relative.suffix.lower() not in _DATA_SUFFIXES:
        return f"not a data file type ({relative.suffix.lower() or 'no suffix'})"
    return None


def read_source(path: Path, *, binary_line_share: float) -> Source:
    """One file, whatever its format, with its size and SHA-256.

    ``binary_line_share``: the share of a text file's lines that may hold NUL bytes or fail
    to decode (each is quarantined) before the file is refused whole.
    """
    try:
        with path.open("rb") as handle:
            raw_head = handle.read(_HEAD_BYTES)
        size = path.stat().st_size
    except OSError as error:
        raise _unreadable(path, error) from error
    if size == 0:
        raise EmptyInputError(f"{path}: the file is empty (0 bytes); export it again")
    # The whole file is hashed on the other core while it is parsed: hashlib and the NUL
    # search let go of the GIL, and the text reader needs the answer only once it has read.
    with ThreadPoolExecutor(max_workers=1) as beside:
        digest = beside.submit(_digest, path)
        return _read_by_format(
            path,
            raw_head,
            size=size,
            digest=functools.partial(_digest_of, path, digest),
            binary_line_share=binary_line_share,
        )


def _read_by_format(
    path: Path,
    raw_head: bytes,
    *,
    size: int,
    digest: Callable[[], tuple[str, bool]],
    binary_line_share: float,
) -> Source:
    """The reader the file's first bytes call for."""
    if raw_head.startswith(b"PK\x03\x04"):
        return _read_xlsx(path, size=size, sha256=digest()[0])
    if raw_head.startswith(b"PAR1"):
        return _read_parquet(path, size=size, sha256=digest()[0])
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
    return read_text(
        path,
        head,
        compressed=compressed,
        size=size,
        sha256=lambda: digest()[0],
        binary_line_share=binary_line_share,
        # Known from the raw bytes unless they are compressed (gzip's hold NUL bytes).
        holds_nul=None if compressed else lambda: digest()[1],
    )


def _unreadable(path: Path, error: OSError) -> UnreadableFileError:
    return UnreadableFileError(
        f"{path}: cannot be read ({error.strerror}); check that it exists and you may read it"
    )


def _digest(path: Path) -> tuple[str, bool]:
    """The file's SHA-256 and whether any byte is NUL, in one pass."""
    digest = hashlib.sha256()
    holds_nul = False
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
            # memchr speed; a text line with NUL bytes is quarantined, not the file.
            holds_nul = holds_nul or b"\x00" in chunk
    return digest.hexdigest(), holds_nul


def _digest_of(path: Path, pending: Future[tuple[str, bool]]) -> tuple[str, bool]:
    try:
        return pending.result()
    except OSError as error:
        raise _unreadable(path, error) from error


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
            text = "\t".join(fields)  # digested, never kept: the values may be shifted PII
            bad_rows.append(
                BadRow.of_text(row_number, "wrong_field_count", text, fields=len(fields))
            )
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
