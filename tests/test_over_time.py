"""The report's time axis: cohorts by first-purchase month, segment sizes at each month-end,
and the member grades that moved from last month to this."""

from __future__ import annotations

import dataclasses
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from segmentation.config import load_config
from segmentation.errors import InvalidOptionError
from segmentation.features import CohortMatrix, cohort_matrix, customer_snapshot, order_purchases
from segmentation.report import over_time_sections
from segmentation.schemes.history import (
    SegmentHistory,
    month_end_labels,
    month_ends,
    segment_history,
)
from segmentation.schemes.tiers import member_grade, value_tier

from canonical_frames import online_retail_orders

ONLINE_RETAIL_AS_OF = "2011-11-30"


def _orders(rows: list[tuple[str, str, str, float]]) -> pd.DataFrame:
    customer, order, ts, amount = zip(*rows, strict=True)
    return pd.DataFrame(
        {
            "customer_id": pd.array(customer, dtype="string"),
            "order_id": pd.array(order, dtype="string"),
            "order_ts": pd.to_datetime(list(ts), format="ISO8601"),
            "amount": np.array(amount, dtype=float),
        }
    )


def test_cohorts_by_hand() -> None:
    orders = _orders(
        [
            ("a", "1", "2024-01-05", 10.0),
            ("a", "2", "2024-01-20", 5.0),  # second purchase, same month: counted once
            ("a", "3", "2024-03-02", 4.0),
            ("b", "4", "2024-01-31 23:00", 20.0),
            ("b", "4", "2024-02-03", -20.0),  # refunded in full: no purchase, b never bought
            ("c", "5", "2024-02-10", 8.0),
            ("c", "6", "2024-03-15", 6.0),
            ("c", "6", "2024-03-16", -1.0),  # partial refund, netted into March
            ("d", "7", "2023-12-30", 3.0),  # before the first cohort shown
            ("d", "8", "2024-02-01", 3.0),
            ("e", "9", "2024-04-01", 50.0),  # after as_of: never read
        ]
    )
    cohorts = cohort_matrix(orders, as_of="2024-03-31", months=3)
    assert [str(p) for p in cohorts.sizes.index] == ["2024-01", "2024-02", "2024-03"]
    assert cohorts.sizes.tolist() == [1, 1, 0]  # a in January, c in February
    buyers = cohorts.buyers.to_numpy()
    np.testing.assert_array_equal(buyers[0], [1, 0, 1])
    np.testing.assert_array_equal(buyers[1, :2], [1, 1])
    assert np.isnan(buyers[1, 2]) and np.isnan(buyers[2, 1:]).all()
    assert buyers[2, 0] == 0
    np.testing.assert_array_equal(cohorts.retention.iloc[0], [1.0, 0.0, 1.0])
    assert cohorts.retention.iloc[2].isna().all()  # nobody first bought in March
    np.testing.assert_allclose(cohorts.revenue_per_member.iloc[0], [15.0, 0.0, 4.0])
    np.testing.assert_allclose(cohorts.revenue_per_member.iloc[1, :2], [8.0, 5.0])
    # As of February's end, March is unobserved: the matrix never looks ahead.
    february = cohort_matrix(orders, as_of="2024-02-29", months=2)
    assert february.sizes.tolist() == [1, 1]
    np.testing.assert_array_equal(february.buyers.iloc[0], [1, 0])


@pytest.mark.parametrize("months", [0, -1, 2.0, True])
def test_cohort_months_must_be_a_whole_number(months: object) -> None:
    with pytest.raises(InvalidOptionError, match=r"over_time\.cohort_months"):
        cohort_matrix(_orders([("a", "1", "2024-01-05", 1.0)]), as_of="2024-01-31", months=months)  # type: ignore[arg-type]


