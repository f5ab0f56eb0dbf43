"""The first screen and the playbook: every number they state against the orders and the
analysis, computed here independently, on the demo, CDNOW and Online Retail."""

from __future__ import annotations

from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest
from bs4 import BeautifulSoup

from segmentation.analysis import MonthAnalysis, analyse_month
from segmentation.config import load_config
from segmentation.features import matched_cancellations
from segmentation.i18n import localized
from segmentation.ingest import ingest
from segmentation.report import combine_notebooks, playbook, sections, summary
from segmentation.report._numbers import count, money, percent, signed_percent

SETTINGS = load_config()


# --- hand-computed cases ----------------------------------------------------------------------


def test_the_ordering_rule_on_a_hand_computed_case() -> None:
    # In the scheme's order, lowest first. Value at stake = size × value per customer:
    # potential 100 × 2 = 200, low 50 × 4 = 200, mid 20 × 15 = 300, high 10 × NaN,
    # mid_b 20 × 15 = 300, top 40 × 5 = 200.
    segments = pd.DataFrame(
        {
            "size": [100, 50, 20, 10, 20, 40],
            "value_per_customer": [2.0, 4.0, 15.0, np.nan, 15.0, 5.0],
        },
        index=["potential", "low", "mid", "high", "mid_b", "top"],
    )
    ordered = playbook.order_by_value_at_stake(segments)
    # 300 twice (same size: the later, higher segment first), then 200 by size, NaN last
    assert list(ordered.index) == ["mid_b", "mid", "potential", "low", "top", "high"]
    assert ordered["value_at_stake"].tolist()[:5] == [300.0, 300.0, 200.0, 200.0, 200.0]
    assert np.isnan(ordered.loc["high", "value_at_stake"])
    assert ordered["priority"].tolist() == [1, 2, 3, 4, 5, 6]


def test_attribute_cells_on_a_hand_computed_case() -> None:
    # Two segments over three values; "z" has too few customers to be shown.
    counts = pd.DataFrame({"A": [30, 10, 1], "B": [10, 30, 1]}, index=["x", "y", "z"])
    cells = playbook._cells(counts, min_customers=10)
    # base: A 41/82 = 0.5, B 0.5; x: A 0.75 (+0.25), B 0.25 (-0.25); y the mirror.
    assert set(cells["value"]) == {"x", "y"}
    assert cells["difference"].abs().tolist() == [0.25] * 4
    # ties in |difference| go to more customers, then table order
    assert cells[["value", "segment", "customers"]].values.tolist() == [
        ["x", "A", 30],
        ["y", "B", 30],
        ["x", "B", 10],
        ["y", "A", 10],
    ]
    assert cells["share"].tolist() == [0.75, 0.75, 0.25, 0.25]
    assert cells["base"].tolist() == [0.5] * 4


def test_numbers_read_as_people_write_them() -> None:
    assert count(1234567.4) == "1,234,567" and count(np.nan) == "—" and count(None) == "—"
    assert money(1234.5) == "1,234.50" and money(float("inf")) == "—" and money(pd.NA) == "—"
    assert percent(0.12345) == "12.3%" and percent(0.5, digits=0) == "50%"
    assert signed_percent(0.05) == "+5.0%" and signed_percent(-0.2) == "-20.0%"


def test_every_segment_of_every_scheme_has_a_channel_and_a_cadence() -> None:
    contact = SETTINGS["contact"]
    for scheme, section in SETTINGS.items():
        if not isinstance(section, dict) or "segments" not in section or scheme == "contact":
            continue
        assert set(contact["segments"][scheme]) == set(section["segments"]), scheme
    for scheme, segments in contact["segments"].items():
        for key, entry in segments.items():
            assert entry["channel"] in contact["channels"], (scheme, key)
            assert entry["cadence"] in contact["cadences"], (scheme, key)
    for vocabulary in ("channels", "cadences"):
        for entry in contact[vocabulary].values():
            assert entry["zh"] and entry["en"]
    assert {c["zh"] for c in contact["channels"].values()} == {
        "企微私聊",
        "企微社群",
        "朋友圈",
        "短信",
    }


