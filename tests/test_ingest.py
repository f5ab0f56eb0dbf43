"""Ingest on real data (Online Retail, CDNOW) and on the demo export: exact counts."""

from __future__ import annotations

import csv
import gzip
import json
import re
import tempfile
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from segmentation.cli import main
from segmentation.datasets import cdnow_file, generate_demo, load_cdnow
from segmentation.ingest import QUARANTINE_COLUMNS, IngestResult, ingest, write_ingest
from segmentation.privacy import pseudonymise
from segmentation.schema import CUSTOMERS, INTERACTIONS, ORDERS, TableSpec

KEY = b"test-key"


def assert_conforms(frame: pd.DataFrame, spec: TableSpec) -> None:
    assert list(frame.columns) == spec.columns
    # Dictionary-encoded columns are categoricals whose categories have the spec's dtype.
    found = {
        c: str(t.categories.dtype if c in spec.dictionary else t) for c, t in frame.dtypes.items()
    }
    assert found == {c: str(pd.api.types.pandas_dtype(t)) for c, t in spec.dtypes.items()}
    for column in spec.dictionary:
        assert isinstance(frame[column].dtype, pd.CategoricalDtype), column


def assert_reconciles(result: IngestResult) -> None:
    for info in result.quality["tables"].values():
        quarantined = sum(info["rows_quarantined"].values())
        assert info["rows_in"] == info["rows_kept"] + info["rows_duplicate"] + quarantined
    total_quarantined = sum(
        sum(info["rows_quarantined"].values()) for info in result.quality["tables"].values()
    )
    assert len(result.quarantine) == total_quarantined


# --- Online Retail (../shared) ----------------------------------------------------------------


@pytest.fixture(scope="module")
def online_retail(online_retail_path: Path) -> IngestResult:
    return ingest(online_retail_path)


@pytest.fixture(scope="module")
def online_retail_raw(online_retail_path: Path) -> pd.DataFrame:
    return pd.read_csv(online_retail_path, dtype=str, keep_default_na=False)


def test_online_retail_counts(online_retail: IngestResult) -> None:
    quality = online_retail.quality
    assert quality["rows_in"] == 541_909
    assert quality["rows_duplicate"] == 5_268
    assert quality["rows_quarantined"] == {"nonpositive_unit_price": 2_512}
    assert quality["rows_kept"] == 534_129 == len(online_retail.orders)
    assert_reconciles(online_retail)
    orders = quality["tables"]["orders"]
    assert orders["customers_in"] == 4_372  # distinct CustomerID in the raw file
    assert quality["customers"] == 4_371  # one customer had only zero-price rows
    assert orders["cancellation_rows"] == orders["refund_rows"] == 9_251
    assert orders["zero_amount_rows"] == 0
    assert (quality["date_min"], quality["date_max"]) == (
        "2010-12-01 08:26:00",
        "2011-12-09 12:50:00",
    )


def test_online_retail_guests(online_retail: IngestResult) -> None:
    guests = online_retail.quality["guests"]
    assert guests["rows_in"] == 135_080
    assert guests["rows_duplicate"] == 43
    # 135,080 - 43 = 135,037 guest rows that are not duplicates: 132,565 kept, 2,472
    # quarantined (their UnitPrice is 0).
    assert guests["rows"] == 132_565
    assert guests["rows_quarantined"] == 2_472
    assert guests["rows"] + guests["rows_quarantined"] == 135_080 - 43
    assert guests["revenue"] == pytest.approx(1_469_611.65, abs=0.01)
    assert guests["revenue_share"] == pytest.approx(0.150758, abs=1e-6)
    assert online_retail.orders["customer_id"].isna().sum() == 132_565


def test_online_retail_counts_agree_with_pandas(
    online_retail: IngestResult, online_retail_raw: pd.DataFrame
) -> None:
    raw = online_retail_raw
    duplicate = raw.duplicated(keep="first")
    free = raw["UnitPrice"].astype(float) <= 0
    guest = raw["CustomerID"] == ""
    assert (int(free.sum()), int((free & duplicate).sum())) == (2_517, 5)
    # The quarantine is exactly the zero/negative-price rows that are not duplicates.
    assert int((free & ~duplicate).sum()) == 2_512
    assert int((guest & duplicate).sum()) == 43
    assert int((guest & ~duplicate & free).sum()) == 2_472
    kept = raw.loc[~duplicate & ~free]
    amount = kept["Quantity"].astype(float) * kept["UnitPrice"].astype(float)
    assert online_retail.orders["amount"].sum() == pytest.approx(amount.sum(), abs=0.01)


