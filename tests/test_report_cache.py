"""A notebook run on its own: the tables and the analysis of the same inputs are computed once
and read back from the cache; one changed input byte or parameter is computed again."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from segmentation.report import load_month_analysis, load_month_data

DEMO_CUSTOMERS = 1500


class Recomputed(Exception):
    """Raised where the cache was expected to answer but the work started again."""


def _refuse(*_: object, **__: object) -> None:
    raise Recomputed


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A project folder (its own data/ and PII key) with a small demo export in it; the
    analysis of its last complete month cached once."""
    from segmentation.datasets import write_demo_export

    work = tmp_path_factory.mktemp("cache-project")
    write_demo_export(work / "export", seed=0, n_customers=DEMO_CUSTOMERS)
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.chdir(work)
    monkeypatch.delenv("SEGMENTATION_PII_KEY", raising=False)
    try:
        load_month_analysis(input_path="export")
        yield work
    finally:
        monkeypatch.undo()


@pytest.fixture
def in_project(project: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(project)
    monkeypatch.delenv("SEGMENTATION_PII_KEY", raising=False)
    return project


def _no_ingest_or_analysis(monkeypatch: pytest.MonkeyPatch) -> None:
    import segmentation.analysis
    import segmentation.ingest

    monkeypatch.setattr(segmentation.ingest, "ingest", _refuse)
    monkeypatch.setattr(segmentation.analysis, "analyse_month", _refuse)


def test_a_second_load_of_the_same_inputs_reads_the_cache(
    in_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import segmentation.report._analysis as analysis_module

    entries = {p.name for p in (in_project / "data" / "interim").iterdir()}
    assert any(name.startswith("analysis-") for name in entries)
    _no_ingest_or_analysis(monkeypatch)
    data = load_month_data(input_path="export")
    assert data.month == "2026-10" and data.as_of == pd.Timestamp("2026-10-31")
    assert f"tables-{data.digest}" in entries
    assert len(data.orders) == data.quality["tables"]["orders"]["rows_kept"]
    # The analysis is found from the inputs' hash alone: no table is read for it.
    monkeypatch.setattr(analysis_module, "cached_month_data", _refuse)
    analysis = load_month_analysis(input_path=str(in_project / "export"))
    assert analysis.as_of == pd.Timestamp("2026-10-31")
    assert set(analysis.current.segmentations) >= {"rfm_named", "value_tier", "lifecycle"}


def test_one_changed_input_byte_is_ingested_again_and_a_touched_file_is_not(
    in_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    copy = in_project / "export-copy"
    shutil.copytree(in_project / "export", copy)
    first = load_month_data(input_path="export-copy")  # ingested once, then cached
    monkeypatch.setattr("segmentation.ingest.ingest", _refuse)
    for path in copy.rglob("*.csv"):
        os.utime(path, (1, 1))  # a new time, the same bytes
    assert load_month_data(input_path="export-copy").digest == first.digest
    # One byte: the last digit of the last month's file becomes another digit, at the same
    # size and time, which a key of sizes and times would miss.
    orders = sorted((copy / "orders").glob("*.csv"))[-1]
    raw = orders.read_bytes()
    at = max(i for i, byte in enumerate(raw) if chr(byte).isdigit())
    changed = raw[:at] + str((int(chr(raw[at])) + 1) % 10).encode() + raw[at + 1 :]
    stat = orders.stat()
    orders.write_bytes(changed)
    os.utime(orders, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert (orders.stat().st_size, orders.stat().st_mtime_ns) == (stat.st_size, stat.st_mtime_ns)
    with pytest.raises(Recomputed):
        load_month_data(input_path="export-copy")


@pytest.mark.parametrize(
    "changed",
    [
        {"horizon_days": 60},
        {"random_state": 1},
        {"month": "2026-09"},
        {"config": {"value_tier": {"cumulative_shares": [0.7, 0.2, 0.1]}}},
    ],
    ids=lambda changed: next(iter(changed)),
)
def test_one_changed_parameter_analyses_again_from_the_cached_tables(
    in_project: Path, monkeypatch: pytest.MonkeyPatch, changed: dict[str, object]
) -> None:
    import segmentation.analysis
    import segmentation.ingest

    monkeypatch.setattr(segmentation.ingest, "ingest", _refuse)  # the tables stay cached
    monkeypatch.setattr(segmentation.analysis, "analyse_month", _refuse)
    load_month_analysis(input_path="export")  # the cached parameters: no work
    with pytest.raises(Recomputed):
        load_month_analysis(input_path="export", **changed)  # type: ignore[arg-type]


def test_the_mapping_file_and_time_zone_are_part_of_the_key(
    in_project: Path, tmp_path: Path
) -> None:
    from segmentation.report._data import inputs_digest

    paths = [in_project / "export"]
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text("orders:\n  amount: 实付金额\n", encoding="utf-8")
    zone = "Asia/Shanghai"
    with_mapping = inputs_digest(paths, mapping=mapping, time_zone=zone)
    assert with_mapping != inputs_digest(paths, mapping=None, time_zone=zone)
    # Times with an offset become other shop times in another zone: other tables.
    assert with_mapping != inputs_digest(paths, mapping=mapping, time_zone="Europe/London")
    mapping.write_text("orders:\n  amount: 实付金额 \n", encoding="utf-8")
    assert inputs_digest(paths, mapping=mapping, time_zone=zone) != with_mapping


def test_an_empty_cache_dir_turns_the_cache_off(
    in_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import segmentation.ingest

    monkeypatch.setattr(segmentation.ingest, "ingest", _refuse)
    with pytest.raises(Recomputed):
        load_month_data(input_path="export", config={"report": {"cache_dir": ""}})


def test_the_cache_keeps_the_most_recently_used_entries(tmp_path: Path) -> None:
    from segmentation.report._prepared import touch, trim_cache

    for age, name in enumerate(["analysis-a.pkl", "analysis-b.pkl", "analysis-c.pkl"]):
        (tmp_path / name).write_bytes(b"x")
        os.utime(tmp_path / name, (1000 + age, 1000 + age))
    (tmp_path / "tables-a").mkdir()
    touch(tmp_path / "analysis-a.pkl")  # used just now: the newest
    trim_cache(tmp_path, "analysis-*.pkl", keep=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "analysis-a.pkl",
        "analysis-c.pkl",
        "tables-a",
    ]
