"""The CRM export: columns, labels, ids, CSV text and escaping, XLSX text cells, the WeCom tag
file, the notice, and the command line on the demo."""

from __future__ import annotations

import contextlib
import csv
import io
import sqlite3
import zipfile
from dataclasses import replace
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import openpyxl
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from segmentation.cli import main
from segmentation.config import load_config
from segmentation.errors import InvalidOptionError, SegmentationInputError
from segmentation.export import (
    EXPORT_FILES,
    EXPORT_README_FILE,
    SEGMENTS_FILE,
    SEGMENTS_XLSX_FILE,
    WECOM_TAGS_FILE,
    crm_table,
    escape_formulas,
    segments_table,
    wecom_tags_table,
    write_crm_export,
    write_segments_csv,
)
from segmentation.export._xlsx import write_xlsx
from segmentation.privacy import personal_id_counts, pseudonymise_customer_ids
from segmentation.schemes.base import Segmentation
from segmentation.schemes.rules import lifecycle, member_grade, value_tier

CONFIG = load_config()


def _never_bought(scheme: str, lang: str = "zh") -> str:
    """The never-bought segment's name as the config gives it."""
    return str(CONFIG[scheme]["segments"]["potential"][lang])


def _snapshot(ids: list[str]) -> pd.DataFrame:
    # Spend 6000, 3000, 800, 150, 50 and one who never bought.
    spend = [6000.0, 3000.0, 800.0, 150.0, 50.0, 0.0]
    orders = [8, 5, 2, 1, 1, 0]
    frame = pd.DataFrame(
        {
            "n_orders": orders,
            "frequency": [max(n - 1, 0) for n in orders],
            "recency": [200.0, 100.0, 30.0, 0.0, 0.0, np.nan],
            "T": [210.0, 110.0, 60.0, 10.0, 400.0, np.nan],
            "recency_days": [10.0, 10.0, 30.0, 10.0, 400.0, np.nan],
            "monetary_total": spend,
            "tenure_days": [210.0, 110.0, 60.0, 10.0, 400.0, 5.0],
            "is_potential": [n == 0 for n in orders],
        },
        index=pd.Index(ids, dtype="string", name="customer_id"),
    )
    return frame


IDS = ["=cmd|' /C calc'!A0", "+4412345", "-7", "@SUM(A1)", "c5", "c6"]
PLAIN_IDS = [f"c{k}" for k in range(1, 7)]


def _segmentations(snapshot: pd.DataFrame, config: dict | None = None) -> list[Segmentation]:
    config = config or CONFIG
    return [scheme(snapshot, config=config) for scheme in (value_tier, member_grade, lifecycle)]


def test_segments_table_columns_labels_and_actions() -> None:
    table = segments_table(_segmentations(_snapshot(PLAIN_IDS)), config=CONFIG, lang="zh")
    assert table.columns.tolist() == [
        "客户ID",
        "推荐分层",
        "推荐动作",
        "客户价值分层",
        "客户价值分层·推荐动作",
        "会员等级",
        "会员等级·推荐动作",
        "客户生命周期",
        "客户生命周期·推荐动作",
    ]
    assert table["客户ID"].tolist() == PLAIN_IDS
    # Revenue 10,000: c1 has 60% above nobody, c2 starts at 60% (high), c3 at 90% (mid),
    # c4 at 98% and c5 at 99.5% (low); c6 never bought.
    assert table["客户价值分层"].tolist() == [
        "价值分层:高价值",
        "价值分层:高价值",
        "价值分层:中价值",
        "价值分层:低价值",
        "价值分层:低价值",
        f"价值分层:{_never_bought('value_tier')}",
    ]
    # Gold from 3,000 (inclusive), silver from 1,000.
    assert table["会员等级"].tolist() == [*["会员等级:黄金会员"] * 2, *["会员等级:普通会员"] * 4]
    # No comparison: export.fallback_scheme (value tiers) fills the recommended columns.
    assert table["推荐分层"].tolist() == table["客户价值分层"].tolist()
    assert table["推荐动作"].tolist() == [
        "专属服务/个性化推荐",
        "专属服务/个性化推荐",
        "定期关怀与优惠活动，促其升级为高价值",
        "促销激活、了解需求",
        "促销激活、了解需求",
        "首单转化：新客券、种草内容",
    ]
    assert table["会员等级·推荐动作"].tolist()[:3] == [
        "会员折扣、积分加速",
        "会员折扣、积分加速",
        "新人礼包、讲清升级权益",
    ]