def test_online_retail_canonical_values(online_retail: IngestResult) -> None:
    orders = online_retail.orders
    assert_conforms(orders, ORDERS)
    first = orders.iloc[0]
    assert (first["customer_id"], first["order_id"], first["product_id"]) == (
        "17850",
        "536365",
        "85123A",
    )
    assert first["amount"] == 15.3  # 6 x 2.55, without floating-point noise
    assert not orders["customer_id"].str.endswith(".0").any()
    assert orders["order_ts"].is_monotonic_increasing
    cancelled = orders.loc[orders["order_id"].str.startswith("C")]
    assert len(cancelled) == 9_251 and (cancelled["amount"] < 0).all()
    customers = online_retail.customers
    assert customers is not None
    assert_conforms(customers, CUSTOMERS)
    assert len(customers) == 4_371
    region = customers.set_index("customer_id")["region"]
    assert region["12347"] == "Iceland" and region["17850"] == "United Kingdom"
    assert customers["region"].nunique() == 37  # of 38 countries, "Unspecified" guests excepted


def test_online_retail_quarantine_points_at_the_right_lines(
    online_retail: IngestResult, online_retail_path: Path
) -> None:
    quarantine = online_retail.quarantine
    assert list(quarantine.columns) == list(QUARANTINE_COLUMNS)
    with gzip.open(online_retail_path, "rt", encoding="utf-8", newline="") as handle:
        lines = handle.read().split("\n")
    for row, values in zip(quarantine["row"], quarantine["values"], strict=True):
        fields = next(csv.reader([lines[row - 1]]))  # row is 1-based, header = line 1
        recorded = json.loads(values)
        assert [fields[0], fields[1], fields[5]] == [
            recorded["InvoiceNo"],
            recorded["StockCode"],
            recorded["UnitPrice"],
        ]
        assert float(fields[5]) <= 0


# --- CDNOW (the lifetimes wheel) --------------------------------------------------------------


def test_cdnow_master() -> None:
    result = ingest(cdnow_file())
    quality = result.quality
    assert (quality["rows_in"], quality["rows_kept"], quality["rows_duplicate"]) == (
        69_659,
        69_659,
        0,
    )
    assert quality["rows_quarantined"] == {}
    assert quality["customers"] == 23_570
    assert quality["files"][0]["layout"] == "cdnow"
    orders = quality["tables"]["orders"]
    # $0.00 rows are kept (issue 4 needs every customer): 80 rows, 80 customers, 68 of
    # whom bought nothing but $0.
    assert orders["zero_amount_rows"] == 80
    assert orders["zero_amount_customers"] == 80
    assert orders["zero_amount_only_customers"] == 68
    assert (quality["date_min"], quality["date_max"]) == (
        "1997-01-01 00:00:00",
        "1998-06-30 00:00:00",
    )
    assert_conforms(result.orders, ORDERS)
    # Each row is its own order.
    assert result.orders["order_id"].is_unique
    raw = load_cdnow()
    assert result.orders.groupby("customer_id")["amount"].sum().round(2).to_dict() == (
        raw.groupby("customer_id")["dollar_value"].sum().round(2).to_dict()
    )
    assert result.orders["quantity"].sum() == raw["number_of_cds"].sum()


def test_cdnow_sample_without_header() -> None:
    result = ingest(cdnow_file(sample=True))
    quality = result.quality
    assert (quality["rows_in"], quality["rows_kept"], quality["customers"]) == (6_919, 6_919, 2_357)
    assert quality["rows_quarantined"] == {} and quality["rows_duplicate"] == 0
    assert quality["files"][0]["layout"] == "cdnow_sample"
    assert result.orders["order_id"].iloc[0] == "00004:1"  # customer and line


# --- the demo export --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_result(demo_dir: Path) -> IngestResult:
    return ingest(demo_dir, pii_key=KEY)


