"""Committed notebooks are thin, parameterised and carry no outputs."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
from IPython.core.inputtransformer2 import TransformerManager

from segmentation.report import NOTEBOOKS

from conftest import ROOT

NOTEBOOK_PATHS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def test_every_report_notebook_is_committed() -> None:
    assert [p.name for p in NOTEBOOK_PATHS if p.name in NOTEBOOKS] == [
        n for n in NOTEBOOKS if (ROOT / "notebooks" / n).exists()
    ]
    assert (ROOT / "notebooks" / NOTEBOOKS[0]).exists()


@pytest.mark.parametrize("path", NOTEBOOK_PATHS, ids=lambda p: p.name)
def test_notebook_has_no_outputs_and_no_injected_parameters(path: Path) -> None:
    for index, cell in enumerate(_cells(path)):
        assert not cell.get("outputs"), f"{path.name} cell {index} has outputs: run nbstripout"
        assert cell.get("execution_count") is None, f"{path.name} cell {index} has a count"
        tags = cell.get("metadata", {}).get("tags", [])
        assert "injected-parameters" not in tags, f"{path.name} cell {index} is papermill's"


@pytest.mark.parametrize("path", NOTEBOOK_PATHS, ids=lambda p: p.name)
def test_notebook_is_thin_with_one_typed_parameters_cell(path: Path) -> None:
    cells = _cells(path)
    tagged = [c for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, f"{path.name}: needs exactly one cell tagged 'parameters'"
    parameters = ast.parse("".join(tagged[0]["source"]))
    assert parameters.body and all(isinstance(s, ast.AnnAssign) for s in parameters.body), (
        f"{path.name}: every parameter is a typed assignment (name: type = default)"
    )
    for line in "".join(tagged[0]["source"]).splitlines():
        assert "#" in line, f"{path.name}: parameter without a comment: {line!r}"
    for cell in cells:
        if cell["cell_type"] != "code":
            continue
        # IPython turns magics such as %matplotlib into plain Python first.
        tree = ast.parse(TransformerManager().transform_cell("".join(cell["source"])))
        defined = [
            n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.ClassDef | ast.Lambda)
        ]
        assert not defined, f"{path.name}: notebooks call into segmentation, they define nothing"
