"""The data-quality section's tables, on small hand-computed cases and hypothesis properties."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segmentation.quality import data_overview, monthly_overview, reconciliation_table


def _orders() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": pd.array(["a", "a", "b", None, "a", "c"], dtype="string"),
            "order_id": pd.array(["1", "1", "2", "3", "4", "5"], dtype="string"),
            "order_ts": pd.to_datetime(
                [
                    "2024-01-05 10:00",
                    "2024-01-05 10:00",
                    "2024-01-20 12:00",
                    "2024-01-21 09:00",
                    "2024-02-03 08:00",
                    "2024-02-10 08:00",
                ]
            ),
            # order 1 has two lines; order 4 is a refund of 30 in February; c buys in Feb
            "amount": [50.0, 20.0, 100.0, 15.0, -30.0, 40.0],
        }
    )


def test_monthly_overview_by_hand() -> None:
    table = monthly_overview(_orders(), lang="en")
    assert table.index.tolist() == ["2024-01", "2024-02"]
    # January: orders 1, 2, 3 (a guest); buyers a, b; first-time buyers a, b
    assert table.loc["2024-01", "Orders"] == 3
    assert table.loc["2024-01", "Buying customers"] == 2
    assert table.loc["2024-01", "First-time buyers"] == 2
    assert table.loc["2024-01", "Member net revenue"] == pytest.approx(170.0)
    assert table.loc["2024-01", "Guest net revenue"] == pytest.approx(15.0)
    assert table.loc["2024-01", "Net revenue"] == pytest.approx(185.0)
    # February: a refund of 30 (a) and c's first purchase of 40
    assert table.loc["2024-02", "Orders"] == 1
    assert table.loc["2024-02", "First-time buyers"] == 1
    assert table.loc["2024-02", "Refunds"] == pytest.approx(30.0)
    assert table.loc["2024-02", "Net revenue"] == pytest.approx(10.0)


def test_monthly_overview_is_the_same_on_dictionary_encoded_ids() -> None:
    text = _orders()
    # As ingest hands them on: categoricals, with unused categories and an unsorted order.
    coded = text.assign(
        customer_id=pd.Categorical(text["customer_id"], categories=["c", "z", "a", "b"]),
        order_id=pd.Categorical(text["order_id"], categories=["5", "4", "3", "2", "1", "9"]),
    )
    pd.testing.assert_frame_equal(
        monthly_overview(coded, lang="en"), monthly_overview(text, lang="en")
    )


def test_reconciliation_table_adds_up_to_rows_in() -> None:
    quality = {
        "rows_in": 1000,
        "rows_kept": 950,
        "rows_duplicate": 30,
        "rows_quarantined": {"unparsable date": 15, "zero price": 5},
    }
    table = reconciliation_table(quality, lang="en")
    rows = table["Rows"]
    assert rows.iloc[0] == 1000
    assert rows.iloc[-1] == 1000  # the accounted-for total equals the rows in
    assert rows.iloc[1:-1].sum() == 1000
    assert table.loc["Quarantined: zero price", "share of rows in"] == pytest.approx(0.005)


def test_data_overview_counts_potential_customers_and_guests() -> None:
    customers = pd.DataFrame({"customer_id": pd.array(["a", "b", "c", "d", "e"], dtype="string")})
    quality = {"guests": {"rows": 1, "revenue": 15.0, "revenue_share": 15.0 / 195.0}}
    table = data_overview(_orders(), customers, None, quality, lang="en")["Value"]
    assert table["Known customers (incl. potential)"] == "5"
    assert table["Buying customers"] == "3"
    assert table["Potential customers (never bought)"] == "2"
    assert table["Orders"] == "4"
    assert table["Net revenue"] == "195.00"
    assert table["Guest share of revenue"] == "7.69%"


def test_data_overview_counts_the_same_on_dictionary_encoded_ids() -> None:
    # Customers a..e listed plus f who only ordered; one set of categories for both tables.
    categories = ["a", "b", "c", "d", "e", "f", "unused"]
    orders = _orders()
    orders.loc[5, "customer_id"] = "f"
    customers = pd.DataFrame({"customer_id": pd.array(list("abcde"), dtype="string")})
    quality = {"guests": {"rows": 1, "revenue": 15.0, "revenue_share": 15.0 / 195.0}}
    coded = data_overview(
        orders.assign(customer_id=pd.Categorical(orders["customer_id"], categories=categories)),
        customers.assign(customer_id=pd.Categorical(customers["customer_id"], categories)),
        None,
        quality,
        lang="en",
    )["Value"]
    text = data_overview(orders, customers, None, quality, lang="en")["Value"]
    pd.testing.assert_series_equal(coded, text)
    # a, b, f bought; a..f are known; c, d, e never bought.
    assert (coded["Buying customers"], coded["Known customers (incl. potential)"]) == ("3", "6")
    assert coded["Potential customers (never bought)"] == "3"


def test_quarantine_reasons_are_named_in_the_report_language() -> None:
    quality = {
        "rows_in": 100,
        "rows_kept": 90,
        "rows_duplicate": 0,
        "rows_quarantined": {"unparsable_date": 6, "nonpositive_unit_price": 4},
    }
    zh = reconciliation_table(quality, lang="zh")
    assert zh.loc["隔离：日期无法识别", "行数"] == 6
    assert zh.loc["隔离：非退款行单价 ≤ 0", "占输入比例"] == pytest.approx(0.04)
    en = reconciliation_table(quality, lang="en")
    assert en.loc["Quarantined: date not recognised", "Rows"] == 6


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(24_000, 24_030), st.integers(-1, 40), st.booleans()), max_size=60
    ),
    st.booleans(),
)
def test_distinct_codes_per_month_as_pandas_counts_them(
    rows: list[tuple[int, int, bool]], hashed: bool
) -> None:
    # Each month's distinct codes among the rows kept, missing codes (-1) left out: by the
    # table of (month, code) pairs, and by hashing them past the table's bound.
    from segmentation import quality

    month = np.array([r[0] for r in rows], dtype=np.int64)
    code = np.array([r[1] for r in rows], dtype=np.int64)
    kept = np.array([r[2] for r in rows], dtype=bool)
    frame = pd.DataFrame({"month": month, "code": code}).loc[kept & (code >= 0)]
    expected = frame.drop_duplicates().groupby("month").size()
    limit = 0 if hashed else quality._PAIR_TABLE_LIMIT
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(quality, "_PAIR_TABLE_LIMIT", limit)
        got = quality._distinct_per_month(month, code, kept)
    assert got.sort_index().to_dict() == expected.to_dict()
    assert got.dtype == np.int64
