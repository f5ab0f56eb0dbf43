"""One language per report, tables formatted for people, every number traceable: the demo
report in zh and en, walked as HTML."""

from __future__ import annotations

import html as html_lib
import re
from pathlib import Path

import nbformat
import pytest
from bs4 import BeautifulSoup

from segmentation.export import EXPORT_FILES, GRADE_HISTORY_FILE, GRADE_MOVES_FILE
from segmentation.formatting import money
from segmentation.report import combine_notebooks, load_month_data
from segmentation.report._analysis_file import load_analysis

CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
SNAKE = re.compile(r"\b[a-z][a-z0-9]*_[a-z0-9_]+\b")
# Names a zh reader meets as they are: abbreviations, models, scores' authors.
ABBREVIATIONS = (
    "Calinski–Harabasz",
    "Davies–Bouldin",
    "Gamma-Gamma",
    "Pareto/NBD",
    "MBG/NBD",
    "BG/NBD",
    "P(alive)",
    "Spearman",
    "Brier",
    "Jaccard",
    "Newcombe",
    "eta²",
    "RMSE",
    "RFM",
    "CLV",
    "AUC",
    "ARI",
    "AMI",
    "MAE",
    "ID",
)
SECTIONS = {
    "zh": ["数据质量", "规则分层", "聚类分群", "客户终身价值（CLV）", "方案对比与行动手册"],
    "en": [
        "Data quality",
        "Rule-based schemes",
        "Behavioural clusters",
        "Customer lifetime value (CLV)",
        "Which scheme to use, and what to do",
    ],
}


def _soup(result: object) -> BeautifulSoup:
    page = result.index_html.read_text(encoding="utf-8")  # type: ignore[attr-defined]
    soup = BeautifulSoup(page, "html.parser")
    for tag in soup(["script", "style"]):
        tag.decompose()
    return soup


def _labels(soup: BeautifulSoup) -> list[str]:
    """Every table header and every row's label (its first cell)."""
    found = [th.get_text(" ", strip=True) for th in soup.find_all("th")]
    for row in soup.select("table tbody tr"):
        first = row.find(["th", "td"])
        if first is not None:
            found.append(first.get_text(" ", strip=True))
    return [label for label in found if label]


def _is_english(label: str) -> bool:
    """Latin words left once the names a zh reader knows are taken out."""
    if CJK.search(label):
        return False
    for name in ABBREVIATIONS:
        label = label.replace(name, " ")
    # a single letter is a symbol: k, r, a, b (parameters), R, F, M
    return bool(re.search(r"[A-Za-z]{2,}", label))


def test_the_zh_report_has_no_english_or_snake_case_header_or_row_label(
    demo_reports: dict,
) -> None:
    labels = _labels(_soup(demo_reports["zh"]))
    assert len(labels) > 250
    assert [label for label in labels if _is_english(label)] == []
    assert [label for label in labels if SNAKE.search(label)] == []


def test_the_zh_report_is_in_chinese_from_title_to_the_last_heading(demo_reports: dict) -> None:
    result = demo_reports["zh"]
    page = result.index_html.read_text(encoding="utf-8")
    assert '<html lang="zh-CN">' in page
    soup = _soup(result)
    assert soup.title.get_text() == "客户分层月报 2026-10 · 演示数据（程序生成，非真实客户）"
    headings = [h.get_text(strip=True).rstrip("¶") for h in soup.find_all(["h2", "h3"])]
    assert [h for h in headings if h in SECTIONS["zh"]] == SECTIONS["zh"]
    assert [h for h in headings if _is_english(h)] == []
    # prose: only the names a reader knows stay in Latin letters
    prose = " ".join(p.get_text(" ", strip=True) for p in soup.find_all(["p", "li"]))
    for name in ABBREVIATIONS:
        prose = prose.replace(name, " ")
    # the files the report folder holds are named as the reader will find them
    for name in (*EXPORT_FILES, GRADE_MOVES_FILE, GRADE_HISTORY_FILE):
        prose = prose.replace(name, " ")
    words = set(re.findall(r"[A-Za-z]{3,}", prose))
    assert words <= {"Hennig", "log", "means", "quarantine", "csv", "alive"}, words


