"""A corpus of bad and awkward inputs, each built in tmp_path from a literal string.

Every case asserts the specific error (class and what the message names: the file, the
column or row, what to do) or the exact quarantine reason and line, never just "it runs".
"""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest

from segmentation.cli import main
from segmentation.errors import (
    EmptyInputError,
    InvalidOptionError,
    MappingError,
    MissingColumnError,
    NoUsableRowsError,
    SegmentationInputError,
    UnknownLayoutError,
    UnreadableFileError,
)
from segmentation.ingest import IngestResult, ingest
from segmentation.privacy import line_digest, pseudonymise

KEY = b"test-key"
HEADER = "订单号,客户ID,下单时间,商品名称,数量,单价,实付金额\n"


def write(path: Path, text: str, *, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def orders_csv(tmp_path: Path, rows: str, *, name: str = "orders.csv", **kw: str) -> Path:
    return write(tmp_path / name, HEADER + rows, **kw)


def run(*inputs: Path, **options: object) -> IngestResult:
    return ingest(list(inputs), pii_key=KEY, **options)  # type: ignore[arg-type]


def reasons(result: IngestResult) -> list[tuple[int, str]]:
    return list(zip(result.quarantine["row"], result.quarantine["reason"], strict=True))


def digest_of(line: str | bytes) -> str:
    """The quarantine's keyed digest of a line it could not align (its text in UTF-8)."""
    raw = line.encode("utf-8") if isinstance(line, str) else line
    return line_digest(hashlib.sha256(raw).digest(), key=KEY)


def assert_reconciles(result: IngestResult) -> None:
    for info in result.quality["tables"].values():
        quarantined = sum(info["rows_quarantined"].values())
        assert info["rows_in"] == info["rows_kept"] + info["rows_duplicate"] + quarantined


# --- errors -----------------------------------------------------------------------------------


def test_missing_required_column_names_file_column_and_fix(tmp_path: Path) -> None:
    path = write(tmp_path / "no_amount.csv", "订单号,客户ID,下单时间\nSO1,C1,2024-01-05\n")
    with pytest.raises(MissingColumnError) as caught:
        run(path)
    message = str(caught.value)
    assert "no_amount.csv" in message
    assert "no amount column" in message
    assert "实付金额" in message  # the names it looked for
    assert "订单号, 客户ID, 下单时间" in message  # what it found
    assert "--mapping" in message  # what to do


def test_empty_file(tmp_path: Path) -> None:
    path = write(tmp_path / "empty.csv", "")
    with pytest.raises(EmptyInputError, match=r"empty\.csv: the file is empty \(0 bytes\)"):
        run(path)


def test_header_only(tmp_path: Path) -> None:
    path = orders_csv(tmp_path, "", name="header_only.csv")
    with pytest.raises(EmptyInputError) as caught:
        run(path)
    assert "header_only.csv" in str(caught.value)
    assert "no data rows" in str(caught.value)
    assert "export it again" in str(caught.value)


def test_unknown_header_cannot_be_classified(tmp_path: Path) -> None:
    path = write(tmp_path / "notes.csv", "标题,备注\n春季活动,第一批\n")
    with pytest.raises(UnknownLayoutError) as caught:
        run(path)
    message = str(caught.value)
    assert "notes.csv" in message and "标题, 备注" in message
    assert "orders, customers or interactions" in message
    assert "--mapping" in message


def test_headerless_csv_is_rejected_with_the_line(tmp_path: Path) -> None:
    path = write(tmp_path / "data.csv", "1,2024-01-05,10.5\n2,2024-01-06,3\n")
    with pytest.raises(UnknownLayoutError, match=r"data\.csv: line 1 looks like data"):
        run(path)


def test_mapping_naming_a_missing_column(tmp_path: Path) -> None:
    path = orders_csv(tmp_path, "SO1,C1,2024-01-05,茶,1,10,10\n")
    mapping = write(tmp_path / "mapping.yaml", "orders:\n  amount: 成交金额\n")
    with pytest.raises(MappingError) as caught:
        run(path, mapping=mapping)
    message = str(caught.value)
    assert "mapping.yaml" in message
    assert "orders.amount" in message and "'成交金额'" in message
    assert "orders.csv has no such column" in message
    assert "实付金额" in message  # the file's real columns, to pick from


def test_mapping_with_unknown_canonical_name(tmp_path: Path) -> None:
    path = orders_csv(tmp_path, "SO1,C1,2024-01-05,茶,1,10,10\n")
    with pytest.raises(MappingError, match=r"orders\.amout is not a canonical column"):
        run(path, mapping={"orders": {"amout": "实付金额"}})


def test_mapping_overrides_presets(tmp_path: Path) -> None:
    path = write(
        tmp_path / "erp.csv",
        "单据编号,会员,日期,成交额,实付金额\nD1,M1,2024-01-05,88,1\nD2,M2,2024-01-06,12.5,1\n",
    )
    mapping = write(
        tmp_path / "m.yaml",
        "orders:\n  order_id: 单据编号\n  customer_id: 会员\n  order_ts: 日期\n  amount: 成交额\n",
    )
    result = run(path, mapping=mapping)
    assert result.orders["amount"].tolist() == [88.0, 12.5]
    assert result.orders["customer_id"].tolist() == ["M1", "M2"]
    assert result.quality["files"][0]["columns"]["amount"] == "成交额"


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(UnreadableFileError, match=r"nope\.csv: no such file or folder"):
        run(tmp_path / "nope.csv")


def test_binary_file_is_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "photo.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    with pytest.raises(UnreadableFileError) as caught:
        run(path)
    assert "photo.csv: binary data" in str(caught.value)
    assert "export the data as CSV or XLSX" in str(caught.value)


def test_old_xls_is_unreadable_with_advice(tmp_path: Path) -> None:
    path = tmp_path / "old.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100)
    with pytest.raises(UnreadableFileError, match=r"old\.xls: an old Excel \.xls.*save it as"):
        run(path)


def test_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "exports").mkdir()
    write(tmp_path / "exports" / "README.txt", "not data\n")
    with pytest.raises(EmptyInputError, match=r"exports: the folder holds no data files"):
        run(tmp_path / "exports")


