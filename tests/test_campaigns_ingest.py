"""The campaign log, the fourth canonical table: read from CSV, XLSX and Parquet by its
Chinese or English headers, bad rows quarantined with a reason, every row accounted for."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from segmentation.ingest import IngestResult, ingest, write_ingest
from segmentation.schema import CAMPAIGNS

KEY = b"test-key"
ORDERS = (
    "订单号,客户ID,下单时间,实付金额\n"
    "SO1,C1,2024-01-05 10:00:00,100\n"
    "SO2,C2,2024-01-06 10:00:00,80\n"
    "SO3,C3,2024-02-01 09:00:00,50\n"
)
CUSTOMERS = "客户ID,手机号\nC4,13800138000\n"
LOG_HEADER = "客户ID,活动编号,触达时间,渠道,分组\n"
LOG_ROWS = [
    "C1,A1,2024-03-02 10:00:00,企微私聊,实验组",  # line 2: kept, treated
    "C2,A1,2024-03-02 11:00:00,企微私聊,对照组",  # line 3: kept, control
    "C9,A1,2024-03-02 12:00:00,企微私聊,实验组",  # line 4: unknown customer
    "C3,A1,2024-05-01 09:00:00,社群,实验组",  # line 5: after the as-of day
    "C4,A1,2024-03-03 09:00:00,社群,随机",  # line 6: a group neither treated nor control
    "C3,A1,不是日期,短信,对照组",  # line 7: unparsable date
    "C1,A1,2024-03-02 10:00:00,企微私聊,实验组",  # line 8: exact duplicate of line 2
    "C3,,2024-03-02 09:00:00,短信,实验组",  # line 9: no campaign id
    "C4,A2,2024-03-04 09:00:00,优惠券,对照组",  # line 10: kept (known from customers only)
]


def write_inputs(tmp_path: Path, log_text: str, *, log_name: str = "campaigns.csv") -> list[Path]:
    (tmp_path / "orders.csv").write_text(ORDERS, encoding="utf-8")
    (tmp_path / "customers.csv").write_text(CUSTOMERS, encoding="utf-8")
    (tmp_path / log_name).write_text(log_text, encoding="utf-8")
    return [tmp_path / "orders.csv", tmp_path / "customers.csv", tmp_path / log_name]


def run(paths: list[Path], **options: object) -> IngestResult:
    return ingest(paths, pii_key=KEY, **options)  # type: ignore[arg-type]


def test_campaign_log_bad_rows_are_quarantined_and_reconciled(tmp_path: Path) -> None:
    result = run(
        write_inputs(tmp_path, LOG_HEADER + "\n".join(LOG_ROWS) + "\n"), as_of="2024-03-31"
    )
    info = result.quality["tables"]["campaigns"]
    assert info["rows_in"] == 9
    assert info["rows_kept"] == 3
    assert info["rows_duplicate"] == 1
    assert info["rows_quarantined"] == {
        "unparsable_date": 1,
        "date_after_as_of": 1,
        "missing_campaign_id": 1,
        "unknown_group": 1,
        "unknown_customer": 1,
    }
    assert info["rows_in"] == (
        info["rows_kept"] + info["rows_duplicate"] + sum(info["rows_quarantined"].values())
    )
    assert info["groups"] == {"control": 2, "treated": 1}
    assert info["channels"] == {"coupon": 1, "wecom_private": 2}
    assert info["campaigns"] == 2
    quarantined = result.quarantine[result.quarantine["table"] == "campaigns"]
    assert list(zip(quarantined["row"], quarantined["reason"], strict=True)) == [
        (4, "unknown_customer"),
        (5, "date_after_as_of"),
        (6, "unknown_group"),
        (7, "unparsable_date"),
        (9, "missing_campaign_id"),
    ]
    assert json.loads(quarantined["values"].iloc[2])["分组"] == "随机"
    log = result.campaigns
    assert log is not None
    assert list(log.columns) == CAMPAIGNS.columns
    assert log["customer_id"].tolist() == ["C1", "C2", "C4"]
    assert log["group"].tolist() == ["treated", "control", "control"]
    assert log["contacted_at"].tolist() == [
        pd.Timestamp("2024-03-02 10:00:00"),
        pd.Timestamp("2024-03-02 11:00:00"),
        pd.Timestamp("2024-03-04 09:00:00"),
    ]


def test_without_as_of_a_late_contact_is_kept(tmp_path: Path) -> None:
    result = run(write_inputs(tmp_path, LOG_HEADER + "\n".join(LOG_ROWS) + "\n"))
    assert result.quality["tables"]["campaigns"]["rows_kept"] == 4
    assert "date_after_as_of" not in result.quality["tables"]["campaigns"]["rows_quarantined"]


def test_a_control_flag_column_and_english_headers(tmp_path: Path) -> None:
    text = (
        "customer_id,campaign_id,contacted_at,channel,对照组\n"
        "C1,A1,2024-03-02,SMS,否\n"
        "C2,A1,2024-03-02,朋友圈,是\n"
        "C3,A1,2024-03-02,直播,也许\n"
    )
    result = run(write_inputs(tmp_path, text))
    log = result.campaigns
    assert log is not None
    assert log["group"].tolist() == ["treated", "control"]
    # A channel not in the list is kept as written.
    assert log["channel"].tolist() == ["sms", "moments"]
    assert result.quality["tables"]["campaigns"]["rows_quarantined"] == {"unknown_group": 1}


@pytest.mark.parametrize("suffix", [".xlsx", ".parquet"])
def test_campaign_log_from_xlsx_and_parquet(tmp_path: Path, suffix: str) -> None:
    frame = pd.DataFrame(
        {
            "客户ID": ["C1", "C2", "C9"],
            "活动编号": ["A1", "A1", "A1"],
            "触达时间": ["2024-03-02 10:00:00", "2024-03-02 11:00:00", "2024-03-02 12:00:00"],
            "渠道": ["企微私聊", "企微私聊", "社群"],
            "分组": ["实验组", "对照组", "实验组"],
        }
    )
    paths = write_inputs(tmp_path, "")
    path = tmp_path / f"log{suffix}"
    if suffix == ".xlsx":
        frame.to_excel(path, index=False)
    else:
        frame.to_parquet(path, index=False)
    result = run([*paths[:2], path])
    assert result.campaigns is not None
    assert result.campaigns["group"].tolist() == ["treated", "control"]
    assert result.quality["tables"]["campaigns"]["rows_quarantined"] == {"unknown_customer": 1}


def test_written_campaign_log_holds_no_personal_data(tmp_path: Path) -> None:
    result = run(write_inputs(tmp_path, LOG_HEADER + "\n".join(LOG_ROWS) + "\n"))
    written = write_ingest(result, tmp_path / "out")
    assert pd.read_parquet(written["campaigns"]).shape == (4, 5)
    text = (tmp_path / "out" / "quarantine.csv").read_text(encoding="utf-8-sig")
    assert "13800138000" not in text