def _plain_cohorts(
    orders: pd.DataFrame, as_of: str, months: int
) -> tuple[pd.Series, pd.DataFrame, pd.DataFrame]:
    """Sizes, buyers and revenue per member recomputed with plain pandas groupbys."""
    per_order = order_purchases(orders, as_of=as_of)
    per_order["month"] = per_order["order_ts"].dt.to_period("M")
    first = per_order.loc[per_order["is_purchase"]].groupby("customer_id")["month"].min()
    last = pd.Timestamp(as_of).to_period("M")
    cohorts = pd.period_range(end=last, periods=months, freq="M")
    first = first.loc[first >= cohorts[0]]
    per_order = per_order.join(first.rename("cohort"), on="customer_id", how="inner")
    per_order["offset"] = (per_order["month"] - per_order["cohort"]).map(lambda d: d.n)
    per_order = per_order.loc[per_order["offset"] >= 0]
    sizes = first.value_counts().reindex(cohorts, fill_value=0)
    bought = per_order.loc[per_order["is_purchase"]].drop_duplicates(["customer_id", "month"])
    buyers = bought.pivot_table(
        index="cohort", columns="offset", values="customer_id", aggfunc="count"
    )
    revenue = per_order.pivot_table(
        index="cohort", columns="offset", values="amount", aggfunc="sum"
    )
    return sizes, buyers, revenue


def test_cohorts_on_online_retail_match_plain_pandas(online_retail_path: Path) -> None:
    orders = online_retail_orders(online_retail_path)
    months = 24
    cohorts = cohort_matrix(orders, as_of=ONLINE_RETAIL_AS_OF, months=months)
    sizes, buyers, revenue = _plain_cohorts(orders, ONLINE_RETAIL_AS_OF, months)
    assert cohorts.sizes.tolist() == sizes.tolist()
    # The data start in December 2010: 12 cohorts, holding the snapshot's 4,288 buyers of
    # 4,331 customers known on 2011-11-30 (the other 43 never bought).
    assert (cohorts.sizes > 0).sum() == 12
    assert int(cohorts.sizes.sum()) == 4_288
    assert (
        cohorts.sizes.loc[pd.Period("2010-12", "M")] == 884
    )  # as the plain recomputation counts them
    observed = cohorts.buyers.notna()
    for cohort in cohorts.sizes.index:
        for offset in cohorts.buyers.columns:
            mine = cohorts.buyers.loc[cohort, offset]
            if not observed.loc[cohort, offset]:
                assert cohort + offset > pd.Period(ONLINE_RETAIL_AS_OF, "M")
                continue
            theirs = buyers.reindex(index=[cohort], columns=[offset]).fillna(0).iloc[0, 0]
            assert mine == theirs, (cohort, offset)
            size = sizes.loc[cohort]
            if size:
                assert cohorts.retention.loc[cohort, offset] == theirs / size
                spent = revenue.reindex(index=[cohort], columns=[offset]).fillna(0).iloc[0, 0]
                np.testing.assert_allclose(
                    cohorts.revenue_per_member.loc[cohort, offset] * size, spent, atol=1e-6
                )


DEMO_AS_OF = pd.Timestamp("2026-10-31")


@pytest.fixture(scope="module")
def demo_tables(demo_dir: Path) -> Any:
    from segmentation.ingest import ingest

    return ingest(demo_dir)


@pytest.fixture(scope="module")
def demo_history(demo_tables: Any) -> SegmentHistory:
    settings = load_config()
    section = settings["over_time"]
    return segment_history(
        demo_tables.orders,
        demo_tables.customers,
        demo_tables.interactions,
        as_of=DEMO_AS_OF,
        config=settings,
        months=int(section["history_months"]),
        schemes=list(section["schemes"]),
        track=list(section["grade_schemes"]),
    )


@pytest.mark.parametrize("handed", ["all", "some", "before_any_customer"])
def test_month_ends_computed_aside_give_the_same_history(
    demo_tables: Any, demo_history: SegmentHistory, handed: str
) -> None:
    """The earlier month-ends computed apart (as the analysis does in a forked process) and
    handed in: every size, grade and count equals the history computed in turn."""
    settings = load_config()
    section = settings["over_time"]
    days = month_ends(DEMO_AS_OF, months=int(section["history_months"]))
    tables = (demo_tables.orders, demo_tables.customers, demo_tables.interactions)
    if handed == "before_any_customer":
        # Month-ends before the first order: nothing known, so the history stops there.
        first = demo_tables.orders["order_ts"].min()
        early = (first.to_period("M") - 1).end_time.normalize()
        computed = month_end_labels(
            *tables, days=[early], config=settings, schemes=section["schemes"]
        )
        assert computed == {early: None}
        return
    chosen = list(days[:-1][::-1]) if handed == "all" else [days[-3], days[-6]]
    earlier = month_end_labels(*tables, days=chosen, config=settings, schemes=section["schemes"])
    assert list(earlier) == chosen
    history = segment_history(
        *tables,
        as_of=DEMO_AS_OF,
        config=settings,
        months=int(section["history_months"]),
        schemes=list(section["schemes"]),
        track=list(section["grade_schemes"]),
        earlier=earlier,
    )
    assert history.month_ends == demo_history.month_ends
    pd.testing.assert_series_equal(history.customers, demo_history.customers)
    for name, sizes in demo_history.sizes.items():
        pd.testing.assert_frame_equal(history.sizes[name], sizes)
    for name, grades in demo_history.grades.items():
        np.testing.assert_array_equal(history.grades[name], grades)
    assert history.unavailable == demo_history.unavailable
    assert history.customers[days[-3]] == earlier[days[-3]].customers