def test_the_table_of_contents_follows_the_first_screen_and_folds(tmp_path: Path) -> None:
    first = nbformat.v4.new_notebook()
    screen = nbformat.v4.new_code_cell("summary")
    screen.metadata["tags"] = ["before-contents"]
    first.cells = [nbformat.v4.new_code_cell("parameters"), screen]
    first.cells[0].metadata["tags"] = ["parameters"]
    second = nbformat.v4.new_notebook()
    second.cells = [
        nbformat.v4.new_markdown_cell("## Data · 数据\n\n### Rows"),
        nbformat.v4.new_code_cell("x"),
    ]
    paths = [tmp_path / "a.ipynb", tmp_path / "b.ipynb"]
    for notebook, path in zip((first, second), paths, strict=True):
        nbformat.write(notebook, path)
    combined = combine_notebooks(paths, title="Report 2026-10", lang="en")
    assert [cell["id"] for cell in combined.cells] == ["title", "s1-1", "contents", "s2-0", "s2-1"]
    assert combined.cells[0].source == "# Report 2026-10"
    toc = combined.cells[2].source
    assert toc.startswith("<details><summary><b>Contents</b></summary>") and toc.endswith(
        "</details>"
    )
    assert (
        '<a href="#Data-%C2%B7-%E6%95%B0%E6%8D%AE">Data · 数据</a><ul><li><a href="#Rows">' in toc
    )


# --- real data --------------------------------------------------------------------------------


def _analysed(
    path: Path, month_end: str
) -> tuple[pd.DataFrame, pd.DataFrame | None, MonthAnalysis]:
    data = ingest(path)
    analysis = analyse_month(
        data.orders, data.customers, data.interactions, as_of=month_end, config=SETTINGS
    )
    return data.orders, data.customers, analysis


@pytest.fixture(scope="module")
def demo(demo_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame | None, MonthAnalysis]:
    return _analysed(demo_dir, "2026-10-31")


def _purchases(orders: pd.DataFrame, until: pd.Timestamp) -> pd.DataFrame:
    """Per (customer, order) up to ``until``: its first time and whether it is a purchase (it
    has a sale, and is not refunded in full), by plain pandas."""
    rows = orders.loc[orders["customer_id"].notna() & (orders["order_ts"] < until)].copy()
    rows["customer_id"] = rows["customer_id"].astype(str)
    rows["order_id"] = rows["order_id"].astype(str)
    rows["sale"] = rows["amount"] >= 0
    rows["refund"] = rows["amount"] < 0
    grouped = rows.groupby(["customer_id", "order_id"], observed=True).agg(
        ts=("order_ts", "min"),
        net=("amount", "sum"),
        sale=("sale", "any"),
        refund=("refund", "any"),
    )
    # Cancellations under their own order id net the order whose line they cancel (the
    # pairs as features.matched_cancellations finds them; the netting here by pandas).
    matches = matched_cancellations(orders, as_of=until - pd.Timedelta(days=1))
    sale = orders.iloc[matches["sale_row"]]
    moved = (
        pd.DataFrame(
            {
                "customer_id": sale["customer_id"].astype(str).to_numpy(),
                "order_id": sale["order_id"].astype(str).to_numpy(),
                "amount": matches["amount"].to_numpy(),
            }
        )
        .groupby(["customer_id", "order_id"])["amount"]
        .sum()
    )
    grouped["net"] = grouped["net"].add(moved.reindex(grouped.index), fill_value=0.0)
    grouped["refund"] |= grouped.index.isin(moved.index)
    grouped["purchase"] = grouped["sale"] & ~(grouped["refund"] & (grouped["net"] <= 1e-6))
    return grouped.loc[grouped["purchase"]].reset_index()