def test_the_recommended_scheme_fills_the_recommended_columns_in_english() -> None:
    table = segments_table(
        _segmentations(_snapshot(PLAIN_IDS)), config=CONFIG, lang="en", recommended="lifecycle"
    )
    assert table.columns.tolist()[:5] == [
        "Customer ID",
        "Recommended segment",
        "Recommended action",
        "Value tiers",
        "Value tiers: action",
    ]
    # c5: one purchase 400 days ago is beyond the 365-day churn limit; c6 never bought.
    assert table["Recommended segment"].tolist()[4:] == [
        "Lifecycle: Churned",
        f"Lifecycle: {_never_bought('lifecycle', 'en')}",
    ]
    assert table["Recommended action"].tolist() == table["Customer lifecycle: action"].tolist()
    assert table["Recommended action"].iloc[4].startswith("Win back with coupons")
    # A recommended scheme that was not computed falls back to export.fallback_scheme.
    fallback = crm_table(
        _segmentations(_snapshot(PLAIN_IDS)), config=CONFIG, recommended="clusters"
    )
    assert fallback.recommended == "value_tier"


def test_no_scheme_for_the_recommended_columns_is_a_user_error() -> None:
    segmentations = _segmentations(_snapshot(PLAIN_IDS))[1:]
    with pytest.raises(SegmentationInputError, match=r"export\.fallback_scheme"):
        segments_table(segmentations, config=CONFIG, recommended="clv_tier")


def test_labels_are_unique_across_schemes() -> None:
    # Value tiers and CLV tiers both call a segment 高价值; the prefixes keep them apart.
    table = crm_table(_segmentations(_snapshot(PLAIN_IDS)), config=CONFIG)
    labels = [set(column.values.dropna()) for _, column in table.tag_groups]
    # Value tiers and lifecycle each have a fully refunded segment (全额退款), also prefixed.
    assert sum(len(names) for names in labels) == len(set().union(*labels)) == 5 + 4 + 7
    # Two schemes given one prefix would give 潜在（未购买） twice: refused, naming both.
    clash = load_config(
        {
            "export": {"tag_prefix": {"lifecycle": {"zh": "价值分层"}}},
            "lifecycle": {"segments": {"potential": {"zh": _never_bought("value_tier")}}},
        }
    )
    with pytest.raises(SegmentationInputError, match="value_tier's segment 'potential' and"):
        crm_table(_segmentations(_snapshot(PLAIN_IDS), clash), config=clash)


def test_csv_has_a_bom_and_escapes_formulas(tmp_path: Path) -> None:
    config = load_config({"export": {"tag_prefix": {"value_tier": {"zh": "=V"}}}})
    path = write_segments_csv(_segmentations(_snapshot(IDS), config), tmp_path / "o", config=config)
    raw = path.read_bytes()
    assert path.name == SEGMENTS_FILE
    assert raw.startswith(b"\xef\xbb\xbf")
    back = pd.read_csv(io.StringIO(raw.decode("utf-8-sig")), dtype=str)
    assert sorted(back["客户ID"]) == sorted(
        ["'=cmd|' /C calc'!A0", "'+4412345", "'-7", "'@SUM(A1)", "c5", "c6"]
    )
    assert set(back["客户价值分层"]) == {
        "'=V:高价值",
        "'=V:中价值",
        "'=V:低价值",
        f"'=V:{_never_bought('value_tier')}",
    }
    assert not back.map(lambda v: str(v)[:1] in "=+-@").to_numpy().any()


