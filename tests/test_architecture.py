"""Data flows one way: no module imports a module to its right, lazily or not."""

from __future__ import annotations

import ast
import dataclasses
import inspect
import re
from pathlib import Path
from typing import Any

import pytest

from conftest import ROOT

PACKAGE = ROOT / "src" / "segmentation"

# Rank of each step in ingest -> features -> models (clustering, clv) -> schemes -> evaluate
# -> analysis -> report -> command line. Shared foundations are rank 0.
RANKS = {
    "errors": 0,
    "schema": 0,
    "arrays": 0,
    "config": 0,
    "paths": 0,
    "outputs": 0,
    "interrupts": 0,
    "i18n": 0,
    "formatting": 0,
    "fonts": 0,
    "runtime": 0,
    "pickling": 0,
    "forked": 0,
    "privacy": 0,
    "datasets": 0,
    "ingest": 1,
    "quality": 1,
    "features": 2,
    # Beside features: reads the canonical tables, gives the snapshot and the scores on an engine.
    "engine": 2,
    "clustering": 3,
    "clv": 3,
    "schemes": 4,
    "plots": 4,
    "export": 5,
    "ranking": 5,
    "evaluate": 5,
    # The backtest's scores and ranking from an engine's per-segment sums.
    "engine_backtest": 5,
    "association": 5,
    "drivers": 5,
    # Measures last month's actions (features, schemes) and draws next month's control group.
    "campaigns": 5,
    "analysis": 6,
    "report": 7,
    "cli": 8,
    "__main__": 8,
    "_api": 8,  # the public face at the package top: every step, one call each
}


def _step(module: str) -> str:
    return module.split(".")[0]


def _modules() -> list[tuple[str, Path]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).with_suffix("")
        parts = [p for p in relative.parts if p != "__init__"]
        if parts:
            found.append((".".join(parts), path))
    return found


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.startswith("segmentation."):
                names.add(node.module.removeprefix("segmentation."))
            elif node.module == "segmentation":
                names.update(alias.name for alias in node.names if alias.name != "__version__")
        elif isinstance(node, ast.Import):
            names.update(
                a.name.removeprefix("segmentation.")
                for a in node.names
                if a.name.startswith("segmentation.")
            )
    return names


def test_every_module_has_a_rank() -> None:
    unranked = sorted({_step(m) for m, _ in _modules()} - set(RANKS))
    assert not unranked, f"give these modules a place in the data flow: {unranked}"


@pytest.mark.parametrize("module,path", _modules(), ids=lambda v: str(v))
def test_no_module_reaches_back(module: str, path: Path) -> None:
    own = RANKS[_step(module)]
    for imported in _imports(path):
        assert RANKS[_step(imported)] <= own, (
            f"segmentation.{module} (rank {own}) imports segmentation.{imported} "
            f"(rank {RANKS[_step(imported)]}), a later step"
        )


@pytest.mark.parametrize("module,path", _modules(), ids=lambda v: str(v))
def test_only_clv_imports_lifetimes(module: str, path: Path) -> None:
    if module == "clv._lifetimes":
        return  # the one lifetimes shim
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            assert not any(a.name.split(".")[0] == "lifetimes" for a in node.names), module
        if isinstance(node, ast.ImportFrom) and node.module:
            assert node.module.split(".")[0] != "lifetimes", module


@pytest.mark.parametrize("module,path", _modules(), ids=lambda v: str(v))
def test_only_the_engine_imports_ibis(module: str, path: Path) -> None:
    if _step(module) == "engine":
        return  # the engine boundary: one definition of each computation, on any engine
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            assert not any(a.name.split(".")[0] in {"ibis", "pyspark"} for a in node.names), module
        if isinstance(node, ast.ImportFrom) and node.module:
            assert node.module.split(".")[0] not in {"ibis", "pyspark"}, module


@pytest.mark.parametrize("module,path", _modules(), ids=lambda v: str(v))
def test_every_public_module_declares_all(module: str, path: Path) -> None:
    if module.endswith("__main__"):
        return
    tree = ast.parse(path.read_text(encoding="utf-8"))
    assigned = {
        target.id
        for node in tree.body
        if isinstance(node, ast.Assign | ast.AnnAssign)
        for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
        if isinstance(target, ast.Name)
    }
    assert "__all__" in assigned, f"segmentation.{module} has no __all__"


