"""Shared fixtures: paths to the real data in ../shared, and the demo export."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
ONLINE_RETAIL = SHARED / "data" / "online_retail" / "online_retail.csv.gz"


@pytest.fixture(scope="session")
def online_retail_path() -> Path:
    """The real UCI Online Retail export; skips with a reason when ../shared is absent."""
    if not ONLINE_RETAIL.exists():
        pytest.skip(f"needs the real Online Retail export at {ONLINE_RETAIL} (../shared absent)")
    return ONLINE_RETAIL


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default demo export (seed 0, 5,000 contacts, 24 months), written once per run."""
    from segmentation.datasets import write_demo_export

    out = tmp_path_factory.mktemp("demo")
    write_demo_export(out, seed=0)
    return out


@pytest.fixture(scope="session")
def demo_reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """The demo report (2,000 customers) in each language, built once per run in a clean
    folder (its own data/, key file and reports/): ``{"zh": ReportResult, "en": ...}``."""
    from segmentation.report import build_report

    work = tmp_path_factory.mktemp("reports")
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.chdir(work)
    monkeypatch.delenv("SEGMENTATION_PII_KEY", raising=False)
    try:
        return {
            lang: build_report(
                dataset="demo",
                demo_customers=2000,
                lang=lang,
                reports_dir=work / f"reports-{lang}",
                notebooks_dir=ROOT / "notebooks",
            )
            for lang in ("zh", "en")
        }
    finally:
        monkeypatch.undo()


class GoldenRun(NamedTuple):
    """One golden case run (tests/golden_outputs.py): what it records and its report."""

    outputs: dict[str, Any]
    report_dir: Path
    lang: str


@pytest.fixture(scope="session")
def golden_run(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], GoldenRun]:
    """Run a golden case (ingest, segment, report: 40-60 s) once per session, on first use.

    The golden-output test compares its outputs and the browser test opens its report.
    Online Retail skips with a reason when ../shared is absent.
    """
    from golden_outputs import CASES, collect

    runs: dict[str, GoldenRun] = {}

    def run(name: str) -> GoldenRun:
        if name == "online_retail" and not ONLINE_RETAIL.exists():
            pytest.skip(
                f"needs the real Online Retail export at {ONLINE_RETAIL} (../shared absent)"
            )
        if name not in runs:
            work = tmp_path_factory.mktemp(f"golden-{name}")
            # collect() runs in `work` (so recorded paths are relative) and sets the golden key.
            with pytest.MonkeyPatch.context() as patch:
                patch.chdir(work)
                patch.setenv("SEGMENTATION_PII_KEY", "")
                outputs = collect(name, work)
            case = CASES[name]
            runs[name] = GoldenRun(outputs, work / "reports" / case["month"], case["lang"])
        return runs[name]

    return run


@pytest.fixture(scope="session")
def spark_backend() -> Iterator[Any]:
    """One Spark local[2] session for the whole run (it takes 10-50 s to start)."""
    from segmentation.config import config_section, load_config
    from segmentation.engine import connect
    from segmentation.engine._connect import spark_session
    from segmentation.errors import EngineUnavailableError

    config = load_config()
    try:
        session = spark_session(config_section(config, "engine"))
    except EngineUnavailableError as error:
        pytest.skip(str(error))
    yield connect("spark", session=session, config=config)
    session.stop()


@pytest.fixture(params=["duckdb", pytest.param("spark", marks=pytest.mark.spark)])
def backend(request: pytest.FixtureRequest) -> Any:
    """A DuckDB connection of its own, or the session's Spark."""
    if request.param == "spark":
        return request.getfixturevalue("spark_backend")
    from segmentation.config import load_config
    from segmentation.engine import connect

    return connect("duckdb", config=load_config())