def test_the_en_report_has_no_chinese_outside_the_customers_own_data(demo_reports: dict) -> None:
    result = demo_reports["en"]
    page = result.index_html.read_text(encoding="utf-8")
    assert '<html lang="en">' in page
    data = load_month_data(prepared_dir=result.out_dir / "data")
    customer_values: set[str] = set()
    for column in ("region", "city", "city_tier", "source_channel", "industry"):
        customer_values |= set(data.customers[column].dropna().astype(str))
    customer_values |= {t.strip() for v in data.customers["tags"].dropna() for t in v.split(";")}
    # The shop's products and categories are its own data too (the association rules name
    # them); a sentence may state a value inside English words ("Region 安徽 (against 广东)"),
    # so each run of Chinese characters must come from one of those values.
    shop_values = customer_values | set(data.orders["product_name"].dropna().astype(str))
    shop_values |= set(data.orders["category"].dropna().astype(str))
    # Campaign names are the shop's own too (the campaign section titles each table with one).
    if data.campaigns is not None:
        shop_values |= set(data.campaigns["campaign_id"].astype(str))
    soup = _soup(result)
    chinese = [s.strip() for s in soup.find_all(string=CJK)]
    assert chinese, "the demo's customers carry Chinese regions, channels and tags"
    runs = {run for text in chinese for run in re.findall(r"[\u3400-\u9fff\uf900-\ufaff]+", text)}
    assert [run for run in runs if not any(run in value for value in shop_values)] == []
    assert soup.title.get_text() == (
        "Customer segmentation report 2026-10 · Generated demo data (not real customers)"
    )
    headings = [h.get_text(strip=True).rstrip("¶") for h in soup.find_all(["h2", "h3"])]
    assert [h for h in headings if h in SECTIONS["en"]] == SECTIONS["en"]
    assert [label for label in _labels(soup) if SNAKE.search(label)] == []


def _columns(soup: BeautifulSoup) -> list[tuple[str, list[str]]]:
    """(header, cells) of every column of every table with one header row."""
    columns = []
    for table in soup.find_all("table"):
        head = table.find("thead")
        if head is None or len(head.find_all("tr")) != 1:
            continue
        headers = [th.get_text(" ", strip=True) for th in head.find_all("th")]
        rows = [[c.get_text(" ", strip=True) for c in tr.find_all(["th", "td"])]
                for tr in table.select("tbody tr")]  # fmt: skip
        rows = [row for row in rows if len(row) == len(headers)]
        columns += [(h, [row[i] for row in rows]) for i, h in enumerate(headers)]
    return columns


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_cell_is_formatted_for_people(demo_reports: dict, lang: str) -> None:
    soup = _soup(demo_reports[lang])
    cells = [td.get_text(" ", strip=True) for td in soup.find_all("td")]
    assert [c for c in cells if re.search(r"\b(NaN|nan|None|inf)\b", c)] == []
    assert [c for c in cells if re.fullmatch(r"-?[\d,]*\.\d{6,}", c)] == []
    columns = _columns(soup)
    share = re.compile(r"占比|比例" if lang == "zh" else r"\bshare\b")
    shares = [(h, c) for h, cells in columns if share.search(h) for c in cells]
    assert len(shares) > 100
    assert [(h, c) for h, c in shares if not re.fullmatch(r"\d{1,3}\.\d%|—", c)] == []
    size = "人数" if lang == "zh" else "customers"
    counts = [c for h, cells in columns if h == size for c in cells]
    assert len(counts) > 50
    assert [c for c in counts if not re.fullmatch(r"\d{1,3}(,\d{3})*", c)] == []
    spend = "平均累计消费" if lang == "zh" else "mean total spend"
    money_cells = [c for h, cells in columns if h == spend for c in cells]
    assert [c for c in money_cells if not re.fullmatch(r"\d{1,3}(,\d{3})*\.\d{2}", c)] == []


