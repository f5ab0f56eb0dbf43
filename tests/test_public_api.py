"""The public face (``import segmentation as seg``): the README's example runs and gives the
labels ``segmentation segment`` writes; each call's options, results and displays."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import segmentation as seg
from segmentation.config import load_config
from segmentation.errors import InvalidOptionError, SegmentationInputError

from api_reference import README, readme_with_reference
from conftest import GoldenRun
from golden_outputs import GOLDEN_PII_KEY

# The demo export's path in the README's example; the Online Retail run swaps it.
README_DEMO_PATH = '"data/demo"'


def readme_python_blocks(text: str) -> list[str]:
    """Every ```python block of ``text``, in order."""
    return re.findall(r"^```python\n(.*?)^```$", text, flags=re.MULTILINE | re.DOTALL)


def _run_readme(work: Path, export_path: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Run the README's Python blocks in ``work`` (its own cache and key) on ``export_path``."""
    blocks = readme_python_blocks(README.read_text(encoding="utf-8"))
    assert sum(block.count(README_DEMO_PATH) for block in blocks) == 1
    monkeypatch.chdir(work)
    monkeypatch.setenv("SEGMENTATION_PII_KEY", GOLDEN_PII_KEY)
    namespace: dict[str, Any] = {}
    for block in blocks:
        exec(
            compile(block.replace(README_DEMO_PATH, repr(export_path)), "README.md", "exec"),
            namespace,
        )
    return namespace


def _check_against_the_cli(
    namespace: dict[str, Any], work: Path, golden: GoldenRun, *, customers: int, schemes: int
) -> None:
    """The README's files are the CLI's (the golden run's ``segmentation segment``) and the
    report's, and its labels are those the CLI's segments.csv holds."""
    cli_dir = golden.report_dir.parents[1] / "seg"
    assert (work / "crm" / "segments.csv").read_bytes() == (cli_dir / "segments.csv").read_bytes()
    segments = namespace["segments"]
    assert (len(segments.labels()), len(segments)) == (customers, schemes)
    written = pd.read_csv(cli_dir / "segments.csv", dtype=str, encoding="utf-8-sig")
    written = written.set_index("客户ID")
    labels = segments.labels()
    prefixes = load_config()["export"]["tag_prefix"]
    for scheme in segments:
        title = segments[scheme].display_title("zh")
        expected = prefixes[scheme]["zh"] + ":" + labels[scheme].astype(str)
        assert written[title].tolist() == expected.reindex(written.index).tolist(), scheme
    # compare() is the report's analysis: the same CRM file as the report's, in its language.
    comparison = namespace["comparison"].in_language(golden.lang)
    comparison.export_crm(work / "crm-report-lang")
    assert (work / "crm-report-lang" / "segments.csv").read_bytes() == (
        golden.report_dir / "segments.csv"
    ).read_bytes()


def test_the_readme_example_gives_the_cli_labels_on_the_demo(
    demo_dir: Path,
    golden_run: Callable[[str], GoldenRun],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    namespace = _run_readme(tmp_path, str(demo_dir), monkeypatch)
    _check_against_the_cli(namespace, tmp_path, golden_run("demo"), customers=5000, schemes=11)
    assert namespace["comparison"].recommended in namespace["segments"].schemes


@pytest.mark.shared
def test_the_readme_example_gives_the_cli_labels_on_online_retail(
    online_retail_path: Path,
    golden_run: Callable[[str], GoldenRun],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    namespace = _run_readme(tmp_path, str(online_retail_path), monkeypatch)
    golden = golden_run("online_retail")
    _check_against_the_cli(namespace, tmp_path, golden, customers=4330, schemes=9)
    assert namespace["segments"].unavailable.keys() == {"interaction_tier", "needs"}


def test_the_readme_reference_is_up_to_date_with_the_docstrings() -> None:
    text = README.read_text(encoding="utf-8")
    assert text == readme_with_reference(text), "run: python tests/api_reference.py"


def test_the_python_blocks_are_found() -> None:
    text = "a\n```python\nx = 1\n```\nb\n```bash\nls\n```\n```python\ny = 2\n```\n"
    assert readme_python_blocks(text) == ["x = 1\n", "y = 2\n"]


# --- each call, on a small demo export ------------------------------------------------------


@pytest.fixture(scope="module")
def small_export(tmp_path_factory: pytest.TempPathFactory) -> seg.ExportData:
    """A 1,000-contact demo export (seed 0), read in a folder with its own cache."""
    from segmentation.datasets import write_demo_export

    work = tmp_path_factory.mktemp("api")
    write_demo_export(work / "export", seed=0, n_customers=1000)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(work)
        return seg.read_export(work / "export")


@pytest.fixture(scope="module")
def small_segments(small_export: seg.ExportData) -> seg.Segments:
    return seg.segment(small_export)


def test_read_export_defaults_to_the_last_complete_month(small_export: seg.ExportData) -> None:
    assert small_export.month == "2026-10"
    assert small_export.as_of == pd.Timestamp("2026-10-31")
    quality = small_export.quality
    assert quality["rows_in"] == quality["rows_kept"] + quality["rows_duplicate"] + sum(
        quality["rows_quarantined"].values()
    )
    line = repr(small_export)
    assert "\n" not in line and line.startswith("ExportData(export: ")
    assert f"{quality['rows_kept']:,} of {quality['rows_in']:,} order rows kept" in line
    with pytest.raises(SegmentationInputError, match=r"no/such/export: no such file or folder"):
        seg.read_export("no/such/export")


def test_the_export_shows_the_reports_overview_in_its_language(
    small_export: seg.ExportData,
) -> None:
    from segmentation.quality import label

    first, last = small_export.orders["order_ts"].min(), small_export.orders["order_ts"].max()
    for lang, words in (
        ("zh", "默认月份 2026-10（截至 2026-10-31）"),
        ("en", "default month 2026-10"),
    ):
        page = small_export.in_language(lang)._repr_html_()
        assert words in page
        assert f"{first:%Y-%m-%d}" in page and f"{last:%Y-%m-%d}" in page
        for key in ("customers_known", "rows_in"):
            assert label(key, lang) in page
        known = len(small_export.customers) if small_export.customers is not None else 0
        assert f">{known:,}<" in page  # counts with thousands separators, as in the report
    with pytest.raises(InvalidOptionError, match="found 'fr'"):
        small_export.in_language("fr")


def test_take_snapshot_is_the_features_snapshot(small_export: seg.ExportData) -> None:
    from segmentation.features import customer_snapshot

    snapshot = seg.take_snapshot(small_export, month="2026-09")
    expected = customer_snapshot(
        small_export.orders,
        small_export.customers,
        small_export.interactions,
        as_of="2026-09-30",
    )
    pd.testing.assert_frame_equal(snapshot, expected)
    pd.testing.assert_frame_equal(seg.take_snapshot(small_export, as_of="2026-09-30"), expected)


def test_the_day_options_are_checked(small_export: seg.ExportData) -> None:
    with pytest.raises(InvalidOptionError, match="give one of them"):
        seg.take_snapshot(small_export, month="2026-09", as_of="2026-09-15")
    with pytest.raises(InvalidOptionError, match="'someday' is not a date"):
        seg.take_snapshot(small_export, as_of="someday")
    with pytest.raises(SegmentationInputError, match=r"MONTH=2027-01: the data ends on 2026-10-31"):
        seg.segment(small_export, month="2027-01")
    with pytest.raises(SegmentationInputError, match="is not a month"):
        seg.segment(small_export, month="2026-9")
    with pytest.raises(InvalidOptionError, match="found 'fr'"):
        seg.segment(small_export, lang="fr")


def test_segment_labels_and_profiles(small_segments: seg.Segments) -> None:
    labels = small_segments.labels()
    assert labels.shape == (1000, 11)
    assert list(labels.columns) == small_segments.schemes
    keys = small_segments.labels(named=False)
    for scheme in small_segments:
        segmentation = small_segments[scheme]
        assert keys[scheme].equals(segmentation.labels)
        profile = small_segments.profile(scheme)
        assert profile.index.name == "分层"
        assert profile.index.tolist() == segmentation.profile["name_zh"].tolist()
        counts = labels[scheme].value_counts(sort=False)
        assert counts.tolist() == profile["人数"].tolist() == segmentation.profile["size"].tolist()
    every = small_segments.profile()
    assert every.index.names == ["方案", "分层"]
    assert len(every) == sum(len(small_segments[s].profile) for s in small_segments)
    english = small_segments.in_language("en")
    assert english.profile("value_tier").index.name == "segment"
    assert english.labels()["value_tier"].cat.categories.tolist() == (
        small_segments["value_tier"].profile["name_en"].tolist()
    )


def test_segment_runs_only_the_named_schemes_with_the_full_runs_labels(
    small_export: seg.ExportData, small_segments: seg.Segments
) -> None:
    named = seg.segment(small_export, schemes=["churn_risk", "value_tier", "clusters"])
    # In report order; the CLV tiers ran for churn risk and clusters but are not shown.
    assert named.schemes == ["value_tier", "churn_risk", "clusters"]
    pd.testing.assert_frame_equal(named.labels(), small_segments.labels()[named.schemes])
    with pytest.raises(
        InvalidOptionError, match=r"no scheme named 'rfm'; the schemes are rfm_named"
    ):
        seg.segment(small_export, schemes=["rfm"])
    with pytest.raises(
        InvalidOptionError, match=r"give a list of scheme names, e.g. \['lifecycle'\]"
    ):
        seg.segment(small_export, schemes="lifecycle")
    with pytest.raises(InvalidOptionError, match="no scheme 'lifecycle' here"):
        named["lifecycle"]


def test_segments_show_themselves_in_each_language(small_segments: seg.Segments) -> None:
    line = repr(small_segments)
    assert line == ("Segments(11 schemes on 1,000 customers as of 2026-10-31; unavailable: none)")
    zh = small_segments._repr_html_()
    assert "<b>11 个分层方案</b> · 1,000 名客户 · 截至 2026-10-31" in zh
    assert "最大分层人数占比" in zh and "客户价值分层" in zh
    en = small_segments.in_language("en")._repr_html_()
    assert "<b>11 schemes</b> · 1,000 customers · as of 2026-10-31" in en
    assert "its share of customers" in en and "Value tiers" in en
    for page in (zh, en):
        assert "nan" not in page.lower().replace("nano", "")
        assert re.search(r">\d+\.\d%<", page)  # shares as percentages, the report's format


def test_export_crm_writes_what_segmentation_segment_writes(
    small_export: seg.ExportData, small_segments: seg.Segments, tmp_path: Path
) -> None:
    from segmentation.export import export_segments

    written = seg.export_crm(small_segments, tmp_path / "api")
    assert written.rows["segments.csv"] == 1000 and written.recommended_by == "fallback"
    cli = export_segments(small_export.input_path, out_dir=tmp_path / "cli", as_of="2026-10-31")
    for name in ("segments.csv", "wecom_tags.csv", "segments_README.txt"):
        assert (tmp_path / "api" / name).read_bytes() == (cli.export.out_dir / name).read_bytes()
    english = seg.export_crm(small_segments, tmp_path / "en", lang="en")
    assert english.columns[:3] == ["Customer ID", "Recommended segment", "Recommended action"]
    with pytest.raises(InvalidOptionError, match="found a DataFrame; give what segment"):
        seg.export_crm(small_segments.labels(), tmp_path / "bad")  # type: ignore[arg-type]


def test_compare_is_the_reports_analysis(
    small_export: seg.ExportData, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # its own cache
    comparison = seg.compare(small_export)
    analysis = comparison.analysis
    assert comparison.month == "2026-10" and comparison.as_of == pd.Timestamp("2026-10-31")
    assert comparison.recommended == analysis.verdict.scheme == analysis.best_scheme
    ranking = comparison.ranking()
    titles = analysis.scheme_titles()
    assert ranking.index.tolist() == [titles[name]["zh"] for name in analysis.scores.index]
    assert ranking.index.name == "方案"
    assert comparison.recommendation == analysis.recommendation["zh"]
    crm = comparison.export_crm(tmp_path / "crm")
    assert (crm.recommended, crm.recommended_by) == (comparison.recommended, "comparison")
    line = repr(comparison)
    ranked = int(analysis.scores["rank"].notna().sum())
    assert line.startswith(f"Comparison(2026-10: {ranked} of {len(analysis.scores)} schemes ranked")
    page = comparison.in_language("en")._repr_html_()
    assert "backtest: 2026-08-02 → 2026-10-31" in page
    assert analysis.recommendation["en"].split(":")[0] in page
    # A second call reads the cached analysis back.
    assert seg.compare(small_export).scores.equals(analysis.scores)


def test_build_report_passes_the_exports_inputs_on(
    small_export: seg.ExportData, monkeypatch: pytest.MonkeyPatch
) -> None:
    import segmentation.report

    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(segmentation.report, "build_report", lambda **kw: calls.append(kw))
    seg.build_report(small_export.in_language("en"), month="2026-09")
    seg.build_report("path/to/export", lang="zh", horizon_days=60)
    seg.build_report()
    assert calls[0]["input_path"] == small_export.input_path
    assert {k: calls[0][k] for k in ("dataset", "month", "lang", "demo_customers")} == {
        "dataset": "demo",
        "month": "2026-09",
        "lang": "en",
        "demo_customers": 5000,
    }
    assert (calls[1]["input_path"], calls[1]["horizon_days"]) == (Path("path/to/export"), 60)
    assert (calls[2]["input_path"], calls[2]["lang"]) == (None, "zh")
    with pytest.raises(InvalidOptionError, match="found 'de'"):
        seg.build_report(lang="de")