def test_demo_counts(demo_result: IngestResult) -> None:
    quality = demo_result.quality
    assert quality["rows_duplicate"] == 25
    # 206 of the rows are the purchases the demo's campaign caused (SC... orders).
    assert (quality["rows_in"], quality["rows_kept"]) == (24_178, 24_153)
    assert quality["rows_quarantined"] == {}
    assert quality["guests"]["rows"] == 465
    assert quality["guests"]["revenue_share"] == pytest.approx(0.018883, abs=1e-6)
    assert quality["customers"] == 4_111
    assert_reconciles(demo_result)
    demo = generate_demo(seed=0)
    raw = demo.orders.drop_duplicates()
    assert len(raw) == 24_153
    assert int((raw["客户ID"] == "").sum()) == 465
    encodings = {Path(f["path"]).name: f["encoding"] for f in quality["files"]}
    assert encodings["customers.csv"] == "gb18030"
    assert encodings["interactions.csv"] == "utf-8"
    assert encodings["orders_2026-10.csv"] == "utf-8-sig"
    assert encodings["campaigns.csv"] == "utf-8-sig"
    assert len(encodings) == 3 + 24  # one orders file a month


def test_demo_customers_and_interactions(demo_result: IngestResult) -> None:
    customers = demo_result.customers
    assert customers is not None
    assert_conforms(customers, CUSTOMERS)
    assert len(customers) == 5_000 and customers["customer_id"].is_unique
    demo = generate_demo(seed=0).customers.set_index("客户ID")
    first = customers.set_index("customer_id").loc[demo.index[0]]
    assert first["phone"] == pseudonymise([demo["手机号"].iloc[0]], key=KEY)[0]
    assert first["region"] == demo["省份"].iloc[0] and first["city"] == demo["城市"].iloc[0]
    interactions = demo_result.interactions
    assert interactions is not None
    assert_conforms(interactions, INTERACTIONS)
    raw = generate_demo(seed=0).interactions["互动类型"].value_counts()
    assert interactions["kind"].value_counts().to_dict() == {
        "message": raw["私聊消息"],
        "like": raw["朋友圈点赞"],
        "group_chat": raw["群聊发言"],
        "coupon": raw["领取优惠券"],
    }


def test_demo_outputs_hold_no_raw_pii(demo_result: IngestResult, tmp_path: Path) -> None:
    written = write_ingest(demo_result, tmp_path)
    assert sorted(written) == [
        "campaigns",
        "customers",
        "interactions",
        "orders",
        "quality",
        "quarantine",
    ]
    raw = generate_demo(seed=0).customers
    phones, wechat_ids, names = set(raw["手机号"]), set(raw["微信号"]), set(raw["姓名"])
    for path in written.values():
        data = path.read_bytes()
        assert not phones & {m.decode() for m in re.findall(rb"1[3-9]\d{9}", data)}
        assert not re.search(rb"wxid_", data)
        if path.suffix == ".parquet":
            table = pq.read_table(path)
            cells = {
                v
                for column in table.columns
                if str(column.type) in {"string", "large_string"}
                for v in column.to_pylist()
            }
        else:
            cells = set(re.split(r"[,\s\"{}:\[\]]+", data.decode("utf-8-sig")))
        assert not (phones | wechat_ids | names) & cells
    customers = pd.read_parquet(written["customers"])
    for column in ("name", "phone", "wechat_id"):
        assert customers[column].str.fullmatch(r"pii_[0-9a-f]{16}").all()


def test_two_runs_give_identical_files(demo_dir: Path, tmp_path: Path) -> None:
    first = write_ingest(ingest(demo_dir, pii_key=KEY), tmp_path / "a")
    second = write_ingest(ingest(demo_dir, pii_key=KEY), tmp_path / "b")
    for name, path in first.items():
        assert path.read_bytes() == second[name].read_bytes(), name


