"""The quarantine: every row set aside, with its file, line and reason, so a user can find and
fix it in the export.

Private by construction:

* a row aligned to the header keeps the raw values of the columns ingest maps (as JSON);
  a column mapped as personal data (name, phone, WeChat id) holds its keyed pseudonym, and
  any other value that holds a phone number, WeChat id, e-mail or identity card number is
  replaced by its pseudonym too. Columns ingest does not map (备注, 地址, 收货人 ...) are
  never copied;
* a line that cannot be aligned (too many or too few fields, an unterminated quote, bytes
  that are not text) keeps only the number of its fields and a keyed digest of the line
  (:func:`segmentation.privacy.line_digest`), never its text: its values may sit under any
  column. An unterminated quote also keeps the number of lines it stands for.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from segmentation.ingest._reasons import REASON_NAME
from segmentation.ingest._source import BadRow
from segmentation.ingest._tables import Part
from segmentation.privacy import line_digest, mask_personal_text
from segmentation.schema import PII_COLUMNS, TABLES

__all__ = [
    "QUARANTINE_COLUMNS",
    "ROWS_COLUMN",
    "quarantine_frame",
    "quarantine_records",
    "release_source",
]

QUARANTINE_COLUMNS: tuple[str, ...] = ("file", "row", "table", "reason", "values")
# Beside the columns while the counts are made: the input rows each record stands for.
ROWS_COLUMN = "_rows"


def release_source(part: Part, reason: np.ndarray) -> None:
    """Keep what the quarantine needs of the raw file, then let go of its text.

    The raw text (every cell as read) is as large as the parsed table; held to the end it
    only adds to the peak. Only rows with a reason (``reason``, the part's final codes) can
    reach the quarantine, so their lines and raw values are taken now, and the file's table
    is replaced by an empty one.
    """
    suspects = np.flatnonzero(reason > 0)
    if len(suspects):
        part.suspect_rows = suspects
        part.suspect_lines = part.source.lines(part.source.records[suspects])
        part.suspect_values = _raw_json(part, suspects)
    part.source.table = part.source.table.schema.empty_table()


def quarantine_records(
    name: str, parts: list[Part], quarantined: np.ndarray, reason: np.ndarray
) -> pd.DataFrame:
    """One table's quarantined rows, with ``_file`` (the input's index) to sort them by.

    First the lines that did not split into fields, then the parsed rows ``quarantined``
    (over all parts, in order) with their ``reason`` codes.
    """
    records = [*_bad_line_records(name, parts), *_reason_records(name, parts, quarantined, reason)]
    return pd.DataFrame.from_records(
        records, columns=["_file", *QUARANTINE_COLUMNS, ROWS_COLUMN]
    ).astype({ROWS_COLUMN: "int64"})


def quarantine_frame(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """The quarantine of every table, ordered by table, input file and line."""
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    if frame.empty:
        return pd.DataFrame({c: pd.Series(dtype="string") for c in QUARANTINE_COLUMNS}).astype(
            {"row": "int64"}
        )
    order = {name: i for i, name in enumerate(TABLES)}
    frame = frame.assign(_table=frame["table"].map(order)).sort_values(
        ["_table", "_file", "row"], kind="stable"
    )
    out = frame[list(QUARANTINE_COLUMNS)].reset_index(drop=True)
    return out.astype(
        {
            "file": "string",
            "row": "int64",
            "table": "string",
            "reason": "string",
            "values": "string",
        }
    )


def _record(
    part: Part, table: str, row: int, reason: str, values: str, *, rows: int = 1
) -> dict[str, Any]:
    return {
        "_file": part.file_index,
        "file": part.source.display,
        "row": row,
        "table": table,
        "reason": reason,
        "values": values,
        ROWS_COLUMN: rows,
    }


def _bad_line_records(name: str, parts: list[Part]) -> Iterator[dict[str, Any]]:
    for part in parts:
        for bad in part.source.bad_rows:
            values = _bad_row_json(part, bad)
            yield _record(part, name, bad.line, bad.reason, values, rows=bad.rows)


def _reason_records(
    name: str, parts: list[Part], quarantined: np.ndarray, reason: np.ndarray
) -> Iterator[dict[str, Any]]:
    offset = 0
    for part in parts:
        n = len(part.frame)
        local = np.flatnonzero(quarantined[offset : offset + n])
        if len(local):
            # Quarantined rows are among the suspects set aside by release_source.
            at = np.searchsorted(part.suspect_rows, local)
            lines = part.suspect_lines[at]
            values = [part.suspect_values[j] for j in at]
            for i, line, value in zip(local, lines, values, strict=True):
                yield _record(part, name, int(line), REASON_NAME[reason[offset + i]], value)
        offset += n


def _json_value(value: object) -> object:
    """JSON for the values json cannot write itself (dates from Parquet, decimals)."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _raw_json(part: Part, local: np.ndarray) -> list[str]:
    """The raw values of some rows, as JSON: mapped columns only, PII replaced by the row's
    pseudonyms and any other value that looks like personal data by its own."""
    mapped = part.layout.mapped
    headers = [h for h in part.source.header if h in mapped.values()]
    pii_headers = {h: c for c, h in mapped.items() if c in PII_COLUMNS}
    taken = part.source.table.select(headers).take(pa.array(local)).to_pylist()
    out = []
    for i, row in zip(local, taken, strict=True):
        plain = [h for h in row if h not in pii_headers and isinstance(row[h], str)]
        if plain:
            masked = mask_personal_text([row[h] for h in plain], key=part.keys.key)
            row.update(zip(plain, masked, strict=True))
        for header, canonical in pii_headers.items():
            pseudonym = part.frame[canonical].iloc[i]
            row[header] = None if pd.isna(pseudonym) else str(pseudonym)
        out.append(json.dumps(row, ensure_ascii=False, default=_json_value))
    return out


def _bad_row_json(part: Part, bad: BadRow) -> str:
    """A line that could not be aligned to the header: the number of its fields (and of the
    lines it stands for) and a keyed digest of it, never a value of it."""
    row: dict[str, object] = {}
    if bad.fields is not None:
        row["fields"] = bad.fields
    if bad.rows != 1:
        row["lines"] = bad.rows
    row["line_digest"] = line_digest(bad.sha256, key=part.keys.key())
    return json.dumps(row, ensure_ascii=False)