def test_no_orders_file(tmp_path: Path) -> None:
    path = write(tmp_path / "contacts.csv", "客户ID,省份\nC1,上海\n")
    with pytest.raises(EmptyInputError, match=r"no orders file among the inputs: .*contacts\.csv"):
        run(path)


def test_no_usable_rows(tmp_path: Path) -> None:
    path = orders_csv(tmp_path, "SO1,C1,soon,茶,1,10,10\nSO2,C1,later,茶,1,10,10\n")
    with pytest.raises(NoUsableRowsError) as caught:
        run(path)
    message = str(caught.value)
    assert "orders.csv" in message and "none of the 2 orders rows is usable" in message
    assert "unparsable_date 2" in message
    assert "line 2: unparsable_date" in message


def test_bad_as_of(tmp_path: Path) -> None:
    path = orders_csv(tmp_path, "SO1,C1,2024-01-05,茶,1,10,10\n")
    with pytest.raises(InvalidOptionError, match=r"as_of='last tuesday' is not a date"):
        run(path, as_of="last tuesday")


# --- encodings and formats --------------------------------------------------------------------


def test_gbk_file(tmp_path: Path) -> None:
    path = orders_csv(tmp_path, "SO1,C1,2024-01-05,龙井茶叶,1,88,88\n", encoding="gbk")
    result = run(path)
    assert result.orders["product_name"].tolist() == ["龙井茶叶"]
    assert result.quality["files"][0]["encoding"] == "gb18030"


def test_gbk_after_a_long_ascii_start(tmp_path: Path) -> None:
    # The encoding sniff sees only ASCII; the reader must still switch to GB18030.
    rows = "".join(f"SO{i},C{i},2024-01-05,tea,1,1,1\n" for i in range(4000))
    path = orders_csv(tmp_path, rows + "SO9,C9,2024-01-06,普洱,1,2,2\n", encoding="gbk")
    result = run(path)
    assert result.orders["product_name"].iloc[-1] == "普洱"
    assert result.quality["files"][0]["encoding"] == "gb18030"


def test_utf8_bom(tmp_path: Path) -> None:
    path = orders_csv(tmp_path, "SO1,C1,2024-01-05,茶,1,10,10\n", encoding="utf-8-sig")
    result = run(path)
    assert result.orders["order_id"].tolist() == ["SO1"]  # the BOM is not part of 订单号
    assert result.quality["files"][0]["encoding"] == "utf-8-sig"