def test_cli_ingest_writes_the_tables(
    demo_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SEGMENTATION_PII_KEY", "cli-key")
    out = tmp_path / "canonical"
    assert main(["ingest", str(demo_dir), "--out", str(out), "--as-of", "2026-06-30"]) == 0
    printed = capsys.readouterr().out
    assert "orders: 24,178 rows in" in printed
    assert "25 duplicate" in printed
    quality = json.loads((out / "quality.json").read_text(encoding="utf-8"))
    assert quality["as_of"] == "2026-06-30"
    # The campaign log is September's: every contact is after the as-of day, none is lost.
    campaigns = quality["tables"]["campaigns"]
    assert (campaigns["rows_in"], campaigns["rows_kept"]) == (1_451, 0)
    assert campaigns["rows_quarantined"] == {"date_after_as_of": 1_451}
    assert len(pd.read_parquet(out / "campaigns.parquet")) == 0
    assert quality["rows_quarantined"]["date_after_as_of"] > 0
    assert len(pd.read_parquet(out / "orders.parquet")) == quality["rows_kept"]
    quarantine = pd.read_csv(out / "quarantine.csv", encoding="utf-8-sig")
    assert list(quarantine.columns) == list(QUARANTINE_COLUMNS)
    assert len(quarantine) == sum(
        sum(t["rows_quarantined"].values()) for t in quality["tables"].values()
    )
    assert all(len(f["sha256"]) == 64 for f in quality["files"])


# --- reconciliation, as a property ------------------------------------------------------------

ROW_KINDS = ["good", "guest", "duplicate", "bad_date", "bad_amount", "zero_price", "no_order_id"]
EXPECTED_REASON = {
    "bad_date": "unparsable_date",
    "bad_amount": "unparsable_amount",
    "zero_price": "nonpositive_unit_price",
    "no_order_id": "missing_order_id",
}


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    kinds=st.lists(st.sampled_from(ROW_KINDS), min_size=1, max_size=40),
    n_files=st.integers(min_value=1, max_value=3),
)
def test_reconciliation_holds_for_any_mix_of_rows(kinds: list[str], n_files: int) -> None:
    lines: list[str] = []
    expected = {"kept": 0, "duplicate": 0} | dict.fromkeys(EXPECTED_REASON.values(), 0)
    for i, kind in enumerate(kinds):
        if kind == "duplicate" and lines:
            lines.append(lines[i % len(lines)])
            expected["duplicate"] += 1
            continue
        # Every original row differs from every other (the amount holds i): the only
        # duplicates are the ones made on purpose.
        order, customer, day, price, amount = f"SO{i}", f"C{i % 5}", "2024-01-05", "10", f"{10 + i}"
        if kind == "guest":
            customer = ""
        elif kind == "bad_date":
            day = f"day {i}"
        elif kind == "bad_amount":
            amount = f"about {i}"
        elif kind == "zero_price":
            price, amount = "0", "0"
        elif kind == "no_order_id":
            order = ""
        lines.append(f"{order},{customer},{day},{price},{amount}\n")
        if kind in EXPECTED_REASON:
            expected[EXPECTED_REASON[kind]] += 1
        else:
            expected["kept"] += 1
    if expected["kept"] == 0:
        lines.append("SOX,C1,2024-01-05,10,10\n")
        expected["kept"] += 1
    with tempfile.TemporaryDirectory() as folder:
        for k in range(n_files):
            part = lines[k::n_files]
            if part:
                Path(folder, f"part{k}.csv").write_text(
                    "订单号,客户ID,下单时间,单价,实付金额\n" + "".join(part), encoding="utf-8"
                )
        result = ingest(folder, pii_key=KEY)
    quality = result.quality
    assert_reconciles(result)
    assert quality["rows_in"] == len(lines)
    assert quality["rows_kept"] == expected["kept"]
    assert quality["rows_duplicate"] == expected["duplicate"]
    assert quality["rows_quarantined"] == {
        reason: expected[reason]
        for reason in (
            "unparsable_date",
            "unparsable_amount",
            "missing_order_id",
            "nonpositive_unit_price",
        )
        if expected[reason]
    }


def test_ids_are_dictionary_encoded_with_one_sorted_set_of_customers(tmp_path: Path) -> None:
    (tmp_path / "orders.csv").write_text(
        "order_id,customer_id,order_ts,amount,category\n"
        "B7,C2,2026-01-05,10,食品\n"
        "A9,,2026-01-03,5,美妆\n"
        "B7,C2,2026-01-05,4,家居\n"
        "Z1,C4,2026-01-04,8,\n"
        "B7,C2,2026-01-09,-4,家居\n",
        encoding="utf-8",
    )
    (tmp_path / "customers.csv").write_text(
        "customer_id,first_seen_ts,region\nC3,2025-12-01,华东\nC2,2025-11-01,华南\n",
        encoding="utf-8",
    )
    result = ingest(tmp_path, pii_key=KEY)
    orders, customers = result.orders, result.customers
    assert_conforms(orders, ORDERS)
    assert_conforms(customers, CUSTOMERS)
    # One set of customer categories for both tables: every id in either, sorted.
    expected = ["C2", "C3", "C4"]
    assert orders["customer_id"].cat.categories.tolist() == expected
    assert customers["customer_id"].cat.categories.tolist() == expected
    # Rows by time, then order id: A9 (guest) 01-03, Z1 01-04, B7 x2 01-05, the refund 01-09.
    assert orders["order_id"].astype(str).tolist() == ["A9", "Z1", "B7", "B7", "B7"]
    assert orders["customer_id"].cat.codes.tolist() == [-1, 2, 0, 0, 0]
    # Order ids keep their first appearance's order; other text is sorted.
    assert orders["order_id"].cat.categories.tolist() == ["A9", "Z1", "B7"]
    assert orders["category"].cat.categories.tolist() == sorted(["食品", "美妆", "家居"])
    assert orders["category"].isna().tolist() == [False, True, False, False, False]
    assert customers["customer_id"].astype(str).tolist() == ["C2", "C3"]
    assert customers["customer_id"].cat.codes.tolist() == [0, 1]


