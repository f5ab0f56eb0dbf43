"""segments.csv: columns, encoding, formula escaping, pseudonymous ids, and the CLI."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from segmentation.cli import main
from segmentation.config import load_config
from segmentation.errors import SegmentationInputError
from segmentation.export import (
    ACTION_HEADER,
    SEGMENTS_FILE,
    escape_formulas,
    segments_table,
    write_segments_csv,
)
from segmentation.privacy import pseudonymise_customer_ids
from segmentation.schemes.base import Segmentation
from segmentation.schemes.rules import lifecycle, member_grade, value_tier

CONFIG = load_config()


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


def _segmentations(snapshot: pd.DataFrame, config: dict | None = None) -> list[Segmentation]:
    config = config or CONFIG
    return [scheme(snapshot, config=config) for scheme in (value_tier, member_grade, lifecycle)]


def test_segments_table_columns_and_actions() -> None:
    snapshot = _snapshot([f"c{k}" for k in range(1, 7)])
    table = segments_table(_segmentations(snapshot), lang="zh")
    assert table.columns.tolist() == [
        "customer_id",
        "客户价值分层",
        "会员等级",
        "客户生命周期",
        "推荐动作",
    ]
    # Revenue 10,000: c1 has 60% above nobody, c2 starts at 60% (high), c3 at 90% (mid),
    # c4 at 98% and c5 at 99.5% (low); c6 never bought.
    assert table["客户价值分层"].tolist() == [
        "高价值",
        "高价值",
        "中价值",
        "低价值",
        "低价值",
        "潜在（未购买）",
    ]
    # Gold from 3,000 (inclusive), silver from 1,000.
    assert table["会员等级"].tolist() == ["黄金会员", "黄金会员", *["普通会员"] * 4]
    assert table["推荐动作"].iloc[0] == "专属服务/个性化推荐"
    english = segments_table(_segmentations(snapshot), lang="en", action_scheme="lifecycle")
    assert english.columns.tolist() == [
        "customer_id",
        "Value tiers",
        "Member grades",
        "Customer lifecycle",
        ACTION_HEADER["en"],
    ]
    # c5: one purchase 400 days ago is beyond the 365-day churn limit.
    assert english["Customer lifecycle"].tolist()[4:] == ["Churned", "Potential"]
    assert english[ACTION_HEADER["en"]].iloc[5].startswith("Convert to a first order")


def test_missing_action_scheme_is_a_user_error() -> None:
    snapshot = _snapshot([f"c{k}" for k in range(1, 7)])
    with pytest.raises(SegmentationInputError, match=r"export\.action_scheme"):
        segments_table(_segmentations(snapshot)[1:], action_scheme="value_tier")


def test_csv_has_a_bom_and_escapes_formulas(tmp_path: Path) -> None:
    snapshot = _snapshot(IDS)
    # A user's segment name that starts with "=" is escaped too.
    config = load_config({"value_tier": {"segments": {"high": {"zh": "=HYPERLINK(1)"}}}})
    path = write_segments_csv(_segmentations(snapshot, config), tmp_path / "out")
    raw = path.read_bytes()
    assert path.name == SEGMENTS_FILE
    assert raw.startswith(b"\xef\xbb\xbf")
    back = pd.read_csv(io.StringIO(raw.decode("utf-8-sig")), dtype=str)
    assert sorted(back["customer_id"]) == sorted(
        ["'=cmd|' /C calc'!A0", "'+4412345", "'-7", "'@SUM(A1)", "c5", "c6"]
    )
    assert set(back["客户价值分层"]) == {"'=HYPERLINK(1)", "中价值", "低价值", "潜在（未购买）"}
    assert not back.map(lambda v: str(v)[:1] in "=+-@").to_numpy().any()


def test_csv_text_is_exact(tmp_path: Path) -> None:
    ids = ["c6", "=cmd|' /C calc'!A0", 'c,"5"', "-7", "c2", "@SUM(A1)"]
    config = load_config(
        {
            "value_tier": {
                "segments": {"high": {"zh": "=HYPERLINK(1)"}, "mid": {"zh": '中,"价值"'}}
            },
            "playbook": {"value_tier": {"low": {"zh": "-降级\n再试"}}},
        }
    )
    path = write_segments_csv(_segmentations(_snapshot(ids), config), tmp_path)
    # Rows sorted by the id as given ("-" < "=" < "@" < "c,") and escaped afterwards; by
    # spend the ids are 6000 (high, gold), 3000 (high, gold), 800 (mid), 150 (low),
    # 50 (low, churned after 400 days) and a contact who never bought. Cells holding a
    # comma, quote or line break are quoted with doubled quotes; LF line ends, BOM first.
    expected = (
        "\ufeffcustomer_id,客户价值分层,会员等级,客户生命周期,推荐动作\n"
        "'-7,低价值,普通会员,新客户,\"'-降级\n再试\"\n"
        "'=cmd|' /C calc'!A0,'=HYPERLINK(1),黄金会员,忠诚客户,专属服务/个性化推荐\n"
        "'@SUM(A1),潜在（未购买）,普通会员,潜在客户,首单转化：新客券、种草内容\n"
        '"c,""5""","中,""价值""",普通会员,活跃客户,定期关怀与优惠活动，促其升级为高价值\n'
        'c2,低价值,普通会员,流失客户,"\'-降级\n再试"\n'
        "c6,'=HYPERLINK(1),黄金会员,忠诚客户,专属服务/个性化推荐\n"
    )
    assert path.read_bytes() == expected.encode("utf-8")


