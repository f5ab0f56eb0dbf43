"""Ingest refuses lines, not files, and never lets personal data out of a line (issue #18).

Hand-computed cases first, then the generators of ``tests/bad_lines.py`` as hypothesis
properties: whatever personal data is planted wherever, none reaches an output file, a log
line or the terminal; and every line is counted the same way for every failure.
"""

from __future__ import annotations

import codecs
import contextlib
import gzip
import hashlib
import io
import json
import logging
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, event, given, settings

from segmentation.cli import main
from segmentation.errors import UnknownLayoutError, UnreadableFileError
from segmentation.ingest import IngestResult, ingest
from segmentation.privacy import PII_KEY_ENV, line_digest

from bad_lines import CountedExport, PlantedExport, counted_exports, planted_exports

KEY = b"test-key"
HEADER = "订单号,客户ID,下单时间,商品名称,数量,单价,实付金额\n"


def rows(n: int) -> list[str]:
    return [f"SO{i},C{i},2024-01-{i:02d},茶,1,10,10\n" for i in range(1, n + 1)]


def run(*paths: Path) -> IngestResult:
    return ingest(list(paths), pii_key=KEY)


def quarantined(result: IngestResult) -> list[tuple[int, str, dict[str, object]]]:
    q = result.quarantine
    return [
        (int(r), str(reason), json.loads(v))
        for r, reason, v in zip(q["row"], q["reason"], q["values"], strict=True)
    ]


def digest_of(raw: bytes) -> str:
    return line_digest(hashlib.sha256(raw).digest(), key=KEY)


def counts(result: IngestResult) -> tuple[int, int, int, dict[str, int]]:
    q = result.quality
    return q["rows_in"], q["rows_kept"], q["rows_duplicate"], q["rows_quarantined"]


def assert_reconciles(result: IngestResult) -> None:
    for info in result.quality["tables"].values():
        quarantined_rows = sum(info["rows_quarantined"].values())
        assert info["rows_in"] == info["rows_kept"] + info["rows_duplicate"] + quarantined_rows
    assert (
        sum(f["rows_in"] for f in result.quality["files"] if f["table"] == "orders")
        == (result.quality["rows_in"])
    )


# --- line-true counting -----------------------------------------------------------------------


def test_unterminated_quote_on_row_4_of_8_is_one_cut_off_of_5_lines(tmp_path: Path) -> None:
    lines = rows(8)
    lines[3] = 'SO4,C4,"2024-01-04,茶,1,10,10\n'  # line 5 (header = 1): the quote never closes
    path = tmp_path / "orders.csv"
    path.write_text(HEADER + "".join(lines), encoding="utf-8")
    result = run(path)
    assert counts(result) == (8, 3, 0, {"unterminated_quote": 5})
    swallowed = "".join(lines[3:]).rstrip("\n").encode("utf-8")
    assert quarantined(result) == [
        (5, "unterminated_quote", {"fields": 3, "lines": 5, "line_digest": digest_of(swallowed)})
    ]
    assert result.orders["order_id"].tolist() == ["SO1", "SO2", "SO3"]
    assert result.quality["files"][0]["rows_in"] == 8
    assert_reconciles(result)


def test_quote_opened_in_the_last_field_is_a_cut_off_too(tmp_path: Path) -> None:
    # The row still has seven fields (the last swallows the rest), so the reader keeps it.
    lines = rows(8)
    lines[3] = 'SO4,C4,2024-01-04,茶,1,10,"10\n'
    path = tmp_path / "orders.csv"
    path.write_text(HEADER + "".join(lines), encoding="utf-8")
    result = run(path)
    assert counts(result) == (8, 3, 0, {"unterminated_quote": 5})
    assert [(r, reason) for r, reason, _ in quarantined(result)] == [(5, "unterminated_quote")]
    assert quarantined(result)[0][2]["lines"] == 5