def _known_at(tables: Any, day: pd.Timestamp) -> int:
    """Customers known on ``day``, counted from the tables: listed with a first-seen time up
    to that day, or with no first-seen time and no order row at all, or with an order row up
    to that day."""
    cutoff = day + pd.Timedelta(days=1)
    orders, listed = tables.orders, tables.customers
    with_rows = set(orders.loc[orders["order_ts"] < cutoff, "customer_id"].dropna().astype(str))
    seen = listed["first_seen_ts"]
    ever_rows = set(orders["customer_id"].dropna().astype(str))
    ids = listed["customer_id"].astype(str)
    by_listing = set(ids[(seen < cutoff).fillna(False).to_numpy(bool)])
    never = set(ids[seen.isna().to_numpy(bool)]) - ever_rows
    return len(with_rows | by_listing | never)


def test_demo_sizes_add_up_to_the_customers_known_at_each_month_end(
    demo_tables: Any, demo_history: SegmentHistory
) -> None:
    history = demo_history
    assert history.month_ends == tuple(
        pd.Timestamp(day)
        for day in (
            "2025-11-30", "2025-12-31", "2026-01-31", "2026-02-28", "2026-03-31", "2026-04-30",
            "2026-05-31", "2026-06-30", "2026-07-31", "2026-08-31", "2026-09-30", "2026-10-31",
        )
    )  # fmt: skip
    known = [_known_at(demo_tables, day) for day in history.month_ends]
    assert history.customers.tolist() == known
    assert known == sorted(known) and known[0] < known[-1]  # customers arrive over the year
    assert set(history.sizes) == set(load_config()["over_time"]["schemes"])
    for name, sizes in history.sizes.items():
        assert sizes.sum(axis=1).tolist() == known, name
        assert sizes.columns.tolist() == list(history.segments[name].index), name


def test_demo_grade_history_is_each_month_ends_own_snapshot(
    demo_tables: Any, demo_history: SegmentHistory
) -> None:
    settings = load_config()
    month = demo_history.month_ends[5]
    snapshot = customer_snapshot(
        demo_tables.orders, demo_tables.customers, demo_tables.interactions, as_of=month
    )
    grades = member_grade(snapshot, config=settings)
    history = demo_history.grade_history("member_grade", lang="en")[f"{month:%Y-%m}"]
    names = grades.profile["name_en"]
    expected = grades.labels.map(names).astype(str)
    assert history.dropna().astype(str).sort_index().equals(expected.sort_index())
    assert history.isna().sum() == len(demo_history.customer_ids) - len(snapshot)
    sizes = demo_history.sizes["member_grade"].loc[month]
    assert sizes.to_dict() == grades.labels.value_counts().reindex(sizes.index).to_dict()