def test_gzip_csv(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv.gz"
    path.write_bytes(gzip.compress((HEADER + "SO1,C1,2024-01-05,茶,2,5,10\n").encode()))
    result = run(path)
    assert result.orders["amount"].tolist() == [10.0]
    assert result.quality["files"][0]["format"] == "csv.gz"


def test_xlsx_with_excel_row_numbers(tmp_path: Path) -> None:
    openpyxl = pytest.importorskip("openpyxl")  # a dependency; never skips in this project
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["订单号", "客户ID", "下单时间", "实付金额"])
    sheet.append(["SO1", 17850.0, pd.Timestamp("2024-01-05 10:00").to_pydatetime(), 88])
    sheet.append([])  # a blank row: Excel still numbers it
    sheet.append(["SO2", "C2", 45292, "¥1,234.50"])  # a serial date and a text amount
    sheet.append(["SO3", "C3", "2024-01-07", 0])
    sheet.append(["SO4", "C4", "not a date", 5])
    workbook.save(tmp_path / "orders.xlsx")
    result = run(tmp_path / "orders.xlsx")
    orders = result.orders
    assert orders["customer_id"].tolist() == ["C2", "17850", "C3"]
    assert orders["order_ts"].tolist() == [
        pd.Timestamp("2024-01-01"),
        pd.Timestamp("2024-01-05 10:00"),
        pd.Timestamp("2024-01-07"),
    ]
    assert orders["amount"].tolist() == [1234.5, 88.0, 0.0]
    assert reasons(result) == [(6, "unparsable_date")]  # Excel row 6, after the blank row 4


def test_parquet_file(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "order_id": ["A1", "A2", "A3"],
            "customer_id": [101, 102, None],
            "order_ts": pd.to_datetime(["2024-01-05", "2024-01-06", "1970-01-01"]),
            "amount": [10.0, -2.5, 3.0],
        }
    )
    frame.to_parquet(tmp_path / "orders.parquet")
    result = run(tmp_path / "orders.parquet")
    assert result.orders["customer_id"].tolist() == ["101", "102"]  # not "101.0"
    assert result.orders["amount"].tolist() == [10.0, -2.5]
    # Parquet has no lines: record 3 is reported where it would be in a CSV, row 4.
    assert reasons(result) == [(4, "date_too_early")]


def test_tsv_and_unknown_suffix_are_sniffed(tmp_path: Path) -> None:
    path = write(
        tmp_path / "export.txt", "订单号\t客户ID\t下单时间\t实付金额\nSO1\tC1\t2024-01-05\t9.9\n"
    )
    assert run(path).orders["amount"].tolist() == [9.9]


# --- values -----------------------------------------------------------------------------------


def test_mixed_date_formats(tmp_path: Path) -> None:
    rows = (
        "SO1,C1,2024-01-05 10:00:00,茶,1,1,1\n"
        "SO2,C1,2024/01/06 11:30,茶,1,1,1\n"
        "SO3,C1,2024年1月7日,茶,1,1,1\n"
        "SO4,C1,20240108,茶,1,1,1\n"
        "SO5,C1,2024-01-09T08:00:00+08:00,茶,1,1,1\n"
        "SO6,C1,yesterday,茶,1,1,1\n"
    )
    result = run(orders_csv(tmp_path, rows))
    assert result.orders["order_ts"].tolist() == [
        pd.Timestamp("2024-01-05 10:00"),
        pd.Timestamp("2024-01-06 11:30"),
        pd.Timestamp("2024-01-07"),
        pd.Timestamp("2024-01-08"),
        pd.Timestamp("2024-01-09 08:00"),  # wall-clock time as written
    ]
    assert reasons(result) == [(7, "unparsable_date")]
    values = json.loads(result.quarantine["values"].iloc[0])
    assert values["下单时间"] == "yesterday" and values["订单号"] == "SO6"


def test_slash_dates_day_first_when_the_data_says_so(tmp_path: Path) -> None:
    rows = "SO1,C1,25/12/2023,茶,1,1,1\nSO2,C1,03/01/2024,茶,1,1,1\n"
    result = run(orders_csv(tmp_path, rows))
    assert result.orders["order_ts"].tolist() == [
        pd.Timestamp("2023-12-25"),
        pd.Timestamp("2024-01-03"),
    ]


