"""The command line: subcommands listed, user mistakes on one line with exit status 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from segmentation.cli import build_parser, main


def test_help_lists_the_subcommands() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "segmentation", "--help"], capture_output=True, text=True, check=True
    )
    for command in ("demo-data", "report", "ingest", "segment", "clv"):
        if command in build_parser()._subparsers._group_actions[0].choices:  # type: ignore[union-attr]
            assert command in done.stdout
    assert "demo-data" in done.stdout and "report" in done.stdout


def test_demo_data_writes_the_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo-data", "--out", str(tmp_path), "--customers", "200", "--months", "3"]) == 0
    assert "Generated demo data" in capsys.readouterr().out
    assert (tmp_path / "customers.csv").is_file()
    assert len(list((tmp_path / "orders").glob("orders_*.csv"))) == 3


@pytest.mark.parametrize(
    "argv,expected",
    [
        (["report", "--month", "2026-13"], "MONTH='2026-13' is not a month"),
        (["report", "--input", "no/such/export.csv"], "no such file or folder"),
    ],
)
def test_user_mistakes_exit_2_with_one_line_and_no_traceback(
    argv: list[str], expected: str, tmp_path: Path
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "segmentation", *argv, "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], done.stderr


def test_report_and_clv_take_a_config_and_report_a_horizon(tmp_path: Path) -> None:
    from segmentation.cli import build_parser

    mine = tmp_path / "mine.yaml"
    args = build_parser().parse_args(
        ["report", "--config", str(mine), "--horizon-days", "60", "--month", "2026-09"]
    )
    assert (args.config, args.horizon_days, args.month) == (mine, 60, "2026-09")
    assert build_parser().parse_args(["report"]).horizon_days is None
    args = build_parser().parse_args(["clv", "export.csv", "--config", str(mine)])
    assert args.config == mine


def test_run_parameters_reach_the_notebooks_with_the_horizon_from_the_config(
    tmp_path: Path,
) -> None:
    from segmentation.config import load_config
    from segmentation.errors import InvalidOptionError
    from segmentation.report import RunParameters

    run = RunParameters.of(
        input_path=None, mapping="map.yaml", config=None, month=None, horizon_days=None
    )
    resolved = run.resolved(load_config())
    assert resolved.horizon_days == 90  # config report.horizon_days
    assert run.resolved(load_config({"report": {"horizon_days": 30}})).horizon_days == 30
    given = RunParameters.of(
        input_path=None, mapping=None, config=None, month=None, horizon_days=45
    )
    assert given.resolved(load_config()).horizon_days == 45
    parameters = resolved.notebook_parameters(prepared_dir=tmp_path, month="2026-10")
    assert parameters["horizon_days"] == 90 and parameters["mapping"] == "map.yaml"
    assert parameters["config"] == "" and parameters["month"] == "2026-10"
    assert parameters["prepared_dir"] == str(tmp_path.resolve())
    manifest = resolved.manifest(month="2026-10")
    assert manifest["dataset"] == "demo" and manifest["input"] is None
    assert manifest["mapping"] == "map.yaml" and manifest["horizon_days"] == 90
    with pytest.raises(InvalidOptionError, match="horizon_days: found -5"):
        RunParameters(horizon_days=-5).resolved(load_config())


def test_a_bad_language_is_one_error_type_wherever_it_is_given() -> None:
    from segmentation.config import load_config
    from segmentation.errors import InvalidOptionError
    from segmentation.export import write_segments_csv
    from segmentation.report import build_report

    with pytest.raises(InvalidOptionError, match="LANG: found 'fr'"):
        build_report(lang="fr")
    with pytest.raises(InvalidOptionError, match="lang: found 'fr'"):
        write_segments_csv([], Path("unused"), config=load_config(), lang="fr")


def test_report_prints_one_plain_line_per_stage_and_warning_and_the_wall_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    import re
    import time

    from segmentation.report import NOTEBOOKS

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SEGMENTATION_PII_KEY", raising=False)
    began = time.perf_counter()
    assert main(["report", "--out", str(tmp_path / "reports")]) == 0
    waited = time.perf_counter() - began
    # capfd: the kernels write to the same file descriptors as this process.
    out, err = capfd.readouterr()
    everything = out + err
    for unwanted in ("UserWarning", ".py:", "\x1b", "\r", "without encryption", "cell/s", "%|"):
        assert unwanted not in everything, (unwanted, everything)
    seconds = {}
    for line in err.splitlines():
        stage = re.fullmatch(r"(\S+) +(\d+\.\d) s(?:  .*)?", line)
        if stage:
            seconds[stage[1]] = float(stage[2])
        else:
            assert line.startswith("warning: "), line
    stems = [name.removesuffix(".ipynb") for name in NOTEBOOKS]
    stages = list(seconds)
    # The notebooks finish in any order: two run at a time.
    assert stages[:3] == ["ingest", "analysis", "export"] and stages[-1] == "index.html"
    assert sorted(stages[3:-1]) == stems
    assert "4,111 customers; month 2026-10 (as of 2026-10-31)" in err
    # The demo's purchase counts tie: the RFM warning is one plain line per snapshot. Only the
    # calibration snapshot (2026-08-02) ties now: the campaign's September purchases moved
    # the quintile edges of 2026-09-30 (they tied at [1, 1, 3, 5] before the campaign log).
    ties = [line for line in err.splitlines() if line.startswith("warning: rfm: F has too")]
    assert len(ties) == 1 and "among 3,123 buyers" in ties[0]
    summary = out.strip().splitlines()
    assert len(summary) == 1 and summary[0].startswith("report 2026-10: 24,153 rows kept")
    total = float(re.search(r"\(total (\d+\.\d) s\)$", summary[0])[1])  # type: ignore[index]
    # Wall time: at least every stage that ran alone plus the longest notebook, at most what
    # this test waited; the notebooks ran two at a time, so their sum would overstate it.
    alone = sum(seconds[s] for s in ("ingest", "analysis", "export", "index.html"))
    assert alone + max(seconds[s] for s in stems) <= total + 0.5
    assert total <= waited + 0.1
    assert sum(seconds[s] for s in stems) > total - alone
