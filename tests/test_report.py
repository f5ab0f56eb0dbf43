"""A full report on the demo data: sections, comparison, privacy, images, manifest, rerun."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest

from segmentation.datasets import DEMO_LABEL, generate_demo
from segmentation.export import EXPORT_FILES
from segmentation.report import NOTEBOOKS, build_report, last_complete_month, month_end
from segmentation.report._analysis_file import load_analysis

from conftest import ROOT

DEMO_CUSTOMERS = 2000


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """The report built twice in a clean folder (its own data/, key file and reports/)."""
    work = tmp_path_factory.mktemp("project")
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.chdir(work)
    monkeypatch.delenv("SEGMENTATION_PII_KEY", raising=False)
    try:
        runs = [
            build_report(
                dataset="demo",
                demo_customers=DEMO_CUSTOMERS,
                reports_dir=work / f"reports-{run}",
                notebooks_dir=ROOT / "notebooks",
            )
            for run in ("a", "b")
        ]
    finally:
        monkeypatch.undo()
    return {"work": work, "first": runs[0], "second": runs[1]}


def test_month_defaults_to_the_last_complete_month() -> None:
    ends = pd.DataFrame({"order_ts": pd.to_datetime(["2011-01-03 08:00", "2011-12-09 12:50"])})
    assert last_complete_month(ends) == "2011-11"
    ends = pd.DataFrame({"order_ts": pd.to_datetime(["1997-01-01", "1998-06-30"])})
    assert last_complete_month(ends) == "1998-06"
    assert month_end("2024-02") == pd.Timestamp("2024-02-29")


def test_the_report_has_every_section_and_the_outputs(built: dict) -> None:
    result = built["first"]
    assert result.month == "2026-10"
    out = result.out_dir
    for name in ("index.html", "quarantine.csv", "manifest.json", *EXPORT_FILES):
        assert (out / name).is_file(), name
    assert sorted(p.name for p in (out / "notebooks").glob("*.ipynb")) == sorted(NOTEBOOKS)
    html = result.index_html.read_text(encoding="utf-8")
    for heading in (
        "数据质量",
        "规则分层",
        "聚类分群",
        "客户终身价值（CLV）",
        "方案对比与行动手册",
    ):
        assert f">{heading}<" in html, heading
    assert "Data quality" not in html  # one language: the zh report has no English headings
    # every entry of the table of contents links to a heading that exists
    links = re.findall(r'href="#([^"]+)"', html)
    anchors = set(re.findall(r'id="([^"]+)"', html))
    assert len(links) >= 25
    assert not [link for link in links if link not in anchors]
    assert DEMO_LABEL["zh"] in html
    # code is hidden: no source of the notebooks' cells is in the page
    assert "load_month_data(" not in html and "import " not in html.split("<body")[1]
    assert "Traceback" not in html


def test_every_available_scheme_is_ranked_in_the_comparison(built: dict) -> None:
    result = built["first"]
    html = result.index_html.read_text(encoding="utf-8")
    segments = pd.read_csv(result.out_dir / "segments.csv", encoding="utf-8-sig")
    scheme_columns = [
        c for c in segments.columns[3:] if not c.endswith("·推荐动作")
    ]  # after 客户ID, 推荐分层, 推荐动作
    # demo data has interactions and products: all eleven schemes are available
    assert len(scheme_columns) == 11
    for title in scheme_columns:
        assert title in html, title
    assert "本月推荐「" in html


def test_no_pii_from_the_demo_input_reaches_the_report(built: dict) -> None:
    demo = generate_demo(seed=0, n_customers=DEMO_CUSTOMERS)
    out = built["first"].out_dir
    texts = [p.read_text(encoding="utf-8", errors="ignore") for p in out.rglob("*")
             if p.is_file() and p.suffix in (".html", ".csv", ".json", ".ipynb", ".txt")]  # fmt: skip
    blob = "\n".join(texts)
    for column in ("手机号", "微信号"):
        leaked = [v for v in demo.customers[column] if v in blob]
        assert not leaked, f"{column} leaked: {leaked[:3]}"
    # names are short Chinese strings that can occur inside other words; match whole cells
    names = set(demo.customers["姓名"])
    segments = pd.read_csv(out / "segments.csv", encoding="utf-8-sig", dtype=str)
    assert not names & set(segments.to_numpy().ravel())
    # customer ids are the shop's member numbers (not personal data): the CRM file carries them
    assert set(segments["客户ID"]) == set(demo.customers["客户ID"])


def test_images_are_embedded(built: dict) -> None:
    html = built["first"].index_html.read_text(encoding="utf-8")
    images = re.findall(r'<img[^>]+src="data:image/png;base64,', html)
    # revenue by month, 9 scheme profiles, migration, k choice, cluster heatmap and
    # projection, tracking, conditional expectations, P(alive), lift curves, agreement
    assert len(images) >= 15
    assert "<Figure size" not in html


def test_manifest_is_complete(built: dict) -> None:
    result = built["first"]
    manifest = json.loads((result.out_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["month"] == "2026-10" and manifest["as_of"] == "2026-10-31"
    assert manifest["parameters"]["dataset"] == "demo"
    assert manifest["parameters"]["random_state"] == 0
    assert manifest["quality"]["rows_in"] == (
        manifest["quality"]["rows_kept"]
        + manifest["quality"]["rows_duplicate"]
        + sum(manifest["quality"]["rows_quarantined"].values())
    )
    inputs = manifest["inputs"]
    # The demo export has carried last month's campaign log since #22: ingest reads it and the
    # report measures it, so it is an input like the others.
    assert {entry["table"] for entry in inputs} == {
        "orders",
        "customers",
        "interactions",
        "campaigns",
    }
    assert all(re.fullmatch(r"[0-9a-f]{64}", entry["sha256"]) for entry in inputs)
    for package in ("pandas", "numpy", "scikit-learn", "lifetimes", "papermill", "nbconvert"):
        assert manifest["packages"][package]
    assert "git_commit" in manifest
    stages = set(manifest["timings_seconds"])
    assert {"ingest", "features", "schemes", "compare", "html"} <= stages
    assert {n.removesuffix(".ipynb") for n in NOTEBOOKS} <= stages
    assert all(seconds >= 0 for seconds in manifest["timings_seconds"].values())
    for name in ("index.html", "quarantine.csv", *EXPORT_FILES):
        assert name in manifest["outputs"]
    exports = manifest["exports"]
    assert exports["files"]["segments.csv"] == {"rows": DEMO_CUSTOMERS, "columns": 25}
    assert exports["files"]["wecom_tags.csv"] == {"rows": DEMO_CUSTOMERS * 11, "columns": 3}
    assert exports["ids"] == {"asked": "original", "written": "original", "personal_ids": {}}
    # The grade moves beside segments.csv: one row per customer and scheme that moved.
    assert "grade_moves.csv" in manifest["outputs"]
    moves = pd.read_csv(result.out_dir / "grade_moves.csv", encoding="utf-8-sig", dtype=str)
    assert exports["files"]["grade_moves.csv"] == {"rows": len(moves), "columns": 6}
    # Every customer's grades at the last 12 month-ends: one row per customer and scheme.
    history = pd.read_csv(result.out_dir / "grade_history.csv", encoding="utf-8-sig", dtype=str)
    assert exports["files"]["grade_history.csv"] == {"rows": 3 * DEMO_CUSTOMERS, "columns": 14}
    assert len(history) == 3 * DEMO_CUSTOMERS and history.shape[1] == 14
    assert set(moves.iloc[:, 0]) <= set(
        pd.read_csv(result.out_dir / "segments.csv", encoding="utf-8-sig", dtype=str).iloc[:, 0]
    )
    # The recommended columns follow the comparison's recommendation.
    assert exports["recommended_by"] == "comparison"
    analysis = load_analysis(result.out_dir / "data" / "analysis.pkl")
    assert exports["recommended_scheme"] == analysis.verdict.scheme


def test_rerun_gives_identical_segments_and_numbers(built: dict) -> None:
    first, second = built["first"], built["second"]
    for name in (*EXPORT_FILES, "grade_moves.csv", "grade_history.csv"):
        assert (first.out_dir / name).read_bytes() == (second.out_dir / name).read_bytes()

    def without_timings(result: object) -> dict:
        manifest = json.loads((result.out_dir / "manifest.json").read_text(encoding="utf-8"))
        manifest.pop("timings_seconds")
        return manifest

    assert without_timings(first) == without_timings(second)
    # The HTML too: every cell keeps an id of its section and place, none a random one.
    html = first.index_html.read_text(encoding="utf-8")
    assert html == second.index_html.read_text(encoding="utf-8")
    ids = re.findall(r'id="cell-id=([^"]+)"', html)
    assert ids[0] == "title" and len(ids) == len(set(ids)) > 40
    # the title, the first screen (section 1), the folded contents, then every section
    assert ids[ids.index("contents") - 1].startswith("s1-")
    others = [cell_id for cell_id in ids[1:] if cell_id != "contents"]
    assert len(NOTEBOOKS) == 9
    assert all(re.fullmatch(r"s[1-9]-\d+", cell_id) for cell_id in others)


def test_notebooks_are_found_from_any_working_directory(tmp_path) -> None:
    from segmentation.errors import SegmentationInputError
    from segmentation.report._notebooks import report_notebooks

    folder, available = report_notebooks(None, tmp_path)  # no notebooks/ in tmp_path
    assert folder == ROOT / "notebooks"
    assert available == list(NOTEBOOKS)
    with pytest.raises(SegmentationInputError, match="no report notebooks"):
        report_notebooks(tmp_path / "empty", tmp_path)


def test_notebooks_side_by_side_leave_the_working_folder_where_it_was(
    tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """papermill's local file handler is one per process, and an earlier report run side by
    side could leave a folder in it (here: ``stale``). Each notebook's end put that folder
    back and the other's next write moved the process into it: in CI a second report took
    the first test's folder as its project. Now every move stays in the working folder,
    which is the same after the run, and the handler gets back what it had."""
    import os

    import nbformat
    from papermill.iorw import papermill_io

    from segmentation.report._notebooks import run_notebooks

    stale, work = tmp_path / "stale", tmp_path / "work"
    stale.mkdir()
    work.mkdir()
    sources = []
    for name, seconds in (("short", 0.2), ("long", 3.0)):
        notebook = nbformat.v4.new_notebook()
        notebook.cells = [
            nbformat.v4.new_code_cell("parameters = None", metadata={"tags": ["parameters"]}),
            nbformat.v4.new_code_cell(f"import time\ntime.sleep({seconds})"),
        ]
        sources.append(tmp_path / f"{name}.ipynb")
        nbformat.write(notebook, sources[-1])
    moves: list[str] = []
    real_chdir = os.chdir

    def chdir(path: str) -> None:
        moves.append(str(path))
        real_chdir(path)

    monkeypatch.chdir(work)
    handler = papermill_io.get_handler("local")
    monkeypatch.setattr(handler, "_cwd", str(stale))  # as a report before may leave it
    monkeypatch.setattr(os, "chdir", chdir)
    seconds = run_notebooks(
        sources,
        [tmp_path / f"out-{source.name}" for source in sources],
        parameters={},
        cwd=work,
        workers=2,
    )
    assert len(seconds) == 2 and all((tmp_path / f"out-{s.name}").is_file() for s in sources)
    assert moves and set(moves) == {str(work)}
    assert os.getcwd() == str(work)
    assert handler.cwd(None) == str(stale)


def test_every_segmentation_shares_the_snapshot_index_after_reading_back(built: dict) -> None:
    from segmentation.report._analysis_file import load_analysis

    analysis = load_analysis(built["first"].out_dir / "data" / "analysis.pkl")
    for run in (analysis.current, analysis.previous, analysis.calibration):
        for name, segmentation in run.segmentations.items():
            assert segmentation.labels.index is run.snapshot.index, name
            assert segmentation.labels.index.equals(run.snapshot.index)
    assert analysis.snapshot is analysis.current.snapshot


def test_load_month_analysis_reads_the_prepared_analysis_without_the_tables(
    built: dict, tmp_path
) -> None:
    import shutil

    from segmentation.analysis import MonthAnalysis
    from segmentation.report import load_month_analysis
    from segmentation.report._analysis_file import load_analysis

    source = built["first"].out_dir / "data" / "analysis.pkl"
    # Only the analysis: no tables.pkl, no prepared.json, so reading any table would fail.
    shutil.copy(source, tmp_path / "analysis.pkl")
    analysis = load_month_analysis(prepared_dir=tmp_path, input_path="/no/such/export")
    expected = load_analysis(source)
    assert isinstance(analysis, MonthAnalysis)
    assert analysis.as_of == expected.as_of
    pd.testing.assert_frame_equal(analysis.scores, expected.scores)
    for name, segmentation in expected.current.segmentations.items():
        pd.testing.assert_series_equal(
            analysis.current.segmentations[name].labels, segmentation.labels
        )


def test_shared_index_pickler_writes_each_index_once_and_keeps_every_dtype() -> None:
    import io
    import pickle

    from segmentation.pickling import pickle_into

    ids = pd.Index(pd.array([f"C{i:07d}" for i in range(1000)], dtype="string"), name="id")
    frame = pd.DataFrame({"spend": range(1000)}, index=ids)
    value = {
        "frame": frame,
        "labels": pd.Series(pd.Categorical(["a", "b"] * 500), index=ids, name="segment"),
        "text": pd.Series(pd.array(["x"] * 1000, dtype="string"), index=ids),
        "when": pd.Series(pd.to_datetime(["2026-01-02"] * 1000), index=ids, name="ts"),
        "plain": pd.Series([0.5] * 3, index=["p", "q", "r"], name="other"),
    }
    buffer = io.BytesIO()
    pickle_into(buffer, value)
    back = pickle.loads(buffer.getvalue())
    for key, item in value.items():
        if isinstance(item, pd.Series):
            pd.testing.assert_series_equal(back[key], item)
    pd.testing.assert_frame_equal(back["frame"], frame)
    assert back["labels"].index is back["frame"].index is back["text"].index
    # The standard pickle writes the 1,000 ids once per Series more (as a slice of the
    # index): three Series on them cost at least three more copies.
    index_bytes = len(pickle.dumps(ids, protocol=5))
    standard = len(pickle.dumps(value, protocol=5))
    assert standard - len(buffer.getvalue()) >= 3 * index_bytes * 0.9


def test_notebooks_read_back_the_tables_as_ingest_gave_them(built: dict) -> None:
    from segmentation.report import load_month_data

    data = load_month_data(prepared_dir=built["first"].out_dir / "data")
    orders, customers = data.orders, data.customers
    # Still dictionary-encoded, with one set of customer categories for both tables.
    assert isinstance(orders["customer_id"].dtype, pd.CategoricalDtype)
    assert orders["customer_id"].cat.categories.equals(customers["customer_id"].cat.categories)
    assert len(orders) == data.quality["tables"]["orders"]["rows_kept"]
    assert len(data.quarantine) == sum(
        sum(t["rows_quarantined"].values()) for t in data.quality["tables"].values()
    )


def test_every_notebook_is_executed_and_timed(built: dict) -> None:
    manifest = json.loads((built["first"].out_dir / "manifest.json").read_text(encoding="utf-8"))
    timings = manifest["timings_seconds"]
    sections = [name.removesuffix(".ipynb") for name in NOTEBOOKS]
    assert all(timings[name] > 0 for name in sections) and timings["notebooks"] > 0
    for name in NOTEBOOKS:
        executed = json.loads((built["first"].out_dir / "notebooks" / name).read_text("utf-8"))
        code = [c for c in executed["cells"] if c["cell_type"] == "code"]
        # papermill ran every cell, in order, in that notebook's own kernel.
        assert [c["execution_count"] for c in code] == list(range(1, len(code) + 1)), name


@pytest.mark.parametrize("workers", [0, -1, 1.5, True])
def test_notebook_workers_must_be_a_whole_number_of_at_least_one(workers: object) -> None:
    from segmentation.errors import SegmentationInputError

    with pytest.raises(SegmentationInputError, match="notebook_workers"):
        build_report(dataset="demo", notebook_workers=workers)  # type: ignore[arg-type]


def test_sections_show_nothing_for_what_the_data_cannot_support(
    built: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dataclasses import replace

    from segmentation.report import sections
    from segmentation.report._analysis_file import load_analysis

    analysis = load_analysis(built["first"].out_dir / "data" / "analysis.pkl")
    current = replace(
        analysis.current,
        segmentations={k: v for k, v in analysis.current.segmentations.items() if k != "clusters"},
        unavailable={"clusters": "too few buyers"},
    )
    bare = replace(analysis, current=current, clv_backtest=None, clv_unavailable="too short")
    shown: list[object] = []
    monkeypatch.setattr(sections, "display", shown.append)
    sections.show_k_choice(bare, lang="en", plot_lang="en")
    sections.show_cluster_profiles(bare, lang="en", plot_lang="en")
    sections.show_clv_backtest(bare, lang="en", plot_lang="en")
    assert shown == []
    assert sections.cluster_stability(bare, lang="en") is None
    assert sections.cluster_projection(bare, plot_lang="en") is None
    assert sections.cluster_migration(bare, lang="en") is None
    assert sections.p_alive_plot(bare, plot_lang="en") is None
    assert "too few buyers" in sections.cluster_heading(bare, lang="en").data
    assert "too short" in sections.clv_heading(bare, lang="en").data
    assert sections.unavailable_schemes(bare, lang="en").data == (
        "- Behavioural clusters: too few buyers"
    )
    assert (
        sections.unavailable_schemes(bare, lang="zh").data == "- 聚类分群：购买客户太少，无法聚类。"
    )
    # A scheme the data lacks is skipped, or named with its reason where the section says so.
    sections.show_scheme_section(bare, "clusters", lang="en")
    assert shown == []
    sections.show_scheme_section(bare, "clusters", lang="en", say_if_unavailable=True)
    assert [item.data for item in shown] == ["- Behavioural clusters: too few buyers"]


def test_the_quarantine_sample_says_when_nothing_was_quarantined(built: dict) -> None:
    from dataclasses import replace

    from segmentation.report import load_month_data, quality_sections

    data = load_month_data(prepared_dir=built["first"].out_dir / "data")
    empty = replace(data, quarantine=data.quarantine.iloc[:0])
    assert "No row was quarantined" in quality_sections.quarantine_sample(empty, lang="en").data
    assert quality_sections.quarantine_sample(empty, lang="zh").data == "没有隔离行。"
    rows = pd.DataFrame(
        {"file": "a.csv", "row": range(30), "table": "orders", "reason": "unparsable_date"}
    )
    rows["original"] = "secret"
    sample = quality_sections.quarantine_sample(replace(data, quarantine=rows), lang="zh").data
    assert list(sample.columns) == ["文件", "行号", "表", "原因"] and len(sample) == 20
    assert set(sample["表"]) == {"订单"} and set(sample["原因"]) == {"日期无法识别"}


def test_every_plot_draws_on_the_axes_it_is_given(built: dict) -> None:
    from matplotlib.figure import Figure

    from segmentation.plots.clustering import (
        plot_cluster_profiles,
        plot_cluster_projection,
        plot_k_selection,
    )
    from segmentation.plots.clv import (
        plot_conditional_expectations,
        plot_p_alive_matrix,
        plot_tracking,
    )
    from segmentation.plots.compare import plot_agreement, plot_lift_curves
    from segmentation.plots.quality import plot_monthly_revenue
    from segmentation.plots.schemes import plot_migration, plot_segment_profile
    from segmentation.quality import monthly_overview
    from segmentation.report import load_month_data
    from segmentation.report._analysis_file import load_analysis
    from segmentation.schemes.migration import migration_between

    analysis = load_analysis(built["first"].out_dir / "data" / "analysis.pkl")
    data = load_month_data(prepared_dir=built["first"].out_dir / "data")
    schemes = analysis.current.segmentations
    backtest = analysis.clv_backtest
    titles = analysis.scheme_titles()
    draws = {
        "monthly revenue": lambda ax: plot_monthly_revenue(
            monthly_overview(data.orders, lang="en"), lang="en", ax=ax
        ),
        "segment profile": lambda ax: plot_segment_profile(schemes["value_tier"], lang="en", ax=ax),
        "migration": lambda ax: plot_migration(
            migration_between(analysis.previous.segmentations["lifecycle"], schemes["lifecycle"]),
            lang="en",
            ax=ax,
        ),
        "agreement": lambda ax: plot_agreement(analysis.agreement_ari, titles, lang="en", ax=ax),
        "lift": lambda ax: plot_lift_curves(analysis.lift_curves(top=2), titles, lang="en", ax=ax),
        "cluster profiles": lambda ax: plot_cluster_profiles(schemes["clusters"], lang="en", ax=ax),
        "projection": lambda ax: plot_cluster_projection(
            schemes["clusters"], analysis.snapshot, lang="en", ax=ax
        ),
        "tracking": lambda ax: plot_tracking(backtest, lang="en", ax=ax),
        "conditional": lambda ax: plot_conditional_expectations(backtest, lang="en", ax=ax),
        "p alive": lambda ax: plot_p_alive_matrix(
            backtest.fits[backtest.chosen], observed_days=100.0, lang="en", ax=ax
        ),
    }
    for name, draw in draws.items():
        figure = Figure()
        ax = figure.subplots()
        assert draw(ax) is figure, name
        assert ax.get_title() or ax.has_data(), name
    figure = Figure()
    axes = list(figure.subplots(2, 2).ravel())
    k_table = schemes["clusters"].details["k_table"]
    assert plot_k_selection(k_table, lang="en", axes=axes) is figure
    assert all(ax.has_data() for ax in axes)


def test_a_month_the_data_has_not_reached_is_refused_and_one_it_ends_inside_is_cut() -> None:
    from segmentation.errors import SegmentationInputError
    from segmentation.report._data import month_as_of

    order_ts = pd.Series(pd.to_datetime(["2010-12-01 08:26", "2011-12-09 12:50"]))
    assert month_as_of("2011-11", order_ts) == (pd.Timestamp("2011-11-30"), ())
    as_of, notes = month_as_of("2011-12", order_ts)
    assert as_of == pd.Timestamp("2011-12-09")
    assert "The data ends on 2011-12-09, inside 2011-12" in notes[0]
    with pytest.raises(SegmentationInputError, match="the data ends on 2011-12-09, before"):
        month_as_of("2012-01", order_ts)
    with pytest.raises(SegmentationInputError, match="the data starts on 2010-12-01"):
        month_as_of("2010-11", order_ts)


def test_report_for_a_month_past_the_data_exits_2_naming_the_last_day(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from segmentation.cli import main

    assert main(["report", "--month", "2030-01"]) == 2
    error = capsys.readouterr().err
    assert "MONTH=2030-01: the data ends on 2026-10-31" in error
    assert len(error.strip().splitlines()) == 1


def test_the_report_fills_the_cache_a_notebook_run_alone_reads(
    built: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    import segmentation.analysis
    import segmentation.ingest
    from segmentation.report import load_month_analysis, load_month_data
    from segmentation.report._analysis_file import load_analysis

    def refuse(*_: object, **__: object) -> None:
        raise AssertionError("computed again although the report had just computed it")

    work = built["work"]
    monkeypatch.chdir(work)
    monkeypatch.delenv("SEGMENTATION_PII_KEY", raising=False)
    monkeypatch.setattr(segmentation.ingest, "ingest", refuse)
    monkeypatch.setattr(segmentation.analysis, "analyse_month", refuse)
    # What notebook 02 does with its default parameters, by hand.
    analysis = load_month_analysis(dataset="demo", demo_customers=DEMO_CUSTOMERS)
    data = load_month_data(dataset="demo", demo_customers=DEMO_CUSTOMERS)
    assert (data.month, analysis.as_of) == ("2026-10", pd.Timestamp("2026-10-31"))
    # Hard links of the second report's own files: no copy, no second analysis.
    cache = work / "data" / "interim"
    report_data = built["second"].out_dir / "data"
    tables = cache / f"tables-{data.digest}" / "tables.pkl"
    assert tables.stat().st_ino == (report_data / "tables.pkl").stat().st_ino
    inodes = {p.stat().st_ino for p in cache.glob("analysis-*.pkl")}
    assert (report_data / "analysis.pkl").stat().st_ino in inodes
    assert analysis.warnings == load_analysis(report_data / "analysis.pkl").warnings
