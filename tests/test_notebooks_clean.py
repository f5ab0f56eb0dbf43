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


# Loops, branches, comprehensions and indexing are logic: it lives in
# segmentation.report.sections, where it is tested and typed, not in a cell.
_LOGIC = {
    ast.For: "a for loop",
    ast.AsyncFor: "a for loop",
    ast.While: "a while loop",
    ast.If: "an if statement",
    ast.IfExp: "a conditional expression",
    ast.BoolOp: "an and/or",
    ast.ListComp: "a comprehension",
    ast.SetComp: "a comprehension",
    ast.DictComp: "a comprehension",
    ast.GeneratorExp: "a comprehension",
    ast.Subscript: "indexing",
    ast.Try: "a try statement",
    ast.With: "a with statement",
}


def _code_cells(path: Path) -> list[tuple[int, ast.Module]]:
    """Each code cell but the parameters cell, as Python (magics turned into calls)."""
    return [
        (index, ast.parse(TransformerManager().transform_cell("".join(cell["source"]))))
        for index, cell in enumerate(_cells(path))
        if cell["cell_type"] == "code"
        and "parameters" not in cell.get("metadata", {}).get("tags", [])
    ]


def _is_magic(statement: ast.stmt) -> bool:
    """``%matplotlib inline`` and the like: ``get_ipython().run_line_magic(...)``."""
    return (
        isinstance(statement, ast.Expr)
        and isinstance(statement.value, ast.Call)
        and isinstance(statement.value.func, ast.Attribute)
        and isinstance(statement.value.func.value, ast.Call)
        and isinstance(statement.value.func.value.func, ast.Name)
        and statement.value.func.value.func.id == "get_ipython"
    )


def _is_one_call(statement: ast.stmt) -> bool:
    """A call shown (``f(...)``, ``display(f(...))``) or kept in one name (``x = f(...)``)."""
    if isinstance(statement, ast.Expr):
        return isinstance(statement.value, ast.Call)
    return (
        isinstance(statement, ast.Assign)
        and len(statement.targets) == 1
        and isinstance(statement.targets[0], ast.Name)
        and isinstance(statement.value, ast.Call)
    )


@pytest.mark.parametrize("path", NOTEBOOK_PATHS, ids=lambda p: p.name)
def test_every_code_cell_is_imports_or_one_call(path: Path) -> None:
    for index, tree in _code_cells(path):
        statements = [s for s in tree.body if not _is_magic(s)]
        if statements and all(isinstance(s, ast.Import | ast.ImportFrom) for s in statements):
            continue
        assert len(statements) == 1 and _is_one_call(statements[0]), (
            f"{path.name} cell {index}: a code cell is one call (or imports); move the rest "
            "into segmentation.report.sections"
        )


@pytest.mark.parametrize("path", NOTEBOOK_PATHS, ids=lambda p: p.name)
def test_no_code_cell_holds_logic(path: Path) -> None:
    for index, tree in _code_cells(path):
        for node in ast.walk(tree):
            found = next((what for kind, what in _LOGIC.items() if isinstance(node, kind)), None)
            assert found is None, f"{path.name} cell {index} holds {found}: move it to sections"
            assert not (isinstance(node, ast.Name) and node.id == "__import__"), (
                f"{path.name} cell {index} calls __import__: import at the top instead"
            )


@pytest.mark.parametrize("path", NOTEBOOK_PATHS, ids=lambda p: p.name)
def test_markdown_cells_hold_no_python(path: Path) -> None:
    for index, cell in enumerate(_cells(path)):
        if cell["cell_type"] != "markdown":
            continue
        try:
            tree = ast.parse("".join(cell["source"]))
        except SyntaxError:
            continue  # prose
        # Headings alone parse as comments; anything else that parses is code in a text cell.
        assert not tree.body, f"{path.name} cell {index} is markdown holding Python source"


def test_the_checks_reject_what_they_should() -> None:
    def holds_logic(source: str) -> bool:
        return any(isinstance(n, tuple(_LOGIC)) for n in ast.walk(ast.parse(source)))

    for source in (
        "for name in names:\n    show(name)",
        "[show(n) for n in names]",
        "x if y else None",
        "if y:\n    show(y)",
        "data.quarantine[['file']].head(20)",
    ):
        assert holds_logic(source), source
    assert len(ast.parse("fig = plot(x)\nfig").body) == 2  # two statements: not one call
    assert _is_one_call(ast.parse("display(sections.table(analysis))").body[0])
    assert _is_one_call(ast.parse("analysis = load(month=month)").body[0])
    assert not _is_one_call(ast.parse("x = a.b").body[0])
