"""Lines a text reader refuses, set aside one by one so the rest of the file is read.

A line that is not text in the file's encoding (one GB18030 line in a UTF-8 export) or that
holds NUL bytes is replaced by an empty line, keeping every other line's number, and becomes
a bad row of its own reason. An unterminated quote swallows the rest of the file into one
field: it is told apart from a quoted line break by following the quotes as the CSV reader
does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from segmentation.errors import UnreadableFileError
from segmentation.ingest._source import BadRow

__all__ = [
    "LineFaults",
    "encoding_by_weight",
    "looks_binary",
    "nonblank_lines",
    "open_quote_at_end",
    "set_aside_faulty_lines",
]

_NON_ASCII = bytes(range(0x80, 0x100))
# Bytes no text export holds: C0 controls other than tab, line feed, form feed and carriage
# return, and DEL.
_CONTROL = bytes([*range(0x00, 0x09), 0x0B, *range(0x0E, 0x20), 0x7F])


@dataclass(frozen=True)
class LineFaults:
    """A text with its faulty lines emptied, and those lines as bad rows."""

    text: bytes
    bad_rows: list[BadRow]
    # Emptied lines the CSV reader will see as blank lines (all but an emptied last line
    # without a line break), to take off its count of blank lines.
    blank_lines: tuple[int, ...]


def looks_binary(head: bytes, *, binary_line_share: float) -> bool:
    """Whether a file's first bytes are binary data rather than text with a few NUL bytes.

    Binary when it holds NUL bytes and either its first non-blank line holds one or more
    than ``binary_line_share`` of its non-blank lines hold control bytes no text has (UTF-16
    without a byte-order mark, an image, a database file).
    """
    if b"\x00" not in head:
        return False
    lines = [line for line in head.split(b"\n") if line.strip()]
    if not lines or b"\x00" in lines[0]:
        return True
    binary = sum(len(line.translate(None, _CONTROL)) < len(line) for line in lines)
    return binary > binary_line_share * len(lines)


def _undecodable_spans(raw: bytes, encoding: str, start: int) -> list[tuple[int, int]]:
    """(start, end) byte offsets of the lines that do not decode, from offset ``start``."""
    spans: list[tuple[int, int]] = []
    view = memoryview(raw)
    position = start
    while position < len(raw):
        try:
            str(view[position:], encoding)  # stops at the first undecodable byte
        except UnicodeDecodeError as error:
            bad = position + error.start
            line_start = raw.rfind(b"\n", 0, bad) + 1
            line_end = raw.find(b"\n", bad)
            line_end = len(raw) if line_end < 0 else line_end
            spans.append((line_start, line_end))
            position = line_end + 1
            continue
        break
    return spans


def _nul_spans(raw: bytes, start: int) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    position = raw.find(b"\x00", start)
    while position >= 0:
        line_start = raw.rfind(b"\n", 0, position) + 1
        line_end = raw.find(b"\n", position)
        line_end = len(raw) if line_end < 0 else line_end
        spans.append((line_start, line_end))
        position = raw.find(b"\x00", line_end)
    return spans


def encoding_by_weight(raw: bytes, start: int) -> str:
    """UTF-8 or GB18030 for a text that is not all UTF-8, by where its non-ASCII bytes are.

    When most non-ASCII bytes sit on lines that are valid UTF-8, the file is UTF-8 with a
    few bad lines; otherwise it is a GBK/GB18030 export (its Chinese lines are what fail).
    """
    spans = _undecodable_spans(raw, "utf-8", start)
    inside = sum(len(raw[a:b]) - len(raw[a:b].translate(None, _NON_ASCII)) for a, b in spans)
    total = len(raw) - start - len(raw[start:].translate(None, _NON_ASCII))
    return "utf-8" if total - inside > inside else "gb18030"


def set_aside_faulty_lines(
    raw: bytes,
    encoding: str,
    *,
    first_line: int,
    path: object,
    binary_line_share: float,
) -> LineFaults:
    """Empty every line from ``first_line`` (1-based) on that does not decode in
    ``encoding`` or holds a NUL byte; each becomes a bad row with its line number.

    Raises :class:`UnreadableFileError` when more than ``binary_line_share`` of the lines
    are faulty: then the file is not text in that encoding at all.
    """
    start = 0
    for _ in range(first_line - 1):
        start = raw.find(b"\n", start) + 1
        if start == 0:
            return LineFaults(raw, [], ())
    python_encoding = "utf-8" if encoding in {"utf8", "utf-8-sig"} else encoding
    nul = _nul_spans(raw, start)
    undecodable = _undecodable_spans(raw, python_encoding, start)
    reasons = {span: "undecodable_line" for span in undecodable} | {
        span: "nul_bytes" for span in nul
    }
    if not reasons:
        return LineFaults(raw, [], ())
    lines = raw.count(b"\n", start) + 1
    if len(reasons) > binary_line_share * lines:
        first_bad = first_line + raw.count(b"\n", start, min(reasons)[0])
        raise UnreadableFileError(
            f"{path}: {len(reasons):,} of {lines:,} lines cannot be read as {python_encoding} "
            f"text (the first is line {first_bad}); "
            f"open it in Excel or WPS and save it as CSV UTF-8"
        )
    pieces: list[bytes] = []
    bad_rows: list[BadRow] = []
    previous, line = start, first_line
    for span in sorted(reasons):
        line += raw.count(b"\n", previous, span[0])
        pieces.append(raw[previous : span[0]])
        bad_rows.append(BadRow.of_text(line, reasons[span], raw[span[0] : span[1]]))
        previous = span[1]
    pieces.append(raw[previous:])
    blank = tuple(bad.line for bad in bad_rows)
    if max(reasons)[1] == len(raw):  # the last line, without a line break: no line is left
        blank = blank[:-1]
    return LineFaults(raw[:start] + b"".join(pieces), bad_rows, blank)


def open_quote_at_end(text: str, delimiter: str, quote: str = '"') -> bool:
    """Whether a quoted field is still open at the end of ``text`` (one or more records).

    Follows the quotes as pyarrow's CSV reader does: a quote opens a quoted field only at
    the start of a field, ``""`` inside one is a quote, and a quote elsewhere is a character.
    """
    field_end = re.compile(f"[{re.escape(delimiter)}\\n\\r]")
    position, size = 0, len(text)
    while position < size:
        if text.startswith(quote, position):
            position += 1
            while True:
                closing = text.find(quote, position)
                if closing < 0:
                    return True
                if text.startswith(quote, closing + 1):
                    position = closing + 2
                    continue
                position = closing + 1
                break
        found = field_end.search(text, position)
        if found is None:
            return False
        position = found.end()
    return False


def nonblank_lines(text: str) -> int:
    """Lines of ``text`` that hold more than whitespace."""
    return sum(1 for line in text.splitlines() if line.strip())
