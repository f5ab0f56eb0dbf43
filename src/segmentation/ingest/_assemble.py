"""One table from all its files: exact duplicates dropped, rows in a deterministic order, and
every row read accounted for (kept, duplicate or quarantined)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from segmentation.errors import NoUsableRowsError
from segmentation.ingest._quarantine import ROWS_COLUMN, quarantine_records, release_source
from segmentation.ingest._reasons import REASON_CODE
from segmentation.ingest._tables import Part
from segmentation.schema import TABLES, conform

__all__ = ["Assembled", "assemble"]


@dataclass
class Assembled:
    """One canonical table, with what became of every row read for it."""

    name: str
    # Every parsed row of every file, with _file and _record, before dropping anything.
    rows: pd.DataFrame
    kept: np.ndarray
    duplicate: np.ndarray
    reason: np.ndarray
    # Customer id of every row as a code into customer_ids (-1 when missing): counting and
    # grouping customers on integers is many times faster than on text.
    customer_codes: np.ndarray
    customer_ids: pd.Index
    # The kept rows in output order, with every parsed column (e.g. customer attributes).
    kept_rows: pd.DataFrame
    kept_order: np.ndarray
    table: pd.DataFrame
    quarantine: pd.DataFrame
    rows_in: int
    parts: list[Part]


def assemble(name: str, parts: list[Part], *, allow_empty: bool = False) -> Assembled:
    """Table ``name`` from the parts read for it, in file order.

    Raises :class:`NoUsableRowsError` when no row is kept, unless ``allow_empty`` (a campaign
    log whose every contact is after the as-of day is next month's, not a broken file).
    """
    rows = _stacked_rows(parts)
    reason = np.concatenate([p.reason for p in parts]) if parts else np.array([], np.int8)
    compared = [c for c in rows.columns if c not in ("_file", "_record", "_cancelled")]
    customer_codes, customer_ids = pd.factorize(rows["customer_id"])
    duplicate = _duplicates(rows, compared, codes={"customer_id": customer_codes})
    kept = ~duplicate & (reason == 0)
    if name == "customers":
        reason, kept = _latest_row_per_customer(parts, customer_codes, reason, kept)
    quarantined = ~duplicate & (reason > 0)
    kept_order, kept_rows = _kept_rows(name, rows, kept)
    result = Assembled(
        name=name,
        rows=rows,
        kept=kept,
        duplicate=duplicate,
        reason=reason,
        customer_codes=np.asarray(customer_codes, dtype=np.int64),
        customer_ids=pd.Index(customer_ids),
        kept_rows=kept_rows,
        kept_order=kept_order,
        table=conform(kept_rows, TABLES[name]),
        quarantine=quarantine_records(name, parts, quarantined, reason),
        # A bad line counts as the input rows it stands for (an unterminated quote: every
        # non-blank line it swallowed), so the count is of lines a user sees as rows.
        rows_in=len(rows) + sum(bad.rows for p in parts for bad in p.source.bad_rows),
        parts=parts,
    )
    _reconcile(result)
    if not kept.any() and not allow_empty:
        raise _no_usable_rows(result)
    return result


def _stacked_rows(parts: list[Part]) -> pd.DataFrame:
    """Every part's rows, one after another, with their input file and record index."""
    any_failed = any(p.failed_key.any() for p in parts)
    frames = [
        p.frame.assign(
            _file=np.full(len(p.frame), p.file_index, dtype=np.int64),
            _record=p.source.records,
            # Only when a value failed to parse: otherwise the column is all missing.
            **({"_failed": _failed_column(p)} if any_failed else {}),
        )
        for p in parts
    ]
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)


def _failed_column(part: Part) -> np.ndarray:
    key = part.failed_key
    return key if key.dtype == object else np.full(len(key), None, dtype=object)