def test_csv_text_is_exact(tmp_path: Path) -> None:
    ids = ["c6", "=cmd|' /C calc'!A0", 'c,"5"', "-7", "c2", "@SUM(A1)"]
    config = load_config(
        {
            "value_tier": {
                "segments": {"high": {"zh": "=HYPERLINK(1)"}, "mid": {"zh": '中,"价值"'}}
            },
            "playbook": {"value_tier": {"low": {"zh": "-降级\n再试"}}},
            "export": {"tag_prefix": {"member_grade": {"zh": "=M"}}},
        }
    )
    schemes = _segmentations(_snapshot(ids), config)[:2]
    path = write_segments_csv(schemes, tmp_path, config=config)
    # Rows sorted by the id as given ("-" < "=" < "@" < "c,") and escaped afterwards; by
    # spend the ids are 6000 (high, gold), 3000 (high, gold), 800 (mid), 150 (low),
    # 50 (low) and a contact who never bought. "价值分层:=HYPERLINK(1)" no longer starts
    # like a formula; "=M:..." does and is escaped. Cells holding a comma, quote or line
    # break are quoted with doubled quotes; LF line ends, BOM first.
    never = f"价值分层:{_never_bought('value_tier')}"
    low = '价值分层:低价值,"\'-降级\n再试"'
    high = "价值分层:=HYPERLINK(1),专属服务/个性化推荐"
    regular, gold = "'=M:普通会员,新人礼包、讲清升级权益", "'=M:黄金会员,会员折扣、积分加速"
    expected = (
        "\ufeff客户ID,推荐分层,推荐动作,客户价值分层,客户价值分层·推荐动作,会员等级,"
        "会员等级·推荐动作\n"
        f"'-7,{low},{low},{regular}\n"
        f"'=cmd|' /C calc'!A0,{high},{high},{gold}\n"
        f"'@SUM(A1),{never},首单转化：新客券、种草内容,{never},首单转化：新客券、种草内容,{regular}\n"
        '"c,""5""","价值分层:中,""价值""",定期关怀与优惠活动，促其升级为高价值,'
        f'"价值分层:中,""价值""",定期关怀与优惠活动，促其升级为高价值,{regular}\n'
        f"c2,{low},{low},{regular}\n"
        f"c6,{high},{high},{gold}\n"
    )
    assert path.read_text(encoding="utf-8") == expected


def _pandas_csv(frame: pd.DataFrame, path: Path) -> bytes:
    """The file as pandas writes the escaped table: what the fast writer must reproduce."""
    escape_formulas(frame).to_csv(path, index=False, encoding="utf-8-sig", lineterminator="\n")
    return path.read_bytes()


_AWKWARD_TEXT = st.text(
    alphabet=st.sampled_from(list("ab中,\"'=+-@ \t\r\n\x00;|")), min_size=0, max_size=6
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    names=st.lists(_AWKWARD_TEXT.filter(bool), min_size=4, max_size=4, unique=True),
    actions=st.lists(_AWKWARD_TEXT, min_size=4, max_size=4),
    ids=st.lists(st.none() | _AWKWARD_TEXT, min_size=6, max_size=6),
    id_dtype=st.sampled_from(["string", "str", object]),
    lang=st.sampled_from(["zh", "en"]),
    prefix=_AWKWARD_TEXT,
)
def test_csv_files_equal_pandas_to_csv(
    tmp_path: Path,
    names: list[str],
    actions: list[str],
    ids: list[str | None],
    id_dtype: object,
    lang: str,
    prefix: str,
) -> None:
    keys = ["potential", "low", "mid", "high"]
    config = load_config(
        {
            "value_tier": {"segments": {k: {lang: n} for k, n in zip(keys, names, strict=True)}},
            "playbook": {"value_tier": {k: {lang: a} for k, a in zip(keys, actions, strict=True)}},
            "export": {"tag_prefix": {"value_tier": {lang: prefix}}},
        }
    )
    segmentations = _segmentations(_snapshot(PLAIN_IDS), config)
    # Reversed, so the member grades and lifecycle are reindexed to the recommended ids.
    segmentations[1] = replace(segmentations[1], labels=segmentations[1].labels.iloc[::-1])

    def given_ids(index: pd.Series) -> pd.Series:
        return pd.Series(ids, index=index.index, dtype=id_dtype)  # type: ignore[call-overload]

    options = {"config": config, "lang": lang, "id_transform": given_ids}
    written = write_segments_csv(segmentations, tmp_path / "fast", **options)
    pandas_bytes = _pandas_csv(segments_table(segmentations, **options), tmp_path / "pd.csv")
    assert written.read_bytes() == pandas_bytes
    # The tag file too, through write_crm_export (ids as given: none looks personal here).
    table = crm_table(segmentations, config=config, lang=lang, id_transform=given_ids)
    assert table.n_tags() == 18
    long = wecom_tags_table(segmentations, **options)
    assert len(long) == 18