def _independent_moves(tables: Any, scheme: Any, lang: str) -> pd.DataFrame:
    """Who changed segment between last month's and this month's snapshots, from the two
    snapshots alone: id, both segment names and the new segment's action."""
    settings = load_config()
    before, after = (
        scheme(
            customer_snapshot(tables.orders, tables.customers, tables.interactions, as_of=day),
            config=settings,
        )
        for day in (pd.Timestamp("2026-09-30"), DEMO_AS_OF)
    )
    both = before.labels.index.intersection(after.labels.index)
    was, now = before.labels.loc[both], after.labels.loc[both]
    changed = was.astype(str) != now.astype(str)
    names = after.profile[f"name_{lang}"]
    return pd.DataFrame(
        {
            "id": both[changed.to_numpy()].astype(str),
            "before": was[changed].astype(str).map(before.profile[f"name_{lang}"]).to_numpy(),
            "after": now[changed].astype(str).map(names).to_numpy(),
            "up": (now[changed].cat.codes > was[changed].cat.codes).to_numpy(),
            "action": now[changed].astype(str).map(after.profile[f"action_{lang}"]).to_numpy(),
        }
    ).sort_values("id", ignore_index=True)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_demo_moves_file_lists_exactly_the_customers_whose_grade_changed(
    demo_tables: Any, demo_history: SegmentHistory, tmp_path: Path, lang: str
) -> None:
    from segmentation.export import GRADE_MOVES_FILE, write_grade_moves

    settings = load_config()
    path, rows, ids = write_grade_moves(demo_history, tmp_path, config=settings, lang=lang)
    assert path == tmp_path / GRADE_MOVES_FILE and ids.written == "original"
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    written = pd.read_csv(path, dtype=str, encoding="utf-8-sig", keep_default_na=False)
    headers = {k: v[lang] for k, v in settings["over_time"]["moves_headers"].items()}
    assert list(written.columns) == [
        settings["export"]["headers"]["id"][lang],
        *(headers[k] for k in ("scheme", "move", "before", "after", "action")),
    ]
    assert rows == len(written)
    prefixes = settings["export"]["tag_prefix"]
    for scheme in (member_grade, value_tier):
        expected = _independent_moves(demo_tables, scheme, lang)
        mine = written.loc[written[headers["scheme"]] == prefixes[scheme.__name__][lang]]
        mine = mine.set_axis(["id", "scheme", "move", "before", "after", "action"], axis=1)
        mine = mine.sort_values("id", ignore_index=True)
        assert len(expected) > 0, scheme.__name__  # some customers did move on the demo
        assert mine["id"].tolist() == expected["id"].tolist()
        assert mine["before"].tolist() == expected["before"].tolist()
        assert mine["after"].tolist() == expected["after"].tolist()
        assert mine["action"].tolist() == expected["action"].tolist()
        assert (mine["move"] == headers["up"]).tolist() == expected["up"].tolist()
    assert rows == sum(
        len(_independent_moves(demo_tables, s, lang)) for s in (member_grade, value_tier)
    )


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_demo_history_file_gives_every_customers_grade_as_of_each_month_end(
    demo_tables: Any, demo_history: SegmentHistory, tmp_path: Path, lang: str
) -> None:
    from segmentation.export import GRADE_HISTORY_FILE, write_grade_history
    from segmentation.schemes.lifecycle import lifecycle

    settings = load_config()
    path, rows, ids = write_grade_history(demo_history, tmp_path, config=settings, lang=lang)
    assert path == tmp_path / GRADE_HISTORY_FILE and ids.written == "original"
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    written = pd.read_csv(path, dtype=str, encoding="utf-8-sig", keep_default_na=False)
    id_header = settings["export"]["headers"]["id"][lang]
    scheme_header = settings["over_time"]["moves_headers"]["scheme"][lang]
    months = [f"{day:%Y-%m}" for day in demo_history.month_ends]
    assert months[0] == "2025-11" and months[-1] == "2026-10" and len(months) == 12
    assert list(written.columns) == [id_header, scheme_header, *months]
    # every customer known at the last month-end, once per scheme
    assert rows == len(written) == 3 * len(demo_history.customer_ids) == 3 * 5_000
    prefixes = settings["export"]["tag_prefix"]
    for scheme in (member_grade, value_tier, lifecycle):
        mine = written.loc[written[scheme_header] == prefixes[scheme.__name__][lang]]
        mine = mine.set_index(id_header)
        assert len(mine) == 5_000 and mine.index.is_unique
        # three month-ends, each from its own snapshot alone
        for day in (demo_history.month_ends[0], pd.Timestamp("2026-09-30"), DEMO_AS_OF):
            snapshot = customer_snapshot(
                demo_tables.orders, demo_tables.customers, demo_tables.interactions, as_of=day
            )
            segmented = scheme(snapshot, config=settings)
            names = segmented.profile[f"name_{lang}"]
            expected = segmented.labels.astype(str).map(names).sort_index()
            column = mine[f"{day:%Y-%m}"]
            known = column.loc[column != ""].sort_index()
            assert known.index.tolist() == expected.index.astype(str).tolist(), day
            assert known.tolist() == expected.tolist(), (scheme.__name__, day)
            assert (column == "").sum() == 5_000 - len(snapshot)
    # the moves file is the history's last two columns where both are known and differ
    grades = written.loc[written[scheme_header] == prefixes["member_grade"][lang]]
    moved = grades.loc[(grades["2026-09"] != "") & (grades["2026-09"] != grades["2026-10"])]
    assert (
        sorted(moved[id_header])
        == _independent_moves(demo_tables, member_grade, lang)["id"].tolist()
    )