def test_excel_serial_dates(tmp_path: Path) -> None:
    rows = "SO1,C1,45292,茶,1,1,1\nSO2,C1,45292.75,茶,1,1,1\nSO3,C1,2024-01-02,茶,1,1,1\n"
    result = run(orders_csv(tmp_path, rows))
    assert result.orders["order_ts"].tolist() == [
        pd.Timestamp("2024-01-01"),
        pd.Timestamp("2024-01-01 18:00"),
        pd.Timestamp("2024-01-02"),
    ]


def test_amounts_with_currency_signs_and_separators(tmp_path: Path) -> None:
    rows = (
        'SO1,C1,2024-01-05,茶,1,1,"¥1,234.50"\n'
        'SO2,C1,2024-01-05,茶,1,1,"1 234,50"\n'
        "SO3,C1,2024-01-05,茶,1,1,12.3元\n"
        "SO4,C1,2024-01-05,茶,1,1,￥-8.00\n"
        "SO5,C1,2024-01-05,茶,1,1,(5.00)\n"
        "SO6,C1,2024-01-05,茶,1,1,1.2万\n"
        "SO7,C1,2024-01-05,茶,1,1,about 3\n"
    )
    result = run(orders_csv(tmp_path, rows))
    assert dict(zip(result.orders["order_id"], result.orders["amount"], strict=True)) == {
        "SO1": 1234.5,
        "SO2": 1234.5,
        "SO3": 12.3,
        "SO4": -8.0,
        "SO5": -5.0,
        "SO6": 12000.0,
    }
    assert reasons(result) == [(8, "unparsable_amount")]


def test_negative_quantities_are_refunds_and_zero_prices_are_quarantined(tmp_path: Path) -> None:
    rows = (
        "SO1,C1,2024-01-05,茶,2,10,20\n"
        "SO1,C1,2024-01-08,茶,-1,10,-10\n"  # a return: kept, negative
        "SO2,C2,2024-01-05,赠品,1,0,0\n"  # a free gift line: price 0, not a refund
        "SO3,C2,2024-01-05,茶,1,-10,-10\n"  # a negative price on a sale
        "SO4,C3,2024-01-05,茶,-1,0,-10\n"  # a refund with the price left empty as 0: kept
    )
    result = run(orders_csv(tmp_path, rows))
    assert result.orders[["order_id", "quantity", "amount"]].values.tolist() == [
        ["SO1", 2.0, 20.0],
        ["SO4", -1.0, -10.0],
        ["SO1", -1.0, -10.0],
    ]
    assert reasons(result) == [(4, "nonpositive_unit_price"), (5, "nonpositive_unit_price")]
    assert result.quality["tables"]["orders"]["refund_rows"] == 2


def test_online_retail_layout(tmp_path: Path) -> None:
    text = (
        "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
        "536365,85123A,HEART,6,2010-12-01 08:26:00,2.55,17850.0,United Kingdom\n"
        "C536379,D,Discount,-1,2010-12-01 09:41:00,27.5,14527.0,United Kingdom\n"
        "536414,22139,,56,2010-12-01 11:52:00,0.0,,United Kingdom\n"
        "536545,21134,x,-3,2010-12-01 14:32:00,0.0,,United Kingdom\n"
        "536370,22728,ALARM,24,2010-12-01 08:45:00,3.75,12583.0,France\n"
    )
    result = run(write(tmp_path / "retail.csv", text))
    orders = result.orders
    assert orders["customer_id"].tolist() == ["17850", "12583", "14527"]
    assert orders["amount"].tolist() == [15.3, 90.0, -27.5]
    assert reasons(result) == [(4, "nonpositive_unit_price"), (5, "nonpositive_unit_price")]
    assert result.quality["tables"]["orders"]["cancellation_rows"] == 1
    assert result.quality["files"][0]["layout"] == "online_retail"
    assert result.customers is not None
    assert dict(zip(result.customers["customer_id"], result.customers["region"], strict=True)) == {
        "12583": "France",
        "14527": "United Kingdom",
        "17850": "United Kingdom",
    }