def test_the_tag_file_is_one_row_per_customer_and_scheme(tmp_path: Path) -> None:
    # "+4412345" would look like a phone number (and make every id a pseudonym).
    ids = ["=cmd|' /C calc'!A0", "+x1", "-7", "@SUM(A1)", "c5", "c6"]
    segmentations = _segmentations(_snapshot(ids))
    # Member grades known for four customers only: the other two get no member-grade row.
    segmentations[1] = replace(segmentations[1], labels=segmentations[1].labels.iloc[:1:-1])
    export = write_crm_export(
        segmentations, tmp_path, config=CONFIG, ids="original", project_dir=tmp_path
    )
    assert export.rows[WECOM_TAGS_FILE] == 6 * 3 - 2 == 16
    raw = (tmp_path / WECOM_TAGS_FILE).read_bytes()
    expected = _pandas_csv(
        wecom_tags_table(segmentations, config=CONFIG), tmp_path / "pandas_tags.csv"
    )
    assert raw == expected
    back = pd.read_csv(io.StringIO(raw.decode("utf-8-sig")), dtype=str)
    assert back.columns.tolist() == ["客户ID", "标签组", "标签"]
    assert back["标签组"].value_counts().to_dict() == {
        "客户价值分层": 6,
        "客户生命周期": 6,
        "会员等级": 4,
    }
    # Sorted by id, schemes in column order; ids escaped as in segments.csv.
    assert back.iloc[:5].to_numpy().tolist() == [
        ["'+x1", "客户价值分层", "价值分层:高价值"],
        ["'+x1", "客户生命周期", "生命周期:忠诚客户"],
        ["'-7", "客户价值分层", "价值分层:中价值"],
        ["'-7", "会员等级", "会员等级:普通会员"],
        ["'-7", "客户生命周期", "生命周期:活跃客户"],
    ]
    lines = (tmp_path / SEGMENTS_FILE).read_text(encoding="utf-8-sig").splitlines()
    # The two customers without a member grade: empty cells in segments.csv.
    high = "价值分层:高价值,专属服务/个性化推荐"
    assert lines[1] == f"'+x1,{high},{high},,,生命周期:忠诚客户,高端产品与个性化服务、会员权益"
    assert [line.count(",,,") for line in lines[1:]] == [1, 0, 1, 0, 0, 0]


def test_csv_of_no_customers_is_the_header(tmp_path: Path) -> None:
    segmentations = _segmentations(_snapshot(PLAIN_IDS))
    empty = [replace(s, labels=s.labels.iloc[:0]) for s in segmentations]
    export = write_crm_export(empty, tmp_path, config=CONFIG, lang="en", project_dir=tmp_path)
    assert export.rows == {
        SEGMENTS_FILE: 0,
        WECOM_TAGS_FILE: 0,
        SEGMENTS_XLSX_FILE: 0,
        EXPORT_README_FILE: export.rows[EXPORT_README_FILE],
    }
    assert (tmp_path / WECOM_TAGS_FILE).read_bytes() == (
        "\ufeffCustomer ID,Tag group,Tag\n".encode()
    )
    header = (tmp_path / SEGMENTS_FILE).read_text(encoding="utf-8-sig")
    assert header.count("\n") == 1 and header.startswith("Customer ID,Recommended segment,")
    book = openpyxl.load_workbook(tmp_path / SEGMENTS_XLSX_FILE)
    assert book.active.max_row == 1 and book.active["A1"].value == "Customer ID"


def test_escape_formulas_leaves_safe_text_and_numbers() -> None:
    frame = pd.DataFrame({"a": ["ok", "=1+1", None, "\tx"], "n": [-1, 2, 3, 4]})
    escaped = escape_formulas(frame)
    assert escaped["a"].tolist()[:2] == ["ok", "'=1+1"]
    assert pd.isna(escaped["a"].iloc[2])
    assert escaped["a"].iloc[3] == "'\tx"
    assert escaped["n"].tolist() == [-1, 2, 3, 4]


def test_escape_formulas_escapes_categorical_cells_through_their_categories() -> None:
    # grade_history.csv keeps its month columns categorical (3 million rows at 1M customers)
    names = pd.Categorical(
        ["=HYPERLINK(x)", "gold", None, "gold"], categories=["gold", "=HYPERLINK(x)"]
    )
    escaped = escape_formulas(pd.DataFrame({"grade": names}))["grade"]
    assert isinstance(escaped.dtype, pd.CategoricalDtype)
    assert escaped.astype(object).tolist()[:2] == ["'=HYPERLINK(x)", "gold"]
    assert pd.isna(escaped.iloc[2]) and escaped.iloc[3] == "gold"