def test_no_action_is_cut_short_in_the_en_report(demo_reports: dict) -> None:
    result = demo_reports["en"]
    cells = {td.get_text(" ", strip=True) for td in _soup(result).find_all("td")}
    analysis = load_analysis(result.out_dir / "data" / "analysis.pkl")
    actions = {
        action
        for segmentation in analysis.current.segmentations.values()
        for action in segmentation.profile["action_en"]
    }
    assert max(len(a) for a in actions) > 50
    assert actions <= cells


def test_each_scheme_states_the_thresholds_and_parameters_it_used(demo_reports: dict) -> None:
    result = demo_reports["zh"]
    text = html_lib.unescape(_soup(result).get_text(" "))
    analysis = load_analysis(result.out_dir / "data" / "analysis.pkl")
    schemes = analysis.current.segmentations
    assert "首次购买在 30 天内" in text and "购买 ≥ 4 次" in text
    assert "沉睡 ×3，[30, 180] 天；流失 ×6，[90, 365] 天" in text
    assert not re.search(r"在 N 天内|达到 k 次", text)
    edges = schemes["rfm_named"].details["quintile_edges"]["M"]
    assert f"M 累计消费 {edges[0]:,.2f}" in text or f"M 累计消费 {edges[0]:,.0f}" in text
    assert (
        f"本月门槛：累计消费 ≥ {money(schemes['value_tier'].details['min_spend']['high'])}" in text
    )
    assert "累计净消费 ≥ 10,000 为钻石会员" in text
    assert "购买次数 ≥ 5 为高频，≥ 2 为中频" in text
    assert "近 90 天互动次数 ≥ 6 为高互动" in text
    clv_tier = schemes["clv_tier"].details
    purchase = clv_tier["purchase_model"]
    assert f"模型：{purchase['title']}（购买次数）+ Gamma-Gamma" in text
    assert "预测期 365 天，月折现率 1.0%" in text
    assert f"r = {purchase['params']['r']:.4g}" in text
    assert f"γ = {clv_tier['spend_model']['params']['gamma']:.4g}" in text
    assert f"（{money(clv_tier['clv_cuts'][0])}）为低价值" in text
    assert "P(存活) < 0.3 为高风险" in text
    assert "clv.model" not in text  # the model is named, not the config key
    backtest = analysis.clv_backtest
    for name, fit in backtest.fits.items():
        assert f"{fit.summary()['params']['alpha']:.4g}" in text, name
    clusters = schemes["clusters"].details
    assert f"k = {clusters['k']}" in text and "近90天互动次数 (log1p)" in text


def _notebook(path: Path, cells: list[tuple[str, list[str]]]) -> Path:
    notebook = nbformat.v4.new_notebook()
    for source, tags in cells:
        cell = nbformat.v4.new_markdown_cell(source)
        cell["metadata"]["tags"] = tags
        notebook.cells.append(cell)
    nbformat.write(notebook, path)
    return path


@pytest.mark.parametrize("lang,other", [("zh", "en"), ("en", "zh")])
def test_combine_notebooks_keeps_the_cells_of_the_reports_language(
    tmp_path: Path, lang: str, other: str
) -> None:
    paths = [
        _notebook(tmp_path / "a.ipynb", [("## 质量", ["lang-zh"]), ("## Quality", ["lang-en"]),
                                         ("shown in both", [])]),
        _notebook(tmp_path / "b.ipynb", [("### 排名", ["lang-zh"]), ("### Ranking", ["lang-en"]),
                                         ("p", ["parameters"])]),
    ]  # fmt: skip
    combined = combine_notebooks(paths, title="T", lang=lang)
    # The title, then the folded table of contents (no cell is tagged before-contents here).
    assert [cell.id for cell in combined.cells[:2]] == ["title", "contents"]
    sources = [cell.source for cell in combined.cells[2:]]
    expected = {"zh": ["## 质量", "shown in both", "### 排名"],
                "en": ["## Quality", "shown in both", "### Ranking"]}  # fmt: skip
    assert sources == expected[lang]
    contents = combined.cells[1].source
    assert all(heading.lstrip("# ") in contents for heading in expected[lang] if "#" in heading)
    assert not any(
        heading.lstrip("# ") in contents for heading in expected[other] if "#" in heading
    )
    assert combined.metadata["language"] == {"zh": "zh-CN", "en": "en"}[lang]
