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