cell_text = st.one_of(
    st.none(),
    st.sampled_from(["gold", "钻石会员", "=SUM(A1)", "+1", "-", "@x", "\tx", "a,b", 'say "hi"']),
    st.text(alphabet='ab,"\n\r=+-@ 会', max_size=6),
)


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(st.tuples(cell_text, cell_text, cell_text), max_size=40),
    st.booleans(),
    st.booleans(),
)
def test_frame_csv_writes_pandas_to_csv_bytes(
    tmp_path: Path,
    rows: list[tuple[str | None, ...]],
    categorical_last: bool,
    categorical_ids: bool,
) -> None:
    # grade_history.csv and grade_moves.csv: text and categorical columns (grade_history's
    # ids are one), written from the categories, byte for byte what pandas' to_csv writes
    # of the escaped frame.
    from segmentation.export._csv import write_frame_csv

    ids, middle, last = (
        (list(column) for column in zip(*rows, strict=True)) if rows else ([], [], [])
    )
    frame = pd.DataFrame(
        {
            "编号": pd.Categorical(ids) if categorical_ids else pd.array(ids, dtype="string"),
            "a,b": pd.Categorical(middle),
            "last": pd.Categorical(last) if categorical_last else pd.array(last, dtype=object),
        }
    )
    expected, got = tmp_path / "pandas.csv", tmp_path / "kit.csv"
    escape_formulas(frame).to_csv(expected, index=False, encoding="utf-8-sig", lineterminator="\n")
    assert write_frame_csv(frame, got) == len(frame)
    assert got.read_bytes() == expected.read_bytes()


def test_xlsx_keeps_ids_as_text(tmp_path: Path) -> None:
    # Leading zeros, an 18-digit member number (not an identity card: no valid birth date),
    # and names Excel or XML would misread.
    ids = ["00123", "100000000000012345", "=1+1", "a<b&c>", "_x0041_", "c\x01"]
    config = load_config({"value_tier": {"segments": {"high": {"zh": "=HYPERLINK(1)"}}}})
    export = write_crm_export(
        _segmentations(_snapshot(ids), config), tmp_path, config=config, project_dir=tmp_path
    )
    assert export.ids.written == "original" and export.xlsx_sheets == 1
    sheet = openpyxl.load_workbook(tmp_path / SEGMENTS_XLSX_FILE).active
    assert sheet.title == "客户分层" and sheet.freeze_panes == "A2"
    cells = {sheet.cell(row, 1).value: sheet.cell(row, 1) for row in range(2, 8)}
    # Excel reads _xHHHH_ as an escaped character, so a literal one is escaped itself
    # (_x005F_ is "_"); openpyxl shows the stored text. XML cannot hold \x01: U+FFFD.
    assert sorted(cells) == sorted(["00123", "100000000000012345", "=1+1", "a<b&c>",
                                    "_x005F_x0041_", "c\ufffd"])  # fmt: skip
    assert all(cell.data_type == "s" and cell.number_format == "@" for cell in cells.values())
    assert sheet.column_dimensions["A"].width >= 18
    # The label written as is: a string cell, never a formula.
    high = [sheet.cell(row, 2) for row in range(2, 8) if sheet.cell(row, 2).value.endswith(")")]
    assert [(c.value, c.data_type) for c in high] == [("价值分层:=HYPERLINK(1)", "s")] * 2
    # Every other cell equals segments.csv's, unescaped.
    book = pd.read_excel(tmp_path / SEGMENTS_XLSX_FILE, dtype=str)
    table = segments_table(_segmentations(_snapshot(ids), config), config=config)
    table["客户ID"] = table["客户ID"].replace({"c\x01": "c\ufffd", "_x0041_": "_x005F_x0041_"})
    pd.testing.assert_frame_equal(book, table.astype(object), check_dtype=False)