def _pandas_csv(segmentations: list[Segmentation], path: Path, **options: object) -> bytes:
    """The file as pandas writes the escaped table: what write_segments_csv must reproduce."""
    table = segments_table(segmentations, **options)
    escape_formulas(table).to_csv(path, index=False, encoding="utf-8-sig", lineterminator="\n")
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
)
def test_csv_bytes_equal_pandas_to_csv(
    tmp_path: Path,
    names: list[str],
    actions: list[str],
    ids: list[str | None],
    id_dtype: object,
    lang: str,
) -> None:
    keys = ["potential", "low", "mid", "high"]
    config = load_config(
        {
            "value_tier": {"segments": {k: {lang: n} for k, n in zip(keys, names, strict=True)}},
            "playbook": {"value_tier": {k: {lang: a} for k, a in zip(keys, actions, strict=True)}},
        }
    )
    segmentations = _segmentations(_snapshot([f"c{k}" for k in range(1, 7)]), config)
    # Reversed, so the member grades and lifecycle are reindexed to the action scheme's ids.
    segmentations[1] = replace(segmentations[1], labels=segmentations[1].labels.iloc[::-1])

    def given_ids(index: pd.Series) -> pd.Series:
        return pd.Series(ids, index=index.index, dtype=id_dtype)  # type: ignore[call-overload]

    options = {"lang": lang, "id_transform": given_ids}
    written = write_segments_csv(segmentations, tmp_path / "fast", **options)
    assert written.read_bytes() == _pandas_csv(segmentations, tmp_path / "pandas.csv", **options)


def test_csv_with_customers_missing_from_a_scheme(tmp_path: Path) -> None:
    segmentations = _segmentations(_snapshot([f"c{k}" for k in range(1, 7)]))
    # Member grades known for c3..c6 only, listed backwards: c1 and c2 get empty cells.
    segmentations[1] = replace(segmentations[1], labels=segmentations[1].labels.iloc[:1:-1])
    text = write_segments_csv(segmentations, tmp_path).read_text(encoding="utf-8-sig")
    assert text.splitlines()[1:3] == [
        "c1,高价值,,忠诚客户,专属服务/个性化推荐",
        "c2,高价值,,忠诚客户,专属服务/个性化推荐",
    ]
    assert text.encode("utf-8") == _pandas_csv(segmentations, tmp_path / "pandas.csv")[3:]


def test_csv_of_no_customers_is_the_header(tmp_path: Path) -> None:
    segmentations = _segmentations(_snapshot([f"c{k}" for k in range(1, 7)]))
    empty = [replace(s, labels=s.labels.iloc[:0]) for s in segmentations]
    raw = write_segments_csv(empty, tmp_path, lang="en").read_bytes()
    assert (
        raw
        == (
            "\ufeffcustomer_id,Value tiers,Member grades,Customer lifecycle,recommended_action\n"
        ).encode()
    )


