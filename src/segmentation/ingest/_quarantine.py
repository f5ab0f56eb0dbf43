"""The quarantine: every row set aside, with its file, line, reason and raw values (as JSON,
PII replaced by pseudonyms), so a user can find and fix it in the export."""

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
from segmentation.privacy import pseudonymise
from segmentation.schema import PII_COLUMNS, TABLES

__all__ = ["QUARANTINE_COLUMNS", "quarantine_frame", "quarantine_records", "release_source"]

QUARANTINE_COLUMNS: tuple[str, ...] = ("file", "row", "table", "reason", "values")


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
    return pd.DataFrame.from_records(records, columns=["_file", *QUARANTINE_COLUMNS])


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


def _record(part: Part, table: str, row: int, reason: str, values: str) -> dict[str, Any]:
    return {
        "_file": part.file_index,
        "file": part.source.display,
        "row": row,
        "table": table,
        "reason": reason,
        "values": values,
    }


def _bad_line_records(name: str, parts: list[Part]) -> Iterator[dict[str, Any]]:
    for part in parts:
        for bad in part.source.bad_rows:
            yield _record(part, name, bad.line, bad.reason, _bad_row_json(part, bad))


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
    """The raw values of some rows, as JSON; PII replaced by the row's pseudonyms."""
    mapped = part.layout.mapped
    headers = [h for h in part.source.header if h in mapped.values()]
    pii_headers = {h: c for c, h in mapped.items() if c in PII_COLUMNS}
    taken = part.source.table.select(headers).take(pa.array(local)).to_pylist()
    out = []
    for i, row in zip(local, taken, strict=True):
        for header, canonical in pii_headers.items():
            pseudonym = part.frame[canonical].iloc[i]
            row[header] = None if pd.isna(pseudonym) else str(pseudonym)
        out.append(json.dumps(row, ensure_ascii=False, default=_json_value))
    return out


def _bad_row_json(part: Part, bad: BadRow) -> str:
    """A line that did not split into the header's fields: values by position, PII hashed."""
    pii_headers = {h for c, h in part.layout.mapped.items() if c in PII_COLUMNS}
    header = part.source.header
    row: dict[str, object] = {}
    for position, value in enumerate(bad.fields):
        name = (
            header[position] if position < len(header) else f"_extra_{position - len(header) + 1}"
        )
        row[name] = value
    for name in sorted(pii_headers & set(row)):
        row[name] = str(pseudonymise([row[name]], key=part.keys.key()).iloc[0])
    return json.dumps(row, ensure_ascii=False)