def test_moves_file_takes_pseudonyms_as_segments_csv_does(
    demo_history: SegmentHistory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from segmentation.export import write_grade_history, write_grade_moves
    from segmentation.privacy import pseudonymise_customer_ids

    monkeypatch.setenv("SEGMENTATION_PII_KEY", "over-time-test-key")
    settings = load_config()
    path, _, ids = write_grade_moves(
        demo_history, tmp_path, config=settings, ids="pseudonymous", project_dir=tmp_path
    )
    assert ids.written == "pseudonymous"
    written = pd.read_csv(path, dtype=str, encoding="utf-8-sig")
    plain = demo_history.moves("member_grade")["customer_id"]
    expected = set(pseudonymise_customer_ids(plain, key="over-time-test-key"))
    assert expected <= set(written.iloc[:, 0])
    assert not set(plain) & set(written.iloc[:, 0])  # no shop id left
    # the history file: every known customer under the same pseudonym, no shop id
    history_path, _, history_ids = write_grade_history(
        demo_history, tmp_path, config=settings, ids="pseudonymous", project_dir=tmp_path
    )
    assert history_ids.written == "pseudonymous"
    in_history = pd.read_csv(history_path, dtype=str, encoding="utf-8-sig", keep_default_na=False)
    known = demo_history.customer_ids.astype(str)
    assert set(in_history.iloc[:, 0]) == set(
        pseudonymise_customer_ids(known, key="over-time-test-key")
    )
    # row by row the file with the shop's ids, each id replaced by its pseudonym
    plain_path, _, _ = write_grade_history(
        demo_history, tmp_path / "plain", config=settings, ids="original", project_dir=tmp_path
    )
    plain = pd.read_csv(plain_path, dtype=str, encoding="utf-8-sig", keep_default_na=False)
    replaced = pseudonymise_customer_ids(plain.iloc[:, 0], key="over-time-test-key")
    assert in_history.iloc[:, 0].tolist() == replaced.tolist()
    pd.testing.assert_frame_equal(in_history.iloc[:, 1:], plain.iloc[:, 1:])
    # given segments.csv's choice itself: the same bytes, the choice handed back as it is
    for write, written in ((write_grade_moves, path), (write_grade_history, history_path)):
        again, _, kept = write(
            demo_history, tmp_path / "kept", config=settings, ids=ids, project_dir=tmp_path
        )
        assert kept is ids and again.read_bytes() == written.read_bytes()
    original = dataclasses.replace(ids, asked="original", written="original", key_source="")
    again, _, kept = write_grade_history(
        demo_history, tmp_path / "kept", config=settings, ids=original, project_dir=tmp_path
    )
    assert kept is original and again.read_bytes() == plain_path.read_bytes()


_IDS = [f"c{i}" for i in range(8)]
_YEAR = pd.Timestamp("2024-01-01")
# (customer, order number, day of 2024, amount): refunds negative, same-day orders
_order = st.tuples(
    st.sampled_from(_IDS),
    st.integers(0, 30),
    st.integers(0, 365),
    st.sampled_from([-25.0, 12.5, 40.0, 99.9, 600.0, 3000.0]),
)
# Orders after a month-end: old and new customers, days after it
_later = st.tuples(
    st.sampled_from([*_IDS, "n0", "n1"]),
    st.integers(100, 120),
    st.integers(1, 120),
    st.sampled_from([-25.0, 40.0, 3000.0]),
)


def _frame(rows: list[tuple[str, str, pd.Timestamp, float]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": pd.array([r[0] for r in rows], dtype="string"),
            "order_id": pd.array([r[1] for r in rows], dtype="string"),
            "order_ts": pd.to_datetime([r[2] for r in rows]),
            "amount": np.array([r[3] for r in rows], dtype=float),
        }
    ).sort_values("order_ts", kind="stable", ignore_index=True)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    orders=st.lists(_order, min_size=3, max_size=30),
    later=st.lists(_later, min_size=1, max_size=10),
    cut=st.integers(0, 4),
)
def test_orders_after_a_month_end_never_change_that_months_sizes(
    orders: list[tuple], later: list[tuple], cut: int
) -> None:
    settings_ = load_config()
    days = month_ends("2024-12-31", months=6)
    base = [(c, f"o{n}", _YEAR + pd.Timedelta(days=d, hours=10), a) for c, n, d, a in orders]
    added = [(c, f"o{n}", days[cut] + pd.Timedelta(days=d, hours=9), a) for c, n, d, a in later]

    def history(rows: list[tuple]) -> SegmentHistory:
        return segment_history(
            _frame(rows),
            as_of=days[-1],
            config=settings_,
            months=6,
            schemes=list(settings_["over_time"]["schemes"]),
            track=["member_grade", "value_tier"],
        )

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tied RFM quintiles on a handful of customers
        before, after = history(base), history(base + added)
    kept = [day for day in before.month_ends if day <= days[cut]]
    assert [day for day in after.month_ends if day <= days[cut]] == kept
    pd.testing.assert_series_equal(before.customers.loc[kept], after.customers.loc[kept])
    for name, sizes in before.sizes.items():
        pd.testing.assert_frame_equal(sizes.loc[kept], after.sizes[name].loc[kept], obj=name)
    for name in ("member_grade", "value_tier"):
        mine = before.grade_history(name)[[f"{d:%Y-%m}" for d in kept]]
        theirs = after.grade_history(name).reindex(before.customer_ids)[mine.columns]
        pd.testing.assert_frame_equal(mine, theirs, obj=name)
    cohorts_before = cohort_matrix(_frame(base), as_of=days[cut], months=6)
    cohorts_after = cohort_matrix(_frame(base + added), as_of=days[cut], months=6)
    pd.testing.assert_frame_equal(cohorts_before.buyers, cohorts_after.buyers)
    pd.testing.assert_frame_equal(
        cohorts_before.revenue_per_member, cohorts_after.revenue_per_member
    )