def _independent_kpis(orders: pd.DataFrame, as_of: pd.Timestamp) -> dict[str, float]:
    until = as_of + pd.Timedelta(days=1)
    month = as_of.to_period("M")
    start, previous_start = month.start_time, (month - 1).start_time
    ts = orders["order_ts"]
    purchases = _purchases(orders, until)
    in_month = purchases.loc[purchases["ts"] >= start]
    first = purchases.groupby("customer_id")["ts"].min()
    return {
        "revenue": float(orders.loc[(ts >= start) & (ts < until), "amount"].sum()),
        "previous_revenue": float(
            orders.loc[(ts >= previous_start) & (ts < start), "amount"].sum()
        ),
        "buyers": in_month["customer_id"].nunique(),
        "new_customers": int((first >= start).sum()),
    }


def _independent_lost(analysis: MonthAnalysis) -> int:
    now = analysis.current.segmentations["lifecycle"].labels.astype(str)
    before = analysis.previous.segmentations["lifecycle"].labels.astype(str).reindex(now.index)
    return int(((now == "churned") & (before != "churned")).sum())


def _independent_plan(analysis: MonthAnalysis, scheme: str) -> pd.DataFrame:
    """Size, last month's size and value at stake per segment, by plain pandas."""
    now = analysis.current.segmentations[scheme].labels
    keys = [str(k) for k in now.cat.categories]
    at_calibration = analysis.calibration.segmentations[scheme].labels.astype(str)
    revenue = analysis.outcomes["revenue"]
    mean = revenue.groupby(at_calibration.reindex(revenue.index)).mean()
    if scheme == "clusters":  # same k, both in value order: matched by rank
        calibration_keys = [
            str(k) for k in analysis.calibration.segmentations[scheme].labels.cat.categories
        ]
        mean = pd.Series([mean.get(k, np.nan) for k in calibration_keys], index=keys)
    before = analysis.previous.segmentations[scheme].labels.astype(str).value_counts()
    table = pd.DataFrame(
        {
            "size": [int((now.astype(str) == k).sum()) for k in keys],
            "previous_size": [before.get(k, np.nan) for k in keys],
            "value_per_customer": [mean.get(k, np.nan) for k in keys],
        },
        index=keys,
    )
    table["value_at_stake"] = table["size"] * table["value_per_customer"]
    table["position"] = np.arange(len(table))
    return table.sort_values(
        ["value_at_stake", "size", "position"], ascending=False, na_position="last"
    )


def _check_first_screen(orders: pd.DataFrame, analysis: MonthAnalysis, lang: str) -> None:
    page = BeautifulSoup(
        summary.first_screen(orders, analysis, lang=lang, config=SETTINGS).data, "html.parser"
    )
    root = page.find(id="kit-summary")
    assert root is not None and root["lang"] == lang
    parts = [part["data-kit"] for part in root.find_all(attrs={"data-kit": True})]
    assert parts == ["kpis", "recommendation", "actions"]
    assert "NaN" not in root.get_text() and "nan" not in root.get_text().split()

    def kpi(name: str) -> str:
        return root.find(attrs={"data-kpi": name}).get_text()

    expected = _independent_kpis(orders, analysis.as_of)
    assert kpi("customers") == count(len(analysis.snapshot))
    assert kpi("buyers") == count(expected["buyers"])
    assert kpi("revenue") == money(expected["revenue"])
    change = (expected["revenue"] - expected["previous_revenue"]) / expected["previous_revenue"]
    assert kpi("revenue_change") == signed_percent(change)
    assert kpi("new_customers") == count(expected["new_customers"])
    assert kpi("lost_customers") == count(_independent_lost(analysis))
    assert (
        money(expected["previous_revenue"])
        in root.find(attrs={"data-kpi": "revenue"}).parent["title"]
    )

    verdict, scores = analysis.verdict, analysis.scores
    recommendation = root.find(attrs={"data-kit": "recommendation"})
    assert recommendation["data-scheme"] == verdict.scheme
    sentence = summary.recommendation_sentence(analysis, lang=lang)
    assert sentence in recommendation.get_text()
    titles = analysis.scheme_titles()
    assert f"{localized(titles[verdict.scheme], lang)}" in sentence
    assert f" {int(scores['rank'].notna().sum())} " in sentence
    assert f"{scores.loc[verdict.scheme, 'top20_revenue_share']:.1%}" in sentence
    assert f"{verdict.support:.0%}" in sentence
    runner_named = (
        localized(titles[verdict.runner_up], lang) in sentence if verdict.runner_up else False
    )
    assert runner_named == (verdict.runner_up is not None and not verdict.clear)
    if runner_named:
        assert f"{scores.loc[verdict.runner_up, 'support']:.0%}" in sentence

    plan = _independent_plan(analysis, verdict.scheme)
    rows = recommendation.find_all("tr", attrs={"data-segment": True})
    present = plan.loc[(plan["size"] > 0) | (plan["previous_size"] > 0)]
    assert sorted(r["data-segment"] for r in rows) == sorted(present.index)
    for row in rows:
        cells = [td.get_text() for td in row.find_all("td")]
        key = row["data-segment"]
        assert cells[1] == count(plan.loc[key, "size"])
        assert cells[2].endswith(percent(plan.loc[key, "size"] / plan["size"].sum()))
        if np.isfinite(plan.loc[key, "previous_size"]):
            assert cells[3].startswith(
                f"{'+' if plan.loc[key, 'size'] > plan.loc[key, 'previous_size'] else ''}"
                f"{count(plan.loc[key, 'size'] - plan.loc[key, 'previous_size'])}"
            )

    actions = root.find(attrs={"data-kit": "actions"}).find_all("li")
    top = plan.loc[plan["size"] > 0].head(3)
    assert [a["data-segment"] for a in actions] == list(top.index)
    for action, (_, row) in zip(actions, top.iterrows(), strict=True):
        assert action.find(attrs={"data-action": "customers"}).get_text() == count(row["size"])
        assert action.find(attrs={"data-action": "value"}).get_text() == money(
            row["value_at_stake"]
        )
        contact = SETTINGS["contact"]
        channels = {c[lang] for c in contact["channels"].values()}
        assert any(channel in action.get_text() for channel in channels)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_demo_first_screen_states_the_orders_and_the_verdict(demo, lang: str) -> None:
    orders, _, analysis = demo
    _check_first_screen(orders, analysis, lang)