def test_xlsx_continues_on_a_second_sheet_beyond_the_row_limit(tmp_path: Path) -> None:
    table = crm_table(_segmentations(_snapshot(PLAIN_IDS)), config=CONFIG)
    order = table.row_order()
    path = tmp_path / "split.xlsx"
    sheets = write_xlsx(
        path,
        id_header=table.id_header,
        ids=table.ids,
        columns=table.columns,
        order=order,
        sheet="客户分层",
        max_rows=5,  # the header and four customers a sheet
    )
    assert sheets == 2
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["客户分层", "客户分层 2"]
    ids = [row[0] for ws in book for row in ws.iter_rows(min_row=2, values_only=True)]
    assert ids == PLAIN_IDS
    assert [ws.max_row for ws in book] == [5, 3]
    assert book["客户分层 2"]["A1"].value == "客户ID"


def test_pseudonymous_ids_when_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEGMENTATION_PII_KEY", "test-key")
    snapshot = _snapshot(PLAIN_IDS)
    export = write_crm_export(
        _segmentations(snapshot), tmp_path, config=CONFIG, ids="pseudonymous", lang="en"
    )
    assert export.ids.to_dict() == {
        "asked": "pseudonymous",
        "written": "pseudonymous",
        "personal_ids": {},
    }
    back = pd.read_csv(tmp_path / SEGMENTS_FILE, dtype=str, encoding="utf-8-sig")
    expected = pseudonymise_customer_ids(pd.Series(snapshot.index), key=b"test-key")
    assert sorted(back["Customer ID"]) == sorted(expected)
    notice = (tmp_path / EXPORT_README_FILE).read_text(encoding="utf-8")
    assert "As asked (--ids pseudonymous" in notice
    assert "The key comes from SEGMENTATION_PII_KEY" in notice
    for name in EXPORT_FILES:
        assert not any(f"c{k}," in (tmp_path / name).read_text(errors="ignore") for k in range(7))
    with pytest.raises(InvalidOptionError, match=r"--ids / export\.ids: found 'raw'"):
        write_crm_export(_segmentations(snapshot), tmp_path, config=CONFIG, ids="raw")


def test_phone_numbers_as_ids_are_written_as_pseudonyms(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SEGMENTATION_PII_KEY", raising=False)
    phones = ["13800138000", "139-0013-9000", "+86 150 0015 0000", "15800158000", "M1", "M2"]
    export = write_crm_export(
        _segmentations(_snapshot(phones)), tmp_path / "out", config=CONFIG, project_dir=tmp_path
    )
    assert export.ids.to_dict() == {
        "asked": "original",
        "written": "pseudonymous",
        "personal_ids": {"phone": 4},
    }
    key = (tmp_path / ".segmentation-pii-key").read_bytes().strip()
    expected = pseudonymise_customer_ids(pd.Series(phones), key=key)
    back = pd.read_csv(tmp_path / "out" / SEGMENTS_FILE, dtype=str, encoding="utf-8-sig")
    assert sorted(back["客户ID"]) == sorted(expected)
    digits = [p.replace("-", "").replace(" ", "")[-11:] for p in phones[:4]]
    for name in EXPORT_FILES:
        text = (tmp_path / "out" / name).read_bytes().decode("utf-8", errors="ignore")
        assert not [d for d in digits if d in text.replace("-", "").replace(" ", "")], name
    book = openpyxl.load_workbook(tmp_path / "out" / SEGMENTS_XLSX_FILE).active
    assert sorted(book.cell(r, 1).value for r in range(2, 8)) == sorted(expected)
    notice = (tmp_path / "out" / EXPORT_README_FILE).read_text(encoding="utf-8")
    assert "看起来含有个人信息（4 手机号）" in notice
    assert f"密钥来自 {tmp_path / '.segmentation-pii-key'}" in notice
    # Removing the phone check (member numbers that happen to look like phones) keeps them.
    trusting = load_config({"export": {"personal_id_checks": ["wechat_id"]}})
    kept = write_crm_export(_segmentations(_snapshot(phones)), tmp_path / "kept", config=trusting)
    assert kept.ids.written == "original"


def test_personal_id_counts_by_kind() -> None:
    ids = pd.Series(
        [
            "13800138000",
            "+86 138-0013-8000",
            "008613800138000",
            "12800138000",  # no mainland mobile starts 12
            "+44 20 7946 0958",
            "wxid_k2x9aa01",
            "WXID_abcd",
            "a.b@shop.cn",
            "11010519491231002X",  # a valid identity card number
            "110105194912310021",  # wrong check digit
            "110105194913310028",  # month 13
            "C609623",
            "00123",
            "100000000000012345",
            None,
            "13800138000",  # counted once
        ],
        dtype="string",
    )
    assert personal_id_counts(ids) == {"phone": 4, "wechat_id": 2, "email": 1, "resident_id": 1}
    assert personal_id_counts(ids, kinds=["email"]) == {"email": 1}
    with pytest.raises(InvalidOptionError, match=r"export\.personal_id_checks: found \['fax'\]"):
        personal_id_counts(ids, kinds=["fax"])


@pytest.fixture(scope="module")
def demo_export(tmp_path_factory: pytest.TempPathFactory, demo_dir: Path) -> Path:
    """`segmentation segment` on the demo export with the defaults."""
    out = tmp_path_factory.mktemp("crm")
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setenv("SEGMENTATION_PII_KEY", "cli-test-key")  # ingest hashes the phones
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):
            status = main(["segment", str(demo_dir), "--as-of", "2026-10-31", "--out", str(out)])
    finally:
        monkeypatch.undo()
    assert status == 0
    _SEGMENT_OUTPUT["demo"] = printed.getvalue()
    return out