def test_same_file_twice_counts_once(tmp_path: Path) -> None:
    path = orders_csv(tmp_path, "SO1,C1,2024-01-05,茶,1,10,10\nSO2,C2,2024-01-06,茶,1,5,5\n")
    twice = run(path, path)  # the same path: read once
    assert twice.quality["rows_in"] == 2 and twice.quality["files_given_twice"] == [str(path)]
    copy = write(tmp_path / "orders (1).csv", path.read_text(encoding="utf-8"))
    both = run(path, copy)  # the same rows under another name: duplicates
    assert both.quality["rows_in"] == 4
    assert both.quality["rows_duplicate"] == 2
    assert both.orders["order_id"].tolist() == ["SO1", "SO2"]


def test_duplicates_across_formats_compare_canonical_values(tmp_path: Path) -> None:
    first = orders_csv(tmp_path, "SO1,C1,2024-01-05 00:00:00,茶,1,10,10.00\n", name="a.csv")
    second = orders_csv(tmp_path, "SO1,C1,2024/1/5,茶,1,10,¥10\n", name="b.csv")
    result = run(first, second)
    assert result.quality["rows_duplicate"] == 1
    assert len(result.orders) == 1


def test_future_and_too_early_dates(tmp_path: Path) -> None:
    rows = (
        "SO1,C1,2024-06-30 23:59:59,茶,1,1,1\n"  # the as-of day is included whole
        "SO2,C1,2024-07-01 00:00:00,茶,1,1,1\n"
        "SO3,C1,1970-01-01,茶,1,1,1\n"
    )
    result = run(orders_csv(tmp_path, rows), as_of="2024-06-30")
    assert result.orders["order_id"].tolist() == ["SO1"]
    assert reasons(result) == [(3, "date_after_as_of"), (4, "date_too_early")]
    assert result.quality["as_of"] == "2024-06-30"
    relaxed = run(orders_csv(tmp_path, rows), earliest=None)
    assert relaxed.quality["rows_kept"] == 3  # no as_of: no future check


def test_missing_ids(tmp_path: Path) -> None:
    rows = "SO1,,2024-01-05,茶,1,10,10\nSO2,C1,2024-01-06,茶,1,30,30\n,C1,2024-01-07,茶,1,1,1\n"
    result = run(orders_csv(tmp_path, rows))
    assert result.orders["customer_id"].isna().tolist() == [True, False]
    assert result.quality["guests"] == {
        "rows": 1,
        "revenue": 10.0,
        "revenue_share": 0.25,
        "rows_in": 1,
        "rows_duplicate": 0,
        "rows_quarantined": 0,
    }
    assert reasons(result) == [(4, "missing_order_id")]


def test_single_customer(tmp_path: Path) -> None:
    result = run(orders_csv(tmp_path, "SO1,C1,2024-01-05,茶,1,10,10\n"))
    assert result.quality["customers"] == 1
    assert result.quality["date_min"] == result.quality["date_max"] == "2024-01-05 00:00:00"


def test_file_cut_off_mid_row(tmp_path: Path) -> None:
    path = orders_csv(tmp_path, "SO1,C1,2024-01-05,茶,1,10,10\nSO2,C1,2024-01-0")
    result = run(path)
    assert result.orders["order_id"].tolist() == ["SO1"]
    assert reasons(result) == [(3, "truncated_row")]
    # Not its values: a cut-off row cannot be aligned, so any of them may be shifted PII.
    assert json.loads(result.quarantine["values"].iloc[0]) == {
        "fields": 3,
        "line_digest": digest_of("SO2,C1,2024-01-0"),
    }


def test_row_with_too_many_fields(tmp_path: Path) -> None:
    rows = "SO1,C1,2024-01-05,茶,1,10,10\nSO2,C1,2024-01-05,茶,1,10,10,extra\nSO3,C1,2024-01-05,茶,1,1,1\n"
    result = run(orders_csv(tmp_path, rows))
    assert result.orders["order_id"].tolist() == ["SO1", "SO3"]
    assert reasons(result) == [(3, "wrong_field_count")]
    assert json.loads(result.quarantine["values"].iloc[0]) == {
        "fields": 8,
        "line_digest": digest_of("SO2,C1,2024-01-05,茶,1,10,10,extra"),
    }