def _numbers(text: str) -> list[float]:
    """The numbers of a sentence in order: 1,234 -> 1234, 30.6% -> 0.306; dates (2026-10)
    and month offsets are numbers too."""
    found = re.findall(r"(\d[\d,]*(?:\.\d+)?)(%?)", text)
    return [float(n.replace(",", "")) / (100 if pct else 1) for n, pct in found]


@pytest.fixture(scope="module")
def demo_cohorts(demo_tables: Any) -> CohortMatrix:
    return cohort_matrix(demo_tables.orders, as_of=DEMO_AS_OF, months=24)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_cohort_sentence_states_its_numbers(demo_cohorts: CohortMatrix, lang: str) -> None:
    cohorts = demo_cohorts
    text = over_time_sections.cohort_sentence(cohorts, lang=lang)
    sizes = cohorts.sizes
    # Plain reading of the tables: first buyers, cohorts, the weighted next-month rate, the
    # largest cohort and its last observed month.
    with_next = cohorts.buyers[1].notna() & (sizes > 0)
    rate = cohorts.buyers[1][with_next].sum() / sizes[with_next].sum()
    largest = sizes.idxmax()
    row = cohorts.retention.loc[largest].dropna()
    expected = [24, sizes.sum(), (sizes > 0).sum(), round(rate, 3)]
    expected += [largest.year, largest.month, sizes.max(), row.index[-1], round(row.iloc[-1], 3)]
    got = _numbers(text)
    if lang == "zh":  # 第 k 个月 comes before the share in Chinese
        assert got == pytest.approx(expected, abs=5e-4)
    else:
        assert got == pytest.approx(
            [*expected[:4], *expected[4:7], expected[8], expected[7]], abs=5e-4
        )
    assert f"{sizes.sum():,}" in text and f"{rate:.1%}" in text


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_sizes_sentence_states_its_numbers(demo_history: SegmentHistory, lang: str) -> None:
    scheme = "value_tier"
    sizes = demo_history.sizes[scheme]
    names = demo_history.segments[scheme][f"name_{lang}"]
    text = over_time_sections.sizes_sentence(demo_history, scheme, lang=lang)
    now = sizes.iloc[-1]
    largest = now.idxmax()
    assert now[largest] == now.max() and f"**{names[largest]}**" in text
    assert f"{now[largest]:,}" in text
    assert f"{now[largest] / demo_history.customers.iloc[-1]:.1%}" in text
    change = (sizes.iloc[-1] - sizes.iloc[0]).abs()
    moved = change.idxmax()
    assert change[moved] == change.max()
    assert f"{names[moved]}: " in text or f"{names[moved]}：" in text
    assert f"{sizes[moved].iloc[0]:,} → {sizes[moved].iloc[-1]:,}" in text
    assert f"{demo_history.customers.iloc[0]:,}" in text
    assert f"{demo_history.customers.iloc[-1]:,}" in text


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("scheme", ["member_grade", "lifecycle"])
def test_migration_sentence_states_its_numbers(
    demo_history: SegmentHistory, scheme: str, lang: str
) -> None:
    text = over_time_sections.migration_sentence(demo_history, scheme, lang=lang)
    codes = demo_history.grades[scheme]
    before, after = codes[:, -2], codes[:, -1]
    both = (before >= 0) & (after >= 0)
    stayed = (before == after) & both
    up, down = (after > before) & both, (after < before) & both
    new = (before < 0) & (after >= 0)
    assert f"{both.sum():,}" in text and f"**{stayed.sum() / both.sum():.1%}**" in text
    assert f"{new.sum():,}" in text
    if demo_history.ordered[scheme]:
        assert f"{up.sum() / both.sum():.1%}" in text and f"{down.sum() / both.sum():.1%}" in text
    stayed_each = [
        ((codes[:, m] == codes[:, m - 1]) & (codes[:, m - 1] >= 0)).sum()
        / ((codes[:, m - 1] >= 0) & (codes[:, m] >= 0)).sum()
        for m in range(1, codes.shape[1])
    ]
    assert f"{np.mean(stayed_each):.1%}" in text


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_moves_sentence_states_the_counts_of_the_file(
    demo_history: SegmentHistory, tmp_path: Path, lang: str
) -> None:
    from segmentation.export import GRADE_MOVES_FILE, write_grade_moves

    settings = load_config()
    schemes = list(settings["over_time"]["moved_schemes"])
    text = over_time_sections.moves_sentence(demo_history, schemes, lang=lang)
    path, _, _ = write_grade_moves(demo_history, tmp_path, config=settings, lang=lang)
    written = pd.read_csv(path, dtype=str, encoding="utf-8-sig", keep_default_na=False)
    headers = {k: v[lang] for k, v in settings["over_time"]["moves_headers"].items()}
    expected = []
    for scheme in schemes:
        rows = written.loc[
            written[headers["scheme"]] == settings["export"]["tag_prefix"][scheme][lang]
        ]
        expected += [
            int((rows[headers["move"]] == headers["up"]).sum()),
            int((rows[headers["move"]] == headers["down"]).sum()),
        ]
    # after the two months (YYYY-MM each); last, the month-ends of the history file
    assert _numbers(text)[4:-1] == expected
    assert _numbers(text)[-1] == len(demo_history.month_ends) == 12
    assert GRADE_MOVES_FILE in text and "grade_history.csv" in text


def test_a_history_before_any_customer_is_empty() -> None:
    orders = _frame([("a", "o1", pd.Timestamp("2024-06-03"), 10.0)])
    history = segment_history(
        orders,
        as_of="2024-03-31",
        config=load_config(),
        months=3,
        schemes=["member_grade"],
        track=["member_grade"],
    )
    assert history.month_ends == () and history.sizes == {} and len(history.customer_ids) == 0
    later = segment_history(
        orders,
        as_of="2024-07-31",
        config=load_config(),
        months=3,
        schemes=["member_grade"],
        track=["member_grade"],
    )
    # June and July only: nobody was known at the end of May.
    assert [f"{d:%Y-%m}" for d in later.month_ends] == ["2024-06", "2024-07"]
    assert later.customers.tolist() == [1, 1]
    assert later.sizes["member_grade"].sum(axis=1).tolist() == [1, 1]
    assert later.moves("member_grade").empty