# What `segmentation segment` printed, by export.
_SEGMENT_OUTPUT: dict[str, str] = {}


DEMO_SCHEMES = [
    "RFM 命名分群",
    "RFM 八类客户",
    "客户价值分层",
    "会员等级",
    "购买频次分层",
    "互动分层",
    "客户生命周期",
    "需求分类",
    "CLV价值分层",
    "流失风险分层",
    "聚类分群",
]


def test_demo_segments_carry_the_shops_own_ids(demo_export: Path, demo_dir: Path) -> None:
    table = pd.read_csv(demo_export / SEGMENTS_FILE, dtype=str, encoding="utf-8-sig")
    assert table.columns.tolist() == [
        "客户ID",
        "推荐分层",
        "推荐动作",
        *(name for title in DEMO_SCHEMES for name in (title, f"{title}·推荐动作")),
    ]
    assert len(table) == 5_000
    assert table["客户ID"].str.fullmatch(r"C\d{6}").all()
    contacts = pd.read_csv(demo_dir / "customers.csv", dtype=str, encoding="gb18030")
    assert set(table["客户ID"]) == set(contacts["客户ID"])
    # 889 of the 5,000 contacts never bought and 37 refunded every purchase (as
    # tests/test_states.py counts them): no first-order coupon for those 37.
    never = f"价值分层:{_never_bought('value_tier')}"
    assert (table["客户价值分层"] == never).sum() == 889
    assert (table["客户价值分层"] == "价值分层:全额退款").sum() == 37
    assert (table["客户生命周期"] == "生命周期:全额退款").sum() == 37
    assert (table["推荐分层"] == table["客户价值分层"]).all()
    assert (table["推荐动作"] == "首单转化：新客券、种草内容").sum() == 889
    refund_action = str(CONFIG["playbook"]["customer_states"]["fully_refunded"]["zh"])
    assert (table["推荐动作"] == refund_action).sum() == 37
    assert refund_action.startswith("了解退款原因")
    # The command line prints the same counts.
    assert "购买客户 4,074 · 潜在客户（从未购买） 889 · 全额退款 37" in _SEGMENT_OUTPUT["demo"]
    # Each scheme's labels are its own: no label appears in two scheme columns.
    labels = [set(table[title].dropna()) for title in DEMO_SCHEMES]
    assert sum(map(len, labels)) == len(set().union(*labels))
    assert not table.isna().any().any()


def test_demo_segments_import_into_sqlite_without_loss(demo_export: Path) -> None:
    with (demo_export / SEGMENTS_FILE).open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    header, body = rows[0], rows[1:]
    columns = ", ".join(f'"{name}" TEXT' for name in header[1:])
    with sqlite3.connect(":memory:") as db:
        db.execute(f'CREATE TABLE segments ("{header[0]}" TEXT PRIMARY KEY, {columns})')
        marks = ", ".join("?" * len(header))
        db.executemany(f"INSERT INTO segments VALUES ({marks})", body)  # a duplicate id fails
        assert db.execute("SELECT COUNT(*) FROM segments").fetchone() == (5_000,)
        stored = [r[0] for r in db.execute(f'SELECT "{header[0]}" FROM segments ORDER BY 1')]
        counts = dict(db.execute('SELECT "推荐分层", COUNT(*) FROM segments GROUP BY 1'))
    assert counts == {
        "价值分层:高价值": 1_491,
        "价值分层:中价值": 1_332,
        "价值分层:低价值": 1_251,
        f"价值分层:{_never_bought('value_tier')}": 889,
        "价值分层:全额退款": 37,
    }
    assert stored == sorted(row[0] for row in body)
    assert len(set(stored)) == 5_000
    frame = pd.read_csv(demo_export / SEGMENTS_FILE, dtype=str, encoding="utf-8-sig")
    assert stored == frame["客户ID"].sort_values().tolist()