def test_quote_opened_on_the_last_line_without_a_line_break(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(HEADER + "".join(rows(2)) + 'SO3,C3,2024-01-03,茶,1,10,"10', encoding="utf-8")
    result = run(path)
    assert counts(result) == (3, 2, 0, {"unterminated_quote": 1})
    assert quarantined(result)[0][:2] == (4, "unterminated_quote")


def test_blank_lines_inside_an_unterminated_quote_are_not_rows(tmp_path: Path) -> None:
    body = "".join(rows(2)) + 'SO3,"C3,2024-01-03,茶,1,10,10\n\n   \nSO4,C4,2024-01-04,茶,1,10,10\n'
    path = tmp_path / "orders.csv"
    path.write_text(HEADER + body, encoding="utf-8")
    result = run(path)
    # Lines 4-7: the quote's line and SO4's count, the two blank lines do not.
    assert counts(result) == (4, 2, 0, {"unterminated_quote": 2})
    assert "blank_lines" not in result.quality["files"][0]


def test_a_closed_multi_line_value_is_one_record(tmp_path: Path) -> None:
    body = "".join(rows(2)) + 'SO3,C3,2024-01-03,"礼盒\n第二行",1,10,10\n' + rows(4)[3]
    path = tmp_path / "orders.csv"
    path.write_text(HEADER + body, encoding="utf-8")
    result = run(path)
    assert counts(result) == (4, 4, 0, {})


# --- refuse lines, not files ------------------------------------------------------------------


@pytest.mark.parametrize("product", ["茶", "茶叶"])
def test_one_gb18030_line_in_a_utf8_file(tmp_path: Path, product: str) -> None:
    gb_line = "SO4,C4,2024-01-04,张伟的茶,1,10,10\n".encode("gb18030")
    lines = [line.replace(",茶,", f",{product},") for line in rows(8)]
    data = (HEADER + "".join(lines[:3])).encode() + gb_line + "".join(lines[4:]).encode()
    path = tmp_path / "orders.csv"
    path.write_bytes(data)
    result = run(path)
    assert counts(result) == (8, 7, 0, {"undecodable_line": 1})
    assert quarantined(result) == [
        (5, "undecodable_line", {"line_digest": digest_of(gb_line.rstrip(b"\n"))})
    ]
    assert result.quality["files"][0]["encoding"] == "utf-8"
    # "茶叶" in UTF-8 is also valid GB18030 (three other characters): the file is told by
    # where its non-ASCII bytes are, not by which decoder accepts it.
    if product == "茶叶":
        assert lines[0].encode().decode("gb18030") != lines[0]
    assert set(result.orders["product_name"]) == {product}
    assert_reconciles(result)


def test_one_gb18030_line_deep_in_a_large_utf8_file(tmp_path: Path) -> None:
    # Past the first 64 KiB the encoding was guessed from: found when pyarrow reads it.
    lines = [f"SO{i},C{i % 97},2024-01-05,茶叶,1,10,10\n" for i in range(1, 5001)]
    data = (HEADER + "".join(lines[:4000])).encode()
    data += "SO4001,C1,2024-01-05,张伟,1,10,10\n".encode("gb18030")
    data += "".join(lines[4001:]).encode()
    path = tmp_path / "orders.csv"
    path.write_bytes(data)
    result = run(path)
    assert counts(result) == (5000, 4999, 0, {"undecodable_line": 1})
    assert quarantined(result)[0][:2] == (4002, "undecodable_line")


def test_an_undecodable_line_that_does_not_split_is_quarantined_without_a_traceback(
    tmp_path: Path,
) -> None:
    """pyarrow cannot hand such a line to the invalid-row handler (it decodes the line
    first) and printed "Exception ignored in" with a traceback on the terminal, though the
    line was then quarantined; the command line now shows the quarantine alone."""
    lines = rows(4)
    broken = b"SO3,C3,2024-01-03,\xb4\xe8,1,10,10,extra\n"  # GBK bytes, a field too many
    data = codecs.BOM_UTF8 + (HEADER + "".join(lines[:2])).encode() + broken
    path = tmp_path / "orders.csv"
    path.write_bytes(data + lines[3].encode())
    done = subprocess.run(
        [sys.executable, "-m", "segmentation", "ingest", str(path), "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert done.stdout.splitlines()[0] == (
        "orders: 4 rows in, 3 kept, 0 duplicate, 1 quarantined (undecodable_line 1); "
        "3 customers, 0 guest rows"
    )
    result = run(path)
    assert quarantined(result) == [
        (4, "undecodable_line", {"line_digest": digest_of(broken.rstrip(b"\n"))})
    ]
    assert_reconciles(result)


def test_a_gbk_file_with_ascii_at_the_top_is_still_read_as_gb18030(tmp_path: Path) -> None:
    lines = [f"SO{i},C{i},2024-01-05,tea,1,10,10\n" for i in range(1, 4001)]
    lines += [f"SO{i},C{i},2024-01-05,茶叶礼盒,1,10,10\n" for i in range(4001, 4101)]
    path = tmp_path / "orders.csv"
    path.write_bytes((HEADER + "".join(lines)).encode("gb18030"))
    result = run(path)
    assert counts(result) == (4100, 4100, 0, {})
    assert result.quality["files"][0]["encoding"] == "gb18030"


@pytest.mark.parametrize("compress", [False, True])
def test_nul_bytes_in_one_field(tmp_path: Path, compress: bool) -> None:
    lines = rows(8)
    lines[5] = "SO6,C6,2024-01-06,茶\x00\x00,1,10,10\n"
    data = (HEADER + "".join(lines)).encode()
    path = tmp_path / ("orders.csv.gz" if compress else "orders.csv")
    path.write_bytes(gzip.compress(data) if compress else data)
    result = run(path)
    assert counts(result) == (8, 7, 0, {"nul_bytes": 1})
    assert quarantined(result) == [
        (7, "nul_bytes", {"line_digest": digest_of(lines[5].rstrip("\n").encode())})
    ]
    assert "blank_lines" not in result.quality["files"][0]


def test_nul_bytes_on_the_last_line_without_a_line_break(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_bytes((HEADER + "".join(rows(3)) + "SO4,C4,2024-01-04,茶\x00,1,10,10").encode())
    result = run(path)
    assert counts(result) == (4, 3, 0, {"nul_bytes": 1})
    assert quarantined(result)[0][:2] == (5, "nul_bytes")
    assert "blank_lines" not in result.quality["files"][0]


def test_a_20_mb_field_is_read(tmp_path: Path) -> None:
    lines = rows(4)
    lines[1] = "SO2,C2,2024-01-02," + "茶" * 7_000_000 + ",1,10,10\n"  # 21 MB of UTF-8
    lines[2] = 'SO3,C3,2024-01-03,"礼盒\n第二行",1,10,10\n'  # lines 4-5
    lines[3] = "SO4,C4,someday,茶,1,10,10\n"  # line 6, found past the long field
    path = tmp_path / "orders.csv"
    path.write_text(HEADER + "".join(lines), encoding="utf-8")
    assert path.stat().st_size > 20_000_000
    result = run(path)
    assert counts(result) == (4, 3, 0, {"unparsable_date": 1})
    assert [(r, reason) for r, reason, _ in quarantined(result)] == [(6, "unparsable_date")]
    assert result.orders["product_name"].str.len().max() == 7_000_000


def test_a_50000_field_line(tmp_path: Path) -> None:
    lines = rows(4)
    wide = ",".join(["13812345678"] * 50_000)
    lines[2] = wide + "\n"
    path = tmp_path / "orders.csv"
    path.write_text(HEADER + "".join(lines), encoding="utf-8")
    result = run(path)
    assert counts(result) == (4, 3, 0, {"wrong_field_count": 1})
    assert quarantined(result) == [
        (4, "wrong_field_count", {"fields": 50_000, "line_digest": digest_of(wide.encode())})
    ]
    assert "13812345678" not in result.quarantine.to_csv()


def test_a_file_mostly_of_faulty_lines_is_refused_naming_file_line_and_fix(
    tmp_path: Path,
) -> None:
    data = (
        HEADER.encode()
        + rows(1)[0].encode()
        + "SO2,C2,2024-01-02,张伟,1,10,10\n".encode("gb18030") * 3
    )
    path = tmp_path / "orders.csv"
    path.write_bytes(data)
    with pytest.raises(UnreadableFileError) as caught:
        run(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: 3 of 5 lines cannot be read as utf-8 text")
    assert "the first is line 3" in message and "save it as CSV UTF-8" in message


def test_binary_data_is_still_refused_whole(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_bytes(b"\x00\x01\x02binary\x00\n" * 10)
    with pytest.raises(UnreadableFileError, match=r"orders\.csv: binary data"):
        run(path)


def test_a_notes_file_in_a_folder_is_skipped_and_listed(tmp_path: Path) -> None:
    folder = tmp_path / "exports"
    folder.mkdir()
    (folder / "a.csv").write_text(HEADER + "".join(rows(2)), encoding="utf-8")
    (folder / "b.csv").write_text(HEADER + "".join(rows(4)[2:]), encoding="utf-8")
    (folder / "notes.txt").write_text(
        "三月的导出 问张伟 13812345678\n退款 另算\n", encoding="utf-8"
    )
    (folder / "README.txt").write_text("generated\n", encoding="utf-8")
    (folder / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    (folder / "Thumbs.db").write_bytes(b"\xd0\xcf\x11\xe0")
    result = run(folder)
    assert counts(result) == (4, 4, 0, {})
    skipped = {Path(f["path"]).name: f["reason"] for f in result.quality["files_skipped"]}
    assert set(skipped) == {"notes.txt", "README.txt", ".DS_Store", "Thumbs.db"}
    assert skipped["notes.txt"].startswith("not a table: its first line names no orders")
    assert skipped["README.txt"] == "README"
    assert skipped[".DS_Store"] == "hidden file"
    assert skipped["Thumbs.db"] == "not a data file type (.db)"
    assert "13812345678" not in json.dumps(result.quality, ensure_ascii=False)
    # Named by the user, the same notes file is an error that names it and says what to do.
    with pytest.raises(UnknownLayoutError) as caught:
        run(folder / "a.csv", folder / "notes.txt")
    assert str(caught.value).startswith(f"{folder / 'notes.txt'}: cannot tell whether")
    assert "13812345678" not in str(caught.value)


def test_quality_json_has_no_skipped_key_when_nothing_was_skipped(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(HEADER + "".join(rows(2)), encoding="utf-8")
    assert "files_skipped" not in run(path).quality


# --- privacy of quarantined rows --------------------------------------------------------------


def test_personal_data_typed_into_a_mapped_cell_is_masked(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    body = "SO1,C1,2024-01-05,茶,1,10,10\nSO2,C2,+86 138 1234 5678,茶,1,10,10\n"
    path.write_text(HEADER + body, encoding="utf-8")
    result = run(path)
    ((line, reason, values),) = quarantined(result)
    assert (line, reason) == (3, "unparsable_date")
    assert values["订单号"] == "SO2"  # what is not personal is kept to find the row
    assert str(values["下单时间"]).startswith("pii_")
    assert "138" not in result.quarantine.to_csv()


@contextlib.contextmanager
def _terminal_and_logs() -> Iterator[tuple[io.StringIO, io.StringIO, list[str]]]:
    """stdout, stderr and every log record (any logger, any level) while inside."""
    out, err, records = io.StringIO(), io.StringIO(), []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(self.format(record))

    handler, root = Keep(level=logging.DEBUG), logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            yield out, err, records
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def _everything_written(out_dir: Path) -> str:
    """Every output file as text: CSV and JSON as written, Parquet tables as CSV."""
    texts = []
    for path in sorted(out_dir.rglob("*")):
        if path.suffix == ".parquet":
            texts.append(pd.read_parquet(path).to_csv())
        elif path.is_file():
            texts.append(path.read_bytes().decode("utf-8", errors="replace"))
    return "\n".join(texts)


@settings(
    max_examples=int(os.environ.get("BAD_LINES_EXAMPLES", "100")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=True,
)
@given(export=planted_exports())
def test_planted_personal_data_never_leaves_ingest(export: PlantedExport) -> None:
    for shape in sorted(set(export.shapes)):
        event(f"shape: {shape}")
    previous = os.environ.get(PII_KEY_ENV)
    os.environ[PII_KEY_ENV] = "planted-test-key"
    try:
        with tempfile.TemporaryDirectory() as folder:
            work = Path(folder)
            path = work / "orders.csv"
            path.write_bytes(export.data)
            with _terminal_and_logs() as (out, err, records):
                status = main(["ingest", str(path), "--out", str(work / "out")])
            assert status in (0, 2), err.getvalue()
            seen = "\n".join(
                [out.getvalue(), err.getvalue(), *records, _everything_written(work / "out")]
            )
    finally:
        if previous is None:
            del os.environ[PII_KEY_ENV]
        else:
            os.environ[PII_KEY_ENV] = previous
    event(f"exit status {status}")
    leaked = {value for value in export.planted if value in seen}
    assert not leaked, f"{leaked} reached an output ({export.shapes})"
    if status == 0:
        assert "Traceback" not in seen


@settings(
    max_examples=int(os.environ.get("BAD_LINES_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)
@given(export=counted_exports())
def test_every_line_is_counted_once_whatever_fails(export: CountedExport) -> None:
    for reason in sorted({reason for _, reason, _ in export.quarantine}):
        event(f"reason: {reason}")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "orders.csv"
        path.write_bytes(export.data)
        result = run(path)
    assert [(line, reason) for line, reason, _ in quarantined(result)] == [
        (line, reason) for line, reason, _ in export.quarantine
    ]
    spans = {line: rows for line, reason, rows in export.quarantine if rows != 1}
    assert {r: v["lines"] for r, _, v in quarantined(result) if "lines" in v} == spans
    quality = result.quality
    assert (quality["rows_in"], quality["rows_kept"], quality["rows_duplicate"]) == (
        export.rows_in,
        export.kept,
        0,
    )
    assert quality["files"][0].get("blank_lines", 0) == export.blank_lines
    assert_reconciles(result)
