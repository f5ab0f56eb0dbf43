"""Cell values from text: ids, free text, numbers as shops write them, and dates in many
formats (Excel serial numbers too), vectorised with a slow path only for what is left."""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["as_text", "clean_ids", "clean_text", "parse_datetimes", "parse_numbers", "valid_mask"]

_DATE_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d",
    "%Y.%m.%d %H:%M:%S",
    "%Y.%m.%d",
    "%Y%m%d",
    "%Y%m%d%H%M%S",
    "%Y年%m月%d日 %H:%M:%S",
    "%Y年%m月%d日 %H:%M",
    "%Y年%m月%d日",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y",
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y",
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%Y",
)
_MONTH_FIRST = tuple(f for f in _DATE_FORMATS if f.startswith("%m/"))
_DAY_FIRST = tuple(f for f in _DATE_FORMATS if f.startswith("%d/"))
# A number the vectorised cast reads; others go through _parse_number_text.
_PLAIN_NUMBER = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"
_EXCEL_EPOCH = datetime(1899, 12, 30)  # Excel's day 0 in the 1900 date system
_EXCEL_MAX_SERIAL = 2958465  # 9999-12-31


def as_text(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """A column as text, whatever its type (Parquet and XLSX columns can be typed)."""
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        return column
    if pa.types.is_floating(column.type):
        # Whole floats without ".0", so a numeric id column reads like the text export.
        as_int = pc.cast(column, pa.int64(), safe=False)
        whole = pc.equal(pc.cast(as_int, pa.float64()), column)
        return pc.if_else(whole, pc.cast(as_int, pa.string()), pc.cast(column, pa.string()))
    return pc.cast(column, pa.string())


def clean_text(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Strip surrounding whitespace; empty becomes missing."""
    text = pc.utf8_trim_whitespace(as_text(column))
    if pc.any(pc.equal(text, "")).as_py():
        text = pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)
    return text


def clean_ids(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Ids as text; ``17850.0`` (a number that went through Excel or pandas) becomes ``17850``."""
    column = as_text(column)
    if pc.any(pc.ends_with(column, ".0")).as_py():
        # Float-like ids: clean the few distinct values, then expand. Much faster than
        # cleaning every row when, as in Online Retail, every id ends in ".0".
        encoded = pc.dictionary_encode(column.combine_chunks())
        dictionary = _strip_float_suffix(clean_text(pa.chunked_array([encoded.dictionary])))
        return pa.chunked_array([pc.take(dictionary.combine_chunks(), encoded.indices)])
    text = clean_text(column)
    if pc.any(pc.ends_with(text, ".0")).as_py():  # " 17850.0 ": only after trimming
        text = _strip_float_suffix(text)
    return text


def _strip_float_suffix(text: pa.ChunkedArray) -> pa.ChunkedArray:
    return pc.replace_substring_regex(text, r"^(\d+)\.0+$", r"\1")


def valid_mask(column: pa.ChunkedArray) -> np.ndarray:
    """Whether each value is present (not missing)."""
    return np.asarray(pc.is_valid(column).to_numpy(zero_copy_only=False), dtype=bool)


def _present(text: pa.ChunkedArray) -> np.ndarray:
    """Cells with a value: neither missing nor empty."""
    return valid_mask(text) & np.asarray(
        pc.fill_null(pc.not_equal(text, ""), False).to_numpy(zero_copy_only=False), dtype=bool
    )


def _to_float_numpy(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    # Missing values come out as NaN.
    return np.asarray(pc.cast(column, pa.float64()).to_numpy(), dtype=np.float64)


def parse_numbers(column: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """Numbers from a column; returns (values with NaN where missing, failed mask).

    Clean numbers are converted in one vectorised cast; only the values that fail it go
    through :func:`_parse_number_text` (currency signs, separators), once per distinct text.
    """
    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        if (
            pa.types.is_integer(column.type)
            or pa.types.is_floating(column.type)
            or (pa.types.is_decimal(column.type))
        ):
            values = _to_float_numpy(column)
            return values, valid_mask(column) & ~np.isfinite(values)
        column = as_text(column)
    try:
        # Fast path: a clean column casts in one go (empty cells are already missing).
        values = _to_float_numpy(column)
    except pa.ArrowInvalid:
        pass
    else:
        present = valid_mask(column)
        return values, present & ~np.isfinite(values)
    text = pc.utf8_trim_whitespace(column)
    present = _present(text)
    try:
        values = _to_float_numpy(text)
    except pa.ArrowInvalid:
        clean = pc.fill_null(pc.match_substring_regex(text, _PLAIN_NUMBER), False)
        values = _to_float_numpy(pc.if_else(clean, text, pa.scalar(None, pa.string())))
        todo = present & ~np.asarray(clean.to_numpy(zero_copy_only=False), dtype=bool)
        if todo.any():
            raw = text.to_pandas().to_numpy(dtype=object)
            values = values.copy()  # arrow's buffer is read-only
            values[todo] = _map_unique(raw[todo], _parse_number_text)
    values = np.where(present, values, np.nan)
    return values, present & ~np.isfinite(values)


def _map_unique(values: np.ndarray, parse: Any) -> np.ndarray:
    codes, uniques = pd.factorize(values)
    parsed = np.array([parse(str(v)) for v in uniques], dtype=object)
    out = parsed[codes] if len(parsed) else np.array([], dtype=object)
    return np.array([np.nan if v is None else v for v in out], dtype=object)


def _parse_number_text(text: str) -> float | None:
    """A number as shops write it: ``¥1,234.50``, ``1 234,50``, ``12.3元``, ``(5.00)``, ``1.2万``."""
    t = unicodedata.normalize("NFKC", text).strip()
    negative = False
    if t.startswith("(") and t.endswith(")"):
        negative, t = True, t[1:-1]
    t = re.sub(r"(?i)人民币|rmb|cny|usd|[¥$€£元\s']", "", t)
    scale = 1.0
    if t.endswith("万"):
        scale, t = 10_000.0, t[:-1]
    if t.startswith("-"):
        negative, t = not negative, t[1:]
    elif t.startswith("+"):
        t = t[1:]
    if "," in t and "." in t:
        # The later separator is the decimal one: 1,234.50 or 1.234,50.
        thousands = "," if t.rindex(",") < t.rindex(".") else "."
        t = t.replace(thousands, "")
        t = t.replace(",", ".")
    elif "," in t:
        groups = t.split(",")
        # One comma and not three digits after it is a decimal comma (1234,5 or 1 234,50).
        t = t.replace(",", ".") if len(groups) == 2 and len(groups[1]) != 3 else t.replace(",", "")
    elif t.count(".") > 1:
        t = t.replace(".", "")
    if not re.fullmatch(r"\d+(\.\d*)?|\.\d+", t):
        return None
    value = float(t) * scale
    return -value if negative else value


def parse_datetimes(
    column: pa.ChunkedArray, *, date_format: str | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Timestamps from a column; returns (datetime64[ns] with NaT where missing, failed mask).

    The fast path is one vectorised ISO cast or one ``strptime`` with the format that parses
    most of a sample; only the values it misses (mixed formats, Excel serial numbers) are
    parsed one distinct text at a time.
    """
    if pa.types.is_timestamp(column.type) or pa.types.is_date(column.type):
        if pa.types.is_timestamp(column.type) and column.type.tz is not None:
            column = pc.local_timestamp(column)  # wall-clock time, as the shop recorded it
        try:
            values = pc.cast(column, pa.timestamp("ns"))
        except pa.ArrowInvalid:
            column = pc.cast(column, pa.string())
        else:
            out = _datetime64(values)
            return out, np.zeros(len(out), dtype=bool)
    column = as_text(column)
    if date_format is None:
        try:
            # Fast path: ISO dates cast in one go (empty cells are already missing).
            values = pc.cast(column, pa.timestamp("ns"))
        except pa.ArrowInvalid:
            pass
        else:
            out = _datetime64(values)
            return out, np.zeros(len(out), dtype=bool)
    text = pc.utf8_trim_whitespace(column)
    present = _present(text)
    n = len(present)
    parsed: pa.ChunkedArray | None = None
    dayfirst = False
    if date_format is None:
        try:
            parsed = pc.cast(text, pa.timestamp("ns"))
        except pa.ArrowInvalid:
            date_format, dayfirst = _choose_date_format(text)
    if parsed is None and date_format is not None:
        parsed = pc.strptime(text, format=date_format, unit="ns", error_is_null=True)
    if parsed is None:
        out = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    else:
        out = _datetime64(parsed)
    todo = present & np.isnat(out)
    if todo.any():
        raw = text.to_pandas().to_numpy(dtype=object)
        slow = _map_unique(raw[todo], lambda t: _parse_datetime_text(t, dayfirst=dayfirst))
        out[todo] = pd.to_datetime(pd.Series(slow, dtype=object), errors="coerce").to_numpy(
            dtype="datetime64[ns]"
        )
    return out, present & np.isnat(out)


def _datetime64(values: pa.ChunkedArray) -> np.ndarray:
    return np.asarray(values.to_numpy(zero_copy_only=False), dtype="datetime64[ns]")


def _choose_date_format(text: pa.ChunkedArray) -> tuple[str | None, bool]:
    """The format that parses most of a sample, and whether slashes put the day first."""
    sample = pc.drop_null(text).slice(0, 500)
    if len(sample) == 0:
        return None, False
    best, best_count = None, 0
    for candidate in _DATE_FORMATS:
        count = pc.sum(
            pc.is_valid(pc.strptime(sample, format=candidate, unit="ns", error_is_null=True))
        ).as_py()
        if count > best_count:
            best, best_count = candidate, count
    if best is None:
        return None, False
    if best in _MONTH_FIRST or best in _DAY_FIRST:
        # 03/04/2024: decide day or month first from the whole column, not a sample; on a
        # tie (no day above 12 anywhere) month first, as Excel writes dates in the US locale.
        position = (_MONTH_FIRST if best in _MONTH_FIRST else _DAY_FIRST).index(best)
        month_fmt, day_fmt = _MONTH_FIRST[position], _DAY_FIRST[position]
        counts = [
            pc.sum(pc.is_valid(pc.strptime(text, format=f, unit="ns", error_is_null=True))).as_py()
            for f in (month_fmt, day_fmt)
        ]
        return (day_fmt, True) if counts[1] > counts[0] else (month_fmt, False)
    return best, False


def _parse_datetime_text(text: str, *, dayfirst: bool = False) -> datetime | None:
    """One date as shops write it, or None: many formats, Excel serials, ``20240105``."""
    t = unicodedata.normalize("NFKC", text).strip()
    if not t:
        return None
    if re.fullmatch(r"\d+(\.\d+)?", t):
        return _date_from_number(t)
    t = re.sub(r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*[日号]?", r"\1-\2-\3", t).strip()
    try:
        stamp = datetime.fromisoformat(t)
    except ValueError:
        pass
    else:
        return _representable(stamp.replace(tzinfo=None))  # the shop's wall-clock time
    formats = [f for f in _DATE_FORMATS if f not in (_MONTH_FIRST if dayfirst else _DAY_FIRST)]
    for candidate in formats:
        try:
            return _representable(datetime.strptime(t, candidate))
        except ValueError:
            continue
    return None


def _representable(stamp: datetime | None) -> datetime | None:
    """The date, if nanosecond timestamps can hold it (1677-09-22 to 2262-04-11)."""
    if stamp is None or not (pd.Timestamp.min < stamp < pd.Timestamp.max):
        return None
    return stamp


def _date_from_number(text: str) -> datetime | None:
    for digits, layout in ((8, "%Y%m%d"), (14, "%Y%m%d%H%M%S")):
        if len(text) == digits and text.isdigit():
            try:
                return _representable(datetime.strptime(text, layout))
            except ValueError:
                return None
    serial = float(text)
    if 0 < serial <= _EXCEL_MAX_SERIAL:
        # An Excel serial date: days since 1899-12-30, the fraction is the time of day.
        return _representable(_EXCEL_EPOCH + timedelta(days=serial))
    return None