def test_demo_xlsx_and_tag_file(demo_export: Path) -> None:
    table = pd.read_csv(demo_export / SEGMENTS_FILE, dtype=str, encoding="utf-8-sig")
    book = pd.read_excel(demo_export / SEGMENTS_XLSX_FILE, dtype=str)
    pd.testing.assert_frame_equal(book, table)
    sheet = openpyxl.load_workbook(demo_export / SEGMENTS_XLSX_FILE, read_only=True).active
    first = next(sheet.iter_rows(min_row=2, max_row=2))
    assert (first[0].value, first[0].data_type, first[0].number_format) == ("C100170", "s", "@")
    # Every part is well-formed XML; the sheet's dimension is 25 columns by 5,001 rows.
    with zipfile.ZipFile(demo_export / SEGMENTS_XLSX_FILE) as package:
        parts = {name: ElementTree.fromstring(package.read(name)) for name in package.namelist()}
    assert sorted(parts) == [
        "[Content_Types].xml",
        "_rels/.rels",
        "xl/_rels/workbook.xml.rels",
        "xl/sharedStrings.xml",
        "xl/styles.xml",
        "xl/workbook.xml",
        "xl/worksheets/sheet1.xml",
    ]
    main = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
    dimension = parts["xl/worksheets/sheet1.xml"].find(f"{main}dimension")
    assert dimension is not None and dimension.get("ref") == "A1:Y5001"
    tags = pd.read_csv(demo_export / WECOM_TAGS_FILE, dtype=str, encoding="utf-8-sig")
    # Every scheme labels every customer: 5,000 customers x 11 schemes.
    assert tags.shape == (55_000, 3)
    assert tags.columns.tolist() == ["客户ID", "标签组", "标签"]
    assert tags["标签组"].drop_duplicates().tolist() == DEMO_SCHEMES
    assert (tags.groupby("客户ID").size() == 11).all()
    wide = table.melt(
        id_vars="客户ID", value_vars=DEMO_SCHEMES, var_name="标签组", value_name="标签"
    )
    assert set(map(tuple, wide.to_numpy())) == set(map(tuple, tags.to_numpy()))
    notice = (demo_export / EXPORT_README_FILE).read_text(encoding="utf-8")
    assert "segments.csv（5,000 行）" in notice and "wecom_tags.csv（55,000 行）" in notice
    assert "店铺自己的客户编号" in notice and "export.fallback_scheme" in notice


def test_cli_segment_pseudonymous_ids_in_english(
    demo_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SEGMENTATION_PII_KEY", "cli-test-key")
    status = main(
        ["segment", str(demo_dir), "--out", str(tmp_path), "--lang", "en", "--ids", "pseudonymous"]
    )
    assert status == 0
    table = pd.read_csv(tmp_path / SEGMENTS_FILE, dtype=str, encoding="utf-8-sig")
    assert table["Customer ID"].str.fullmatch(r"cust_[0-9a-f]{16}").all()
    assert table["Customer ID"].is_unique
    never = _never_bought("value_tier", "en")
    assert set(table["Value tiers"]) == {
        f"Value tier: {name}"
        for name in ("Low value", "Mid value", "High value", never, "Fully refunded")
    }
    notice = (tmp_path / EXPORT_README_FILE).read_text(encoding="utf-8")
    assert "keyed pseudonym" in notice and "pseudonymise_customer_ids" in notice


def test_cli_segment_bad_date_is_one_line(
    demo_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["segment", str(demo_dir), "--as-of", "yesterday-ish", "--out", str(tmp_path)])
    assert status == 2
    err = capsys.readouterr().err
    assert "--as-of" in err and "YYYY-MM-DD" in err and "Traceback" not in err