def test_arrow_text_and_strictly_increasing_by_hand() -> None:
    import pyarrow as pa

    from segmentation.arrays import arrow_text, strictly_increasing

    text = arrow_text(pd.Series(["C1", None, "C3"], dtype="string"))
    assert text.type == pa.large_string() and text.to_pylist() == ["C1", None, "C3"]
    assert arrow_text(pd.Categorical(["b", "a"])).to_pylist() == ["b", "a"]
    assert strictly_increasing(arrow_text(["A1", "A2", "B"]))
    assert not strictly_increasing(arrow_text(["A1", "A1", "B"]))  # a repeat
    assert not strictly_increasing(arrow_text(["B", "A"]))
    assert not strictly_increasing(text)  # a null
    assert strictly_increasing(arrow_text([])) and strictly_increasing(arrow_text(["x"]))


@settings(max_examples=200, deadline=None)
@given(
    values=st.lists(st.integers(min_value=0, max_value=2**64 - 1), max_size=60),
    spread=st.sampled_from([3, 50, 2**64]),
)
def test_shared_values_are_the_values_that_repeat(values: list[int], spread: int) -> None:
    import numpy as np

    from segmentation.ingest._assemble import _shared_values

    digest = np.array([v % spread for v in values], dtype=np.uint64)
    expected = np.flatnonzero(pd.Series(digest).duplicated(keep=False).to_numpy())
    assert _shared_values(digest).tolist() == expected.tolist()


@settings(max_examples=100, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from(["C1", "C2", None]),
            st.sampled_from(["SO1", "SO2"]),
            st.sampled_from([1.0, 2.0, -0.0, 0.0, float("nan")]),
            st.sampled_from(["2024-01-05", "2024-01-06"]),
        ),
        max_size=30,
    )
)
def test_duplicates_equal_pandas_duplicated(rows: list[tuple[object, ...]]) -> None:
    from segmentation.ingest._assemble import _duplicates

    frame = pd.DataFrame(rows, columns=["customer_id", "order_id", "amount", "order_ts"])
    frame = frame.astype({"customer_id": "string", "order_id": "string", "amount": "float64"})
    frame["order_ts"] = pd.to_datetime(frame["order_ts"])
    codes = pd.factorize(frame["customer_id"])[0]
    # pandas tells -0.0 from 0.0 by value only (equal) and NaN equals NaN: so does ingest.
    expected = frame.duplicated(keep="first").to_numpy()
    found = _duplicates(frame, list(frame.columns), codes={"customer_id": codes})
    assert found.tolist() == expected.tolist()


def test_rows_in_time_order_are_kept_as_read(tmp_path: Path) -> None:
    (tmp_path / "orders.csv").write_text(
        "order_id,customer_id,order_ts,amount\n"
        "A1,C1,2026-01-01,10\nA2,C2,2026-01-02,20\nA1,C1,2026-01-03,-10\n",
        encoding="utf-8",
    )
    (tmp_path / "late.csv").write_text(
        "order_id,customer_id,order_ts,amount\nA0,C3,2025-12-31,5\n", encoding="utf-8"
    )
    in_order = ingest(tmp_path / "orders.csv", pii_key=KEY).orders
    assert in_order["order_id"].astype(str).tolist() == ["A1", "A2", "A1"]
    assert in_order["amount"].tolist() == [10.0, 20.0, -10.0]
    # A second file with an earlier row: the rows are put in time order.
    both = ingest(tmp_path, pii_key=KEY).orders
    assert both["order_id"].astype(str).tolist() == ["A0", "A1", "A2", "A1"]
    assert both["order_ts"].dt.day.tolist() == [31, 1, 2, 3]