def _latest_row_per_customer(
    parts: list[Part], customer_codes: np.ndarray, reason: np.ndarray, kept: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """One row per customer: a later row (a newer export) supersedes an earlier one.

    Returns the reasons and kept rows with the superseded rows quarantined; the customers'
    files are released here, once their final reasons are known.
    """
    repeated = np.zeros(len(reason), dtype=bool)
    repeated[kept] = pd.Series(customer_codes[kept]).duplicated(keep="last").to_numpy()
    reason = np.where(repeated, REASON_CODE["repeated_customer_id"], reason).astype(np.int8)
    ends = np.cumsum([len(p.frame) for p in parts])
    for part, part_reason in zip(parts, np.split(reason, ends[:-1]), strict=True):
        release_source(part, part_reason)
    return reason, kept & ~repeated


def _kept_rows(name: str, rows: pd.DataFrame, kept: np.ndarray) -> tuple[np.ndarray, pd.DataFrame]:
    """The kept rows' positions in output order, and those rows without the helper columns."""
    # One take of the kept rows, already in output order: takes of text columns are costly.
    kept_order = _output_order(name, rows, np.flatnonzero(kept))
    wanted = [c for c in rows.columns if c not in ("_file", "_record", "_failed", "_cancelled")]
    if np.array_equal(kept_order, np.arange(len(rows))):
        # Every row kept and already in time order, as exports usually are: no copy needed.
        return kept_order, rows[wanted].reset_index(drop=True)
    return kept_order, rows[wanted].take(kept_order).reset_index(drop=True)


def _output_order(name: str, rows: pd.DataFrame, kept: np.ndarray) -> np.ndarray:
    """Row positions in a deterministic output order: by time, then input file and line."""
    file, record = rows["_file"].to_numpy()[kept], rows["_record"].to_numpy()[kept]
    if name == "customers":
        by_id = rows["customer_id"].iloc[kept].argsort(kind="stable").to_numpy()
        return kept[by_id]
    time_column = {"orders": "order_ts", "campaigns": "contacted_at"}.get(name, "ts")
    ts = rows[time_column].to_numpy()[kept].view(np.int64)
    if len(ts) < 2 or bool((ts[1:] >= ts[:-1]).all()):
        # Already in time order, as exports usually are: rows are stacked by file and then
        # line, so the sort below would give them back as they are.
        return kept
    return kept[np.lexsort((record, file, ts))]


def _duplicates(
    rows: pd.DataFrame, columns: list[str], *, codes: Mapping[str, np.ndarray]
) -> np.ndarray:
    """Rows equal to an earlier row in every one of ``columns``.

    Rows are hashed from their numbers, dates and a few discriminating text columns (by
    factorized code) in vectorised passes; only rows that share a hash with another row are
    then compared exactly on every column. Equal rows always share a hash, and a hash
    collision only costs an exact comparison, so the result is exact.
    """
    n = len(rows)
    digest = np.zeros(n, dtype=np.uint64)
    # Quantity and unit price add little to amount and time; the exact check has them all.
    hashed = [
        c for c in columns if rows[c].dtype.kind in "fMmbiu" and c not in ("quantity", "unit_price")
    ]
    hashed += [c for c in ("customer_id", "product_id", "kind") if c in columns]
    if len(hashed) < 3:
        hashed = columns  # too little to go on (e.g. a bare list of customer ids): hash all
    for name in hashed:
        bits = codes[name].astype(np.int64).view(np.uint64) if name in codes else None
        digest = _mix(digest, bits if bits is not None else _value_bits(rows[name]))
    candidates = _shared_values(digest)
    duplicate = np.zeros(n, dtype=bool)
    if len(candidates):
        subset = rows[columns].iloc[candidates]
        duplicate[candidates] = subset.duplicated(keep="first").to_numpy()
    return duplicate


def _shared_values(digest: np.ndarray) -> np.ndarray:
    """Positions of the values that occur more than once in ``digest``, in increasing order."""
    ordered = np.sort(digest)  # a vectorised sort of integers beats a hash table here
    repeated = np.unique(ordered[1:][ordered[1:] == ordered[:-1]])
    if len(repeated) == 0:
        return np.array([], dtype=np.int64)
    at = np.minimum(np.searchsorted(repeated, digest), len(repeated) - 1)
    return np.flatnonzero(repeated[at] == digest)


def _value_bits(column: pd.Series) -> np.ndarray:
    values = column.to_numpy() if column.dtype.kind in "fMmbiu" else None
    if values is None:
        return pd.factorize(column)[0].astype(np.int64).view(np.uint64)
    if values.dtype.kind == "f":
        # One bit pattern for NaN and for zero, so equal values hash equally.
        values = np.where(np.isnan(values), np.nan, values + 0.0)
    if values.dtype.kind == "b":
        return values.astype(np.uint64)
    return values.astype(values.dtype.newbyteorder("=")).view(np.uint64)


def _mix(digest: np.ndarray, bits: np.ndarray) -> np.ndarray:
    """Fold 64-bit values into a running hash (a multiply-xorshift step)."""
    x = bits * np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(31)
    x ^= digest
    x *= np.uint64(0x94D049BB133111EB)
    return x


def _reconcile(assembled: Assembled) -> None:
    """rows_in = kept + duplicate + quarantined, or ingest has lost a row (a bug)."""
    quarantined = int(assembled.quarantine[ROWS_COLUMN].sum())
    kept = len(assembled.table)
    duplicate = int(assembled.duplicate.sum())
    if assembled.rows_in != kept + duplicate + quarantined:
        raise RuntimeError(
            f"{assembled.name}: reconciliation failed: {assembled.rows_in} rows in != "
            f"{kept} kept + {duplicate} duplicate + {quarantined} quarantined"
        )


def _no_usable_rows(assembled: Assembled) -> NoUsableRowsError:
    files = ", ".join(p.source.display for p in assembled.parts)
    duplicate = int(assembled.duplicate.sum())
    counts = assembled.quarantine.groupby("reason", sort=False)[ROWS_COLUMN].sum()
    reasons = ", ".join(f"{r} {c:,}" for r, c in counts.items())
    example = ""
    if len(assembled.quarantine):
        first = assembled.quarantine.iloc[0]
        example = f" (e.g. {first['file']} line {first['row']}: {first['reason']})"
    return NoUsableRowsError(
        f"{files}: none of the {assembled.rows_in:,} {assembled.name} rows is usable: "
        f"{duplicate:,} duplicate, quarantined: {reasons or 'none'}{example}. Fix those rows in "
        f"the export, or check --as-of and the column mapping"
    )
