"""Cell values from text: ids, free text, numbers as shops write them, and dates in many
formats (Excel serial numbers too), vectorised with a slow path only for what is left.

Times are stored as the shop's wall-clock time (naive ``datetime64[ns]``): a time written
with an offset (``…T11:30:45Z``, ``…T19:30:45+08:00``) is converted to the shop's time zone
(config ``ingest.shop_time_zone``) before anything else, so one instant written with two
offsets is one stored time; a time without an offset is the shop's time already.
"""

from __future__ import annotations

import contextlib
import re
import unicodedata
from datetime import datetime, timedelta
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "ParsedDates",
    "as_text",
    "clean_ids",
    "clean_text",
    "parse_datetimes",
    "parse_numbers",
    "valid_mask",
]

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
# An ISO time with an offset, which arrow parses in one vectorised cast to UTC.
_ISO_WITH_OFFSET = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}(:?\d{2})?)$"


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


class ParsedDates(NamedTuple):
    """A column of dates: the shop's wall-clock times and what could not be stored.

    Attributes
    ----------
    values : numpy.ndarray
        ``datetime64[ns]``, NaT where missing, unparsable or out of range.
    failed : numpy.ndarray
        Present but no date at all (real garbage).
    out_of_range : numpy.ndarray
        ``int8``: +1 a real date after 2262-04-11, -1 one before 1677-09-22 (what nanosecond
        timestamps hold), 0 otherwise.
    """

    values: np.ndarray
    failed: np.ndarray
    out_of_range: np.ndarray


def parse_datetimes(
    column: pa.ChunkedArray, *, time_zone: str, date_format: str | None = None
) -> ParsedDates:
    """Timestamps from a column, as the shop's wall-clock times.

    The fast path is one vectorised ISO cast (without offsets, or all with offsets) or one
    ``strptime`` with the format that parses most of a sample; only the values it misses
    (mixed formats, mixed offsets, Excel serial numbers) are parsed one distinct text at a
    time.

    Parameters
    ----------
    column : pyarrow.ChunkedArray
        Text, or timestamps as Parquet and XLSX type them.
    time_zone : str
        The shop's time zone (IANA name): times with an offset or a zone are converted to it;
        times without are taken as its wall-clock time.
    date_format : str, optional
        A ``strptime`` format from the column mapping.

    Returns
    -------
    ParsedDates
    """
    zone = ZoneInfo(time_zone)
    n = len(column)
    if pa.types.is_timestamp(column.type) or pa.types.is_date(column.type):
        typed = _typed_datetimes(column, time_zone)
        if typed is not None:
            return ParsedDates(typed, np.zeros(n, dtype=bool), np.zeros(n, dtype=np.int8))
        column = pc.cast(column, pa.string())
    column = as_text(column)
    if date_format is None:
        fast = _iso_datetimes(column, time_zone)
        if fast is not None:
            return ParsedDates(fast, np.zeros(n, dtype=bool), np.zeros(n, dtype=np.int8))
    text = pc.utf8_trim_whitespace(column)
    present = _present(text)
    parsed: np.ndarray | None = None
    dayfirst = False
    if date_format is None:
        parsed = _iso_datetimes(text, time_zone)
        if parsed is None:
            date_format, dayfirst = _choose_date_format(text)
    if parsed is None and date_format is not None:
        parsed = _datetime64(pc.strptime(text, format=date_format, unit="ns", error_is_null=True))
    out = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]") if parsed is None else parsed
    _parse_offsets(text, out, present & np.isnat(out), time_zone)
    out_of_range = np.zeros(n, dtype=np.int8)
    todo = present & np.isnat(out)
    if todo.any():
        raw = text.to_pandas().to_numpy(dtype=object)
        slow = _map_unique(
            raw[todo], lambda t: _parse_datetime_text(t, dayfirst=dayfirst, zone=zone)
        )
        stamps = [v if isinstance(v, datetime) else None for v in slow]
        out[todo] = np.array(
            [np.datetime64("NaT") if s is None else _representable(s) for s in stamps],
            dtype="datetime64[ns]",
        )
        out_of_range[todo] = [_beyond(s) for s in stamps]
    return ParsedDates(out, present & np.isnat(out) & (out_of_range == 0), out_of_range)


def _typed_datetimes(column: pa.ChunkedArray, time_zone: str) -> np.ndarray | None:
    """A typed column's times in the shop's zone; None when they do not fit nanoseconds."""
    try:
        values = pc.cast(
            column, pa.timestamp("ns", tz=column.type.tz) if _zoned(column) else pa.timestamp("ns")
        )
    except pa.ArrowInvalid:
        return None
    if _zoned(column):
        return _shop_wall_clock(values, time_zone)
    return _datetime64(values)


