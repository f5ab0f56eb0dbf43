"""The README's API reference, generated from the public face's docstrings.

``python tests/api_reference.py`` rewrites the part of README.md between the
``api-reference`` markers; ``tests/test_public_api.py`` checks it is up to date.
Each row is a call's signature and the first paragraph of its docstring.
"""

from __future__ import annotations

import inspect
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
START, END = "<!-- api-reference:start -->", "<!-- api-reference:end -->"


def summary(value: Any) -> str:
    """The first paragraph of ``value``'s docstring, on one line, in Markdown."""
    doc = inspect.getdoc(value) or ""
    text = " ".join(doc.split("\n\n")[0].split())
    text = re.sub(r":\w+:`~?([^`]+)`", r"`\1`", text)  # :func:`segment` -> `segment`
    return text.replace("``", "`")


def signature(function: Any, *, skip_self: bool = False) -> str:
    """``(a, *, b="x")``: the parameters and their defaults, without annotations."""
    shown, keyword_only = [], False
    for parameter in inspect.signature(function).parameters.values():
        if skip_self and parameter.name == "self":
            continue
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY and not keyword_only:
            shown.append("*")
            keyword_only = True
        default = "" if parameter.default is inspect.Parameter.empty else f"={parameter.default!r}"
        shown.append(f"{parameter.name}{default}")
    return f"({', '.join(shown)})"


def _returns(function: Any) -> str:
    annotation = inspect.signature(function).return_annotation
    return "" if annotation in (inspect.Signature.empty, "None") else f" → `{annotation}`"


def _members(cls: type) -> list[str]:
    rows = []
    for name, attribute in vars(cls).items():
        if name.startswith("_"):
            continue
        if isinstance(attribute, property):
            rows.append(f"| `.{name}` | {summary(attribute)} |")
        elif inspect.isfunction(attribute):
            call = f"`.{name}{signature(attribute, skip_self=True)}`{_returns(attribute)}"
            rows.append(f"| {call} | {summary(attribute)} |")
    return rows


def reference() -> str:
    """The reference: the functions in the data's order, then each result class."""
    import segmentation

    names = [n for n in segmentation.__all__ if n != "__version__"]
    functions = [n for n in names if not inspect.isclass(getattr(segmentation, n))]
    order = ["read_export", "take_snapshot", "segment", "compare", "export_crm", "build_report"]
    functions.sort(key=lambda n: order.index(n) if n in order else len(order))
    lines = ["| call | what it does |", "| --- | --- |"]
    for name in functions:
        function = getattr(segmentation, name)
        call = f"`seg.{name}{signature(function)}`{_returns(function)}"
        lines.append(f"| {call} | {summary(function)} |")
    for name in ("ExportData", "Segments", "Comparison"):  # in the order the calls give them
        cls = getattr(segmentation, name)
        lines += ["", f"**`{name}`**: {summary(cls)}", "", "| member | what it is |"]
        lines += ["| --- | --- |", *_members(cls)]
    return "\n".join(lines)


def readme_with_reference(text: str) -> str:
    """``text`` (README.md) with the part between the markers replaced by :func:`reference`."""
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{reference()}\n{END}{tail}"


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "src"))
    README.write_text(readme_with_reference(README.read_text(encoding="utf-8")), encoding="utf-8")
    print(f"wrote the API reference into {README}")