def test_the_demo_kpis_and_plan_in_numbers(demo) -> None:
    orders, customers, analysis = demo
    kpis = summary.month_kpis(orders, analysis)
    # measured on the demo, 2026-10
    # 889 never bought and 37 refunded every purchase (tests/test_states.py). September holds
    # the purchases the demo's wake-up campaign caused (previous revenue 612,139.00 without).
    assert (kpis.customers, kpis.never_bought, kpis.fully_refunded, kpis.buyers) == (
        5000,
        889,
        37,
        1065,
    )
    assert (kpis.new_customers, kpis.lost_customers) == (322, 100)
    assert kpis.revenue == pytest.approx(648890.75) and kpis.previous_revenue == pytest.approx(
        661280.25
    )
    assert not kpis.partial
    # every customer listed by now is a customer: the customers table has first-seen dates
    until = analysis.as_of + pd.Timedelta(days=1)
    listed = customers.loc[customers["first_seen_ts"] < until, "customer_id"]
    ordered = orders.loc[
        orders["customer_id"].notna() & (orders["order_ts"] < until), "customer_id"
    ]
    assert kpis.customers == len(set(listed.astype(str)) | set(ordered.astype(str)))
    plan = playbook.contact_plan(analysis, analysis.verdict.scheme, settings=SETTINGS)
    expected = _independent_plan(analysis, analysis.verdict.scheme)
    assert list(plan.index) == list(expected.index)
    assert np.allclose(plan["value_at_stake"], expected["value_at_stake"])