def test_bad_rows_deep_in_a_file_read_in_blocks_keep_their_lines(tmp_path: Path) -> None:
    # About 3 MB: pyarrow parses it in several blocks on threads, which cannot number rows;
    # the rows that fail to split send it back to a single-threaded read that can.
    good = [f"SO{i},C{i % 997},2024-01-05 10:00:00,茶叶礼盒,1,10.5,10.5\n" for i in range(60_000)]
    good[30_000] = 'SO30000,C1,2024-01-05,"礼盒\n(两行名称)",1,10,10\n'  # lines 30,002-30,003
    good[45_000] = "SO45000,C1,2024-01-05,茶,1,10,10,extra\n"  # line 45,003
    good[59_999] = "SO59999,C1,bad date,茶,1,10,10\n"  # line 60,002
    path = orders_csv(tmp_path, "".join(good))
    assert path.stat().st_size > 2_500_000
    result = run(path)
    assert reasons(result) == [(45_003, "wrong_field_count"), (60_002, "unparsable_date")]
    assert json.loads(result.quarantine["values"].iloc[0]) == {
        "fields": 8,
        "line_digest": digest_of("SO45000,C1,2024-01-05,茶,1,10,10,extra"),
    }
    assert len(result.orders) == 59_998
    assert "礼盒\n(两行名称)" in set(result.orders["product_name"])
    assert_reconciles(result)


def test_line_numbers_survive_blank_lines_and_quoted_line_breaks(tmp_path: Path) -> None:
    rows = (
        'SO1,C1,2024-01-05,"礼盒\n(两行名称)",1,10,10\n'  # lines 2-3
        "\n"  # line 4: blank, not a row
        "SO2,C1,bad date,茶,1,10,10\n"  # line 5
    )
    result = run(orders_csv(tmp_path, rows))
    assert result.orders["product_name"].tolist() == ["礼盒\n(两行名称)"]
    assert reasons(result) == [(5, "unparsable_date")]
    assert result.quality["rows_in"] == 2


def test_reconciliation_in_a_messy_file(tmp_path: Path) -> None:
    rows = (
        "SO1,C1,2024-01-05,茶,1,10,10\n"
        "SO1,C1,2024-01-05,茶,1,10,10\n"
        "SO2,,2024-01-05,茶,1,10,10\n"
        "SO3,C2,never,茶,1,10,10\n"
        "SO4,C2,2024-01-05,茶,1,0,0\n"
        "SO5,C2,2024-01-05,茶,1,10\n"
    )
    result = run(orders_csv(tmp_path, rows))
    assert_reconciles(result)
    quality = result.quality
    assert (quality["rows_in"], quality["rows_kept"], quality["rows_duplicate"]) == (6, 2, 1)
    assert quality["rows_quarantined"] == {
        "wrong_field_count": 1,
        "unparsable_date": 1,
        "nonpositive_unit_price": 1,
    }


# --- customers and interactions ---------------------------------------------------------------

CUSTOMERS = "客户ID,姓名,手机号,微信号,添加时间,省份,标签\n"


def test_customers_pii_never_reaches_outputs_even_when_quarantined(tmp_path: Path) -> None:
    orders = orders_csv(tmp_path, "SO1,C1,2024-01-05,茶,1,10,10\n")
    customers = write(
        tmp_path / "customers.csv",
        CUSTOMERS
        + "C1,张伟,+86 138-0013-8000,wxid_abc123,2023-05-01,上海,宝妈，白领\n"
        + "C2,李娜,13900139000,wxid_zzz999,someday,北京,\n"
        + "C3,王芳,13700137000,wxid_qqq111,2023-05-02,广东,学生;学生\n",
        encoding="gb18030",
    )
    result = run(orders, customers)
    text = result.customers.to_csv() + result.quarantine.to_csv() + json.dumps(result.quality)
    for raw in ("张伟", "李娜", "王芳", "13800138000", "13900139000", "138-0013", "wxid_"):
        assert raw not in text
    table = result.customers.set_index("customer_id")
    assert table.loc["C1", "tags"] == "宝妈;白领"
    assert table.loc["C3", "tags"] == "学生"
    assert table.loc["C1", "phone"].startswith("pii_") and len(table.loc["C1", "phone"]) == 20
    assert reasons(result) == [(3, "unparsable_date")]
    quarantined = json.loads(result.quarantine["values"].iloc[0])
    assert quarantined["手机号"].startswith("pii_") and quarantined["姓名"].startswith("pii_")
    # One phone, one pseudonym, however it was written.
    again = write(
        tmp_path / "c2.csv", CUSTOMERS + "C9,张伟,13800138000,wxid_abc123,2023-05-01,上海,\n"
    )
    other = run(orders, again).customers.set_index("customer_id")
    assert other.loc["C9", "phone"] == table.loc["C1", "phone"]