def test_csv_with_numeric_ids_is_written_by_pandas(tmp_path: Path) -> None:
    segmentations = _segmentations(_snapshot([f"c{k}" for k in range(1, 7)]))

    def numbers(ids: pd.Series) -> pd.Series:
        return pd.Series([60, 50, 40, 30, 20, 10], index=ids.index)

    text = write_segments_csv(segmentations, tmp_path, id_transform=numbers).read_text(
        encoding="utf-8-sig"
    )
    # Sorted by number: c6 (10) first, c1 (60) last.
    assert [line.split(",")[0] for line in text.splitlines()[1:]] == [
        "10", "20", "30", "40", "50", "60",
    ]  # fmt: skip
    assert text.splitlines()[1].split(",")[1] == "潜在（未购买）"


def test_escape_formulas_leaves_safe_text_and_numbers() -> None:
    frame = pd.DataFrame({"a": ["ok", "=1+1", None, "\tx"], "n": [-1, 2, 3, 4]})
    escaped = escape_formulas(frame)
    assert escaped["a"].tolist()[:2] == ["ok", "'=1+1"]
    assert pd.isna(escaped["a"].iloc[2])
    assert escaped["a"].iloc[3] == "'\tx"
    assert escaped["n"].tolist() == [-1, 2, 3, 4]


def test_pseudonymous_ids(tmp_path: Path) -> None:
    snapshot = _snapshot([f"c{k}" for k in range(1, 7)])
    key = b"test-key"

    def pseudonyms(ids: pd.Series) -> pd.Series:
        return pseudonymise_customer_ids(ids, key=key)

    path = write_segments_csv(_segmentations(snapshot), tmp_path, id_transform=pseudonyms)
    text = path.read_text(encoding="utf-8-sig")
    back = pd.read_csv(io.StringIO(text), dtype=str)
    expected = pseudonymise_customer_ids(pd.Series(snapshot.index), key=key)
    assert sorted(back["customer_id"]) == sorted(expected)
    assert all(v.startswith("cust_") for v in back["customer_id"])
    assert not any(f"c{k}," in text for k in range(1, 7))
    # The same key gives the same file: exports from different months still join.
    again = write_segments_csv(_segmentations(snapshot), tmp_path / "b", id_transform=pseudonyms)
    assert again.read_bytes() == path.read_bytes()


def test_cli_segment_on_the_demo_export(
    demo_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SEGMENTATION_PII_KEY", "cli-test-key")
    status = main(["segment", str(demo_dir), "--as-of", "2026-10-31", "--out", str(tmp_path)])
    assert status == 0
    table = pd.read_csv(tmp_path / SEGMENTS_FILE, dtype=str, encoding="utf-8-sig")
    assert len(table) == 5_000
    assert table.columns.tolist() == [
        "customer_id",
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
        "推荐动作",
    ]
    assert table["customer_id"].str.startswith("cust_").all()
    assert table["customer_id"].is_unique
    # 932 of the 5,000 contacts never bought (as the snapshot tests count them).
    assert (table["客户价值分层"] == "潜在（未购买）").sum() == 932
    assert (table["推荐动作"] == "首单转化：新客券、种草内容").sum() == 932


def test_cli_segment_original_ids_in_english(
    demo_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SEGMENTATION_PII_KEY", "cli-test-key")  # ingest hashes the phones
    status = main(
        ["segment", str(demo_dir), "--out", str(tmp_path), "--lang", "en", "--original-ids"]
    )
    assert status == 0
    table = pd.read_csv(tmp_path / SEGMENTS_FILE, dtype=str, encoding="utf-8-sig")
    assert table["customer_id"].str.match(r"^C\d{6}$").all()
    assert set(table["Value tiers"]) == {
        "Potential (no purchase)",
        "Low value",
        "Mid value",
        "High value",
    }


def test_cli_segment_bad_date_is_one_line(
    demo_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["segment", str(demo_dir), "--as-of", "yesterday-ish", "--out", str(tmp_path)])
    assert status == 2
    err = capsys.readouterr().err
    assert "--as-of" in err and "YYYY-MM-DD" in err and "Traceback" not in err