def test_each_schemes_migration_uses_the_months_positions_to_the_same_counts(
    demo, tmp_path: Path
) -> None:
    # The comparison's one lookup of last month's customers among this month's, kept in the
    # analysis (and in its saved file) for the notebooks' migrations: the same counts and
    # shares as looking the ids up again.
    from segmentation.report._analysis_file import dump_analysis, load_analysis
    from segmentation.schemes.migration import migration_between

    _, _, analysis = demo
    before, now = analysis.previous.snapshot.index, analysis.current.snapshot.index
    in_before, in_now = analysis.previous_positions
    assert before[in_before].equals(now[in_now])
    # every customer known last month is known this month (5,000 now)
    assert len(in_before) == len(before.intersection(now)) == 4_602 and len(now) == 5_000
    dump_analysis(analysis, tmp_path / "analysis.pkl")
    saved = load_analysis(tmp_path / "analysis.pkl")
    shared = sorted(set(analysis.previous.segmentations) & set(analysis.current.segmentations))
    assert len(shared) == 11  # every scheme of the demo, each month
    for scheme in shared:
        expected = migration_between(
            analysis.previous.segmentations[scheme], analysis.current.segmentations[scheme]
        )
        for got in (analysis.migration(scheme), saved.migration(scheme)):
            pd.testing.assert_frame_equal(got.counts, expected.counts)
            pd.testing.assert_frame_equal(got.row_shares, expected.row_shares)
            assert (got.n_both, got.n_new, got.n_gone) == (
                expected.n_both,
                expected.n_new,
                expected.n_gone,
            )
    with pytest.raises(KeyError):
        analysis.migration("no_such_scheme")


def test_every_scheme_has_a_contact_plan_that_covers_its_customers(demo) -> None:
    _, _, analysis = demo
    for scheme, segmentation in analysis.current.segmentations.items():
        plan = playbook.contact_plan(analysis, scheme, settings=SETTINGS)
        assert plan["size"].sum() == len(segmentation.labels), scheme
        expected = _independent_plan(analysis, scheme)
        assert list(plan.index) == list(expected.index), scheme
        assert plan[["channel_zh", "cadence_zh", "channel_en", "cadence_en"]].notna().all().all()


def _table(html: str) -> pd.DataFrame:
    """An HTML table's text cells, by header."""
    table = BeautifulSoup(html, "html.parser").find("table")
    headers = [th.get_text() for th in table.find("thead").find_all("th")]
    rows = [
        [td.get_text() for td in tr.find_all("td")] for tr in table.find("tbody").find_all("tr")
    ]
    return pd.DataFrame(rows, columns=headers)


def test_the_playbook_and_attribute_cuts_show_the_numbers(
    demo, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, _, analysis = demo
    shown: list[object] = []
    monkeypatch.setattr(sections, "display", shown.append)
    sections.show_playbook(analysis, lang="en")
    verdict = analysis.verdict
    tables = [_table(item.data) for item in shown if "<table" in getattr(item, "data", "")]
    assert len(tables) == (1 if verdict.clear else 2)
    table = tables[0]
    plan = _independent_plan(analysis, verdict.scheme)
    assert table["customers"].tolist() == [count(s) for s in plan["size"]]
    assert table["value at stake"].tolist() == [money(v) for v in plan["value_at_stake"]]
    assert "Value at stake = customers × expected revenue per customer" in shown[0].data

    shown.clear()
    sections.show_attribute_cuts(analysis, lang="zh")
    cut_tables = [item.data for item in shown if "<table" in getattr(item, "data", "")]
    assert len(cut_tables) == 5  # city tier, source channel, region, industry, tags
    highlights = playbook.attribute_highlights(
        analysis, verdict.scheme, settings=SETTINGS, lang="zh"
    )
    for name, cells in highlights.items():
        assert len(cells) == 5, name
        differences = cells["差异（百分点）"].astype(float).abs()
        assert differences.is_monotonic_decreasing
        for _, cell in cells.iterrows():
            share = float(cell["该取值内占比"].rstrip("%")) - float(cell["全体占比"].rstrip("%"))
            assert abs(share - float(cell["差异（百分点）"])) <= 0.11


def test_the_cdnow_first_screen_states_the_orders_and_the_verdict() -> None:
    from segmentation.datasets import cdnow_file

    orders, _, analysis = _analysed(cdnow_file(), "1998-06-30")
    for lang in ("zh", "en"):
        _check_first_screen(orders, analysis, lang)


@pytest.mark.shared
def test_the_online_retail_first_screen_states_the_orders_and_the_verdict(
    online_retail_path: Path,
) -> None:
    orders, _, analysis = _analysed(online_retail_path, "2011-11-30")
    for lang in ("zh", "en"):
        _check_first_screen(orders, analysis, lang)