def test_importing_every_module_changes_no_global_state(tmp_path: Path) -> None:
    import subprocess
    import sys

    modules = [f"segmentation.{m}" for m, _ in _modules() if not m.endswith("__main__")]
    script = (
        "import importlib, pandas as pd, matplotlib as mpl\n"
        "before = (pd.get_option('mode.chained_assignment'), dict(mpl.rcParams))\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "after = (pd.get_option('mode.chained_assignment'), dict(mpl.rcParams))\n"
        "assert before == after, 'an import changed pandas options or matplotlib rcParams'\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert list(tmp_path.iterdir()) == [], "an import wrote files"


@pytest.mark.parametrize("module,path", _modules(), ids=lambda v: str(v))
def test_the_package_never_imports_the_benchmarks(module: str, path: Path) -> None:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = (
            [a.name for a in node.names]
            if isinstance(node, ast.Import)
            else [node.module or ""]
            if isinstance(node, ast.ImportFrom)
            else []
        )
        assert not any(n.split(".")[0] == "benchmarks" for n in names), module


def _function_lengths(path: Path) -> list[tuple[str, int]]:
    """(name, lines) of every function, its docstring aside."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            first = node.body[0]
            has_docstring = isinstance(first, ast.Expr) and isinstance(
                getattr(first, "value", None), ast.Constant
            )
            start = first.end_lineno + 1 if has_docstring and first.end_lineno else node.lineno
            found.append((node.name, (node.end_lineno or start) - start + 1))
    return found


SOURCES = sorted([*PACKAGE.rglob("*.py"), *(ROOT / "benchmarks").rglob("*.py")])


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_a_file_is_one_idea_a_newcomer_reads_through(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= 800, f"{path.relative_to(ROOT)} has {lines} lines; split it by idea"
    long = [(name, n) for name, n in _function_lengths(path) if n > 80]
    assert not long, f"{path.relative_to(ROOT)}: functions over 80 lines: {long}"


@pytest.mark.parametrize("module,path", _modules(), ids=lambda v: str(v))
def test_every_exception_lives_in_errors(module: str, path: Path) -> None:
    if module == "errors":
        return
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ClassDef):
            bases = {getattr(b, "id", getattr(b, "attr", "")) for b in node.bases}
            assert not any(b.endswith(("Error", "Exception", "Unavailable")) for b in bases), (
                f"segmentation.{module} defines the exception {node.name}; move it to errors.py"
            )


@pytest.mark.parametrize(
    "init", sorted(PACKAGE.rglob("__init__.py")), ids=lambda p: str(p.relative_to(PACKAGE))
)
def test_every_package_says_what_lives_there(init: Path) -> None:
    docstring = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
    assert docstring, f"{init.relative_to(ROOT)} has no docstring"


# numpydoc: a function documents each parameter and what it returns, a class each attribute.
_SECTIONS = {"function": ("Parameters", "Returns"), "class": ("Attributes",)}


def _numpydoc_problems(name: str, value: Any) -> list[str]:
    """What the numpydoc of a public name lacks: a one-sentence summary, its sections, an
    entry for each parameter or attribute, a docstring on each public method or property."""
    doc = inspect.getdoc(value) or ""
    if not doc:
        return [f"{name} has no docstring"]
    problems = []
    if not doc.split("\n\n")[0].rstrip().endswith("."):
        problems.append(f"{name}: its summary is not a sentence")
    kind = "class" if inspect.isclass(value) else "function"
    problems += [
        f"{name} has no {section} section"
        for section in _SECTIONS[kind]
        if f"\n{section}\n{'-' * len(section)}\n" not in f"\n{doc}\n"
    ]
    if kind == "function":
        named = list(inspect.signature(value).parameters)
    else:
        named = [field.name for field in dataclasses.fields(value)]
        problems += [
            f"{name}.{member} has no docstring"
            for member, attribute in vars(value).items()
            if not member.startswith("_")
            and (inspect.isfunction(attribute) or isinstance(attribute, property))
            and not inspect.getdoc(attribute)
        ]
    # "name : type" or "first, second : type" at the start of a line
    entries = re.findall(r"^(\w+(?:, \w+)*) :", doc, flags=re.MULTILINE)
    listed = {entry for line in entries for entry in line.split(", ")}
    problems += [f"{name} does not document {entry!r}" for entry in named if entry not in listed]
    return problems


def test_the_public_face_is_all_dir_shows_and_every_name_is_documented() -> None:
    import segmentation

    assert dir(segmentation) == sorted(segmentation.__all__)
    assert not [n for n in dir(segmentation) if n.startswith("_") and n != "__version__"]
    public = [name for name in segmentation.__all__ if name != "__version__"]
    problems = [p for name in public for p in _numpydoc_problems(name, getattr(segmentation, name))]
    assert not problems, "\n".join(problems)


def test_the_numpydoc_check_finds_what_is_missing() -> None:
    def documented(first: int, *, second: str = "") -> int:
        """Add nothing.

        Parameters
        ----------
        first : int
        second : str, default ""

        Returns
        -------
        int
        """
        return first

    def undocumented(first: int, third: int) -> int:
        """add nothing

        Parameters
        ----------
        first : int
        """
        return first

    assert _numpydoc_problems("documented", documented) == []
    assert _numpydoc_problems("undocumented", undocumented) == [
        "undocumented: its summary is not a sentence",
        "undocumented has no Returns section",
        "undocumented does not document 'third'",
    ]


def test_importing_the_package_imports_none_of_its_steps() -> None:
    import subprocess
    import sys

    script = (
        "import sys, segmentation\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('segmentation.') or m in "
        "('pandas', 'numpy'))\n"
        "assert not loaded, loaded\n"
        "assert callable(segmentation.read_export) and 'segmentation._api' in sys.modules\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]


def test_the_repository_tracks_no_symbolic_links() -> None:
    # A worktree's .venv link was once committed: a clean clone then failed at `make test`
    # with "Too many levels of symbolic links" before running anything.
    import shutil
    import subprocess

    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: nothing tracked to inspect")
    listed = subprocess.run(
        ["git", "ls-files", "-s"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    links = [line.split("\t", 1)[1] for line in listed if line.startswith("120000 ")]
    assert links == [], f"tracked symbolic links: {links}; `git rm --cached` them"