def test_repeated_customer_id_keeps_the_latest_row(tmp_path: Path) -> None:
    orders = orders_csv(tmp_path, "SO1,C1,2024-01-05,茶,1,10,10\n")
    january = write(tmp_path / "c_2024-01.csv", "客户ID,省份\nC1,上海\nC2,北京\n")
    february = write(tmp_path / "c_2024-02.csv", "客户ID,省份\nC1,浙江\n")
    result = run(orders, january, february)
    assert result.customers is not None
    assert result.customers[["customer_id", "region"]].values.tolist() == [
        ["C1", "浙江"],
        ["C2", "北京"],
    ]
    assert reasons(result) == [(2, "repeated_customer_id")]
    # The superseded row's raw values, from the file it was in (its text was set aside
    # before the file's table was let go).
    assert result.quarantine["file"].tolist() == [str(january)]
    assert json.loads(result.quarantine["values"].iloc[0]) == {"客户ID": "C1", "省份": "上海"}
    assert_reconciles(result)


def test_quarantine_names_file_line_and_raw_values_of_each_file(tmp_path: Path) -> None:
    first = orders_csv(
        tmp_path,
        "SO1,C1,2024-01-05,茶,1,10,10\nSO2,C1,someday,茶,1,10,10\nSO3,C2,2024-01-06,茶,1,0,0\n",
        name="a.csv",
    )
    # The second file repeats a quarantined row (a duplicate, counted once) and adds its own.
    second = orders_csv(
        tmp_path,
        "SO2,C1,someday,茶,1,10,10\nSO4,C3,2024-01-07,茶,1,10,about ten\n",
        name="b.csv",
    )
    result = run(first, second)
    quarantine = result.quarantine
    assert list(zip(quarantine["file"], quarantine["row"], quarantine["reason"], strict=True)) == [
        (str(first), 3, "unparsable_date"),
        (str(first), 4, "nonpositive_unit_price"),
        (str(second), 3, "unparsable_amount"),
    ]
    assert [json.loads(v)["订单号"] for v in quarantine["values"]] == ["SO2", "SO3", "SO4"]
    assert json.loads(quarantine["values"].iloc[0])["下单时间"] == "someday"
    assert json.loads(quarantine["values"].iloc[2])["实付金额"] == "about ten"
    assert result.quality["tables"]["orders"]["rows_duplicate"] == 1
    assert_reconciles(result)


def test_interaction_kinds_are_mapped_and_unknown_kinds_kept(tmp_path: Path) -> None:
    orders = orders_csv(tmp_path, "SO1,C1,2024-01-05,茶,1,10,10\n")
    log = write(
        tmp_path / "log.csv",
        "客户ID,互动时间,互动类型\n"
        "C1,2024-01-01 09:00,私聊消息\nC1,2024-01-01 10:00,朋友圈点赞\n"
        "C1,2024-01-02 09:00,群聊发言\nC1,2024-01-03 09:00,领取优惠券\n"
        "C1,2024-01-04 09:00,浏览\nC1,2024-01-05 09:00,直播观看\n"
        ",2024-01-06 09:00,访问\nC1,2024-01-07 09:00,\n",
    )
    result = run(orders, log)
    assert result.interactions is not None
    assert result.interactions["kind"].tolist() == [
        "message",
        "like",
        "group_chat",
        "coupon",
        "visit",
        "直播观看",
    ]
    info = result.quality["tables"]["interactions"]
    assert info["kinds_unmapped"] == {"直播观看": 1}
    assert reasons(result) == [(8, "missing_customer_id"), (9, "missing_kind")]


def test_interaction_kinds_from_the_mapping(tmp_path: Path) -> None:
    orders = orders_csv(tmp_path, "SO1,C1,2024-01-05,茶,1,10,10\n")
    log = write(tmp_path / "log.csv", "客户ID,互动时间,互动类型\nC1,2024-01-05 09:00,直播观看\n")
    result = run(orders, log, mapping={"interaction_kinds": {"直播观看": "live"}})
    assert result.interactions is not None
    assert result.interactions["kind"].tolist() == ["live"]
    assert result.quality["tables"]["interactions"]["kinds_unmapped"] == {}