def _zoned(column: pa.ChunkedArray) -> bool:
    return pa.types.is_timestamp(column.type) and column.type.tz is not None


def _iso_datetimes(text: pa.ChunkedArray, time_zone: str) -> np.ndarray | None:
    """Every value cast at once: ISO times all without an offset (the shop's time, as they
    are) or all with one (converted); None when neither cast reads every value."""
    try:
        return _datetime64(pc.cast(text, pa.timestamp("ns")))  # empty cells are missing
    except pa.ArrowInvalid:
        pass
    try:
        utc = pc.cast(text, pa.timestamp("ns", tz="UTC"))
    except pa.ArrowInvalid:
        return None
    return _shop_wall_clock(utc, time_zone)


def _parse_offsets(
    text: pa.ChunkedArray, out: np.ndarray, todo: np.ndarray, time_zone: str
) -> None:
    """Fill ``out`` where ``todo`` with the ISO times with an offset among them (mixed with
    times without one), converted in one cast; what does not cast is left to the slow path."""
    if not todo.any():
        return
    rows = np.flatnonzero(todo)
    subset = pc.take(text, pa.array(rows))
    offset = np.asarray(
        pc.fill_null(pc.match_substring_regex(subset, _ISO_WITH_OFFSET), False).to_numpy(
            zero_copy_only=False
        ),
        dtype=bool,
    )
    if not offset.any():
        return
    try:
        utc = pc.cast(pc.filter(subset, pa.array(offset)), pa.timestamp("ns", tz="UTC"))
    except pa.ArrowInvalid:
        return  # an impossible day (2024-02-30) among them: one value at a time
    out[rows[offset]] = _shop_wall_clock(utc, time_zone)


def _shop_wall_clock(values: pa.ChunkedArray | pa.Array, time_zone: str) -> np.ndarray:
    """Zoned times as the shop's wall-clock time (naive ``datetime64[ns]``)."""
    utc = np.asarray(
        pc.cast(values, pa.timestamp("ns")).to_numpy(zero_copy_only=False),
        dtype="datetime64[ns]",
    )  # the cast drops the zone and keeps the UTC instant
    index = pd.DatetimeIndex(utc).tz_localize("UTC").tz_convert(time_zone).tz_localize(None)
    return np.asarray(index, dtype="datetime64[ns]")


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


def _parse_datetime_text(
    text: str, *, dayfirst: bool = False, zone: ZoneInfo | None = None
) -> datetime | None:
    """One date as shops write it, or None: many formats, Excel serials, ``20240105``.

    A time with an offset is converted to ``zone`` (the shop's), then its offset dropped.
    The result may lie outside what nanosecond timestamps hold (see :func:`_beyond`).
    """
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
        if stamp.tzinfo is not None and zone is not None:
            with contextlib.suppress(OverflowError):  # year 1 or 9999: out of range anyway
                stamp = stamp.astimezone(zone)
        return stamp.replace(tzinfo=None)  # the shop's wall-clock time
    formats = [f for f in _DATE_FORMATS if f not in (_MONTH_FIRST if dayfirst else _DAY_FIRST)]
    for candidate in formats:
        try:
            return datetime.strptime(t, candidate)
        except ValueError:
            continue
    return None


def _representable(stamp: datetime) -> np.datetime64:
    """The date, if nanosecond timestamps can hold it (1677-09-22 to 2262-04-11), else NaT."""
    if _beyond(stamp):
        return np.datetime64("NaT")
    return np.datetime64(stamp, "ns")


def _beyond(stamp: datetime | None) -> int:
    """+1 after what nanosecond timestamps hold, -1 before, 0 within (or no date)."""
    if stamp is None:
        return 0
    if stamp >= pd.Timestamp.max:
        return 1
    return -1 if stamp <= pd.Timestamp.min else 0


def _date_from_number(text: str) -> datetime | None:
    for digits, layout in ((8, "%Y%m%d"), (14, "%Y%m%d%H%M%S")):
        if len(text) == digits and text.isdigit():
            try:
                return datetime.strptime(text, layout)
            except ValueError:
                return None
    serial = float(text)
    if 0 < serial <= _EXCEL_MAX_SERIAL:
        # An Excel serial date: days since 1899-12-30, the fraction is the time of day.
        return _EXCEL_EPOCH + timedelta(days=serial)
    return None