def test_utf16_tab_separated_excel_unicode_text(tmp_path: Path) -> None:
    text = "订单号\t客户ID\t下单时间\t实付金额\nSO1\tC1\t2024-01-05\t66\n"
    path = tmp_path / "unicode.txt"
    path.write_bytes(text.encode("utf-16"))  # with a BOM, as Excel writes it
    result = run(path)
    assert result.orders["amount"].tolist() == [66.0]
    assert result.quality["files"][0]["encoding"] == "utf-16"


def test_pii_on_an_orders_file_goes_to_customers_hashed(tmp_path: Path) -> None:
    path = write(
        tmp_path / "shop.csv",
        "订单号,客户ID,下单时间,实付金额,手机号,省份\n"
        "SO1,C1,2024-01-05,10,13800138000,上海\n"
        "SO2,C1,2024-02-05,10,13800138000,浙江\n"
        "SO3,C2,bad,10,13900139000,北京\n",
    )
    result = run(path)
    assert "phone" not in result.orders.columns
    assert result.customers is not None
    assert result.customers[["customer_id", "region"]].values.tolist() == [["C1", "浙江"]]
    assert result.customers["phone"].iloc[0] == pseudonymise(["13800138000"], key=KEY)[0]
    assert "13900139000" not in result.quarantine["values"].iloc[0]
    assert json.loads(result.quarantine["values"].iloc[0])["手机号"].startswith("pii_")
    assert result.quality["tables"]["customers"]["pii_pseudonymised"] == ["phone"]


def test_customers_file_gaps_filled_from_order_files(tmp_path: Path) -> None:
    orders = write(
        tmp_path / "orders.csv",
        "订单号,客户ID,下单时间,实付金额,省份\nSO1,C1,2024-01-05,10,上海\nSO2,C2,2024-01-05,10,北京\n",
    )
    customers = write(
        tmp_path / "customers.csv", "客户ID,省份,城市\nC1,,杭州\nC2,广东,广州\nC3,四川,成都\n"
    )
    result = run(orders, customers)
    assert result.customers is not None
    assert result.customers[["customer_id", "region", "city"]].values.tolist() == [
        ["C1", "上海", "杭州"],  # the empty 省份 filled from the order export
        ["C2", "广东", "广州"],  # the customers file wins where it has a value
        ["C3", "四川", "成都"],  # a contact who never ordered stays
    ]


def test_folder_is_read_recursively_and_in_order(tmp_path: Path) -> None:
    folder = tmp_path / "exports"
    (folder / "2024" / "02").mkdir(parents=True)
    (folder / "2024" / "01").mkdir(parents=True)
    orders_csv(folder / "2024" / "02", "SO2,C1,2024-02-01,茶,1,5,5\n")
    orders_csv(folder / "2024" / "01", "SO1,C1,2024-01-01,茶,1,5,5\n")
    write(folder / "README.txt", "generated\n")
    write(folder / ".hidden.csv", "junk\n")
    result = run(folder)
    assert [Path(f["path"]).parent.name for f in result.quality["files"]] == ["01", "02"]
    assert result.orders["order_id"].tolist() == ["SO1", "SO2"]


# --- the command line -------------------------------------------------------------------------


def test_cli_bad_file_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SEGMENTATION_PII_KEY", "cli-test")
    path = write(tmp_path / "no_amount.csv", "订单号,客户ID,下单时间\nSO1,C1,2024-01-05\n")
    status = main(["ingest", str(path), "--out", str(tmp_path / "out")])
    captured = capsys.readouterr()
    assert status == 2
    assert captured.err.count("\n") == 1
    assert captured.err.startswith("segmentation ingest: error: ")
    assert "no_amount.csv" in captured.err and "amount" in captured.err
    assert "Traceback" not in captured.err + captured.out
    assert not (tmp_path / "out").exists()


def test_every_error_is_a_segmentation_input_error() -> None:
    for error in (
        MissingColumnError,
        EmptyInputError,
        UnreadableFileError,
        NoUsableRowsError,
        MappingError,
        UnknownLayoutError,
        InvalidOptionError,
    ):
        assert issubclass(error, SegmentationInputError)
